/*
 * decode.c - a call's body into a framed stream of one request (decode.h).
 *
 *   body (wire)   { 1: Request | 2: DriverRecord } ...   fields in any order
 *   framed        varint(len) 0x0a varint(rlen) Request
 *                 ( varint(len) 0x12 varint(dlen) DriverRecord )*
 *
 * The record bytes are copied as they are: the framed stream judges each
 * record (size, shape) exactly as the command line does, so that a record
 * and its twin are judged alike; here a record is bounded only by the
 * stream bound (dmvf_stream_record_limit), as the framed reader bounds it.
 * A field other than these, a wire type other than length-delimited, or a
 * second request is malformed.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/error.h"
#include "filter/core/pballoc.h"
#include "filter/core/varint.h"
#include "filter/release/json_record.h"
#include "filter/serve/decode.h"

/* An error at byte off of the body. */
#define FAIL_AT(err, code, off, ...) (dmvf__seterr((err), (code), __VA_ARGS__), dmvf__serve_at((err), (code), (off)))

int dmvf__serve_at(dmvf_error *err, int code, uint64_t off)
{
    if (err)
        err->offset = off;
    return code;
}

void dmvf__serve_limits_default(dmvf_serve_limits *l)
{
    if (!l->max_body)
        l->max_body = DMVF_SERVE_DEFAULT_MAX_BODY;
    if (!l->max_records)
        l->max_records = DMVF_SERVE_DEFAULT_MAX_RECORDS;
    if (!l->max_record_bytes)
        l->max_record_bytes = DMVF_DEFAULT_MAX_RECORD_BYTES;
    if (!l->max_header_bytes)
        l->max_header_bytes = DMVF_SERVE_DEFAULT_HEADER_BYTES;
    if (!l->max_connections)
        l->max_connections = DMVF_SERVE_DEFAULT_CONNECTIONS;
    if (!l->max_in_flight)
        l->max_in_flight = DMVF_SERVE_DEFAULT_IN_FLIGHT;
    if (!l->timeout_s)
        l->timeout_s = DMVF_SERVE_DEFAULT_TIMEOUT_S;
    if (!l->json_depth)
        l->json_depth = DMVF_SERVE_DEFAULT_JSON_DEPTH;
}

void dmvf__serve_dec_init(dmvf_serve_dec *d)
{
    memset(d, 0, sizeof *d);
}

static void drop_request(dmvf_serve_dec *d)
{
    if (d->req)
        dmv__v1__request__free_unpacked(d->req, NULL);
    d->req = NULL;
}

void dmvf__serve_dec_free(dmvf_serve_dec *d)
{
    drop_request(d);
    dmvf__jrec_free(d->jr);
    free(d->bin);
    free(d->framed);
    memset(d, 0, sizeof *d);
}

/* Room for more bytes after d->framed_len: 0 or -1. */
static int framed_room(dmvf_serve_dec *d, size_t more)
{
    if (d->framed_cap - d->framed_len >= more)
        return 0;
    size_t cap = d->framed_cap ? d->framed_cap : 4096;
    while (cap - d->framed_len < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(d->framed, cap);
    if (!p)
        return -1;
    d->framed = p;
    d->framed_cap = cap;
    return 0;
}

/* Appends varint(len) key varint(n) v[0..n). */
static int put_frame(dmvf_serve_dec *d, uint8_t key, const uint8_t *v, size_t n)
{
    size_t body = 1 + dmvf__varint_size(n) + n;
    if (framed_room(d, dmvf__varint_size(body) + body))
        return -1;
    uint8_t *o = dmvf__put_varint(d->framed + d->framed_len, body);
    *o++ = key;
    o = dmvf__put_varint(o, n);
    if (n)
        memcpy(o, v, n);
    d->framed_len = (size_t)(o - d->framed) + n;
    return 0;
}

int dmvf__serve_decode(dmvf_serve_dec *d, int call, int json, const uint8_t *body, size_t n,
                       const dmvf_serve_limits *lim, dmvf_error *err)
{
    drop_request(d);
    d->framed_len = 0;
    d->records = 0;
    d->unknown = 0;
    if (json) {
        d->bin_len = 0;
        int rc = dmvf__serve_json_read(d, call, body, n, lim, err);
        if (rc != DMVF_OK)
            return rc;
        body = d->bin;
        n = d->bin_len;
        d->records = 0;     /* counted again below, as for a binary body */
    }
    if (n == 0)
        body = (const uint8_t *)"";  /* an empty body (a JSON {}) has no buffer */
    const uint8_t *p = body, *end = body + n, *req = NULL;
    uint32_t req_len = 0;
    size_t bound = dmvf_stream_record_limit(lim->max_record_bytes);
    /* first pass: the request, the count of records, the shape */
    while (p < end) {
        uint32_t num, len;
        unsigned wt;
        size_t k = dmvf__key_read(p, end, &num, &wt);
        if (!k)
            return FAIL_AT(err, DMVF_EMALFORMED, (uint64_t)(p - body), "a field key that cannot be read");
        if (wt != 2 || (num != 1 && !(num == 2 && call == DMVF_SERVE_CALL_RELEASE)))
            return FAIL_AT(err, DMVF_EMALFORMED, (uint64_t)(p - body),
                                 "field %u (wire type %u) is not one of the %s's fields", num, wt,
                                 call == DMVF_SERVE_CALL_RELEASE ? "ReleaseRequest" : "ExplainRequest");
        const uint8_t *at = p;
        p += k;
        size_t l = dmvf__len_read(p, end, &len);
        if (!l || (size_t)(end - p) - l < len)
            return FAIL_AT(err, DMVF_EMALFORMED, (uint64_t)(at - body), "a length that runs past the body");
        p += l;
        if (num == 1) {
            if (req)
                return FAIL_AT(err, DMVF_EMALFORMED, (uint64_t)(at - body), "a second request");
            req = p;
            req_len = len;
        } else {
            if (len > bound)
                return FAIL_AT(err, DMVF_ETOOBIG, (uint64_t)(at - body),
                                     "record %zu is %u bytes, past the stream bound of %zu", d->records, len, bound);
            if (++d->records > lim->max_records)
                return FAIL_AT(err, DMVF_ETOOBIG, (uint64_t)(at - body),
                                     "more than %zu records in one request", lim->max_records);
        }
        p += len;
    }
    if (!req)
        return dmvf__seterr(err, DMVF_EMALFORMED, "the call has no request");
    d->req = dmv__v1__request__unpack(NULL, req_len, req);
    if (!d->req)
        return FAIL_AT(err, DMVF_EMALFORMED, (uint64_t)(req - body), "the request does not decode");
    if (call != DMVF_SERVE_CALL_RELEASE)
        return DMVF_OK;
    /* second pass: the framed stream, the request first */
    if (put_frame(d, 0x0a, req, req_len))
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    for (p = body; p < end;) {
        uint32_t num = 0, len = 0;
        unsigned wt;
        p += dmvf__key_read(p, end, &num, &wt);
        p += dmvf__len_read(p, end, &len);
        if (num == 2 && put_frame(d, 0x12, p, len))
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
        p += len;
    }
    return DMVF_OK;
}
