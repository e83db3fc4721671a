/*
 * Every limit, default and feature switch of mailnook, each with its reason.
 * Change a number here, never a literal in the code that uses it.
 */
#ifndef MAILNOOK_PARAMS_H
#define MAILNOOK_PARAMS_H

#define MAILNOOK_VERSION "0.1.0"

/* Feature switches (1/0): boards may turn them off to save flash. */
#ifndef WITH_TLS
#define WITH_TLS 1
#endif

/*
 * Elliptic curves on BearSSL's generic 31-bit code (X25519 and the NIST curves) instead
 * of its special-purpose P-256 and X25519 code: 12 KB smaller on MIPS, and a handshake's
 * curve arithmetic about 3 times slower (an X25519 exchange and a P-256 signature: 2.8 ms
 * instead of 0.95 on a 64-bit PC, likely tens of ms on a router's CPU). For the profiles
 * where flash is tightest, and x86_64, where the time is least.
 */
#ifndef WITH_SMALL_EC
#define WITH_SMALL_EC 0
#endif

/*
 * bcrypt ("$2b$") password hashes need the C library's crypt(): glibc's libcrypt has
 * it, as does OpenWrt's musl; some musl builds ship no crypt() at all. SHA-512 crypt
 * ("$6$") is built in and works everywhere.
 */
#ifndef WITH_LIBC_CRYPT
#ifdef __GLIBC__
#define WITH_LIBC_CRYPT 1
#else
#define WITH_LIBC_CRYPT 0
#endif
#endif

/* --- Paths and defaults (all overridable in the config file) --- */

/* /var is RAM on OpenWrt: mail must live on persistent storage. */
#define DEF_MAIL_ROOT		"/srv/mail"
#define DEF_CONFIG_FILE		"/etc/mailnook/mailnook.conf"
#define DEF_PASSWD_FILE		"/etc/mailnook/passwd"
/* Failed-login delay state; losing it on reboot is harmless. */
#define DEF_RUNTIME_DIR		"/var/run/mailnook"
#define DEF_RUN_USER		"mail"
/* Side files live beside the mail, on the same file system (rename atomicity). */
#define SIDE_DIR_NAME		".mailnook"
/* The children of folder "A" live in the directory "A.sbd" beside the mbox "A" (the
 * layout Thunderbird uses for its local mbox folders); a name level may not end so. */
#define CHILD_DIR_EXT		".sbd"

/* IMAP special-use folders (RFC 6154) made at a user's first login; names as most clients expect. */
#define DEF_FOLDER_SENT		"Sent"
#define DEF_FOLDER_DRAFTS	"Drafts"
#define DEF_FOLDER_TRASH	"Trash"
#define DEF_FOLDER_JUNK		"Junk"
#define DEF_FOLDER_ARCHIVE	"Archive"

/* --- Sizes of fixed buffers --- */

#define PATH_LEN		512	/* any path we build; longer is refused */
#define NAME_LEN		64	/* user names (passwd file key) */
#define HOST_LEN		256	/* RFC 1035 host name plus NUL */
#define ADDR_LEN		64	/* textual IPv6 address with scope */

/* --- Protocol input limits --- */

/*
 * RFC 2449 caps a POP3 command line at 255 octets; we accept a little more so that
 * AUTH PLAIN with a long initial response (RFC 5034) fits: 3 x 255 in base64.
 */
#define POP3_LINE_MAX		1024
/* A password longer than this is refused before crypt() sees it (DoS on bcrypt/sha512). */
#define PASS_MAX		256
/* Commands answered before we stop reading and hang up: a client sending junk forever. */
#define POP3_BAD_CMDS_MAX	20
/* A reply line: RFC 2449 4 caps a response at 512 octets with its CRLF. */
#define POP3_REPLY_MAX		510

/* IMAP folder name in UTF-8: RFC 3501 sets no limit; 255 bytes is a file name's limit too. */
#define FOLDER_NAME_MAX		256
/* Folders listed per user: LIST builds the whole sorted list in memory. */
#define FOLDERS_MAX		2000
/* Directory depth walked when listing: names deeper than this are not shown. */
#define FOLDER_DEPTH_MAX	16

/*
 * COPY/MOVE gather this much in a scratch file, then append it under one lock and one
 * sync: few syncs for many small messages, little extra flash for a large COPY.
 */
#define COPY_BATCH_BYTES	(4UL * 1024 * 1024)
/* \Recent UID ranges one session remembers (one per batch of new mail it saw); older ones
 * are forgotten, which only clears \Recent early. */
