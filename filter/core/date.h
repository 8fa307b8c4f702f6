/*
 * core/date.h - civil dates and UTC times: the one calendar every part of
 * the library and the command line reads and writes dates with.
 *
 *   date      a uint32_t YYYYMMDD (20261120), proleptic Gregorian
 *   day       days since 1970-01-01 (int64_t; negative before it)
 *   text      "YYYY-MM-DD" exactly (dates), RFC 3339 UTC (times)
 *
 * A date is valid in years DMVF__YEAR_MIN..DMVF__YEAR_MAX (0001..9999):
 * every year four digits can spell. That is the one range every parser
 * and check here accepts (policy dates and holidays, request dates, notice
 * dates, the command line's --date, --today, --from and --to).
 * All functions are pure and thread-safe; dmvf__today and dmvf__now_ns
 * read the clock.
 */
#ifndef DMVF_CORE_DATE_H
#define DMVF_CORE_DATE_H

#include <stddef.h>
#include <stdint.h>

#define DMVF__YEAR_MIN 1u
#define DMVF__YEAR_MAX 9999u

/* Today's date in UTC as YYYYMMDD. */
uint32_t dmvf__today(void);
/* The wall clock: nanoseconds since 1970-01-01T00:00:00Z; 0 when it cannot
 * be read or stands before then. */
uint64_t dmvf__now_ns(void);

/* Days in month m (1..12) of year y (29 for February of a leap year). */
unsigned dmvf__days_in_month(unsigned y, unsigned m);
/* 1 when date is a real day of years 0001..9999, else 0 (0 included). */
int dmvf__date_valid(uint32_t date);

/* The day of (y, m, d), any proleptic Gregorian date with 1 <= m <= 12 and
 * 1 <= d <= 31 (H. Hinnant's days_from_civil). */
int64_t dmvf__days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: the (y, m, d) of day z. */
void dmvf__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* The day of a valid date. */
int64_t dmvf__date_days(uint32_t date);
/* The date of day z, or 0 when it is outside years 0001..9999. */
uint32_t dmvf__days_date(int64_t z);
/* The weekday of day z: 0 Sunday .. 6 Saturday. */
unsigned dmvf__weekday(int64_t z);

/* n days after date: calendar days, or (business) days that are neither a
 * Saturday, a Sunday nor one of holidays[0..nholidays) (YYYYMMDD; sorted or
 * not; NULL when nholidays is 0), so that from a Friday one business day
 * is the Monday. 0 when date is not valid or the result would be past
 * 9999-12-31. */
uint32_t dmvf__date_add(uint32_t date, unsigned n, int business, const uint32_t *holidays,
                        size_t nholidays);

/* Parses exactly the n bytes "YYYY-MM-DD" of s (s need not be
 * NUL-terminated) into a valid date; 0 when they are not one. */
uint32_t dmvf__date_parse(const char *s, size_t n);
/* Room for dmvf__date_format's text and its NUL. */
#define DMVF__DATE_CAP 16
/* "YYYY-MM-DD" of a valid date into out; any other number as its digit
 * groups the same way (year date / 10000 in at least four digits, then
 * date / 100 % 100 and date % 100 in two), so that a bad date shows as
 * what it is. Returns out. */
char *dmvf__date_format(uint32_t date, char out[DMVF__DATE_CAP]);

/* Fractions of a second in dmvf__time_format. */
enum {
    DMVF__TIME_WHOLE,      /* "2026-11-20T14:03:09Z" */
    DMVF__TIME_NANOS,      /* "2026-11-20T14:03:09.000000500Z": always nine digits */
    DMVF__TIME_NANOS_IF    /* nine digits when nanos is not 0, else as WHOLE */
};
/* Room for dmvf__time_format's text and its NUL. */
#define DMVF__TIME_CAP 32
/* The RFC 3339 UTC time secs seconds and nanos (< 10^9) nanoseconds after
 * 1970-01-01T00:00:00Z into out, fraction as frac says; "?" when the year
 * is past 9999. Returns out. */
char *dmvf__time_format(uint64_t secs, uint32_t nanos, int frac, char out[DMVF__TIME_CAP]);

#endif
