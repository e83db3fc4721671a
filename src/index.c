/*
 * The per-folder state file's records (doc/store.md has the byte layout): encoding and
 * decoding the header, message records and change records, and applying them to an
 * in-memory image (merge, resync, replay of one record). No I/O: index_file.c reads and
 * writes the file.
 */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "params.h"
#include "util.h"

/*
 * Bytes 72..99: a second copy of the identity fields of the header at p, with its own
 * CRC. A damaged byte elsewhere in the header then leaves UIDVALIDITY, UIDNEXT and the
 * base count known; being derived, it also lets a damaged copy be told apart from a
 * damaged header (load_header).
 */
static void
put_header_copy(unsigned char *p)
{
	memcpy(p + 72, p + 20, 12);	/* UIDVALIDITY, UIDNEXT, flags */
	memcpy(p + 84, p + 40, 4);	/* base count */
	memcpy(p + 88, p + 32, 8);	/* generation */
	put_le32(p + 96, crc32c(0, p + 72, 24));
}

void
idx_put_header(unsigned char *p, const struct idx_set *s)
{
	memset(p, 0, IDX_HDR_LEN);
	memcpy(p, IDX_MAGIC, 8);
	put_le32(p + 8, IDX_VERSION);
	put_le32(p + 12, IDX_HDR_LEN);
	put_le32(p + 16, IDX_REC_LEN);
	put_le32(p + 20, s->uidvalidity);
	put_le32(p + 24, s->uidnext);
	put_le32(p + 28, s->mboxrd ? IDX_F_MBOXRD : 0);
	put_le64(p + 32, s->generation);
	put_le32(p + 40, s->count);
	put_le32(p + 44, s->ms.tail_crc);
	put_le64(p + 48, s->ms.size);
	put_le64(p + 56, s->ms.ino);
	put_le64(p + 64, (uint64_t)s->ms.mtime_ns);
	put_header_copy(p);
	put_le32(p + IDX_HDR_LEN - 4, crc32c(0, p, IDX_HDR_LEN - 4));
}

/* The identity from the header's second copy (bytes 72..99); 0 or -1 if invalid. */
static int
get_header_copy(const unsigned char *p, struct idx_set *s)
{
	if (get_le32(p + 96) != crc32c(0, p + 72, 24) || get_le32(p + 72) == 0 ||
	    get_le32(p + 84) > FOLDER_MSGS_MAX) {
		return -1;
	}
	s->uidvalidity = get_le32(p + 72);
	s->uidnext = get_le32(p + 76);
	s->mboxrd = (get_le32(p + 80) & IDX_F_MBOXRD) != 0;
	s->base_count = get_le32(p + 84);
	s->generation = get_le64(p + 88);
	return 0;
}

int
idx_get_header(const unsigned char *p, struct idx_set *s)
{
	if (memcmp(p, IDX_MAGIC, 8) != 0 || get_le32(p + 8) != IDX_VERSION ||
	    get_le32(p + 12) != IDX_HDR_LEN || get_le32(p + 16) != IDX_REC_LEN ||
	    get_le32(p + IDX_HDR_LEN - 4) != crc32c(0, p, IDX_HDR_LEN - 4) ||
	    get_le32(p + 40) > FOLDER_MSGS_MAX) {
		return -1;
	}
	s->uidvalidity = get_le32(p + 20);
	s->uidnext = get_le32(p + 24);
	s->mboxrd = (get_le32(p + 28) & IDX_F_MBOXRD) != 0;
	s->generation = get_le64(p + 32);
	s->base_count = get_le32(p + 40);
	s->ms.tail_crc = get_le32(p + 44);
	s->ms.size = get_le64(p + 48);
	s->ms.ino = get_le64(p + 56);
	s->ms.mtime_ns = (int64_t)get_le64(p + 64);
	return 0;
}

int
idx_get_header_any(unsigned char *p, size_t len, struct idx_set *s)
{
	if (len == IDX_HDR_LEN && idx_get_header(p, s) == 0) {
		return 2;
	}
	if (len == IDX_HDR_LEN && get_header_copy(p, s) == 0) {
		return 1;
	}
	/* Both bad: if only the copy was hit, the header checks out with it derived anew. */
	put_header_copy(p);
	if (len == IDX_HDR_LEN && idx_get_header(p, s) == 0) {
		return 2;
	}
	s->uidvalidity = 0;
	s->uidnext = 1;
	s->mboxrd = 1;
	s->generation = 0;
	return 0;
}

