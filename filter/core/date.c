/* date.c - civil dates (core/date.h). */
#include <time.h>
#include "filter/core/date.h"

uint32_t dmvf__today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (uint32_t)(tm.tm_year + 1900) * 10000u + (uint32_t)(tm.tm_mon + 1) * 100u + (uint32_t)tm.tm_mday;
}
