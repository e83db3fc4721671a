/* Unit tests of util.c: strict numbers, byte order, CRC-32C, bounded strings. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "util.h"

static void
test_numbers(void)
{
	static const struct { const char *in; uint32_t max; int rc; uint32_t v; } cases[] = {
		{ "0", 10, 0, 0 }, { "7", 10, 0, 7 }, { "10", 10, 0, 10 }, { "11", 10, -1, 0 },
		{ "", 10, -1, 0 }, { "-1", 10, -1, 0 }, { "+1", 10, -1, 0 }, { " 1", 10, -1, 0 },
		{ "1x", 10, -1, 0 }, { "4294967295", UINT32_MAX, 0, UINT32_MAX },
		{ "4294967296", UINT32_MAX, -1, 0 }, { "4294967297", UINT32_MAX, -1, 0 },
		{ "99999999999999999999999", UINT32_MAX, -1, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		uint32_t v = 12345;
		int rc = parse_u32(cases[i].in, strlen(cases[i].in), cases[i].max, &v);

		CHECK(rc == cases[i].rc && (rc < 0 || v == cases[i].v), "parse_u32(\"%s\")", cases[i].in);
	}
}

static void
test_size(void)
{
	uint64_t v;

	CHECK(parse_size("10M", &v) == 0 && v == 10u << 20, "parse_size 10M");
	CHECK(parse_size("512", &v) == 0 && v == 512, "parse_size 512");
	CHECK(parse_size("2g", &v) == 0 && v == 2ull << 30, "parse_size 2g");
	CHECK(parse_size("M", &v) < 0, "parse_size M alone refused");
	CHECK(parse_size("1.5M", &v) < 0, "parse_size 1.5M refused");
}

static void
test_byte_order(void)
{
	unsigned char b[9] = { 0 };

	put_le64(b + 1, 0x0102030405060708ull);
	CHECK(b[1] == 0x08 && b[8] == 0x01, "put_le64 is little-endian");
	CHECK(get_le64(b + 1) == 0x0102030405060708ull, "get_le64 round trip unaligned");
	put_le32(b, 0xdeadbeef);
	CHECK(get_le32(b) == 0xdeadbeef && b[0] == 0xef, "le32 round trip");
}

/* Bitwise CRC-32C, the definition the table-driven one must equal. */
static uint32_t
crc32c_bitwise(const unsigned char *b, size_t n)
{
	uint32_t crc = 0xffffffffu;
	int k;

	while (n--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++) {
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
		}
	}
	return ~crc;
}

/* Every byte value at every position mod 4, and every length up to 40 and its tail. */
static int
crc32c_tables_match(void)
{
	unsigned char b[256 + 40];
	size_t i, n;

	for (i = 0; i < sizeof(b); i++) {
		b[i] = (unsigned char)(i * 167 + 13);
	}
	for (i = 0; i < 256; i++) {
		for (n = 0; n <= 40; n += 1 + (i & 3)) {
			if (crc32c(0, b + i, n) != crc32c_bitwise(b + i, n)) {
				return 0;
			}
		}
	}
	return 1;
}

static void
test_crc(void)
{
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283, "crc32c check value");
	CHECK(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xe3069283, "crc32c continues");
	CHECK(crc32c_tables_match(), "crc32c equals the bitwise definition at every length and byte");
}

static void
test_strings(void)
{
	char small[4];

	CHECK(str_copy(small, sizeof(small), "abc") == 0 && strcmp(small, "abc") == 0, "str_copy fits");
	CHECK(str_copy(small, sizeof(small), "abcd") < 0 && strcmp(small, "abc") == 0, "str_copy truncates and says so");
	CHECK(str_fmt(small, sizeof(small), "%d", 12345) < 0, "str_fmt reports truncation");
	CHECK(str_ieq("InBoX", "INBOX") && !str_ieq("INBOX", "INBOX2"), "str_ieq");
	CHECK(ct_compare("abc", "abc", 3) == 0 && ct_compare("abc", "abd", 3) != 0, "ct_compare");
}

static void
test_array_grow(void)
{
	uint32_t *v = NULL;
	size_t cap = 0, i;
	int ok = 1;

	for (i = 0; i < 1000; i++) {
		if (array_grow(&v, &cap, i + 1, sizeof(*v), 4, 1000) < 0 || cap < i + 1) {
			ok = 0;
			break;
		}
		v[i] = (uint32_t)i;
	}
	for (i = 0; ok && i < 1000; i++) {
		ok = v[i] == i;
	}
	CHECK(ok && cap == 1000, "array_grow: 1000 pushes keep every element, capacity stops at max");
	errno = 0;
	CHECK(array_grow(&v, &cap, 1001, sizeof(*v), 4, 1000) < 0 && errno == EFBIG && cap == 1000 &&
	    v[999] == 999, "array_grow: past max is EFBIG and keeps the array");
	CHECK(array_grow(&v, &cap, 10, sizeof(*v), 4, 1000) == 0 && cap == 1000,
	    "array_grow: a smaller need is a no-op");
	free(v);
	v = NULL;
	cap = 0;
	CHECK(array_grow(&v, &cap, 1, SIZE_MAX / 2, 4, 8) < 0 && errno == EFBIG && v == NULL,
	    "array_grow: a byte count that overflows is refused");
}

int
main(void)
{
	test_numbers();
	test_size();
	test_byte_order();
	test_crc();
	test_strings();
	test_array_grow();
	return t_done();
}
