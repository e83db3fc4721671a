"""Golden IMAP transcripts: each tests/transcripts/imap/*.txt is fed to `mailnook imap`
and the replies compared line by line, with the runner and file format of
pop3_transcripts.py (see there)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import pop3_transcripts as tr  # noqa: E402

tr.VERB = "imap"
tr.main(os.path.join(os.path.dirname(__file__), "..", "transcripts", "imap"))
