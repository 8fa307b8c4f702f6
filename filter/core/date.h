/*
 * core/date.h - civil dates as YYYYMMDD numbers.
 */
#ifndef DMVF_CORE_DATE_H
#define DMVF_CORE_DATE_H

#include <stdint.h>

/* Today's date in UTC as YYYYMMDD. */
uint32_t dmvf__today(void);

#endif