#define IMAP_RECENT_RANGES	16
/* IMAP commands answered BAD in a row before we hang up on a client sending junk. */
#define IMAP_BAD_CMDS_MAX	20
/* RFC 3501 5.4: the autologout timer must be at least 30 minutes after login. */
#define IMAP_AUTOLOGOUT		1800
/* IDLE ends after this (RFC 2177: clients re-issue it within 29 minutes). */
#define IMAP_IDLE_MAX		1800
/* "* OK still here" during IDLE, so NAT boxes keep the connection (RFC 2177 suggests < 30 min). */
#define IMAP_KEEPALIVE_MS	120000
/* How often IDLE looks at the folder for new mail and changes (a few stat calls). */
#define IMAP_IDLE_POLL_MS	2000

/* --- Timeouts (seconds) --- */

/* RFC 1939 section 3: the autologout timer must be at least 10 minutes. */
#define POP3_TIMEOUT		600
/* Before login nobody has a reason to idle: the whole login (TLS, retries, NOOPs) must be
 * done this long after connect, so that slow or chatty clients cannot hoard places. */
#define PREAUTH_TIMEOUT		60
/* A client that stops reading our output: give up writing after this. */
#define WRITE_TIMEOUT		120
/*
 * CPU seconds one session may use in all (RLIMIT_CPU): a backstop so that no input can
 * pin a core. Generous: SEARCH TEXT over a 1 GB mbox on a slow MIPS router takes about a
 * minute, and a week of IDLE polling a few seconds. At the limit the session logs and
 * exits (SIGXCPU); SESSION_CPU_GRACE later the kernel kills it outright.
 */
#define SESSION_CPU_MAX		300
#define SESSION_CPU_GRACE	5

/* --- Listener caps (dropbear-style: total, per source address, unauthenticated) --- */

#define DEF_MAX_CHILDREN	32
#define DEF_MAX_PER_IP		8
#define DEF_MAX_UNAUTH		10
#define MAX_LISTENERS		8
/*
 * Listen queue of each serve socket: every client of a household reconnects at once
 * after a router reboot (hundreds). The kernel caps it at net.core.somaxconn.
 */
#define LISTEN_BACKLOG		1024
/* Connections taken from one listener per wake-up before signals and logins get a look
 * (poll wakes again at once while more wait). */
#define ACCEPT_BATCH		64
/*
 * A refused connection: after the refusal (none on TLS ports) we shut our side and read
 * what the client sends (a ClientHello, pipelined commands) until it closes, up to this
 * many bytes and ms, so that close() does not answer unread data with a TCP reset.
 * Refused connections lingering like that at most; the oldest is closed for a new one.
 */
#define REFUSE_DRAIN_BYTES	16384
#define REFUSE_DRAIN_MS		2000
#define REFUSE_DRAIN_SLOTS	32
/* Hard ceiling for max_children: serve's child table is a fixed array of this size. */
#define MAX_CHILDREN_HARD	1024
/*
 * On SIGTERM serve tells its sessions to close and kills those still there after this long.
 * procd and systemd SIGKILL serve 5 s after their SIGTERM, and only serve: its sessions
 * must be gone (and reaped) before then, or they live on as orphans.
 */
#define SERVE_STOP_GRACE_MS	3000

/* --- Configuration --- */

/* A config or passwd line longer than this is an error, not silently split. */
#define CONFIG_LINE_MAX		1024
/* -o key=value overrides on one command line. */
#define MAX_OVERRIDES		32

/* --- Logging --- */

/* One log line with its "mailnook[pid]: " prefix; below Linux's PIPE_BUF (4096), so each
 * line to a pipe is one write() that never interleaves with other sessions' lines. */
#define LOG_LINE_MAX		1024

/* --- Failed-login throttle --- */

/*
 * Delay after a failure doubles per recent failure of that user from that address, up
 * to this. A success clears only its own user's count at that address.
 */
#define FAIL_DELAY_BASE_MS	1000
#define FAIL_DELAY_MAX_MS	16000
/* The address's failures over all users count as one per this many: trying many names
 * from one place slows down too, while a household's typos stay cheap. */
#define FAIL_ADDR_SHARE		4
/* Failures older than this are forgotten. */
#define FAIL_WINDOW		900
/* (address, user) pairs and addresses remembered in the shared throttle file (fixed
 * table, LRU): each failing guesser takes two slots. */
#define FAIL_TABLE_SLOTS	128
/* File under runtime_dir holding that table (24-byte header + 24 bytes per slot, LE). */
#define FAIL_FILE_NAME		"fails"

/* --- Store --- */

/* Largest single message accepted by deliver/APPEND: record fields are 32-bit. */
#define DEF_MAX_MESSAGE		(64UL * 1024 * 1024)
#define MESSAGE_HARD_MAX	(1UL << 31)
/* Messages per folder: bounds the per-session arrays (12 bytes each, 20 with keywords). */
#define FOLDER_MSGS_MAX		1000000
/* Largest state file read: memory keeps each record's offset in 32 bits (a million
 * records and their change log stay far below). */
