/* Proleptic Gregorian calendar in integers: days are counted in 400-year eras of 146097. */
#include "date.h"

#include "util.h"

const char date_month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};
const char date_wday_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static int
date_name3(const char *s, const char (*tab)[4], int count)
{
	int i;

	for (i = 0; i < count; i++) {
		if (str_ieq_n(s, tab[i], 3)) {
			return i;
		}
	}
	return -1;
}

int
date_month(const char *s)
{
	return date_name3(s, date_month_names, 12);
}

int
date_wday(const char *s)
{
	return date_name3(s, date_wday_names, 7);
}

/*
 * Floor division by b > 0: eras before 1970 count down, not toward zero. In unsigned
 * arithmetic, as is all the date arithmetic below (the parts after the era fit in 32
 * bits): a 32-bit CPU then links one 64-bit division routine, not three (2 KB on MIPS).
 */
int64_t
date_floor_div(int64_t a, uint32_t b)
{
	if (a >= 0) {
		return (int64_t)((uint64_t)a / b);
	}
	/* -(a + 1) is representable even for INT64_MIN. */
	return -(int64_t)((uint64_t)-(a + 1) / b) - 1;
}

int64_t
date_days(int64_t y, unsigned m, unsigned d)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	/* The year within its 400-year cycle: leap years repeat with it. */
	uint32_t r = (uint32_t)(y - date_floor_div(y, 400) * 400);
	int leap = (r % 4 == 0 && r % 100 != 0) || r == 0;
	int64_t era;
	uint32_t yoe, doy;

	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap)) {
		return INT64_MIN;
	}
	/* Years start on 1 March so that the leap day ends the year. */
	y -= m <= 2;
	era = date_floor_div(y, 400);
	yoe = (uint32_t)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + (yoe * 365 + yoe / 4 - yoe / 100 + doy) - 719468;
}

void
date_from_time(int64_t t, struct date_civil *out)
{
	int64_t days = date_floor_div(t, 86400);
	uint32_t secs = (uint32_t)(t - days * 86400);
	int64_t z = days + 719468;
	int64_t era = date_floor_div(z, 146097);
	uint32_t doe = (uint32_t)(z - era * 146097);
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint32_t mp = (5 * doy + 2) / 153;

	out->day = doy - (153 * mp + 2) / 5 + 1;
	out->month = mp < 10 ? mp + 3 : mp - 9;
	out->year = yoe + era * 400 + (out->month <= 2);
	/* 1970-01-01 was a Thursday. */
	out->wday = (unsigned)(days + 4 - date_floor_div(days + 4, 7) * 7);
	out->hour = secs / 3600;
	out->min = secs / 60 % 60;
	out->sec = secs % 60;
}
