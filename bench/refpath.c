/*
 * refpath.c - one request's plan run over a record stream in-process, by
 * the protobuf-c reference path (dmvf__reference_record: unpack, transform
 * the objects, pack) or, with --rewriter, by the wire rewriter
 * (dmvf__rewrite), through the same I/O as the CLI (bio.h).
 *
 * The plan and the per-request keys come from the policy exactly as the
 * CLI gets them (dmvf__policy_decide, dmvf__keyctx_create), so both paths
 * run the same transforms; what differs is how the record is walked.
 *
 * --hot: the hot path alone. The whole input is read into memory first
 * (not timed); then every record is transformed in a timed loop whose
 * output goes to a reused buffer, never to a file. Prints
 *   refpath: hot <reference|rewriter>: N records, B bytes in, B bytes out, C CPU seconds, S seconds
 * on stderr, S (wall) and C (the process's CPU time, the steadier figure
 * on a shared machine) measured around the loop alone.
 *
 * usage: refpath --policy P --keyring K [--in F] [--out F] [--rewriter] [--hot]
 *                [--quiet] --ori ORI --agency-kind KIND [--jurisdiction J]
 *                [--purpose N] [--query-kind Q] [--legal-process P] [--tag T]...
 *                [--date YYYY-MM-DD]
 * Exit: 0 released, 3 the request is not released, 64 usage, 65 bad input,
 * 66 no input, 70 internal, 71 memory, 74 I/O, 78 policy, 79 keyring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include "bench/bio.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"
#include "filter/wire/reference.h"
#include "filter/wire/rewrite.h"
#include "keys/keys.h"

#define MAX_FRAME ((size_t)16 << 20)

typedef struct engine {
    const dmvf_plan *plan;
    const dmvf_keyctx *kc;
    int rewriter;
    uint8_t *scratch;        /* rewriter output */
    size_t cap;
} engine;

static int usage(const char *why)
{
    fprintf(stderr, "refpath: %s\n"
            "usage: refpath --policy P --keyring K [--in F] [--out F] [--rewriter] [--hot] [--quiet]\n"
            "               --ori ORI --agency-kind KIND [--jurisdiction J] [--purpose N]\n"
            "               [--query-kind Q] [--legal-process P] [--tag T]... [--date YYYY-MM-DD]\n",
            why);
    return EX_USAGE;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Transforms one record: *out and *olen stay valid until the next call.
 * Returns 0 or an exit code. */
static int transform(engine *e, const uint8_t *in, size_t n, uint64_t index,
                     const uint8_t **out, size_t *olen, uint8_t **owned)
{
    dmvf_error err;
    int st;
    *owned = NULL;
    if (!e->rewriter) {
        st = dmvf__reference_record(e->plan, e->kc, in, n, owned, olen, &err);
        *out = *owned;
    } else {
        for (;;) {
            st = dmvf__rewrite(e->plan, e->kc, in, n, e->scratch, e->cap, olen, &err);
            if (st != DMVF_ESPACE)
                break;
            uint8_t *b = realloc(e->scratch, e->cap * 2);
            if (!b) {
                fprintf(stderr, "refpath: out of memory\n");
                return EX_OSERR;
            }
            e->scratch = b;
            e->cap *= 2;
        }
        *out = e->scratch;
    }
    if (st != DMVF_OK) {
        fprintf(stderr, "refpath: record %llu: %s: %s\n", (unsigned long long)index,
                dmvf_strerror(st), err.msg);
        return st == DMVF_ENOMEM ? EX_OSERR : EX_DATAERR;
    }
    return 0;
}

static int parse_date(const char *s, uint32_t *out)
{
    unsigned y, m, d;
    char extra;
    if (sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &extra) != 3 &&
        sscanf(s, "%4u%2u%2u%c", &y, &m, &d, &extra) != 3)
        return -1;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *out = y * 10000 + m * 100 + d;
    return 0;
}

/* The file-to-file run: same I/O as the CLI. */
static int run_stream(engine *e, const char *in, const char *out, int quiet)
{
    dmvf_bio_src src;
    dmvf_bio_sink sink;
    memset(&sink, 0, sizeof sink);
    sink.fd = -1;
    int rc = dmvf__bio_src_open(&src, in, MAX_FRAME);
    if (!rc)
        rc = dmvf__bio_sink_open(&sink, out, 0);
    uint64_t records = 0;
    while (!rc) {
        const uint8_t *frame, *payload, *res;
        size_t flen, len, olen;
        uint8_t *owned;
        int r = dmvf__bio_next(&src, &frame, &flen, &payload, &len);
        if (r == 0)
            break;
        if (r != 1) {
            rc = r;
            break;
        }
        rc = transform(e, payload, len, records, &res, &olen, &owned);
        if (rc)
            break;
        uint8_t *dst = dmvf__bio_reserve(&sink, olen + 10, &rc);
        if (dst) {
            size_t pre = dmvf__bio_put_varint(dst, olen);
            memcpy(dst + pre, res, olen);
            dmvf__bio_commit(&sink, pre + olen);
        }
        free(owned);
        records++;
    }
    if (!rc)
        rc = dmvf__bio_sink_close(&sink);
    else
        dmvf__bio_sink_abort(&sink);
    if (!rc && !quiet)
        fprintf(stderr, "refpath: %s: %llu records, %llu bytes in, %llu bytes out\n",
                e->rewriter ? "rewriter" : "reference", (unsigned long long)records,
                (unsigned long long)src.offset, (unsigned long long)sink.payload);
    dmvf__bio_src_close(&src);
    return rc;
}