#define IDX_FILE_MAX		0xffff0000u
/* Bytes read and written per system call while compaction moves mail: its one buffer
 * (recovery's too). Rounds and journal copies are independent of it. */
#define COMPACT_BUF		(64 * 1024)
/* Compaction moves bytes in rounds of max(gap, this), each closed by two fdatasyncs
 * (journal, mbox). A round no longer than its gap overwrites none of its own source and
 * needs no copy; a longer one copies the (round - gap) bytes it overwrites into the
 * journal first. This bounds the fsyncs at two per 256 KiB moved (a 1 KiB gap would
 * otherwise cost two per KiB, each a flash page program: more wear than the copy) and
 * the journal's two copy slots at 256 KiB each; smaller would copy less of a batch of
 * scattered expunges (whose gap grows along the file) for more fsyncs. */
#define COMPACT_ROUND_MIN	(256 * 1024)
/* A journal names the round minimum it was made with (another build may have used
 * another); its copy slots are that large, so a larger value is taken as damage. */
#define COMPACT_ROUND_MAX	(16 * 1024 * 1024)
/* Compact when dead bytes pass 1/COMPACT_DEAD_DIV of the mbox. */
#define COMPACT_DEAD_DIV	4
/* An automatic compaction (after EXPUNGE, at close) waits this long for the mbox write
 * lock, holding the folder's state lock meanwhile; if another tool keeps the mbox
 * longer, the dead bytes simply wait for the next time. */
#define COMPACT_WAIT_MS		2000
/* A SEARCH keeps the mbox read lock across this many messages or bytes read (then lets
 * go once): the per-message lock and checks cost more than reading a small message, while
 * a writer or compaction waits no longer than reading these takes (milliseconds). */
#define STORE_READ_BATCH_MSGS	1024
#define STORE_READ_BATCH_BYTES	(4 * 1024 * 1024)
/* Lock attempts back off with jitter and give up after this (then IN-USE / EX_TEMPFAIL). */
#define LOCK_TIMEOUT_MS		60000
/* First and longest pause between lock attempts (doubling, jittered to [d/2, d]). */
#define LOCK_BACKOFF_MIN_MS	5
#define LOCK_BACKOFF_MAX_MS	250
/* A dotlock whose mbox has not changed for this long is stale (mutt and procmail use ~2-5 min). */
#define DOTLOCK_STALE		120
/* ... and one naming no pid (empty, like mutt's, or unparseable) after this: a writer
 * holding one is writing the mbox meanwhile, which keeps its mtime fresh. */
#define DOTLOCK_EMPTY_STALE	5
/* Long work holding a dotlock refreshes its mtime this often. */
#define DOTLOCK_TOUCH		30
/* Read size when checking a dead writer's partial append before undoing it (lock.c,
 * rule 7): on the stack of a per-connection process, a whole message read in pieces. */
#define LOCK_UNDO_BUF		(8 * 1024)
/* The state file's change log is folded into a fresh file past max(this, base array / 2):
 * replay at open stays short, and flag changes cost one small record until then. */
#define CHECKPOINT_MIN		(64 * 1024)
/* Pause between attempts at a folder held by a compaction (store_open waits for it). */
#define STORE_RETRY_MS		50
/* Largest From_ line or header line we parse; longer lines are still counted and copied. */
#define MBOX_LINE_MAX		4096
/*
 * Buffer of the mbox scanner and writer: big reads for 50 MB scans, and big writes
 * because JFFS2 turns every write() into a node (RAM and wear per node).
 */
#define MBOX_IO_BUF		(64 * 1024)
/* Envelope sender kept in a From_ line; longer ones are cut (RFC 5321: path <= 256). */
#define MBOX_SENDER_MAX		256

/* --- TLS (tls.c, pem.c, cert.c) --- */

/* A key or chain file larger than this is not a PEM key or chain: refuse it. */
#define PEM_FILE_MAX		65536
/* One DER object: an RSA 4096 key is ~2.4 KB, a certificate rarely passes 4 KB. */
#define PEM_OBJ_MAX		16384
/* Leaf plus intermediates sent to clients; longer chains are a misconfiguration. */
#define TLS_CHAIN_MAX		4
/* Smallest RSA modulus accepted for the server key (NIST SP 800-57: 2048 until 2030). */
#define TLS_RSA_MIN_BITS	2048
/*
 * Payload of the TLS records we send (BearSSL output buffer minus its overhead): 4 KB
 * records cost 0.7% in headers and save 12 KB per session against 16 KB ones.
 */
#define TLS_OUT_RECORD		4096
/* Waiting for close_notify to go out at the end of a session. */
#define TLS_CLOSE_TIMEOUT_MS	1000
/*
 * Validity of `mailnook cert` certificates: Apple clients reject any TLS server
 * certificate valid for more than 825 days, self-signed ones included.
 */
