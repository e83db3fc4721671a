/*
 * PEM decoding and encoding over BearSSL's streaming codec. Runs wherever keys are
 * loaded: as root before privileges are dropped (serve, SIGHUP) or in `mailnook cert`.
 * Decoded key bytes are wiped before the buffers are freed.
 */
#include "params.h"

#if WITH_TLS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bearssl.h>

#include "pem.h"
#include "util.h"

/* Destination of the decoder: one object at a time, with an overflow flag. */
struct pem_sink {
	unsigned char *buf;
	size_t len;
	int overflow;
};

static void
pem_append(void *ctx, const void *data, size_t len)
{
	struct pem_sink *s = ctx;

	if (s->overflow || len > PEM_OBJ_MAX - s->len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

/* Read the whole file into buf (capacity PEM_FILE_MAX); its length or -1. */
static ssize_t
pem_slurp(const char *path, unsigned char *buf, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > PEM_FILE_MAX) {
		str_fmt(err, errlen, "%s: not a regular file of at most %d bytes", path,
		    PEM_FILE_MAX);
		close(fd);
		return -1;
	}
	n = read_full(fd, buf, PEM_FILE_MAX);
	if (n == -1) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
	}
	close(fd);
	return n;
}

/* Feed the text through the decoder, handing each complete object to fn. */
static int
pem_walk(const unsigned char *text, size_t len, struct pem_sink *sink, pem_object_fn fn,
    void *ctx)
{
	br_pem_decoder_context dc;
	char name[128];
	int count = 0, in_obj = 0;

	br_pem_decoder_init(&dc);
	while (len > 0) {
		size_t used = br_pem_decoder_push(&dc, text, len);

		text += used;
		len -= used;
		switch (br_pem_decoder_event(&dc)) {
		case BR_PEM_BEGIN_OBJ:
			if (str_copy(name, sizeof(name), br_pem_decoder_name(&dc)) == -1) {
				return -1;
			}
			sink->len = 0;
			sink->overflow = 0;
			br_pem_decoder_setdest(&dc, pem_append, sink);
			in_obj = 1;
			break;
		case BR_PEM_END_OBJ:
			if (!in_obj || sink->overflow || fn(ctx, name, sink->buf, sink->len) != 0) {
				return -1;
			}
			wipe(sink->buf, sink->len);
			count++;
			in_obj = 0;
			break;
		case BR_PEM_ERROR:
			return -1;
		default:
			break;
		}
	}
	return in_obj ? -1 : count;
}

int
pem_read_objects(const char *path, pem_object_fn fn, void *ctx, char *err, size_t errlen)
{
	unsigned char *text = malloc(PEM_FILE_MAX);
	struct pem_sink sink = { malloc(PEM_OBJ_MAX), 0, 0 };
	ssize_t n = -1;
	int count = -1;

	if (text == NULL || sink.buf == NULL) {
		str_fmt(err, errlen, "%s: out of memory", path);
	} else {
		n = pem_slurp(path, text, err, errlen);
	}
	if (n >= 0) {
		count = pem_walk(text, (size_t)n, &sink, fn, ctx);
		if (count == -1) {
			str_fmt(err, errlen, "%s: malformed PEM or unusable object", path);
		}
		wipe(text, (size_t)n);
		wipe(sink.buf, PEM_OBJ_MAX);
	}
	free(text);
	free(sink.buf);
	return count;
}

size_t
pem_encode(char *out, size_t cap, const char *name, const unsigned char *der, size_t len)
{
	size_t need = br_pem_encode(NULL, der, len, name, BR_PEM_LINE64);

	if (need >= cap) {
		return 0;
	}
	return br_pem_encode(out, der, len, name, BR_PEM_LINE64);
}
#else
/* Built without TLS: nothing reads or writes PEM. */
typedef int pem_unused;
#endif
