/* date.c - civil dates and UTC times (core/date.h). */
#include <stdio.h>
#include <time.h>
#include "filter/core/date.h"

/* the last representable day: 9999-12-31 */
#define LAST_DAY 2932896

uint32_t dmvf__today(void)
{
    int64_t z = (int64_t)time(NULL) / 86400;
    return dmvf__days_date(z);
}

uint64_t dmvf__now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned dmvf__days_in_month(unsigned y, unsigned m)
{
    static const unsigned char md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

int dmvf__date_valid(uint32_t date)
{
    unsigned y = date / 10000, m = date / 100 % 100, d = date % 100;
    return y >= DMVF__YEAR_MIN && y <= DMVF__YEAR_MAX && m >= 1 && m <= 12 && d >= 1 &&
           d <= dmvf__days_in_month(y, m);
}

int64_t dmvf__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void dmvf__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t dmvf__date_days(uint32_t date)
{
    return dmvf__days_from_civil(date / 10000, date / 100 % 100, date % 100);
}

uint32_t dmvf__days_date(int64_t z)
{
    int64_t y;
    unsigned m, d;
    dmvf__civil_from_days(z, &y, &m, &d);
    if (y < DMVF__YEAR_MIN || y > DMVF__YEAR_MAX)
        return 0;
    return (uint32_t)y * 10000u + m * 100u + d;
}

unsigned dmvf__weekday(int64_t z)
{
    int64_t w = (z + 4) % 7;   /* 1970-01-01 was a Thursday */
    return (unsigned)(w < 0 ? w + 7 : w);
}

static int is_holiday(uint32_t date, const uint32_t *holidays, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (holidays[i] == date)
            return 1;
    return 0;
}

uint32_t dmvf__date_add(uint32_t date, unsigned n, int business, const uint32_t *holidays,
                        size_t nholidays)
{
    if (!dmvf__date_valid(date))
        return 0;
    int64_t z = dmvf__date_days(date);
    if (!business) {
        if ((int64_t)n > LAST_DAY - z)
            return 0;
        return dmvf__days_date(z + n);
    }
    while (n > 0) {
        if (++z > LAST_DAY)
            return 0;
        unsigned w = dmvf__weekday(z);
        if (w == 0 || w == 6)
            continue;
        if (nholidays && is_holiday(dmvf__days_date(z), holidays, nholidays))
            continue;
        n--;
    }
    return dmvf__days_date(z);
}

uint32_t dmvf__date_parse(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    return dmvf__date_valid(v) ? v : 0;
}

char *dmvf__date_format(uint32_t date, char out[DMVF__DATE_CAP])
{
    snprintf(out, DMVF__DATE_CAP, "%04u-%02u-%02u", (unsigned)(date / 10000),
             (unsigned)(date / 100 % 100), (unsigned)(date % 100));
    return out;
}

char *dmvf__time_format(uint64_t secs, uint32_t nanos, int frac, char out[DMVF__TIME_CAP])
{
    int64_t y;
    unsigned m, d;
    uint64_t days = secs / 86400, s = secs % 86400;
    if (days > LAST_DAY) {
        snprintf(out, DMVF__TIME_CAP, "?");
        return out;
    }
    dmvf__civil_from_days((int64_t)days, &y, &m, &d);
    int k = snprintf(out, DMVF__TIME_CAP, "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)y, m, d,
                     (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    if (frac == DMVF__TIME_NANOS || (frac == DMVF__TIME_NANOS_IF && nanos != 0))
        snprintf(out + k, DMVF__TIME_CAP - (size_t)k, ".%09uZ", (unsigned)nanos);
    else
        snprintf(out + k, DMVF__TIME_CAP - (size_t)k, "Z");
    return out;
}