void
idx_put_rec(unsigned char *p, const struct store_rec *m)
{
	put_le32(p, m->uid);
	put_le32(p + 4, m->flags & ~(STORE_CHANGED | STORE_TOLD));
	put_le64(p + 8, m->keywords);
	put_le64(p + 16, m->e.offset);
	put_le32(p + 24, m->e.from_len);
	put_le32(p + 28, m->e.raw_len);
	put_le32(p + 32, m->e.wire_size);
	put_le64(p + 36, (uint64_t)m->e.date);
	put_le64(p + 44, m->e.fingerprint);
	put_le64(p + 52, m->modseq);
	put_le32(p + 60, crc32c(0, p, 60));
}

int
idx_get_rec(const unsigned char *p, struct store_rec *m)
{
	if (get_le32(p + 60) != crc32c(0, p, 60) || get_le32(p) == 0) {
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->uid = get_le32(p);
	m->flags = get_le32(p + 4) & (STORE_FLAGS_ALL | STORE_EXPUNGED);
	m->keywords = get_le64(p + 8);
	m->e.offset = get_le64(p + 16);
	m->e.from_len = get_le32(p + 24);
	m->e.raw_len = get_le32(p + 28);
	m->e.wire_size = get_le32(p + 32);
	m->e.date = (int64_t)get_le64(p + 36);
	m->e.fingerprint = get_le64(p + 44);
	m->modseq = get_le64(p + 52);
	return 0;
}

static void
put_mboxstat(unsigned char *p, const struct store_mboxstat *ms)
{
	put_le64(p, ms->size);
	put_le64(p + 8, ms->ino);
	put_le64(p + 16, (uint64_t)ms->mtime_ns);
	put_le32(p + 24, ms->tail_crc);
}

size_t
idx_put_log(unsigned char *p, const struct idx_log *l)
{
	unsigned char *q = p + 4;
	size_t n = 0;

	switch (l->type) {
	case IDX_NEW:
		idx_put_rec(q, &l->m);
		n = IDX_REC_LEN;
		break;
	case IDX_FLAGS:
		put_le32(q, l->m.uid);
		put_le32(q + 4, l->m.flags & STORE_FLAGS_ALL);
		put_le64(q + 8, l->m.keywords);
		put_le64(q + 16, l->m.modseq);
		n = 24;
		break;
	case IDX_EXPUNGE:
		put_le32(q, l->first);
		put_le32(q + 4, l->last);
		n = 8;
		break;
	default:
		put_mboxstat(q, &l->ms);
		n = 28;
		break;
	}
	p[0] = (unsigned char)l->type;
	p[1] = 0;
	put_le16(p + 2, (uint16_t)n);
	put_le32(p + 4 + n, crc32c(0, p, 4 + n));
	return 4 + n + 4;
}

/* Payload length each type must have; 0 for an unknown type. */
static size_t
log_payload_len(int type)
{
	static const size_t len[] = { 0, IDX_REC_LEN, 24, 8, 28 };

	return type > 0 && (size_t)type < ARRAY_LEN(len) ? len[type] : 0;
}

static int
get_log_payload(const unsigned char *q, struct idx_log *l)
{
	switch (l->type) {
	case IDX_NEW:
		return idx_get_rec(q, &l->m);
	case IDX_FLAGS:
		l->m.uid = get_le32(q);
		l->m.flags = get_le32(q + 4) & STORE_FLAGS_ALL;
		l->m.keywords = get_le64(q + 8);
		l->m.modseq = get_le64(q + 16);
		return 0;
	case IDX_EXPUNGE:
		l->first = get_le32(q);
		l->last = get_le32(q + 4);
		return l->first <= l->last ? 0 : -1;
	default:
		l->ms.size = get_le64(q);
		l->ms.ino = get_le64(q + 8);
		l->ms.mtime_ns = (int64_t)get_le64(q + 16);
		l->ms.tail_crc = get_le32(q + 24);
		return 0;
	}
}

long
idx_get_log(const unsigned char *p, size_t n, struct idx_log *l)
{
	size_t plen;

	if (n < 4) {
		return 0;
	}
	plen = log_payload_len(p[0]);
	if (plen == 0 || p[1] != 0 || get_le16(p + 2) != plen) {
		return -1;
	}
	if (n < 4 + plen + 4) {
		return 0;
	}
	if (get_le32(p + 4 + plen) != crc32c(0, p, 4 + plen)) {
		return -1;
	}
	memset(l, 0, sizeof(*l));
	l->type = p[0];
	if (get_log_payload(p + 4, l) < 0) {
		return -1;
	}
	return (long)(4 + plen + 4);
}

long
idx_find(const struct idx_set *s, uint32_t uid)
{
	size_t lo = uid_lower(s->msgs, s->count, sizeof(*s->msgs), uid);

	return lo < s->count && s->msgs[lo].uid == uid ? (long)lo : -1;
}

/* Room for need messages in every array s has; the parallel ones share cap. */
static int
set_reserve(struct idx_set *s, size_t need)
{
	size_t cap = s->cap;
	uint64_t *kw;
	struct mbox_entry *e;

	if (array_grow(&s->msgs, &cap, need, sizeof(*s->msgs), 64, FOLDER_MSGS_MAX) < 0) {
		return -1;
	}
	/* the keywords while any is set, the entries of a cold set */
	if (cap != s->cap && s->kw != NULL) {
		if ((kw = realloc(s->kw, cap * sizeof(*kw))) == NULL) {
			return -1;
		}
		s->kw = kw;
	}
	if (cap != s->cap && s->cold) {
		if ((e = realloc(s->ents, cap * sizeof(*e))) == NULL) {
			return -1;
		}
		s->ents = e;
	}
	s->cap = cap;
	return 0;
}

int
idx_set_keywords(struct idx_set *s, uint32_t i, uint64_t kw)
{
	if (s->kw == NULL) {
		if (kw == 0) {
			return 0;
		}
		if ((s->kw = calloc(s->cap, sizeof(*s->kw))) == NULL) {
			return -1;
		}
	}
	s->kw[i] = kw;
	return 0;
}

uint64_t
idx_keywords(const struct idx_set *s, uint32_t i)
{
	return s->kw != NULL ? s->kw[i] : 0;
}

int
idx_entry(const struct idx_set *s, uint32_t i, struct mbox_entry *e)
{
	uint32_t k;

	if (s->cold) {
		*e = s->ents[i];
		return 0;
	}
	if (s->map == NULL) {
		return -1;
	}
	if (s->msgs[i].at != 0) {
		return idx_map_entry(s->map, s->msgs[i].at, s->msgs[i].uid, e);
	}
	/* few: only messages removed elsewhere that the view still lists */
	for (k = 0; k < s->map->nkept; k++) {
		if (s->map->kept[k].uid == s->msgs[i].uid) {
			*e = s->map->kept[k].e;
			return 0;
		}
	}
	return -1;
}

void
idx_keep_entry(struct idx_set *s, uint32_t i)
{
	struct idx_map *m = s->map;
	struct mbox_entry e;

	if (s->msgs[i].at == 0) {
		return;
	}
	if (idx_entry(s, i, &e) == 0 && array_grow(&m->kept, &m->kept_cap, (size_t)m->nkept + 1,
	    sizeof(*m->kept), 16, FOLDER_MSGS_MAX) == 0) {
		m->kept[m->nkept].uid = s->msgs[i].uid;
		m->kept[m->nkept].e = e;
		m->nkept++;
	}
	s->msgs[i].at = 0;
}

int
idx_push(struct idx_set *s, const struct store_rec *m, uint32_t at)
{
	struct store_msg *d;

	if (set_reserve(s, (size_t)s->count + 1) < 0) {
		return -1;
	}
	d = &s->msgs[s->count];
	d->uid = m->uid;
	d->flags = m->flags;
	d->at = at;
	if (s->cold) {
		s->ents[s->count] = m->e;
	}
	if (s->kw != NULL) {
		s->kw[s->count] = 0;
	}
	s->count++;
	if (idx_set_keywords(s, s->count - 1, m->keywords) < 0) {
		s->count--;
		return -1;
	}
	if (m->uid >= s->uidnext) {
		s->uidnext = m->uid + 1;
	}
	return 0;
}

/* Give msgs[i] the flags in f (expunged stays expunged), noting a visible change. */
static void
set_flags(struct idx_set *s, uint32_t i, uint32_t flags, uint64_t kw)
{
	struct store_msg *m = &s->msgs[i];
	uint32_t keep = m->flags & (STORE_CHANGED | STORE_EXPUNGED | STORE_VANISHED | STORE_TOLD);

	if ((m->flags & STORE_EXPUNGED) == 0 && flags & STORE_EXPUNGED) {
		keep |= STORE_EXPUNGED;
		s->ch.expunged++;
	}
	flags &= STORE_FLAGS_ALL;
	if ((m->flags & STORE_FLAGS_ALL) != flags || idx_keywords(s, i) != kw) {
		if ((keep & (STORE_CHANGED | STORE_EXPUNGED)) == 0) {
			s->ch.flagged++;
		}
		keep |= STORE_CHANGED;
	}
	m->flags = flags | keep;
	(void)idx_set_keywords(s, i, kw);
}

/* A record for msgs[i] (a NEW one, or the image's): its place, and its flags. */
static void
take_rec(struct idx_set *s, uint32_t i, const struct store_rec *m, uint32_t at)
{
	s->msgs[i].at = at;
	if (s->cold) {
		s->ents[i] = m->e;
	}
	set_flags(s, i, m->flags, m->keywords);
}

static void
apply_new(struct idx_set *s, const struct store_rec *m, uint32_t at)
{
	long i = idx_find(s, m->uid);

	if (i >= 0) {
		take_rec(s, (uint32_t)i, m, at);
		return;
	}
	if (s->count > 0 && m->uid < s->msgs[s->count - 1].uid) {
		/* Dropped from this view by store_forget_expunged: stays dropped. */
		return;
	}
	if (idx_push(s, m, at) == 0) {
		s->ch.added++;
	} else {
		log_warn("index: message uid %u not loaded", m->uid);
	}
}

static void
apply_expunge(struct idx_set *s, uint32_t first, uint32_t last)
{
	size_t lo = uid_lower(s->msgs, s->count, sizeof(*s->msgs), first);

	for (; lo < s->count && s->msgs[lo].uid <= last; lo++) {
		if ((s->msgs[lo].flags & STORE_EXPUNGED) == 0) {
			s->msgs[lo].flags |= STORE_EXPUNGED;
			s->ch.expunged++;
		}
	}
}

void
idx_apply(struct idx_set *s, const struct idx_log *l)
{
	long i;

	switch (l->type) {
	case IDX_NEW:
		apply_new(s, &l->m, l->at);
		break;
	case IDX_FLAGS:
		i = idx_find(s, l->m.uid);
		if (i >= 0) {
			uint32_t x = s->msgs[i].flags & STORE_EXPUNGED;

			set_flags(s, (uint32_t)i, l->m.flags | x, l->m.keywords);
		}
		break;
	case IDX_EXPUNGE:
		apply_expunge(s, l->first, l->last);
		break;
	default:
		s->ms = l->ms;
		break;
	}
}

void
idx_rec(const struct idx_set *s, uint32_t i, struct store_rec *m)
{
	memset(m, 0, sizeof(*m));
	m->uid = s->msgs[i].uid;
	m->flags = s->msgs[i].flags;
	m->keywords = idx_keywords(s, i);
	if (s->cold) {
		m->e = s->ents[i];
	}
}

void
idx_merge(struct idx_set *s, const struct idx_set *img)
{
	struct store_rec m;
	uint32_t i, j = 0;

	for (i = 0; i < s->count; i++) {
		while (j < img->count && img->msgs[j].uid < s->msgs[i].uid) {
			j++;
		}
		if (j < img->count && img->msgs[j].uid == s->msgs[i].uid) {
			idx_rec(img, j, &m);
			take_rec(s, i, &m, img->msgs[j].at);
			continue;
		}
		idx_keep_entry(s, i);
		if ((s->msgs[i].flags & STORE_EXPUNGED) == 0) {
			s->msgs[i].flags |= STORE_EXPUNGED;
			s->ch.expunged++;
		}
	}
	for (j = 0; j < img->count; j++) {
		if ((s->count == 0 || img->msgs[j].uid > s->msgs[s->count - 1].uid) &&
		    (img->msgs[j].flags & STORE_EXPUNGED) == 0) {
			idx_rec(img, j, &m);
			apply_new(s, &m, img->msgs[j].at);
		}
	}
	if (img->uidnext > s->uidnext) {
		s->uidnext = img->uidnext;
	}
	s->ms = img->ms;
	s->generation = img->generation;
	s->base_count = img->base_count;
}

/* Old record numbers sorted by (fingerprint, position), to match in O(n log n). */
struct fp_pos {
	uint64_t fp;
	uint32_t pos;
};

static int
fp_pos_cmp(const void *a, const void *b)
{
	const struct fp_pos *x = a, *y = b;

	if (x->fp != y->fp) {
		return x->fp < y->fp ? -1 : 1;
	}
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Position of the first old record at or after from with fingerprint fp, or -1. */
static long
fp_lookup(const struct fp_pos *v, uint32_t n, uint64_t fp, uint32_t from)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid].fp < fp || (v[mid].fp == fp && v[mid].pos < from)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < n && v[lo].fp == fp ? (long)v[lo].pos : -1;
}

