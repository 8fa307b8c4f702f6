/*
 * notices_queue.c - queueing subject notices (dmvf_notices_queue): one
 * notice line per distinct subject of a request, all of one call appended
 * with one write() and fsync'd (notices_file.c).
 *
 * A notice line, keys in this order (all values strings unless noted):
 *
 *   type "notice" | id | subject | request_id | ori | agency | agency_kind |
 *   tags (array of strings) | legal_process | legal_reference |
 *   purpose (number, 0..14) | decision "release"|"deny"|"review" |
 *   date "YYYY-MM-DD" (the request) | due "YYYY-MM-DD"
 *
 * id = the first 8 bytes, in hex, of BLAKE2b-256 (unkeyed) over
 *   request_id || 0x00 || subject || 0x00 || "YYYYMMDD" || nonce[16]
 * with a fresh random nonce per call, so that two requests for one subject
 * on one day get distinct ids. Within one call a subject is queued once,
 * in the order the subjects were first read.
 *
 * Strings are written as JSON: '"' and '\' escaped, control bytes as \n,
 * \r, \t, \b, \f or \u00XX, DEL as \u007f, valid UTF-8 as is, and every
 * byte that does not start a valid UTF-8 sequence as \ufffd
 * (filter/core/text.h). A line longer than DMVF_NOTICE_MAX_LINE is refused
 * before anything is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/account/notices_file_int.h"

typedef struct subj {
    const char *p;
    size_t n;
    size_t idx;
} subj;

static int subj_cmp(const void *a, const void *b)
{
    const subj *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    int c = x->n ? memcmp(x->p, y->p, x->n) : 0;
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int idx_cmp(const void *a, const void *b)
{
    const subj *x = a, *y = b;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int dmvf_notices_queue(const char *queue, const dmvf_filter *f, const dmvf_policy_notices *s,
                       uint32_t date, uint32_t *queued, dmvf_error *err)
{
    DMVF_REQUIRE(queue != NULL, "queue is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    if (queued)
        *queued = 0;
    const dmvf_request *req = dmvf_filter_request(f);
    if (date == 0) /* the day the request was judged on: the DMV's clock, never the request's */
        date = dmvf_filter_judged_date(f);
    if (!dmvf__date_valid(date))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)date);
    uint32_t due = dmvf_notice_due(date, s);
    if (!due)
        return dmvf__seterr(err, DMVF_EINVAL, "notices: no due date for %u (past year 9999)",
                            (unsigned)date);
    size_t n = dmvf_filter_subject_count(f);
    if (n == 0)
        return DMVF_OK;
    if (n > UINT32_MAX)
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %zu subjects in one request", n);
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: libsodium did not initialize");

    /* one notice per distinct subject, in the order first read */
    subj *v = malloc(n * sizeof *v);
    if (!v)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory (%zu subjects)", n);
    for (size_t i = 0; i < n; i++) {
        v[i].p = dmvf_filter_subject(f, i, &v[i].n);
        v[i].idx = i;
    }
    qsort(v, n, sizeof *v, subj_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[i].n != v[m - 1].n || (v[i].n && memcmp(v[i].p, v[m - 1].p, v[i].n) != 0))
            v[m++] = v[i];
    qsort(v, m, sizeof *v, idx_cmp);

    /* the fields every notice of this call shares */
    char dstr[DMVF__DATE_CAP], duestr[DMVF__DATE_CAP], d8[12];   /* date is a valid YYYYMMDD: 8 digits */
    dmvf__date_format(date, dstr);
    dmvf__date_format(due, duestr);
    snprintf(d8, sizeof d8, "%08u", (unsigned)date);
    uint8_t nonce[16];
    randombytes_buf(nonce, sizeof nonce);
    const char *rid = req->request_id ? req->request_id : "";
    dmvf__text common = dmvf__text_mem();
    dmvf__text_puts(&common, ",\"request_id\":");
    dmvf__text_json_c(&common, req->request_id);
    dmvf__text_puts(&common, ",\"ori\":");
    dmvf__text_json_c(&common, req->ori);
    dmvf__text_puts(&common, ",\"agency\":");
    dmvf__text_json_c(&common, req->agency_name);
    dmvf__text_puts(&common, ",\"agency_kind\":");
    dmvf__text_json_c(&common, dmvf_agency_kind_name(req->agency_kind));
    dmvf__text_puts(&common, ",\"tags\":");
    dmvf__text_json_strs(&common, req->tags, req->ntags);
    dmvf__text_puts(&common, ",\"legal_process\":");
    dmvf__text_json_c(&common, dmvf_legal_process_name(req->legal_process));
    dmvf__text_puts(&common, ",\"legal_reference\":");
    dmvf__text_json_c(&common, req->legal_reference);
    char tail[160];
    snprintf(tail, sizeof tail, ",\"purpose\":%u,\"decision\":\"%s\",\"date\":\"%s\",\"due\":\"%s\"}\n",
             req->purpose, dmvf__decision_name(dmvf_filter_decision(f)), dstr, duestr);

    dmvf__text b = dmvf__text_mem();
    int rc = DMVF_OK;
    for (size_t i = 0; i < m && rc == DMVF_OK && !b.failed && !common.failed; i++) {
        uint8_t h[crypto_generichash_BYTES];
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof h);
        crypto_generichash_update(&st, (const unsigned char *)rid, strlen(rid) + 1);
        crypto_generichash_update(&st, (const unsigned char *)v[i].p, v[i].n);
        crypto_generichash_update(&st, (const unsigned char *)"", 1);
        crypto_generichash_update(&st, (const unsigned char *)d8, 8);
        crypto_generichash_update(&st, nonce, sizeof nonce);
        crypto_generichash_final(&st, h, sizeof h);
        char id[17];
        dmvf__hex_encode(id, h, 8);
        size_t start = b.len;
        dmvf__text_puts(&b, "{\"type\":\"notice\",\"id\":\"");
        dmvf__text_puts(&b, id);
        dmvf__text_puts(&b, "\",\"subject\":");
        dmvf__text_json(&b, v[i].p, v[i].n);
        dmvf__text_put(&b, common.p, common.len);
        dmvf__text_puts(&b, tail);
        if (!b.failed && b.len - start > DMVF_NOTICE_MAX_LINE)
            rc = dmvf__seterr(err, DMVF_EINVAL,
                              "notices: the notice for subject %zu would be a %zu-byte line, over "
                              "the %u-byte limit (a request string is too long)",
                              v[i].idx, b.len - start, (unsigned)DMVF_NOTICE_MAX_LINE);
    }
    free(v);
    dmvf__text_free(&common);
    if (rc == DMVF_OK && (b.failed || common.failed))
        rc = dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory building %zu notices", m);
    if (rc != DMVF_OK) {
        dmvf__text_free(&b);
        return rc;
    }

    int fd;
    uint64_t size;
    rc = dmvf__notices_open_append(queue, 1, &fd, &size, err);
    if (rc == DMVF_OK) {
        rc = dmvf__notices_append(fd, queue, size, &b, err);
        close(fd);   /* releases the lock */
    }
    dmvf__text_free(&b);
    if (rc == DMVF_OK && queued)
        *queued = (uint32_t)m;
    return rc;
}