#define CERT_DAYS_DEFAULT	825
#define CERT_DAYS_MAX		3650
/* Where `mailnook cert` writes when tls_cert/tls_key are not configured. */
#define DEF_TLS_CERT		"/etc/mailnook/cert.pem"
#define DEF_TLS_KEY		"/etc/mailnook/key.pem"
/* Names given to `mailnook cert` for the subjectAltName list (host name included). */
#define CERT_NAMES_MAX		8

/* --- MIME structure (mime.c, imap_envelope.c, mime_cache.c) --- */

/* Nesting of multipart and message/rfc822 parts: deeper ones are leaves (a bomb of
 * nested boundaries must not cost a stack frame or part per level). */
#define MIME_DEPTH_MAX		32
/* Parts per message: bounds the part table, the cache record and BODYSTRUCTURE text. */
#define MIME_PARTS_MAX		500
/* Longest unfolded header value kept for ENVELOPE/BODYSTRUCTURE; longer ones are cut. */
#define MIME_FIELD_MAX		16384
/* All kept header values of one message (address lists of huge mailings are cut). */
#define MIME_ARENA_MAX		(256 * 1024)
/* RFC 2046 limits boundaries to 70 characters; we accept a little more from sloppy MUAs. */
#define MIME_BOUNDARY_MAX	200
/* Decoded text handed to SEARCH per call (one line, or a piece of a longer one). */
#define MIME_TEXT_LINE_MAX	4096
/*
 * Structure cache reads: one read of this many bytes serves the records of the ~40
 * messages that follow (appended in UID order), so FETCH 1:* and SEARCH over the cache
 * cost a system call per window, not per message.
 */
#define MIME_CACHE_WINDOW	(32 * 1024)
/* ENVELOPE plus BODYSTRUCTURE wire text of one message, and so one cache record. */
#define MIME_WIRE_MAX		(512 * 1024)

/* --- IMAP command input (imap_parse.c, mutf7.c, imap_search.c) --- */

/*
 * One command line with its inline literals, in fixed per-session storage: LOGIN, SEARCH
 * with literals and long UID sets fit easily; only APPEND's message goes elsewhere (spool).
 */
#define IMAP_CMD_MAX		(64 * 1024)
/* Parse results of one command (copied strings, set ranges, search nodes, fetch items). */
#define IMAP_ARENA_MAX		(64 * 1024)
/*
 * What a session keeps of both between commands: most commands fit, and a longer one
 * gets the full size above for as long as it runs, so an idle session holds 2 KB, not 128.
 */
#define IMAP_CMD_FIRST		1024
#define IMAP_ARENA_FIRST	1024
/* Tags clients use are short counters ("a0042"); longer ones are junk. */
#define IMAP_TAG_MAX		64
/* Longest command name (UNSUBSCRIBE, AUTHENTICATE) with room to spare. */
#define IMAP_VERB_MAX		16
/* Reply text of a BAD/NO/BYE built by the parser. */
#define IMAP_ERR_TEXT		160
/*
 * A refused {n+} literal is read and dropped to stay in step with the client; more than
 * this (summed over one command) and we hang up instead of reading junk for minutes.
 */
#define IMAP_DISCARD_MAX	(64UL * 1024 * 1024)
/* APPEND messages in one command: one (MULTIAPPEND is not offered). */
#define IMAP_SPOOL_MAX		1
/* Nesting of parentheses and of OR/NOT in SEARCH: recursion depth stays small. */
#define IMAP_NEST_MAX		64
/* Part path of BODY[1.2.3...]: deeper than any MIME tree we index. */
#define IMAP_PART_DEPTH_MAX	32
/* Items of a FETCH list after macro expansion, and names in one HEADER.FIELDS list. */
#define IMAP_FETCH_ITEMS_MAX	64
#define IMAP_FIELDS_MAX		64
/* Keywords in one flag list (the store keeps 64 per folder). */
#define IMAP_FLAGS_MAX		64
/* Patterns in one LIST-EXTENDED pattern list, strings in ID (RFC 2971: 30 pairs). */
#define IMAP_PATTERNS_MAX	16
/* A LIST reference and pattern joined (bytes after runs of wildcards become one each). */
#define IMAP_LIST_PATTERN_MAX	(2 * FOLDER_NAME_MAX)
#define IMAP_ID_MAX		60
/* A SEARCH string in code points (the matcher's tables are this long). */
#define IMAP_SEARCH_STR_MAX	1024
/*
 * Folder names in UTF-8: with the mail root, user and side-file suffixes the path must
 * still fit PATH_LEN; depth bounds recursive folder walks.
 */
#define IMAP_MAILBOX_MAX	200
#define IMAP_MAILBOX_DEPTH_MAX	16

#endif
