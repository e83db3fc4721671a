/*
 * Debian's libbearssl.a is built against glibc with _FORTIFY_SOURCE, so its objects call
 * the checked copies below, which musl does not have. Same contract as glibc's: abort
 * when the destination is smaller than the length.
 */
#ifndef __GLIBC__
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);

void *
__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen) {
		abort();
	}
	return memcpy(dst, src, n);
}

void *
__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen) {
		abort();
	}
	return memmove(dst, src, n);
}

void *
__memset_chk(void *dst, int c, size_t n, size_t dstlen)
{
	if (n > dstlen) {
		abort();
	}
	return memset(dst, c, n);
}
#else
/* glibc provides the checked copies itself. */
typedef int compat_unused;
#endif
