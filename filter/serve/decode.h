/*
 * decode.h - a service call's body into what the library reads.
 *
 * Release: ReleaseRequest (application/proto, or its proto3 JSON) becomes
 * a framed stream of one request (framed.h), which is then judged exactly
 * as `dmvfilter filter --format framed` judges it:
 *
 *   ReleaseRequest := { 1: Request, 2: DriverRecord ... }   (any order)
 *   framed         := len Frame{1: Request} ( len Frame{2: DriverRecord} )*
 *
 * Explain: ExplainRequest {1: Request}. The JSON form is read into the
 * same wire bytes first: keys are proto names or lowerCamelCase JSON
 * names, enums by name or number, integers as numbers or decimal strings,
 * null as absent; records through the JSON Lines reader (format.h). A key
 * that names no field of the envelope or of Request is an error (a key no
 * record field has is dropped, as in JSON Lines). Nothing is released on
 * any error.
 */
#ifndef DMVF_SERVE_DECODE_H
#define DMVF_SERVE_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/dmvfilter.h"
#include "dmv/v1/request.pb-c.h"

typedef struct dmvf_serve_limits {
    size_t max_body;            /* request body bytes; default 64 MiB */
    size_t max_records;         /* records per request; default 10,000 */
    size_t max_record_bytes;    /* as filter.h judges a record; default 16 MiB */
    size_t max_header_bytes;    /* per connection: header memory; default 32 KiB */
    unsigned max_connections;   /* open at once; default 256 */
    unsigned max_in_flight;     /* requests being judged at once; default 64 */
    unsigned timeout_s;         /* a connection idle this long is closed; default 10 */
    unsigned json_depth;        /* nesting of a JSON body; default 32 */
} dmvf_serve_limits;

#define DMVF_SERVE_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DMVF_SERVE_DEFAULT_MAX_RECORDS 10000u
#define DMVF_SERVE_DEFAULT_HEADER_BYTES ((size_t)32 << 10)
#define DMVF_SERVE_DEFAULT_CONNECTIONS 256u
#define DMVF_SERVE_DEFAULT_IN_FLIGHT 64u
#define DMVF_SERVE_DEFAULT_TIMEOUT_S 10u
#define DMVF_SERVE_DEFAULT_JSON_DEPTH 32u

/* Fills every 0 of *l with its default. */
void dmvf__serve_limits_default(dmvf_serve_limits *l);

enum { DMVF_SERVE_CALL_RELEASE = 1, DMVF_SERVE_CALL_EXPLAIN = 2 };

/* A decoder and what it decoded last (one thread at a time). */
typedef struct dmvf_serve_dec {
    struct dmvf__jrec *jr;          /* JSON records */
    uint8_t *bin;                   /* the body as wire bytes (JSON read) */
    size_t bin_len, bin_cap;
    uint8_t *framed;                /* Release: the framed stream */
    size_t framed_len, framed_cap;
    Dmv__V1__Request *req;          /* the request, unpacked */
    size_t records;                 /* Release: its records */
    uint64_t unknown;               /* JSON keys dropped from records */
} dmvf_serve_dec;

void dmvf__serve_dec_init(dmvf_serve_dec *d);
void dmvf__serve_dec_free(dmvf_serve_dec *d);

/* Decodes body[0..n) of a call (DMVF_SERVE_CALL_*), JSON when json.
 * @return  DMVF_OK (d->req set; Release: d->framed); DMVF_EMALFORMED (not
 *          such a message, a Request that does not decode, no request);
 *          DMVF_ETOOBIG (more records than lim->max_records, a record past
 *          dmvf_stream_record_limit, JSON nested past lim->json_depth);
 *          DMVF_ENOMEM; with a message in *err. */
int dmvf__serve_decode(dmvf_serve_dec *d, int call, int json, const uint8_t *body, size_t n,
                       const dmvf_serve_limits *lim, dmvf_error *err);

/* Sets err->offset to off (err may be NULL); returns code. */
int dmvf__serve_at(dmvf_error *err, int code, uint64_t off);

/* JSON (json_env.c): the body as the call's message in wire bytes,
 * appended to d->bin. Same returns as dmvf__serve_decode. */
int dmvf__serve_json_read(dmvf_serve_dec *d, int call, const uint8_t *s, size_t n, const dmvf_serve_limits *lim,
                          dmvf_error *err);

#endif
