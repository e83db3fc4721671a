/*
 * Fuzz entry for a whole IMAP session: login, folder and message commands, IDLE,
 * literals, all against a real store in a temp dir (see session.h).
 */
#include "imap.h"
#include "session.h"

#include "replay.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_session(data, size, PROTO_IMAP, imap_session);
	return 0;
}
