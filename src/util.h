/*
 * Small helpers every module uses: bounded strings, one strict number scanner,
 * explicit byte order, checksums, whole-buffer I/O, wiping secrets.
 */
#ifndef MAILNOOK_UTIL_H
#define MAILNOOK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Copy src into dst (capacity cap, always NUL-terminated); -1 if it did not fit. */
int str_copy(char *dst, size_t cap, const char *src);
/* snprintf into dst; -1 on truncation or error, else the length written. */
int str_fmt(char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ASCII case-insensitive compare of n bytes / of two NUL-terminated strings. */
int str_ieq_n(const char *a, const char *b, size_t n);
int str_ieq(const char *a, const char *b);

/*
 * Strict decimal scanners: digits only (no sign, space or junk), at least one,
 * value <= max. Return 0 on success, -1 otherwise. len is the exact input length.
 */
int parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out);
int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/* Size with optional K/M/G suffix (powers of 1024), e.g. "10M". */
int parse_size(const char *s, uint64_t *out);

/* Explicit little-endian encode/decode; p need not be aligned. */
void put_le16(unsigned char *p, uint16_t v);
void put_le32(unsigned char *p, uint32_t v);
void put_le64(unsigned char *p, uint64_t v);
uint16_t get_le16(const unsigned char *p);
uint32_t get_le32(const unsigned char *p);
uint64_t get_le64(const unsigned char *p);

/*
 * Make room for need elements of size bytes in the array *arrp (a pointer to the array
 * pointer) of capacity *cap elements: the capacity doubles from first, capped at max.
 * 0, or -1 with errno EFBIG when need exceeds max or ENOMEM; the array is kept on error.
 */
int array_grow(void *arrp, size_t *cap, size_t need, size_t size, size_t first, size_t max);

/*
 * First of n elements (stride bytes apart from base, each starting with a uint32_t UID,
 * in ascending order) whose UID is >= uid; n when none is. One binary search for the
 * message index, IMAP sequence sets and the structure cache's slots.
 */
size_t uid_lower(const void *base, size_t n, size_t stride, uint32_t uid);

/* Value 0..63 of a base64 (RFC 4648) alphabet character, -1 for any other byte. */
int b64_value(int c);

/* CRC-32C (Castagnoli) of n bytes, continuing from crc (start with 0). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* Overwrite a secret so the compiler cannot drop the store. */
void wipe(void *p, size_t n);
/* Compare n bytes in time independent of their contents; 0 if equal. */
int ct_compare(const void *a, const void *b, size_t n);

/* Write/read exactly n bytes, retrying on EINTR and short counts; 0 or -1 (errno set). */
int write_all(int fd, const void *buf, size_t n);
int pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Read up to n bytes; returns bytes read (short only at EOF) or -1. */
ssize_t read_full(int fd, void *buf, size_t n);
ssize_t pread_full(int fd, void *buf, size_t n, off_t off);

/* fsync the directory holding path, so a rename or create in it is durable. */
int fsync_parent(const char *path);
/* mkdir -p with mode for each created level; 0 or -1. */
int mkdir_p(const char *path, mode_t mode);
/* Monotonic milliseconds, for deadlines. */
int64_t mono_ms(void);
/* Fill buf with n bytes from the kernel's random source; 0 or -1. */
int random_bytes(void *buf, size_t n);

#endif
