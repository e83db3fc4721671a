/*
 * MIME structure of one message in a single streaming pass over an mbox_reader: part
 * tree with CRLF wire offsets, kept header values, tolerant of missing or broken
 * boundaries (a part ends at any enclosing boundary or at the end of the message).
 * Also BODY[section] resolution and byte-exact range and header-field copies.
 * Runs in the unprivileged session process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "params.h"
#include "util.h"

/* Header names of enum mime_field, in its order. */
static const char *const mime_names[MIME_F_COUNT] = {
	"content-type", "content-transfer-encoding", "content-id", "content-description",
	"content-disposition", "content-language", "content-location", "content-md5",
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
	"message-id"
};

struct mime_bnd {
	uint16_t part;			/* the multipart this boundary splits */
	uint16_t len;
	char b[MIME_BOUNDARY_MAX];
};

struct mime_parser {
	struct mime_msg *m;
	uint32_t pos;			/* wire octets consumed */
	uint32_t lineno;		/* complete lines consumed */
	uint16_t cur;			/* deepest open part */
	int in_hdr;
	int cont;			/* the next piece continues a long line */
	int last_empty;			/* the last complete line was empty */
	int last_nl;			/* the last piece ended with a line end */
	int fidx;			/* field being collected, -1 none */
	size_t flen;
	int nbnd;
	uint16_t bpart;			/* multipart whose boundary the last line was */
	struct mime_bnd bnd[MIME_DEPTH_MAX];
	char fld[MIME_FIELD_MAX];
};

/* ---- structured values ---- */

static size_t
mime_skip_cfws(const char *v, size_t i)
{
	int depth = 0;

	for (; v[i] != '\0'; i++) {
		if (v[i] == '(') {
			depth++;
		} else if (v[i] == ')' && depth > 0) {
			depth--;
		} else if (v[i] == '\\' && depth > 0 && v[i + 1] != '\0') {
			i++;
		} else if (depth == 0 && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' &&
		    v[i] != '\n') {
			break;
		}
	}
	return i;
}

static int
mime_special(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL || (unsigned char)c <= ' ' || c == 0x7f;
}

