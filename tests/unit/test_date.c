/* Unit tests of date.c: both directions against the C library's gmtime over many days. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "t.h"

static void
test_days(void)
{
	static const struct { int64_t y; unsigned m, d; int64_t days; } cases[] = {
		{ 1970, 1, 1, 0 }, { 1969, 12, 31, -1 }, { 2000, 2, 29, 11016 },
		{ 2024, 2, 29, 19782 }, { 1600, 3, 1, -135080 }, { 9999, 12, 31, 2932896 },
		{ 2023, 2, 29, INT64_MIN }, { 2100, 2, 29, INT64_MIN }, { 2026, 4, 31, INT64_MIN },
		{ 2026, 13, 1, INT64_MIN }, { 2026, 0, 1, INT64_MIN }, { 2026, 1, 0, INT64_MIN },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(date_days(cases[i].y, cases[i].m, cases[i].d) == cases[i].days,
		    "date_days %lld-%02u-%02u", (long long)cases[i].y, cases[i].m, cases[i].d);
	}
}

/* Every 7,777,777 seconds from 1901 to 2100 (all weekdays, hours, leap years), both ways. */
static void
test_against_gmtime(void)
{
	int64_t t;
	unsigned bad = 0, n = 0;

	for (t = -INT64_C(2147483647); t < INT64_C(4102444800); t += 7777777) {
		time_t tt = (time_t)t;
		struct tm tm;
		struct date_civil c;

		if (gmtime_r(&tt, &tm) == NULL) {
			bad++;
			continue;
		}
		date_from_time(t, &c);
		n++;
		if (c.year != tm.tm_year + 1900 || c.month != (unsigned)tm.tm_mon + 1 ||
		    c.day != (unsigned)tm.tm_mday || c.wday != (unsigned)tm.tm_wday ||
		    c.hour != (unsigned)tm.tm_hour || c.min != (unsigned)tm.tm_min ||
		    c.sec != (unsigned)tm.tm_sec ||
		    date_days(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.min * 60 + c.sec != t) {
			bad++;
		}
	}
	CHECK(n > 800 && bad == 0, "date_from_time and date_days agree with gmtime (%u times, %u off)",
	    n, bad);
}

static void
test_names(void)
{
	CHECK(date_month("Jan") == 0 && date_month("dec") == 11 && date_month("DEC") == 11,
	    "month names in any case");
	CHECK(date_month("Jun ") == 5 && date_month("Ju") < 0 && date_month("Foo") < 0,
	    "month names: three letters decide, short or unknown ones are refused");
	CHECK(date_wday("Sun") == 0 && date_wday("sat") == 6 && date_wday("Sum") < 0, "weekday names");
	CHECK(strcmp(date_month_names[8], "Sep") == 0 && strcmp(date_wday_names[4], "Thu") == 0,
	    "name tables");
}

int
main(void)
{
	test_days();
	test_against_gmtime();
	test_names();
	return t_done();
}
