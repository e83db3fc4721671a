/*
 * Bounded strings, strict numbers, byte order, CRC-32C, whole-buffer I/O.
 * Runs in every process, root or not; holds no state.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "params.h"

int
str_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (cap == 0) {
		return -1;
	}
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
str_fmt(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		return -1;
	}
	return n;
}

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int
str_ieq_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
			return 0;
		}
	}
	return 1;
}

int
str_ieq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && str_ieq_n(a, b, n);
}

int
parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20) {
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return -1;
		}
		v = v * 10 + d;
	}
	if (v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, len, max, &v) < 0) {
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	size_t len = strlen(s);
	unsigned shift = 0;
	uint64_t v;

	if (len > 0) {
		switch (s[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: break;
		}
	}
	if (shift) {
		len--;
	}
	if (parse_u64(s, len, UINT64_MAX >> shift, &v) < 0) {
		return -1;
	}
	*out = v << shift;
	return 0;
}

void
put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

void
put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

void
put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

uint16_t
get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)get_le16(p) | ((uint32_t)get_le16(p + 2) << 16);
}

uint64_t
get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

/* Nibble table for the reflected Castagnoli polynomial 0x82F63B78: 64 bytes of rodata. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

int
array_grow(void *arrp, size_t *cap, size_t need, size_t size, size_t first, size_t max)
{
	size_t ncap = *cap != 0 ? *cap : first != 0 ? first : 1;
	void *old, *p;

	if (need <= *cap) {
		return 0;
	}
	if (need > max || max > SIZE_MAX / size) {
		errno = EFBIG;
		return -1;
	}
	while (ncap < need) {
		ncap = ncap > max / 2 ? max : ncap * 2;
	}
	/* memcpy: the caller's pointer has its own type; this reads and writes its bytes. */
	memcpy(&old, arrp, sizeof(old));
	p = realloc(old, ncap * size);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(arrp, &p, sizeof(p));
	*cap = ncap;
	return 0;
}

size_t
uid_lower(const void *base, size_t n, size_t stride, uint32_t uid)
{
	const unsigned char *p = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t v;

		memcpy(&v, p + mid * stride, sizeof(v));
		if (v < uid) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;

	crc = ~crc;
	while (n--) {
		crc ^= *b++;
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
	}
	return ~crc;
}

void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
ct_compare(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		d |= x[i] ^ y[i];
	}
	return d != 0;
}

/* Write all n bytes at off, or at the file position when off is negative. */
static int
write_at(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += w;
		if (off >= 0) {
			off += w;
		}
		n -= (size_t)w;
	}
	return 0;
}

int
write_all(int fd, const void *buf, size_t n)
{
	return write_at(fd, buf, n, -1);
}

int
pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return write_at(fd, buf, n, off);
}

/* Read up to n bytes at off, or at the file position when off is negative. */
static ssize_t
read_at(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = off < 0 ? read(fd, p + got, n - got) :
		    pread(fd, p + got, n - got, off + (off_t)got);

		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		if (r == 0) {
			break;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
read_full(int fd, void *buf, size_t n)
{
	return read_at(fd, buf, n, -1);
}

ssize_t
pread_full(int fd, void *buf, size_t n, off_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return read_at(fd, buf, n, off);
}

int
fsync_parent(const char *path)
{
	char dir[PATH_LEN];
	char *slash;
	int fd, rc;

	if (str_copy(dir, sizeof(dir), path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		str_copy(dir, sizeof(dir), ".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_LEN];
	char *p;

	if (str_copy(buf, sizeof(buf), path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST) {
				return -1;
			}
			*p = c;
			if (c == '\0') {
				break;
			}
		}
	}
	return 0;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
random_bytes(void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}