static void
mime_put(char *out, size_t cap, size_t *n, char c, int lower)
{
	if (*n + 1 < cap) {
		out[(*n)++] = (lower && c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
}

int
mime_word(const char *v, size_t *i, char *out, size_t cap, int lower)
{
	size_t j = mime_skip_cfws(v, *i), n = 0;

	if (v[j] == '"') {
		for (j++; v[j] != '\0' && v[j] != '"'; j++) {
			if (v[j] == '\\' && v[j + 1] != '\0') {
				j++;
			}
			mime_put(out, cap, &n, v[j], lower);
		}
		j += v[j] == '"';
	} else {
		for (; v[j] != '\0' && !mime_special(v[j]); j++) {
			mime_put(out, cap, &n, v[j], lower);
		}
		if (n == 0) {
			*i = j;
			return -1;
		}
	}
	if (cap > 0) {
		out[n] = '\0';
	}
	*i = j;
	return (int)n;
}

int
mime_ctype_split(const char *v, char *type, size_t tcap, char *sub, size_t scap, size_t *i)
{
	size_t j = 0;

	if (mime_word(v, &j, type, tcap, 1) <= 0) {
		return -1;
	}
	j = mime_skip_cfws(v, j);
	if (v[j] != '/') {
		return -1;
	}
	j++;
	if (mime_word(v, &j, sub, scap, 1) <= 0) {
		return -1;
	}
	*i = j;
	return 0;
}

int
mime_param_next(const char *v, size_t *i, char *name, size_t ncap, char *val, size_t vcap)
{
	size_t j = *i;

	for (;;) {
		j = mime_skip_cfws(v, j);
		if (v[j] == '\0') {
			*i = j;
			return 0;
		}
		if (v[j] != ';') {
			/* junk between parameters: skip to the next ';' */
			j++;
			continue;
		}
		j++;
		if (mime_word(v, &j, name, ncap, 1) <= 0) {
			continue;
		}
		j = mime_skip_cfws(v, j);
		if (v[j] != '=') {
			continue;
		}
		j++;
		if (mime_word(v, &j, val, vcap, 0) < 0) {
			/* "name=" with nothing usable: an empty value */
			val[0] = '\0';
		}
		*i = j;
		return 1;
	}
}

/* Append an RFC 2231 extended value (charset'language'%XX...) or a plain piece to out. */
static void
mime_2231_piece(const char *v, int ext, char *out, size_t cap, size_t *n)
{
	static const char hex[] = "0123456789abcdef";

	if (ext) {
		const char *q = strchr(v, '\'');

		if (*n == 0 && q != NULL && (q = strchr(q + 1, '\'')) != NULL) {
			v = q + 1;	/* charset and language only lead the first piece */
		}
	}
	for (; *v != '\0'; v++) {
		const char *h1, *h2;
		char c = *v;

		if (ext && c == '%' && v[1] != '\0' && v[2] != '\0' &&
		    (h1 = strchr(hex, v[1] | 0x20)) != NULL && (h2 = strchr(hex, v[2] | 0x20)) != NULL) {
			c = (char)((h1 - hex) * 16 + (h2 - hex));
			v += 2;
		}
		mime_put(out, cap, n, c, 0);
	}
	out[*n] = '\0';
}

/* Is n (a parameter name) name plus an RFC 2231 suffix "*", "*K" or "*K*" for piece k? */
static int
mime_2231_name(const char *n, const char *name, unsigned k, int *ext)
{
	size_t l = strlen(name);
	char want[16];

	if (strncmp(n, name, l) != 0 || n[l] != '*') {
		return 0;
	}
	if (k == 0 && n[l + 1] == '\0') {
		*ext = 1;
		return 1;
	}
	str_fmt(want, sizeof(want), "%u", k);
	if (strncmp(n + l + 1, want, strlen(want)) != 0) {
		return 0;
	}
	n += l + 1 + strlen(want);
	*ext = n[0] == '*';
	return n[*ext] == '\0';
}

int
mime_param_find(const char *v, size_t i, const char *name, char *val, size_t vcap)
{
	char n[80], piece[MIME_BOUNDARY_MAX * 2];
	size_t start = i, got = 0;
	unsigned k = 0;
	int ext;

	while (mime_param_next(v, &i, n, sizeof(n), val, vcap) == 1) {
		if (strcmp(n, name) == 0) {
			return 1;
		}
	}
	/* RFC 2231: name*=, or name*0, name*1*, ... in order */
	for (i = start; mime_param_next(v, &i, n, sizeof(n), piece, sizeof(piece)) == 1;) {
		if (k < 64 && mime_2231_name(n, name, k, &ext)) {
			mime_2231_piece(piece, ext, val, vcap, &got);
			k++;
			i = start;	/* pieces may come in any order */
		}
	}
	return k > 0;
}

/* ---- the part table ---- */

const char *
mime_field(const struct mime_msg *m, uint16_t p, enum mime_field f)
{
	uint32_t o = m->parts[p].f[f];

	return o == 0 ? NULL : m->arena + o - 1;
}

static int
mime_new_part(struct mime_msg *m, uint16_t parent, uint32_t hdr_off, uint16_t *out)
{
	struct mime_part *p;

	if (m->nparts >= MIME_PARTS_MAX) {
		m->truncated = 1;
		return -1;
	}
	if (array_grow(&m->parts, &m->parts_cap, (size_t)m->nparts + 1, sizeof(*m->parts), 8,
	    MIME_PARTS_MAX) < 0) {
		return -1;
	}
	p = &m->parts[m->nparts];
	memset(p, 0, sizeof(*p));
	p->s.hdr_off = hdr_off;
	p->s.body_off = hdr_off;
	p->s.parent = parent;
	*out = m->nparts++;
	return 0;
}

static int
mime_keep(struct mime_msg *m, uint16_t p, int f, const char *v, size_t n)
{
	size_t need = m->arena_len + n + 1;

	if (array_grow(&m->arena, &m->arena_cap, need, 1, 1024, MIME_ARENA_MAX) < 0) {
		if (errno != EFBIG) {
			return -1;
		}
		m->truncated = 1;
		return 0;
	}
	memcpy(m->arena + m->arena_len, v, n);
	m->arena[m->arena_len + n] = '\0';
	m->parts[p].f[f] = (uint32_t)m->arena_len + 1;
	m->arena_len += n + 1;
	return 0;
}

void
mime_msg_free(struct mime_msg *m)
{
	free(m->parts);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

/* Is part p a message head (the message itself or one enclosed in message/rfc822)? */
static int
mime_is_head(const struct mime_msg *m, uint16_t p)
{
	return p == 0 || m->parts[m->parts[p].s.parent].s.kind == MIME_MESSAGE;
}

static unsigned
mime_depth(const struct mime_msg *m, uint16_t p)
{
	unsigned d = 0;

	while (m->parts[p].s.parent != MIME_NONE) {
		p = m->parts[p].s.parent;
		d++;
	}
	return d;
}

/* ---- header fields ---- */

static int
mime_flush_field(struct mime_parser *ps)
{
	size_t a = 0, n = ps->flen;
	int f = ps->fidx;

	ps->fidx = -1;
	if (f < 0 || ps->m->parts[ps->cur].f[f] != 0) {
		return 0;	/* not kept, or a repeated field: the first one counts */
	}
	while (a < n && (ps->fld[a] == ' ' || ps->fld[a] == '\t')) {
		a++;
	}
	while (n > a && (ps->fld[n - 1] == ' ' || ps->fld[n - 1] == '\t' ||
	    ps->fld[n - 1] == '\r')) {
		n--;
	}
	return mime_keep(ps->m, ps->cur, f, ps->fld + a, n - a);
}

static void
mime_field_more(struct mime_parser *ps, const char *s, size_t len)
{
	size_t room = sizeof(ps->fld) - ps->flen;

	if (ps->fidx < 0) {
		return;
	}
	if (len > 0 && s[len - 1] == '\r') {
		len--;
	}
	if (len > room) {
		len = room;
		ps->m->truncated = 1;
	}
	memcpy(ps->fld + ps->flen, s, len);
	ps->flen += len;
}

/* Start of a field line "name: value"; -1 if the line is no header field at all. */
static int
mime_field_start(struct mime_parser *ps, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t nl;
	int f, last = mime_is_head(ps->m, ps->cur) ? MIME_F_COUNT : MIME_F_DATE;

	if (colon == NULL || colon == s) {
		return -1;
	}
	nl = (size_t)(colon - s);
	while (nl > 0 && (s[nl - 1] == ' ' || s[nl - 1] == '\t')) {
		nl--;
	}
	for (size_t k = 0; k < nl; k++) {
		if ((unsigned char)s[k] <= ' ' || (unsigned char)s[k] >= 0x7f) {
			return -1;
		}
	}
	ps->fidx = -1;
	ps->flen = 0;
	for (f = 0; f < last; f++) {
		if (strlen(mime_names[f]) == nl && str_ieq_n(s, mime_names[f], nl)) {
			ps->fidx = f;
			break;
		}
	}
	mime_field_more(ps, colon + 1, len - (size_t)(colon + 1 - s));
	return 0;
}

/* ---- part kinds, opened at the end of a header ---- */

static uint8_t
mime_enc(const char *v)
{
	static const char *const names[] = { "7bit", "8bit", "binary", "quoted-printable",
	    "base64" };
	char w[32];
	size_t i = 0;

	if (v == NULL || mime_word(v, &i, w, sizeof(w), 1) <= 0) {
		return MIME_ENC_7BIT;
	}
	for (size_t k = 0; k < ARRAY_LEN(names); k++) {
		if (strcmp(w, names[k]) == 0) {
			return (uint8_t)k;
		}
	}
	return MIME_ENC_OTHER;
}

static int
mime_push_boundary(struct mime_parser *ps, const char *ct, size_t i)
{
	struct mime_bnd *b;
	char v[MIME_BOUNDARY_MAX + 1];

	if (ps->nbnd >= MIME_DEPTH_MAX || !mime_param_find(ct, i, "boundary", v, sizeof(v)) ||
	    v[0] == '\0' || strlen(v) >= MIME_BOUNDARY_MAX) {
		return -1;
	}
	b = &ps->bnd[ps->nbnd++];
	b->part = ps->cur;
	b->len = (uint16_t)strlen(v);
	memcpy(b->b, v, b->len);
	return 0;
}

/* The header of ps->cur ended; its body starts at body_off. */
static int
mime_header_end(struct mime_parser *ps, uint32_t body_off)
{
	struct mime_msg *m = ps->m;
	struct mime_part *p;
	const char *ct;
	char type[32], sub[64];
	size_t i = 0;
	uint16_t child;

	if (mime_flush_field(ps) != 0) {
		return -1;
	}
	p = &m->parts[ps->cur];
	p->s.body_off = body_off;
	/* start line until the part closes; a blank line ending the header is not counted */
	p->lines = ps->lineno + (body_off > ps->pos);
	p->s.enc = mime_enc(mime_field(m, ps->cur, MIME_F_CTE));
	ps->in_hdr = 0;
	ct = mime_field(m, ps->cur, MIME_F_CTYPE);
	if (ct == NULL || mime_ctype_split(ct, type, sizeof(type), sub, sizeof(sub), &i) != 0) {
		if (!p->in_digest) {
			return 0;
		}
		str_copy(type, sizeof(type), "message");
		str_copy(sub, sizeof(sub), "rfc822");
	}
	if (mime_depth(m, ps->cur) + 1 >= MIME_DEPTH_MAX) {
		m->truncated = 1;
		return 0;
	}
	if (strcmp(type, "multipart") == 0) {
		if (mime_push_boundary(ps, ct, i) == 0) {
			p->s.kind = MIME_MULTI;
		}
		return 0;
	}
	/* IMAP4rev1 gives only message/rfc822 an envelope and body (RFC 3501 body-type-msg) */
	if (strcmp(type, "message") != 0 || strcmp(sub, "rfc822") != 0 ||
	    p->s.enc > MIME_ENC_BINARY) {
		return 0;
	}
	if (mime_new_part(m, ps->cur, body_off, &child) != 0) {
		return m->truncated ? 0 : -1;
	}
	m->parts[ps->cur].s.kind = MIME_MESSAGE;
	ps->cur = child;
	ps->in_hdr = 1;
	return 0;
}

/* ---- closing parts ---- */

/*
 * Close part p, its body ending at end. At a boundary the line end before it belongs to
 * the boundary, so an empty last line is no line of the body (gap = 1).
 */
static void
mime_close(struct mime_parser *ps, uint16_t p, uint32_t end, int gap)
{
	struct mime_part *q = &ps->m->parts[p];

	/* a part cut short inside its header or boundary line stays inside its parent */
	if (q->s.hdr_off > end) {
		q->s.hdr_off = end;
	}
	if (q->s.body_off > end) {
		q->s.body_off = end;
	}
	q->s.body_len = end - q->s.body_off;
	q->lines = ps->lineno - q->lines;
	if (gap && q->lines > 0 && ps->last_empty) {
		q->lines--;
	}
	if (q->s.kind == MIME_MULTI && (p + 1 >= ps->m->nparts ||
	    ps->m->parts[p + 1].s.parent != p)) {
		q->s.kind = MIME_LEAF;	/* a multipart whose boundary never came */
	}
}

/* Close open parts below top (top itself stays open); end is where their bodies stop. */
static int
mime_close_to(struct mime_parser *ps, uint16_t top, uint32_t end, int gap)
{
	while (ps->cur != top) {
		if (ps->in_hdr) {
			if (mime_header_end(ps, ps->pos) != 0) {
				return -1;
			}
			continue;	/* may have opened a child: close it too */
		}
		mime_close(ps, ps->cur, end, gap);
		ps->cur = ps->m->parts[ps->cur].s.parent;
	}
	return 0;
}

/* Does the line delimit an open multipart? Its boundary index, -1 if not; *last for "--b--". */
static int
mime_boundary(const struct mime_parser *ps, const char *s, size_t len, int *last)
{
	if (len < 3 || s[0] != '-' || s[1] != '-') {
		return -1;
	}
	/* outermost first: a nested multipart reusing its parent's boundary ends there */
	for (int k = 0; k < ps->nbnd; k++) {
		const struct mime_bnd *b = &ps->bnd[k];
		size_t j = 2 + b->len;

		if (len < j || memcmp(s + 2, b->b, b->len) != 0) {
			continue;
		}
		*last = len >= j + 2 && s[j] == '-' && s[j + 1] == '-';
		j += *last ? 2 : 0;
		while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r')) {
			j++;
		}
		if (j == len) {
			return k;
		}
	}
	return -1;
}

static int
mime_is_digest(const struct mime_msg *m, uint16_t mp)
{
	const char *ct = mime_field(m, mp, MIME_F_CTYPE);
	char t[16], sub[16];
	size_t i;

	return ct != NULL && mime_ctype_split(ct, t, sizeof(t), sub, sizeof(sub), &i) == 0 &&
	    strcmp(sub, "digest") == 0;
}

static int
mime_on_boundary(struct mime_parser *ps, int k, int last, uint32_t wire)
{
	uint16_t mp = ps->bnd[k].part, child;
	uint32_t end = ps->pos >= 2 ? ps->pos - 2 : 0;

	if (mime_close_to(ps, mp, end, 1) != 0) {
		return -1;
	}
	ps->bpart = mp;
	ps->nbnd = last ? k : k + 1;
	if (last) {
		return 0;	/* the epilogue belongs to the multipart */
	}
	if (mime_new_part(ps->m, mp, ps->pos + wire, &child) != 0) {
		return ps->m->truncated ? 0 : -1;
	}
	ps->m->parts[child].in_digest = (uint16_t)mime_is_digest(ps->m, mp);
	ps->cur = child;
	ps->in_hdr = 1;
	ps->fidx = -1;
	return 0;
}

/* A header line of ps->cur (a whole line or the first piece of a long one). */
static int
mime_header_line(struct mime_parser *ps, const char *s, size_t len, uint32_t wire)
{
	if (len == 0 || (len == 1 && s[0] == '\r')) {
		return mime_header_end(ps, ps->pos + wire);
	}
	if (s[0] == ' ' || s[0] == '\t') {
		mime_field_more(ps, s, len);
		return 0;
	}
	if (mime_flush_field(ps) != 0) {
		return -1;
	}
	if (mime_field_start(ps, s, len) == 0) {
		return 0;
	}
	/* not a header line: the body starts here without a blank line */
	if (mime_header_end(ps, ps->pos) != 0) {
		return -1;
	}
	return ps->in_hdr ? mime_header_line(ps, s, len, wire) : 0;
}

static int
mime_piece(struct mime_parser *ps, const char *s, size_t len, int partial, int nl)
{
	uint32_t wire = (uint32_t)len + (nl ? 2 : 0);
	int k, last = 0;

	if (ps->cont) {
		if (ps->in_hdr) {
			mime_field_more(ps, s, len);
		}
	} else if (!partial && (k = mime_boundary(ps, s, len, &last)) >= 0) {
		return mime_on_boundary(ps, k, last, wire);
	} else if (ps->in_hdr) {
		return mime_header_line(ps, s, len, wire);
	}
	return 0;
}

/* Which part a line starting at ps->pos belonged to, for the hook; 2 = a boundary line. */
static uint16_t
mime_line_owner(const struct mime_parser *ps, int *in_hdr)
{
	const struct mime_part *c = &ps->m->parts[ps->cur];

	if (ps->bpart != MIME_NONE) {
		*in_hdr = 2;
		return ps->bpart;
	}
	if (ps->in_hdr && c->s.hdr_off > ps->pos) {
		*in_hdr = 1;	/* the blank line that opened an enclosed message */
		return c->s.parent;
	}
	*in_hdr = ps->in_hdr || c->s.body_off > ps->pos;
	return ps->cur;
}

static int
mime_run(struct mime_parser *ps, struct mbox_reader *r, mime_line_fn hook, void *ctx)
{
	const char *s;
	size_t len;
	int partial, nl, rc, in_hdr;

	while ((rc = mbox_reader_next(r, &s, &len, &partial, &nl)) == 1) {
		ps->bpart = MIME_NONE;
		if (mime_piece(ps, s, len, partial, nl) != 0) {
			return -1;
		}
		if (hook != NULL) {
			uint16_t part = mime_line_owner(ps, &in_hdr);

			if ((rc = hook(ctx, ps->m, part, in_hdr, s, len, partial)) != 0) {
				return rc;
			}
		}
		ps->pos += (uint32_t)len + (nl ? 2 : 0);
		ps->last_nl = nl;
		if (!partial) {
			ps->last_empty = !ps->cont && (len == 0 || (len == 1 && s[0] == '\r'));
			ps->lineno++;
		}
		ps->cont = partial;
	}
	return rc;
}

int
mime_parse(struct mime_msg *m, struct mbox_reader *r, mime_line_fn hook, void *ctx)
{
	struct mime_parser *ps;
	uint16_t root;
	int rc;

	memset(m, 0, sizeof(*m));
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL || mime_new_part(m, MIME_NONE, 0, &root) != 0) {
		free(ps);
		return -1;
	}
	ps->m = m;
	ps->in_hdr = 1;
	ps->fidx = -1;
	rc = mime_run(ps, r, hook, ctx);
	if (rc == 0 && ps->nbnd > 0 && !ps->in_hdr) {
		/* a missing close delimiter: the last line end is still the delimiter's */
		rc = mime_close_to(ps, ps->bnd[ps->nbnd - 1].part,
		    ps->pos - (ps->last_nl && ps->pos >= 2 ? 2 : 0), 1);
	}
	if (rc == 0 && (rc = mime_close_to(ps, 0, ps->pos, 0)) == 0) {
		if (ps->in_hdr && (rc = mime_header_end(ps, ps->pos)) == 0) {
			rc = mime_close_to(ps, 0, ps->pos, 0);
		}
		if (rc == 0) {
			mime_close(ps, 0, ps->pos, 0);
		}
		m->size = ps->pos;
		m->lines = ps->lineno;
	}
	free(ps);
	return rc;
}

/* ---- sections ---- */

static int
mime_nth_child(const struct mime_span *sp, uint16_t n, uint16_t p, uint32_t k)
{
	for (uint16_t j = p + 1; j < n; j++) {
		if (sp[j].parent == p && --k == 0) {
			return j;
		}
	}
	return -1;
}

int
mime_section(const struct mime_span *sp, uint16_t n, const uint32_t *path, size_t depth,
    enum mime_sect kind, struct mime_range *out)
{
	int e = 0;

	if (n == 0) {
		return -1;
	}
	for (size_t i = 0; i < depth; i++) {
		/* below the top, a message/rfc822 part's numbers go into its message */
		if (i > 0 && sp[e].kind == MIME_MESSAGE) {
			e = mime_nth_child(sp, n, (uint16_t)e, 1);
		}
		if (e < 0) {
			return -1;
		}
		if (sp[e].kind == MIME_MULTI) {
			e = mime_nth_child(sp, n, (uint16_t)e, path[i]);
		} else if (path[i] != 1) {
			e = -1;
		}
		if (e < 0) {
			return -1;
		}
	}
	if (kind == MIME_SECT_PART) {
		out->off = depth == 0 ? 0 : sp[e].body_off;
		out->len = sp[e].body_off + sp[e].body_len - out->off;
		return 0;
	}
	if (kind == MIME_SECT_MIME) {
		if (depth == 0) {
			return -1;
		}
	} else if (depth > 0) {
		if (sp[e].kind != MIME_MESSAGE || (e = mime_nth_child(sp, n, (uint16_t)e, 1)) < 0) {
			return -1;
		}
	}
	if (kind == MIME_SECT_TEXT) {
		out->off = sp[e].body_off;
		out->len = sp[e].body_len;
	} else {
		out->off = sp[e].hdr_off;
		out->len = sp[e].body_off - sp[e].hdr_off;
	}
	return 0;
}

/* ---- copies ---- */

/* Send the part of [at, at + n) that falls in [lo, hi). */
static int
mime_slice(uint32_t at, const char *p, uint32_t n, uint32_t lo, uint32_t hi, mime_sink_fn sink,
    void *ctx)
{
	uint32_t a = at > lo ? at : lo, b = at + n < hi ? at + n : hi;

	return a < b ? sink(ctx, p + (a - at), b - a) : 0;
}

int
mime_copy_range(struct mbox_reader *r, struct mime_range rg, mime_sink_fn sink, void *ctx)
{
	uint32_t pos = 0, end = rg.off + rg.len;
	const char *s;
	size_t len;
	int partial, nl, rc;

	while (pos < end && (rc = mbox_reader_next(r, &s, &len, &partial, &nl)) == 1) {
		if ((rc = mime_slice(pos, s, (uint32_t)len, rg.off, end, sink, ctx)) != 0) {
			return rc;
		}
		pos += (uint32_t)len;
		if (nl && (rc = mime_slice(pos, "\r\n", 2, rg.off, end, sink, ctx)) != 0) {
			return rc;
		}
		pos += nl ? 2 : 0;
	}
	return pos >= end ? 0 : -1;
}

/* Is the field line s among names? */
static int
mime_named(const char *s, size_t len, const char *const *names, size_t n)
{
	const char *colon = memchr(s, ':', len);
	size_t nl;

	if (colon == NULL) {
		return 0;
	}
	nl = (size_t)(colon - s);
	while (nl > 0 && (s[nl - 1] == ' ' || s[nl - 1] == '\t')) {
		nl--;
	}
	for (size_t k = 0; k < n; k++) {
		if (strlen(names[k]) == nl && str_ieq_n(s, names[k], nl)) {
			return 1;
		}
	}
	return 0;
}

int
mime_copy_fields(struct mbox_reader *r, struct mime_range hdr, const char *const *names,
    size_t n, int not, mime_sink_fn sink, void *ctx)
{
	uint32_t pos = 0, end = hdr.off + hdr.len;
	const char *s;
	size_t len;
	int partial, nl, rc = 0, keep = 0, cont = 0;

	while (pos < end && (rc = mbox_reader_next(r, &s, &len, &partial, &nl)) == 1) {
		if (pos >= hdr.off) {
			if (!cont && len > 0 && s[0] != ' ' && s[0] != '\t') {
				keep = mime_named(s, len, names, n) != not;
			}
			if (!cont && (len == 0 || (len == 1 && s[0] == '\r'))) {
				break;	/* the blank line: ours comes below */
			}
			/* a header cut short by a boundary may end inside its last line end */
			if (keep && ((rc = mime_slice(pos, s, (uint32_t)len, hdr.off, end, sink, ctx)) != 0 ||
			    (nl && (rc = mime_slice(pos + (uint32_t)len, "\r\n", 2, hdr.off, end, sink,
			    ctx)) != 0))) {
				return rc;
			}
		}
		pos += (uint32_t)len + (nl ? 2 : 0);
		cont = partial;
	}
	if (rc < 0) {
		return -1;
	}
	return sink(ctx, "\r\n", 2);
}
