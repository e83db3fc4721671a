/*
 * Calendar arithmetic shared by the mbox From_ line, IMAP dates and certificates:
 * proleptic Gregorian, UTC, integers only (no libc time zone code on a router).
 */
#ifndef MAILNOOK_DATE_H
#define MAILNOOK_DATE_H

#include <stdint.h>

/* "Jan".."Dec" and "Sun".."Sat", three letters each. */
extern const char date_month_names[12][4];
extern const char date_wday_names[7][4];

/* 9999-12-31 23:59:59 UTC: the last time with a four-digit year. */
#define DATE_MAX INT64_C(253402300799)

struct date_civil {
	int64_t year;
	unsigned month;		/* 1..12 */
	unsigned day;		/* 1..31 */
	unsigned wday;		/* 0 = Sunday */
	unsigned hour, min, sec;
};

/* Index 0..11 of a three-letter month name at s (any case), or -1. */
int date_month(const char *s);

/* Index 0..6 of a three-letter weekday name at s (any case), or -1. */
int date_wday(const char *s);

/* a / b rounded down (toward minus infinity), b > 0. */
int64_t date_floor_div(int64_t a, uint32_t b);

/* Days since 1970-01-01 of y-m-d; INT64_MIN when the day does not exist (31 Apr, 29 Feb 2023). */
int64_t date_days(int64_t y, unsigned m, unsigned d);

/* The civil date and time of t seconds since 1970-01-01 UTC (t may be negative). */
void date_from_time(int64_t t, struct date_civil *out);

#endif
