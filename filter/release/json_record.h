/*
 * json_record.h - one DriverRecord between the proto3 JSON mapping and its
 * canonical wire bytes, for the layers above that carry records inside a
 * message of their own (the service's ReleaseRequest and ReleaseResponse).
 * The same reader and writer as the JSON Lines codec (dmvfilter/format.h
 * says what they accept and write); keys that name no field are dropped,
 * counted, never released.
 */
#ifndef DMVF_RELEASE_JSON_RECORD_H
#define DMVF_RELEASE_JSON_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/common.h"
#include "filter/core/text.h"

typedef struct dmvf__jrec dmvf__jrec;

/* A reader with its scratch (one thread at a time). NULL: no memory. */
dmvf__jrec *dmvf__jrec_create(void);
void dmvf__jrec_free(dmvf__jrec *j);

/* The JSON object s[0..n) as wire bytes, valid until the next call on j:
 * DMVF_OK with *wire and *len; DMVF_EMALFORMED, DMVF_ETOOBIG, DMVF_ENOMEM
 * with *err (err->offset within s). *unknown: the keys dropped. */
int dmvf__jrec_decode(dmvf__jrec *j, const void *s, size_t n, const uint8_t **wire, size_t *len,
                      uint64_t *unknown, dmvf_error *err);

/* Canonical wire bytes (a release) as one JSON object appended to out:
 * DMVF_OK; DMVF_EMALFORMED (not canonical), DMVF_ENOMEM. */
int dmvf__jrec_encode(const void *wire, size_t n, dmvf__text *out, dmvf_error *err);

#endif
