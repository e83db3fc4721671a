/*
 * The IMAP command table and the handlers of the non-message commands: capability,
 * login and TLS, mailbox management, LIST/LSUB/STATUS, SELECT/EXAMINE/CLOSE, ENABLE,
 * ID, NAMESPACE, IDLE. Message commands live in imap_msg.c. Runs unprivileged.
 */
#include "imap_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "imap_list_match.h"
#include "imap_reply.h"
#include "log.h"
#include "name.h"
#include "sasl.h"
#include "tls.h"
#include "util.h"

/* ---- capability and TLS policy ---- */

static int
plain_ok(const struct imap *s)
{
	if (s->io->secure || s->cfg->plaintext_auth == PLAIN_ANYWHERE) {
		return 1;
	}
	return s->cfg->plaintext_auth == PLAIN_LOOPBACK && s->io->peer_is_loopback;
}

static int
starttls_available(const struct imap *s)
{
	return WITH_TLS && s->ctx->tls != NULL && !s->io->secure;
}

/* What every state offers; login adds the rest. */
#define CAPS_ALWAYS	"CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE"

void
imap_capability(struct imap *s, char *buf, size_t cap)
{
	if (s->state == IMAP_ST_NOAUTH) {
		(void)str_fmt(buf, cap, CAPS_ALWAYS "%s%s", starttls_available(s) ? " STARTTLS" : "",
		    plain_ok(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
		return;
	}
	(void)str_fmt(buf, cap, CAPS_ALWAYS " UIDPLUS UNSELECT MOVE CHILDREN LIST-EXTENDED"
	    " LIST-STATUS SPECIAL-USE ESEARCH WITHIN STATUS=SIZE UTF8=ACCEPT APPENDLIMIT=%llu",
	    (unsigned long long)s->cfg->max_message);
}

static int
cmd_capability(struct imap *s)
{
	char caps[IMAP_CAPS_MAX];

	imap_capability(s, caps, sizeof(caps));
	imap_untagged(s->io, "%s", caps);
	return IMAP_OK;
}

static int
cmd_noop(struct imap *s)
{
	(void)s;
	return IMAP_OK;
}

static int
cmd_logout(struct imap *s)
{
	imap_untagged(s->io, "BYE %s IMAP4rev1 server logging out", s->cfg->hostname);
	s->state = IMAP_ST_LOGOUT;
	return IMAP_OK;
}

static int
cmd_starttls(struct imap *s)
{
	if (!starttls_available(s)) {
		return imap_fail(s, IMAP_BAD, "%s", s->io->secure ? "TLS already active" :
		    "STARTTLS not available");
	}
	if (io_pending(s->io) > 0) {
		/* Plaintext sent after STARTTLS would run as if it came through TLS. */
		log_warnx("imap: commands pipelined after STARTTLS from %s, closing", s->io->peer);
		return imap_fail(s, IMAP_BYE, "commands pipelined after STARTTLS");
	}
	imap_tagged(s->io, s->cmd.tag, "OK begin TLS negotiation now");
	if (io_flush(s->io) < 0 ||
	    tls_start(s->io, s->ctx->tls, s->cfg->preauth_timeout) < 0) {
		s->err.text[0] = '\0';
		return IMAP_GONE;
	}
	/* Forget everything said before the handshake (RFC 3501 6.2.1). */
	io_discard_input(s->io);
	log_info("tls %s from %s", tls_describe(s->io), s->io->peer);
	return IMAP_DONE;
}

/* ---- login ---- */

/* After a good password: the user's side directory, first-login folders, longer timeout. */
static int
logged_in(struct imap *s, const struct auth_user *au)
{
	char dir[PATH_LEN], caps[IMAP_CAPS_MAX];

	(void)str_copy(s->user, sizeof(s->user), au->name);
	s->quota = au->quota;
	if (config_user_dir(s->cfg, s->user, dir, sizeof(dir)) < 0 ||
	    str_fmt(s->tmpdir, sizeof(s->tmpdir), "%s/%s", dir, SIDE_DIR_NAME) < 0 ||
	    mkdir_p(s->tmpdir, 0700) < 0) {
		log_warnx("imap: no side directory for %s", s->user);
		return imap_fail(s, IMAP_NO, "[UNAVAILABLE] mail directory unusable");
	}
	(void)folders_recover(s->cfg, s->user);
	(void)folders_first_login(s->cfg, s->user);
	s->state = IMAP_ST_AUTH;
	io_set_timeout(s->io, IMAP_AUTOLOGOUT);
	auth_succeeded(s->cfg, s->io->peer, s->user);
	log_info("login user=%s from %s", s->user, s->io->peer);
	imap_capability(s, caps, sizeof(caps));
	(void)str_fmt(s->ok_code, sizeof(s->ok_code), "[%s]", caps);
	return IMAP_OK;
}

/* Check user and pass (pass is wiped here). */
static int
login(struct imap *s, const char *user, char *pass, size_t plen)
{
	struct auth_user au;
	int rc = AUTH_FAIL;

	if (plen <= PASS_MAX && strlen(pass) == plen && strlen(user) < NAME_LEN) {
		rc = auth_check(s->cfg, user, pass, &au);
	}
	wipe(pass, plen);
	if (rc == AUTH_ERR) {
		return imap_fail(s, IMAP_NO, "[UNAVAILABLE] temporary server error, try later");
	}
	if (rc != AUTH_OK) {
		log_info("login failed user=%s from %s", name_user_valid(user) ? user : "<invalid>",
		    s->io->peer);
		auth_failed(s->cfg, s->io->peer, user);
		return imap_fail(s, IMAP_NO,
		    "[AUTHENTICATIONFAILED] invalid user name or password");
	}
	return logged_in(s, &au);
}

static int
plain_refused(struct imap *s)
{
	return imap_fail(s, IMAP_NO, "[PRIVACYREQUIRED] plaintext authentication is disabled"
	    "%s", starttls_available(s) ? ", use STARTTLS first" : "");
}

static int
cmd_login(struct imap *s)
{
	if (!plain_ok(s)) {
		wipe((char *)s->args.pass.s, s->args.pass.len);
		return plain_refused(s);
	}
	return login(s, s->args.user.s, (char *)s->args.pass.s, s->args.pass.len);
}

/* AUTHENTICATE PLAIN's response (RFC 4616): authzid NUL authcid NUL password. */
static int
sasl_plain(struct imap *s, const char *b64, size_t len)
{
	char buf[2 * NAME_LEN + PASS_MAX + 4];
	const char *user;
	char *pass;
	int rc = sasl_plain_decode(b64, len, buf, sizeof(buf), &user, &pass);

	if (rc == SASL_MALFORMED) {
		rc = imap_fail(s, IMAP_BAD, "malformed PLAIN response");
	} else if (rc != SASL_OK) {
		rc = imap_fail(s, IMAP_NO, "[AUTHENTICATIONFAILED] invalid PLAIN response");
	} else {
		rc = login(s, user, pass, strlen(pass));
	}
	wipe(buf, sizeof(buf));
	return rc;
}

static int
cmd_authenticate(struct imap *s)
{
	char line[1024];
	size_t len;
	int rc;

	if (strcmp(s->args.mech.s, "PLAIN") != 0) {
		return imap_fail(s, IMAP_NO, "unsupported authentication mechanism");
	}
	if (!plain_ok(s)) {
		return plain_refused(s);
	}
	if (s->args.ir.s != NULL) {
		return sasl_plain(s, s->args.ir.s, s->args.ir.len);
	}
	io_puts(s->io, "+ \r\n");
	rc = io_getline(s->io, line, sizeof(line), &len);
	if (rc == IO_TOOLONG) {
		return imap_fail(s, IMAP_BAD, "response too long");
	}
	if (rc != IO_OK) {
		s->err.io_rc = rc;
		return imap_fail(s, rc == IO_TIMEOUT ? IMAP_BYE : IMAP_GONE, "autologout");
	}
	if (strcmp(line, "*") == 0) {
		return imap_fail(s, IMAP_BAD, "authentication cancelled");
	}
	rc = sasl_plain(s, line, len);
	wipe(line, sizeof(line));
	return rc;
}

/* ---- folder paths and names ---- */

int
imap_folder_paths(struct imap *s, const char *name, char *mbox, char *side)
{
	if (store_paths(s->cfg, s->user, name, mbox, PATH_LEN, side, PATH_LEN) < 0) {
		return imap_fail(s, IMAP_NO, "[CANNOT] invalid mailbox name");
	}
	return IMAP_OK;
}

/* The NO answer of a folder operation: a missing name is NONEXISTENT here, not TRYCREATE. */
static int
folders_fail(struct imap *s, int rc)
{
	switch (rc) {
	case STORE_EXISTS:
		return imap_fail(s, IMAP_NO, "[ALREADYEXISTS] mailbox already exists");
	case STORE_NOFOLDER:
		return imap_fail(s, IMAP_NO, "[NONEXISTENT] no such mailbox");
	case STORE_CANNOT:
		return imap_fail(s, IMAP_NO, "[CANNOT] not possible with this name");
	case STORE_HASCHILDREN:
		return imap_fail(s, IMAP_NO, "[CANNOT] mailbox has children");
	case STORE_TOOMANY:
		return imap_fail(s, IMAP_NO, "[LIMIT] too many mailboxes");
	default:
		return imap_store_fail(s, rc);
	}
}

int
imap_store_fail(struct imap *s, int rc)
{
	switch (rc) {
	case STORE_INUSE:
		return imap_fail(s, IMAP_NO, "[INUSE] mailbox is locked, try again later");
	case STORE_NOSPACE:
		return imap_fail(s, IMAP_NO, "%s", imap_write_text(ENOSPC, NULL));
	case STORE_QUOTA:
		return imap_fail(s, IMAP_NO, "[OVERQUOTA] quota exceeded");
	case STORE_TOOBIG:
		return imap_fail(s, IMAP_NO, "[TOOBIG] message too large");
	case STORE_BADMSG:
		return imap_fail(s, IMAP_NO, "[PARSE] empty message");
	case STORE_NOFOLDER:
		return imap_fail(s, IMAP_NO, "[TRYCREATE] no such mailbox");
	default:
		return imap_fail(s, IMAP_NO, "[SERVERBUG] %s", store_strerror(rc));
	}
}

/* ---- SELECT, EXAMINE, CLOSE, UNSELECT ---- */

static void
select_replies(struct imap *s)
{
	uint32_t i;

	imap_put_flag_lists(s);
	imap_untagged(s->io, "%u EXISTS", s->exists);
	imap_untagged(s->io, "%u RECENT", imap_recent_count(s));
	for (i = 0; i < s->exists; i++) {
		if (!(s->f.msgs[i].flags & STORE_SEEN)) {
			imap_untagged(s->io, "OK [UNSEEN %u] first unseen", i + 1);
			break;
		}
	}
	imap_untagged(s->io, "OK [UIDVALIDITY %u] UIDs valid", s->f.uidvalidity);
	imap_untagged(s->io, "OK [UIDNEXT %u] predicted next UID", s->f.uidnext);
}

static int
do_select(struct imap *s, int readonly)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	const char *name = s->args.mbox;
	int inbox = strcmp(name, "INBOX") == 0;
	uint32_t i;
	int rc;

	imap_deselect(s);
	rc = imap_folder_paths(s, name, mbox, side);
	if (rc != IMAP_OK) {
		return rc;
	}
	if (!inbox && !folders_exists(s->cfg, s->user, name)) {
		return imap_fail(s, IMAP_NO, "[NONEXISTENT] no such mailbox");
	}
	rc = store_open(&s->f, mbox, side, STORE_RDWR | STORE_IMAP | (inbox ? STORE_CREATE : 0));
	if (rc != STORE_OK) {
		return imap_store_fail(s, rc);
	}
	(void)str_copy(s->mbox_name, sizeof(s->mbox_name), name);
	s->state = IMAP_ST_SELECTED;
	s->readonly = readonly;
	s->exists = s->f.count;
	for (i = 0; i < s->exists; i++) {
		store_imap_told(&s->f, i);	/* listed by SELECT: changes are told from now on */
	}
	imap_claim_recent(s);
	select_replies(s);
	(void)str_copy(s->ok_code, sizeof(s->ok_code), readonly ? "[READ-ONLY]" : "[READ-WRITE]");
	return IMAP_OK;
}

static int
cmd_select(struct imap *s)
{
	return do_select(s, 0);
}

static int
cmd_examine(struct imap *s)
{
	return do_select(s, 1);
}

static int
cmd_close(struct imap *s)
{
	if (!s->readonly) {
		(void)imap_expunge_deleted(s, NULL);
	}
	imap_deselect(s);
	return IMAP_OK;
}

static int
cmd_unselect(struct imap *s)
{
	imap_deselect(s);
	return IMAP_OK;
}

static int
cmd_check(struct imap *s)
{
	(void)s;
	return IMAP_OK;
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ---- */

/* Is this session's selected folder name or one below it (which RENAME would move)? */
static int
selected_within(const struct imap *s, const char *name)
{
	size_t n = strlen(name);

	return s->state == IMAP_ST_SELECTED && strncmp(s->mbox_name, name, n) == 0 &&
	    (s->mbox_name[n] == '\0' || s->mbox_name[n] == '/');
}

static int
cmd_create(struct imap *s)
{
	int rc = folders_create(s->cfg, s->user, s->args.mbox);

	return rc == STORE_OK ? IMAP_OK : folders_fail(s, rc);
}

static int
cmd_delete(struct imap *s)
{
	int rc;

	if (strcmp(s->args.mbox, "INBOX") == 0) {
		return imap_fail(s, IMAP_NO, "[CANNOT] INBOX cannot be deleted");
	}
	if (s->state == IMAP_ST_SELECTED && strcmp(s->args.mbox, s->mbox_name) == 0) {
		return imap_fail(s, IMAP_NO, "[INUSE] mailbox is selected, close it first");
	}
	rc = folders_delete(s->cfg, s->user, s->args.mbox);
	return rc == STORE_OK ? IMAP_OK : folders_fail(s, rc);
}

/* RENAME INBOX: its messages move to a new folder, INBOX stays and is empty (RFC 3501 6.3.5). */
static int
rename_inbox(struct imap *s)
{
	char im[PATH_LEN], is[PATH_LEN], dm[PATH_LEN], ds[PATH_LEN];
	struct store_keywords *kw = calloc(1, sizeof(*kw));
	struct store_folder f;
	uint32_t *idx = NULL, *uids = NULL, i, uv;
	int rc = kw == NULL ? STORE_ERR : folders_create(s->cfg, s->user, s->args.mbox2);

	if (rc != STORE_OK) {
		store_kw_free(kw);
		return folders_fail(s, rc);
	}
	if (imap_folder_paths(s, "INBOX", im, is) != IMAP_OK ||
	    imap_folder_paths(s, s->args.mbox2, dm, ds) != IMAP_OK) {
		store_kw_free(kw);
		return IMAP_NO;
	}
	rc = store_open(&f, im, is, STORE_RDWR | STORE_CREATE);
	if (rc != STORE_OK) {
		store_kw_free(kw);
		return imap_store_fail(s, rc);
	}
	idx = calloc((size_t)f.count + 1, sizeof(*idx));
	uids = calloc((size_t)f.count + 1, sizeof(*uids));
	rc = idx == NULL || uids == NULL || store_kw_load(is, kw) < 0 ? STORE_ERR : STORE_OK;
	for (i = 0; i < f.count && rc == STORE_OK; i++) {
		idx[i] = i;
	}
	if (rc == STORE_OK) {
		rc = store_imap_copy(&f, kw, idx, f.count, dm, ds, s->tmpdir, s->cfg->max_message,
		    UINT64_MAX, &uv, uids);
	}
	for (i = 0; i < f.count && rc == STORE_OK; i++) {
		uids[i] = f.msgs[i].uid;
	}
	if (rc == STORE_OK) {
		rc = store_expunge(&f, uids, f.count);
	}
	store_close(&f);
	free(idx);
	free(uids);
	store_kw_free(kw);
	return rc == STORE_OK ? IMAP_OK : imap_store_fail(s, rc);
}

static int
cmd_rename(struct imap *s)
{
	int rc;

	if (strcmp(s->args.mbox2, "INBOX") == 0) {
		return imap_fail(s, IMAP_NO, "[ALREADYEXISTS] INBOX exists");
	}
	if (strcmp(s->args.mbox, "INBOX") == 0) {
		return rename_inbox(s);
	}
	if (selected_within(s, s->args.mbox)) {
		return imap_fail(s, IMAP_NO, "[INUSE] mailbox is selected, close it first");
	}
	rc = folders_rename(s->cfg, s->user, s->args.mbox, s->args.mbox2);
	return rc == STORE_OK ? IMAP_OK : folders_fail(s, rc);
}

static int
cmd_subscribe(struct imap *s)
{
	int rc = folders_subscribe(s->cfg, s->user, s->args.mbox, 1);

	return rc == STORE_OK ? IMAP_OK : folders_fail(s, rc);
}

static int
cmd_unsubscribe(struct imap *s)
{
	int rc = folders_subscribe(s->cfg, s->user, s->args.mbox, 0);

	return rc == STORE_OK ? IMAP_OK : folders_fail(s, rc);
}

/* ---- STATUS, LIST, LSUB ---- */

/* "* STATUS name (items)" for folder name; IMAP_OK or IMAP_NO. */
static int
status_of(struct imap *s, const char *name, unsigned items)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	struct store_status st;
	const char *sp = "";
	int rc = imap_folder_paths(s, name, mbox, side);

	if (rc != IMAP_OK) {
		return rc;
	}
	if (strcmp(name, "INBOX") != 0 && !folders_exists(s->cfg, s->user, name)) {
		return imap_fail(s, IMAP_NO, "[NONEXISTENT] no such mailbox");
	}
	rc = store_imap_status(mbox, side, &st);
	if (rc == STORE_NOFOLDER && strcmp(name, "INBOX") == 0) {
		rc = STORE_OK;
		st.uidvalidity = 1;
		st.uidnext = 1;
	}
	if (rc != STORE_OK) {
		return imap_store_fail(s, rc);
	}
	io_puts(s->io, "* STATUS ");
	imap_put_mailbox(s->io, name, s->utf8);
	io_puts(s->io, " (");
#define ITEM(bit, fmt, v) if (items & (bit)) { io_printf(s->io, "%s" fmt, sp, v); sp = " "; }
	ITEM(IMAP_ST_MESSAGES, "MESSAGES %u", st.messages);
	ITEM(IMAP_ST_RECENT, "RECENT %u", st.recent);
	ITEM(IMAP_ST_UIDNEXT, "UIDNEXT %u", st.uidnext);
	ITEM(IMAP_ST_UIDVALIDITY, "UIDVALIDITY %u", st.uidvalidity);
	ITEM(IMAP_ST_UNSEEN, "UNSEEN %u", st.unseen);
	ITEM(IMAP_ST_SIZE, "SIZE %llu", (unsigned long long)st.size);
#undef ITEM
	io_puts(s->io, ")\r\n");
	return IMAP_OK;
}

static int
cmd_status(struct imap *s)
{
	return status_of(s, s->args.mbox, s->args.status);
}

/* Pattern match with INBOX case-insensitive (RFC 3501 5.1). */
static int
name_matches(const char *pat, const char *name)
{
	char up[FOLDER_NAME_MAX];
	size_t i;

	if (imap_list_match(pat, name)) {
		return 1;
	}
	if (strcmp(name, "INBOX") != 0 || str_copy(up, sizeof(up), pat) < 0) {
		return 0;
	}
	for (i = 0; i < 5 && up[i] != '\0'; i++) {
		up[i] = (char)((up[i] >= 'a' && up[i] <= 'z') ? up[i] - 32 : up[i]);
	}
	return imap_list_match(up, name);
}

/* Does name match one of the LIST patterns (each after the reference)? */
static int
list_matches(const struct imap_list_args *la, const char *name)
{
	char full[2 * FOLDER_NAME_MAX];
	size_t k;

	for (k = 0; k < la->npat; k++) {
		if (la->ref.s != NULL && la->pat[k].s != NULL &&
		    str_fmt(full, sizeof(full), "%s%s", la->ref.s, la->pat[k].s) >= 0 &&
		    name_matches(full, name)) {
			return 1;
		}
	}
	return 0;
}

/*
 * Is some folder below v[i] subscribed (CHILDINFO, RFC 5258 3.5)? With hidden: one that
 * the patterns do not list themselves (LSUB's %, RFC 3501 6.3.9).
 */
static int
subscribed_child(const struct imap_list_args *la, const struct folder_ent *v, size_t n,
    size_t i, int hidden)
{
	size_t len = strlen(v[i].name), k;

	for (k = 0; k < n; k++) {
		if ((v[k].attrs & FOLDER_SUBSCRIBED) && strncmp(v[k].name, v[i].name, len) == 0 &&
		    v[k].name[len] == '/' && !(hidden && list_matches(la, v[k].name))) {
			return 1;
		}
	}
	return 0;
}

/*
 * Is v[i] selected by the LIST options and the patterns? *parent is set when it is
 * listed for a subscribed child: with CHILDINFO (RECURSIVEMATCH), or in LSUB as a
 * \Noselect parent of a subscribed name that the pattern does not reach.
 */
static int
list_wanted(const struct imap_list_args *la, const struct folder_ent *v, size_t n, size_t i,
    int lsub, int *parent)
{
	const struct folder_ent *e = &v[i];
	int subs_only = lsub || (la->sel & IMAP_LSEL_SUBSCRIBED);

	if (lsub) {
		*parent = !(e->attrs & FOLDER_SUBSCRIBED) && subscribed_child(la, v, n, i, 1);
	} else {
		*parent = (la->sel & IMAP_LSEL_RECURSIVE) && subs_only &&
		    subscribed_child(la, v, n, i, 0);
	}
	if (subs_only && !(e->attrs & FOLDER_SUBSCRIBED) && !*parent) {
		return 0;
	}
	if (!subs_only && (e->attrs & FOLDER_NONEXISTENT)) {
		return 0;
	}
	if ((la->sel & IMAP_LSEL_SPECIALUSE) && e->special == NULL) {
		return 0;
	}
	return list_matches(la, e->name);
}

static void
list_line(struct imap *s, const struct folder_ent *e, int lsub, int parent)
{
	const struct imap_list_args *la = &s->args.list;
	const char *sp = "";

	io_printf(s->io, "* %s (", lsub ? "LSUB" : "LIST");
#define ATTR(cond, text) if (cond) { io_printf(s->io, "%s%s", sp, text); sp = " "; }
	/* \NonExistent implies \Noselect (RFC 5258 3.4); LSUB has only the latter */
	ATTR(!lsub && (e->attrs & FOLDER_NONEXISTENT), "\\NonExistent");
	ATTR((e->attrs & FOLDER_NOSELECT) ||
	    (lsub && ((e->attrs & FOLDER_NONEXISTENT) || parent)), "\\Noselect");
	ATTR(!lsub && (e->attrs & FOLDER_HASCHILDREN), "\\HasChildren");
	ATTR(!lsub && (e->attrs & FOLDER_HASNOCHILDREN), "\\HasNoChildren");
	ATTR(!lsub && (e->attrs & FOLDER_SUBSCRIBED) &&
	    ((la->sel & IMAP_LSEL_SUBSCRIBED) || (la->ret & IMAP_LRET_SUBSCRIBED)), "\\Subscribed");
	ATTR(!lsub && e->special != NULL, e->special);
#undef ATTR
	io_puts(s->io, ") \"/\" ");
	imap_put_mailbox(s->io, e->name, s->utf8);
	io_puts(s->io, !lsub && parent ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n" : "\r\n");
}

static int
do_list(struct imap *s, int lsub)
{
	const struct imap_list_args *la = &s->args.list;
	struct folder_ent *v;
	size_t n, i;
	int rc;

	if (la->npat == 1 && la->pat[0].s != NULL && la->pat[0].len == 0 && !la->extended) {
		/* the hierarchy delimiter and root (RFC 3501 6.3.8) */
		io_printf(s->io, "* %s (\\Noselect) \"/\" \"\"\r\n", lsub ? "LSUB" : "LIST");
		return IMAP_OK;
	}
	rc = folders_list(s->cfg, s->user, &v, &n);
	if (rc != STORE_OK) {
		return folders_fail(s, rc);
	}
	for (i = 0; i < n; i++) {
		int parent;

		if (!list_wanted(la, v, n, i, lsub, &parent)) {
			continue;
		}
		list_line(s, &v[i], lsub, parent);
		if (!lsub && (la->ret & IMAP_LRET_STATUS) &&
		    !(v[i].attrs & (FOLDER_NOSELECT | FOLDER_NONEXISTENT))) {
			(void)status_of(s, v[i].name, la->status);
		}
	}
	free(v);
	return IMAP_OK;
}

static int
cmd_list(struct imap *s)
{
	return do_list(s, 0);
}

static int
cmd_lsub(struct imap *s)
{
	return do_list(s, 1);
}

/* ---- NAMESPACE, ID, ENABLE ---- */

static int
cmd_namespace(struct imap *s)
{
	imap_untagged(s->io, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	return IMAP_OK;
}

static int
cmd_id(struct imap *s)
{
	imap_untagged(s->io, "ID (\"name\" \"mailnook\" \"version\" \"%s\")", MAILNOOK_VERSION);
	return IMAP_OK;
}

static int
cmd_enable(struct imap *s)
{
	size_t i;

	io_puts(s->io, "* ENABLED");
	for (i = 0; i < s->args.natoms; i++) {
		if (strcmp(s->args.atoms[i].s, "UTF8=ACCEPT") == 0 && !s->utf8) {
			s->utf8 = 1;
			io_puts(s->io, " UTF8=ACCEPT");
		}
	}
	io_puts(s->io, "\r\n");
	return IMAP_OK;
}

/* ---- IDLE (RFC 2177) ---- */

/* Wait for the client's DONE, telling it of changes as they come. */
static int
cmd_idle(struct imap *s)
{
	int64_t start = mono_ms(), keep = start + IMAP_KEEPALIVE_MS;
	char line[64];
	size_t len;
	int rc;

	io_puts(s->io, "+ idling\r\n");
	for (;;) {
		if (io_flush(s->io) < 0) {
			return IMAP_GONE;
		}
		if (io_pending(s->io) == 0) {
			rc = io_wait_fd(s->io->rfd, 0, IMAP_IDLE_POLL_MS);
			if (rc < 0) {
				return IMAP_GONE;
			}
			if (rc == 0) {
				int64_t now = mono_ms();

				if (now - start > (int64_t)IMAP_IDLE_MAX * 1000) {
					return imap_fail(s, IMAP_BYE, "IDLE too long, autologout");
				}
				imap_update(s, 1);
				if (s->state == IMAP_ST_LOGOUT) {
					return IMAP_GONE;	/* BYE sent: the folder went away */
				}
				if (now >= keep) {
					imap_untagged(s->io, "OK still here");
					keep = now + IMAP_KEEPALIVE_MS;
				}
				continue;
			}
		}
		rc = io_getline(s->io, line, sizeof(line), &len);
		if (rc == IO_OK || rc == IO_TOOLONG) {
			break;
		}
		s->err.io_rc = rc;
		return rc == IO_TIMEOUT ? imap_fail(s, IMAP_BYE, "autologout") : IMAP_GONE;
	}
	if (rc != IO_OK || !str_ieq(line, "DONE")) {
		return imap_fail(s, IMAP_BAD, "expected DONE");
	}
	return IMAP_OK;
}

/* EXPUNGE takes no arguments, UID EXPUNGE a set (RFC 4315). */
static int
parse_expunge(struct imap_cmd *cmd, int utf8, struct imap_args *a, struct imap_err *err)
{
	return cmd->uid ? imap_parse_set(cmd, utf8, a, err) : imap_parse_none(cmd, utf8, a, err);
}

/* ---- the table ---- */

#define NA	IMAP_ST_NOAUTH
#define AU	IMAP_ST_AUTH
#define SE	IMAP_ST_SELECTED
#define ANY	(NA | AU | SE)

static const struct imap_cmd_def cmds[] = {
	{ "CAPABILITY", imap_parse_none, cmd_capability, ANY, 0 },
	{ "NOOP", imap_parse_none, cmd_noop, ANY, 0 },
	{ "LOGOUT", imap_parse_none, cmd_logout, ANY, 0 },
	{ "ID", imap_parse_id, cmd_id, ANY, 0 },
	{ "STARTTLS", imap_parse_none, cmd_starttls, NA, 0 },
	{ "LOGIN", imap_parse_login, cmd_login, NA, 0 },
	{ "AUTHENTICATE", imap_parse_authenticate, cmd_authenticate, NA, 0 },
	{ "ENABLE", imap_parse_enable, cmd_enable, AU | SE, 0 },
	{ "SELECT", imap_parse_mailbox, cmd_select, AU | SE, 0 },
	{ "EXAMINE", imap_parse_mailbox, cmd_examine, AU | SE, 0 },
	{ "CREATE", imap_parse_mailbox, cmd_create, AU | SE, 0 },
	{ "DELETE", imap_parse_mailbox, cmd_delete, AU | SE, 0 },
	{ "RENAME", imap_parse_rename, cmd_rename, AU | SE, 0 },
	{ "SUBSCRIBE", imap_parse_mailbox, cmd_subscribe, AU | SE, 0 },
	{ "UNSUBSCRIBE", imap_parse_mailbox, cmd_unsubscribe, AU | SE, 0 },
	{ "LIST", imap_parse_list, cmd_list, AU | SE, 0 },
	{ "LSUB", imap_parse_list, cmd_lsub, AU | SE, 0 },
	{ "STATUS", imap_parse_status, cmd_status, AU | SE, 0 },
	{ "NAMESPACE", imap_parse_none, cmd_namespace, AU | SE, 0 },
	{ "APPEND", imap_parse_append, imap_cmd_append, AU | SE, 0 },
	{ "IDLE", imap_parse_none, cmd_idle, AU | SE, 0 },
	{ "CHECK", imap_parse_none, cmd_check, SE, 0 },
	{ "CLOSE", imap_parse_none, cmd_close, SE, 0 },
	{ "UNSELECT", imap_parse_none, cmd_unselect, SE, 0 },
	{ "EXPUNGE", parse_expunge, imap_cmd_expunge, SE, IMAP_CF_UID },
	{ "SEARCH", imap_parse_search, imap_cmd_search, SE, IMAP_CF_UID | IMAP_CF_SEQ },
	{ "FETCH", imap_parse_fetch, imap_cmd_fetch, SE, IMAP_CF_UID | IMAP_CF_SEQ },
	{ "STORE", imap_parse_store, imap_cmd_store, SE, IMAP_CF_UID | IMAP_CF_SEQ },
	{ "COPY", imap_parse_copy, imap_cmd_copy, SE, IMAP_CF_UID | IMAP_CF_SEQ },
	{ "MOVE", imap_parse_copy, imap_cmd_move, SE, IMAP_CF_UID },
};

const struct imap_cmd_def *
imap_cmd_find(const char *verb)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cmds); i++) {
		if (strcmp(cmds[i].verb, verb) == 0) {
			return &cmds[i];
		}
	}
	return NULL;
}