/* --hot: everything in memory, the transform loop alone timed. */
static int run_hot(engine *e, const char *in)
{
    dmvf_bio_src src;
    int rc = dmvf__bio_src_open(&src, in, MAX_FRAME);
    uint8_t *all = NULL;
    size_t n = 0, cap = 0;
    while (!rc) {
        const uint8_t *frame, *payload;
        size_t flen, len;
        int r = dmvf__bio_next(&src, &frame, &flen, &payload, &len);
        if (r == 0)
            break;
        if (r != 1) {
            rc = r;
            break;
        }
        if (cap - n < flen) {
            size_t nc = cap ? cap : ((size_t)64 << 20);
            while (nc - n < flen)
                nc *= 2;
            uint8_t *b = realloc(all, nc);
            if (!b) {
                fprintf(stderr, "refpath: out of memory holding the input\n");
                rc = EX_OSERR;
                break;
            }
            all = b;
            cap = nc;
        }
        memcpy(all + n, frame, flen);
        n += flen;
    }
    dmvf__bio_src_close(&src);
    if (rc) {
        free(all);
        return rc;
    }

    uint64_t out_bytes = 0, records = 0;
    double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t pos = 0; pos < n && !rc;) {
        uint64_t len = 0;
        for (unsigned shift = 0;; shift += 7) {
            uint8_t c = all[pos++];
            len |= (uint64_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
        }
        const uint8_t *res;
        size_t olen;
        uint8_t *owned;
        rc = transform(e, all + pos, (size_t)len, records, &res, &olen, &owned);
        free(owned);
        uint8_t pre[10];
        out_bytes += olen + dmvf__bio_put_varint(pre, olen);
        pos += (size_t)len;
        records++;
    }
    double t = now() - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (!rc)
        fprintf(stderr, "refpath: hot %s: %llu records, %zu bytes in, %llu bytes out, %.6f CPU seconds, %.6f seconds\n",
                e->rewriter ? "rewriter" : "reference", (unsigned long long)records, n,
                (unsigned long long)out_bytes, c, t);
    free(all);
    return rc;
}

int main(int argc, char **argv)
{
    const char *policy = NULL, *keyring = NULL, *in = NULL, *out = NULL;
    int rewriter = 0, hot = 0, quiet = 0;
    const char *tags[32];
    uint32_t as_of = 0;
    dmvf_request req;
    memset(&req, 0, sizeof req);
    req.tags = tags;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--rewriter") == 0) {
            rewriter = 1, takes = 0;
        } else if (strcmp(a, "--hot") == 0) {
            hot = 1, takes = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1, takes = 0;
        } else if (!v) {
            return usage("a flag without its value, or an unknown flag");
        } else if (strcmp(a, "--policy") == 0) {
            policy = v;
        } else if (strcmp(a, "--keyring") == 0) {
            keyring = v;
        } else if (strcmp(a, "--in") == 0) {
            in = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--ori") == 0) {
            req.ori = v;
        } else if (strcmp(a, "--request-id") == 0) {
            req.request_id = v;
        } else if (strcmp(a, "--jurisdiction") == 0) {
            req.jurisdiction = v;
        } else if (strcmp(a, "--agency-kind") == 0) {
            if (dmvf_agency_kind_parse(v, &req.agency_kind) != DMVF_OK)
                return usage("bad --agency-kind");
        } else if (strcmp(a, "--legal-process") == 0) {
            if (dmvf_legal_process_parse(v, &req.legal_process) != DMVF_OK)
                return usage("bad --legal-process");
        } else if (strcmp(a, "--query-kind") == 0) {
            if (dmvf_query_kind_parse(v, &req.query_kind) != DMVF_OK)
                return usage("bad --query-kind");
        } else if (strcmp(a, "--purpose") == 0) {
            req.purpose = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--tag") == 0) {
            if (req.ntags == sizeof tags / sizeof tags[0])
                return usage("too many --tag");
            tags[req.ntags++] = v;
        } else if (strcmp(a, "--date") == 0) {
            if (parse_date(v, &as_of) != 0)
                return usage("bad --date");
        } else {
            return usage("unknown flag");
        }
        i += takes;
    }
    if (!policy || !keyring || !req.ori)
        return usage("--policy, --keyring and --ori are required");

    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *pol = dmvf_policy_load_file(policy, &err);
    if (!pol) {
        fprintf(stderr, "refpath: policy %s: %s\n", policy, err.msg);
        return EX_CONFIG;
    }
    dmvf_keyring *kr = dmvf_keyring_load(keyring, NULL, &err);
    if (!kr) {
        fprintf(stderr, "refpath: keyring %s: %s\n", keyring, err.msg);
        dmvf_policy_free(pol);
        return 79;
    }
    dmvf_verdict v;
    dmvf__policy_decide(pol, &req, as_of, &v);
    int rc;
    if (v.decision != DMVF_DECISION_RELEASE) {
        fprintf(stderr, "refpath: not released: %s\n", v.reason);
        rc = 3;
    } else {
        engine e = {v.plan, NULL, rewriter, NULL, (size_t)1 << 20};
        const char *scope = v.who->scope ? v.who->scope : req.ori;
        dmvf_keyctx *kc = dmvf__keyctx_create(kr, scope, v.plan->pseudo_paths, v.plan->npseudo);
        e.scratch = malloc(e.cap);
        if (!kc || !e.scratch) {
            fprintf(stderr, "refpath: out of memory\n");
            rc = EX_OSERR;
        } else {
            e.kc = kc;
            rc = hot ? run_hot(&e, in) : run_stream(&e, in, out, quiet);
        }
        free(e.scratch);
        dmvf__keyctx_free(kc);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    return rc;
}