/*
 * For each scanned message, the old record it matches (index into old), or -1: the
 * first record with its fingerprint at or after the last match.
 */
static long *
match_old(const struct idx_set *old, const struct mbox_entry *ents, uint32_t n)
{
	struct fp_pos *v = malloc(((size_t)old->count + 1) * sizeof(*v));
	long *k = malloc(((size_t)n + 1) * sizeof(*k));
	uint32_t i, next = 0;

	if (v == NULL || k == NULL) {
		free(v);
		free(k);
		return NULL;
	}
	for (i = 0; i < old->count; i++) {
		v[i].fp = old->ents[i].fingerprint;
		v[i].pos = i;
	}
	qsort(v, old->count, sizeof(*v), fp_pos_cmp);
	for (i = 0; i < n; i++) {
		k[i] = fp_lookup(v, old->count, ents[i].fingerprint, next);
		if (k[i] >= 0) {
			next = (uint32_t)k[i] + 1;
		}
	}
	free(v);
	return k;
}

/*
 * UIDs for the run of messages from i that keep no old UID (unmatched, or not above
 * last). From a salvaged file, a run of r messages between UIDs last and b where
 * exactly r UIDs are free held those messages (each was indexed between its
 * neighbours, in order): they get them back. Otherwise new UIDs. Returns run length.
 */
