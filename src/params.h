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

/* --- Timeouts (seconds) --- */

/* RFC 1939 section 3: the autologout timer must be at least 10 minutes. */
#define POP3_TIMEOUT		600
/* Before login nobody has a reason to idle: keep pre-auth sessions cheap. */
#define PREAUTH_TIMEOUT		60
/* A client that stops reading our output: give up writing after this. */
#define WRITE_TIMEOUT		120

/* --- Listener caps (dropbear-style: total, per source address, unauthenticated) --- */

#define DEF_MAX_CHILDREN	32
#define DEF_MAX_PER_IP		8
#define DEF_MAX_UNAUTH		10
#define MAX_LISTENERS		8

/* --- Failed-login throttle --- */

/* Delay after a failure doubles per recent failure from that address, up to this. */
#define FAIL_DELAY_BASE_MS	1000
#define FAIL_DELAY_MAX_MS	16000
/* Failures older than this are forgotten. */
#define FAIL_WINDOW		900
/* Addresses remembered in the shared throttle file (fixed-size table, LRU). */
#define FAIL_TABLE_SLOTS	64

/* --- Store --- */

/* Largest single message accepted by deliver/APPEND: record fields are 32-bit. */
#define DEF_MAX_MESSAGE		(64UL * 1024 * 1024)
#define MESSAGE_HARD_MAX	(1UL << 31)
/* Messages per folder: bounds the per-session arrays (64 bytes each). */
#define FOLDER_MSGS_MAX		1000000
/* Chunk moved per step by in-place compaction: one UBIFS/JFFS2 erase block or two. */
#define COMPACT_CHUNK		(256 * 1024)
/* Compact when dead bytes pass 1/COMPACT_DEAD_DIV of the mbox. */
#define COMPACT_DEAD_DIV	4
/* Lock attempts back off with jitter and give up after this (then IN-USE / EX_TEMPFAIL). */
#define LOCK_TIMEOUT_MS		60000
/* A dotlock whose mbox has not changed for this long is stale (mutt and procmail use ~2-5 min). */
#define DOTLOCK_STALE		120
/* Long work holding a dotlock refreshes its mtime this often. */
#define DOTLOCK_TOUCH		30
/* Largest From_ line or header line we parse; longer lines are still counted and copied. */
#define MBOX_LINE_MAX		4096

#endif