static uint32_t
run_uids(const struct idx_set *old, const long *k, uint32_t i, uint32_t n, uint32_t last,
    uint32_t *first)
{
	uint32_t j = i, b;

	while (j < n && (k[j] < 0 || old->msgs[k[j]].uid <= last)) {
		j++;
	}
	b = j < n ? old->msgs[k[j]].uid : old->uidnext;
	*first = old->salvaged && b > last && b - last - 1 == j - i ? last + 1 : 0;
	return j - i;
}

int
idx_resync(const struct idx_set *old, const struct mbox_entry *ents, uint32_t n,
    struct idx_set *out)
{
	long *k = match_old(old, ents, n);
	uint32_t i, run = 0, fill = 0, last = 0;

	if (k == NULL) {
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->cold = 1;
	out->uidvalidity = old->uidvalidity;
	out->uidnext = old->uidnext ? old->uidnext : 1;
	out->mboxrd = old->mboxrd;
	out->generation = old->generation;
	for (i = 0; i < n; i++) {
		struct store_rec m;

		memset(&m, 0, sizeof(m));
		if (k[i] >= 0) {
			idx_rec(old, (uint32_t)k[i], &m);
			m.flags &= STORE_FLAGS_ALL | STORE_EXPUNGED;
		}
		m.e = ents[i];
		if (run == 0 && (k[i] < 0 || m.uid <= last)) {
			run = run_uids(old, k, i, n, last, &fill);
		}
		if (run > 0) {
			m.uid = fill != 0 ? fill++ : out->uidnext;
			run--;
		}
		last = m.uid;
		if (idx_push(out, &m, 0) < 0) {
			free(k);
			idx_free(out);
			return -1;
		}
	}
	free(k);
	return 0;
}

void
idx_drop_expunged(struct idx_set *s)
{
	uint32_t i, n = 0;

	for (i = 0; i < s->count; i++) {
		if ((s->msgs[i].flags & STORE_EXPUNGED) == 0) {
			s->msgs[n] = s->msgs[i];
			if (s->kw != NULL) {
				s->kw[n] = s->kw[i];
			}
			if (s->cold) {
				s->ents[n] = s->ents[i];
			}
			n++;
		}
	}
	s->count = n;
	if (s->map != NULL) {
		struct idx_map *m = s->map;

		for (i = 0, n = 0; i < m->nkept; i++) {
			if (idx_find(s, m->kept[i].uid) >= 0) {
				m->kept[n++] = m->kept[i];
			}
		}
		m->nkept = n;
	}
}

void
idx_clear_changed(struct idx_set *s)
{
	uint32_t i;

	for (i = 0; i < s->count; i++) {
		s->msgs[i].flags &= ~STORE_CHANGED;
	}
}

void
idx_free(struct idx_set *s)
{
	free(s->msgs);
	free(s->kw);
	free(s->ents);
	s->msgs = NULL;
	s->kw = NULL;
	s->ents = NULL;
	s->count = s->cap = 0;
}
