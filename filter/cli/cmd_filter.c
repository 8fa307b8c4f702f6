/*
 * cmd_filter.c - `dmvfilter filter`: one request over a record stream, or a
 * framed stream carrying its own requests.
 *
 * Order of work, each step with its own exit code, so that nothing is ever
 * written before policy and keyring have loaded:
 *
 *   flags (64) -> policy (78) -> keyring (79) -> input (74)
 *     -> filter: the decision (records format) -> output -> stream
 *
 * A released records request without a record limit goes through the
 * chunked pipeline (parallel.c) on --threads workers; its output is the
 * same bytes for every thread count. A request with a record limit (its
 * output is held until the end) and framed streams (requests in sequence)
 * are streamed on one thread by pump().
 *
 * stderr is the DMV's side: it names the decision, the rule, the reason and
 * the reply form, including when the requester is shown a plain miss.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "filter/cli/cli.h"

#define BUF_SIZE ((size_t)1 << 20)

const char dmvf__cli_filter_help[] =
    "usage: dmvfilter filter --policy P --keyring K [--passphrase-file F] [--in F] [--out F]\n"
    "         [--format records|framed] [--gzip] [--max-record-bytes N] [--max-inflate N]\n"
    "         [--max-request-frames N] [--drop-malformed] [--threads N] [--quiet]\n"
    "         [--audit DIR] [--audit-subjects] [--notices F] [--review-spool DIR]\n"
    "         [--review-public-key F] [--date YYYY-MM-DD] --ori ORI [request flags]\n"
    "\n"
    "Filters a stream of records for one request (--format records, the default:\n"
    "varint-delimited dmv.v1.DriverRecord, the request from the flags), or a framed\n"
    "stream of dmv.v1.Frame carrying its own requests (--format framed: no request\n"
    "flags but --date). The decision is made before any record is read: a refused\n"
    "request releases nothing. Who the requester is, the policy's requester\n"
    "directory says: an ORI it does not hold, a bad request (a malformed ORI, tag\n"
    "or jurisdiction; a request dated another day) and a claim the directory\n"
    "contradicts are refused (exit 3) and audited. Requests are judged on the\n"
    "DMV's clock (today, UTC), or on --date for the DMV's own replays.\n"
    "\n"
    "flags:\n"
    "  --policy P              the release policy (YAML)\n"
    "  --keyring K             the DMV keyring\n"
    "  --passphrase-file F     the keyring passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE; none: unsealed)\n"
    "  --in F                  input file (default: stdin); gzip is detected\n"
    "  --out F                 output file (default: stdout), written aside and\n"
    "                          renamed into place only when the run succeeds\n"
    "                          (a device or a FIFO is written in place)\n"
    "  --format records|framed the input format (default: records)\n"
    "  --gzip                  gzip the output (records format: one gzip member per\n"
    "                          1 MiB chunk of input, which any gunzip reads whole)\n"
    "  --max-record-bytes N    refuse larger records (suffix K, M, G; default 16M)\n"
    "  --max-inflate N         refuse a gzip input that inflates past N bytes (suffix\n"
    "                          K, M, G; default: refuse one that inflates past both\n"
    "                          1G and 1000 times the compressed bytes read so far,\n"
    "                          a gzip bomb); exit 65, nothing written to --out\n"
    "  --max-request-frames N  --format framed: refuse a request carrying more than\n"
    "                          N record frames (default 10000000); exit 65\n"
    "  --drop-malformed        drop and count malformed records instead of failing\n"
    "  --threads N             rewrite records on N threads, 1..256 (default: the cores\n"
    "                          available, at most 32); the input is cut into chunks\n"
    "                          written in input order, so the output is the same\n"
    "                          bytes for every N. A request with a record limit\n"
    "                          (max_records) and --format framed run on one thread.\n"
    "  --quiet                 no progress line, no summary (refusals and errors\n"
    "                          are still reported)\n"
    "\n"
    "accountability (defaults from the policy's audit, notices and review sections):\n"
    "  --audit DIR             log every request to the audit log in DIR before\n"
    "                          anything is released (created if missing); if the log\n"
    "                          cannot be written, nothing is released\n"
    "  --audit-subjects        also log keyed hashes of the released record_ids\n"
    "  --notices F             the subject notice queue (rules with notify_subject)\n"
    "  --review-spool DIR      where requests held for review are sealed\n"
    "  --review-public-key F   the reviewers' public key (dmvfilter review keygen)\n"
    "\n"
    DMVF_CLI_REQUEST_HELP
    "  (--ori is required with --format records; the directory says the rest)\n"
    "\n"
    "exit: 0 released, 3 refused, 4 held for review, 64 usage, 65 bad input,\n"
    "      5 the audit log does not verify, 70 internal, 71 out of memory, 74 I/O\n"
    "      (also: the audit log, notice queue or review spool cannot be written),\n"
    "      78 bad policy, 79 bad keyring.\n"
    "      framed: 0 if every request was released, else 3 if any was refused,\n"
    "      else 4 if any was held for review.\n";

static const char filter_usage[] =
    "usage: dmvfilter filter --policy P --keyring K [--passphrase-file F] [--in F] [--out F]\n"
    "         [--format records|framed] [--gzip] [--max-record-bytes N] [--max-inflate N]\n"
    "         [--max-request-frames N] [--drop-malformed] [--threads N] [--quiet]\n"
    "         [--audit DIR] [--audit-subjects] [--notices F] [--review-spool DIR]\n"
    "         [--review-public-key F] [--date YYYY-MM-DD] --ori ORI [request flags]\n";

typedef struct filter_cfg {
    const char *policy, *keyring, *passfile, *in, *out;
    int framed, gzip, drop_malformed, quiet;
    size_t max_record_bytes;
    uint64_t max_inflate;       /* 0: the default rule (cli.h) */
    uint64_t max_request_frames; /* 0: the library's default */
    unsigned threads;           /* 0: the cores available */
    uint32_t as_of;             /* --date: judge on this day (YYYYMMDD); 0: today */
    dmvf_cli_acct_flags acct;
} filter_cfg;

/* ---- messages ---- */

static void rule_text(const dmvf_filter *f, char *buf, size_t cap)
{
    const char *rule = dmvf_filter_rule(f);
    if (rule)
        snprintf(buf, cap, "rule '%s'", rule);
    else if (dmvf_filter_precheck(f) != DMVF_PRECHECK_PASSED)
        snprintf(buf, cap, "the requester check, before any rule");
    else
        snprintf(buf, cap, "no matching rule (default deny)");
}

/* Says on stderr why nothing was released and how the reply looks. */
static void report_refusal(const char *prefix, const dmvf_filter *f, const char *why)
{
    char rule[300];
    rule_text(f, rule, sizeof rule);
    const char *reason = why ? why : dmvf_filter_reason(f);
    /* the rule is named once: drop it from the reason when the reason starts with it */
    size_t rn = strlen(rule);
    if (reason && dmvf_filter_rule(f) && strncmp(reason, rule, rn) == 0 && reason[rn] == ':')
        reason += rn + 1 + (reason[rn + 1] == ' ');
    const char *what = dmvf_filter_decision(f) == DMVF_DECISION_REVIEW ? "held for review" : "refused";
    dmvf__cli_err("%s%s by %s: %s; nothing released", prefix, what, rule, reason ? reason : "");
    if (dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND)
        dmvf__cli_err("%sreply form: not-found: the request was %s, although the requester "
                      "sees a miss (no record found)", prefix, what);
    else
        dmvf__cli_err("%sreply form: refused: the requester is told the request was refused", prefix);
}

/* "input: <what> at byte offset N (<unit> I): why"; unit is "record" (the
 * records format: the record index) or "frame" (framed: the frame index). */
static void report_stream_error(const dmvf_cli_src *src, const char *what, const char *unit,
                                const dmvf_error *err)
{
    const char *kind;
    switch (err->code) {
    case DMVF_EMALFORMED: kind = what; break;
    case DMVF_ETOOBIG: kind = strcmp(unit, "frame") == 0 ? "over a limit" : "record too large"; break;
    default: kind = dmvf_strerror(err->code); break;
    }
    char rec[48] = "";
    if (err->record != UINT64_MAX)
        snprintf(rec, sizeof rec, " (%s %llu)", unit, (unsigned long long)err->record);
    dmvf__cli_err("input: %s at %sbyte offset %llu%s: %s", kind, src->gzip ? "uncompressed " : "",
                  (unsigned long long)err->offset, rec, err->msg[0] ? err->msg : dmvf_strerror(err->code));
}

/* ---- the stream pump, shared by both formats ---- */

typedef int (*stream_fn)(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err);
typedef void (*count_fn)(void *h, uint64_t *records);

static int stream_filter(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_filter_stream(h, out, in, end, err);
}

static int stream_framed(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_framed_stream(h, out, in, end, err);
}

static void count_filter(void *h, uint64_t *records)
{
    uint64_t out, dropped;
    dmvf_filter_counts(h, records, &out, &dropped);
}

static void count_framed(void *h, uint64_t *records)
{
    dmvf_framed_stats st;
    dmvf_framed_stats_get(h, &st);
    *records = st.records_in;
}

/* Output kept in memory (a would-be release held for review), at most max. */
typedef struct membuf {
    unsigned char *p;
    size_t len, cap, max;
} membuf;

#define HOLD_MAX ((size_t)256 << 20)

static int membuf_add(membuf *m, const void *b, size_t n)
{
    if (n > m->max - m->len) {
        dmvf__cli_err("the would-be release is larger than %zu MiB, too large to hold for review; "
                      "nothing released", m->max >> 20);
        return DMVF_EXIT_DATAERR;
    }
    if (m->len + n > m->cap) {
        size_t want = m->cap ? m->cap : 65536;
        while (want < m->len + n)
            want *= 2;
        unsigned char *np = realloc(m->p, want);
        if (!np) {
            dmvf__cli_err("out of memory");
            return DMVF_EXIT_NOMEM;
        }
        m->p = np;
        m->cap = want;
    }
    if (n)
        memcpy(m->p + m->len, b, n);
    m->len += n;
    return 0;
}

/* Streams the whole input through h into the sink (or, sink NULL, into mem;
 * both NULL: output is discarded, for a refused request that only collects
 * its subjects). Returns 0 on success, a library status in *status (with
 * *err) when the library failed, or an exit code for an I/O or memory
 * failure (message printed, *status 0). */
static int pump(void *h, stream_fn fn, count_fn cnt, dmvf_cli_src *src, dmvf_cli_sink *sink,
                membuf *mem, size_t max_record, int quiet, int *status, dmvf_error *err)
{
    *status = DMVF_OK;
    size_t out_cap = BUF_SIZE;
    size_t out_limit = max_record <= (SIZE_MAX - BUF_SIZE) / 4 ? max_record * 4 + BUF_SIZE : SIZE_MAX / 2;
    unsigned char *inbuf = malloc(BUF_SIZE);
    unsigned char *outbuf = malloc(out_cap);
    int rc = 0;
    dmvf_cli_progress pg;
    dmvf__cli_progress_start(&pg, quiet);
    if (!inbuf || !outbuf) {
        dmvf__cli_err("out of memory");
        rc = DMVF_EXIT_NOMEM;
        goto done;
    }
    for (;;) {
        size_t n;
        int eof;
        rc = dmvf__cli_src_read(src, inbuf, BUF_SIZE, &n, &eof);
        if (rc)
            goto done;
        dmvf_in_buffer in = {inbuf, n, 0};
        int st;
        for (;;) {
            dmvf_out_buffer out = {outbuf, out_cap, 0};
            size_t in_before = in.pos;
            st = fn(h, &out, &in, eof, err);
            if (out.pos > 0) {
                rc = sink ? dmvf__cli_sink_write(sink, outbuf, out.pos)
                          : mem ? membuf_add(mem, outbuf, out.pos) : 0;
                if (rc)
                    goto done;
            }
            if (st != DMVF_ESPACE)
                break;
            if (out.pos == 0 && in.pos == in_before) {
                /* not even one record fits: grow the output, within bounds */
                size_t want = out_cap * 2;
                unsigned char *nb = want <= out_limit ? realloc(outbuf, want) : NULL;
                if (!nb) {
                    dmvf__cli_err("output buffer cannot grow past %zu bytes for one record", out_cap);
                    rc = want <= out_limit ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
                    goto done;
                }
                outbuf = nb;
                out_cap = want;
            }
        }
        if (st != DMVF_OK) {
            *status = st;
            goto done;
        }
        if (pg.on) {
            uint64_t records;
            cnt(h, &records);
            dmvf__cli_progress_tick(&pg, records, src->bytes_out);
        }
        if (eof)
            break;
    }
done:
    dmvf__cli_progress_clear(&pg);
    free(inbuf);
    free(outbuf);
    return rc;
}

/* ---- records format ---- */

/* A request that is not released: with notify_subject its records are read
 * (nothing released) so that the subjects it asked for are notified; held
 * for review, its would-be release is sealed into the review spool. The
 * reply is an empty release, as a miss is. */
static int refuse_records(const filter_cfg *cfg, dmvf_cli_acct *ac, dmvf_filter *f, uint64_t seq,
                          dmvf_cli_src *src, dmvf_cli_sink *sink)
{
    dmvf_decision d = dmvf_filter_decision(f);
    int hold = d == DMVF_DECISION_REVIEW;
    int rc = 0;
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    membuf mem = {NULL, 0, 0, HOLD_MAX};
    if (hold || dmvf_filter_notify_subject(f)) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st;
        size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
        rc = pump(f, stream_filter, count_filter, src, NULL, hold ? &mem : NULL, maxrec, cfg->quiet,
                  &st, &err);
        if (!rc && st == DMVF_EREFUSED && hold) {
            /* the held release passed the rule's record limit: it would be refused */
            mem.len = 0;
            st = DMVF_OK;
        }
        if (!rc && st != DMVF_OK) {
            report_stream_error(src, "malformed record", "record", &err);
            rc = dmvf__cli_exit_for(st);
        }
        if (!rc) {
            dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
            if (!hold)
                c.records_out = 0;
            rc = dmvf__cli_acct_notify(ac, f, &c.notices);
        }
        if (!rc && hold) {
            char id[DMVF_REVIEW_ID_LEN + 1];
            rc = dmvf__cli_acct_hold(ac, f, mem.p, mem.len, &c, seq, id);
            if (!rc && !cfg->quiet)
                dmvf__cli_err("held for review as %s (%llu records would be released)", id,
                              (unsigned long long)c.records_out);
        } else if (!rc && c.notices) {
            rc = dmvf__cli_acct_event(ac, f, DMVF_AUDIT_RELEASE, &c, seq, NULL,
                                      "refused: nothing released; subjects notified");
        }
        free(mem.p);
        if (rc) {
            dmvf__cli_sink_abort(sink);
            return rc;
        }
    }
    report_refusal("", f, NULL);
    rc = dmvf__cli_sink_commit(sink);
    if (rc)
        return rc;
    return d == DMVF_DECISION_REVIEW ? DMVF_EXIT_REVIEW : DMVF_EXIT_REFUSED;
}

static int run_records(const filter_cfg *cfg, const dmvf_policy *pol, const dmvf_keyring *kr,
                       const dmvf_request *req, dmvf_cli_src *src, dmvf_cli_acct *ac)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_filter_options fo = {.max_record_bytes = cfg->max_record_bytes,
                              .drop_malformed = cfg->drop_malformed, .as_of = cfg->as_of};
    dmvf__cli_acct_options(ac, &fo);
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, &fo, &err);
    if (f) {
        /* what the rule asks for decides two options: decide, then make the filter */
        dmvf_filter_options want = fo;
        if (dmvf_filter_notify_subject(f))
            want.collect_subjects = 1;
        if (dmvf_filter_decision(f) == DMVF_DECISION_REVIEW)
            want.hold_for_review = want.collect_subjects = want.count_fields = 1;
        if (want.collect_subjects != fo.collect_subjects || want.hold_for_review != fo.hold_for_review ||
            want.count_fields != fo.count_fields) {
            dmvf_filter_free(f);
            fo = want;
            f = dmvf_filter_create(pol, kr, req, &fo, &err);
        }
    }
    if (!f) {
        dmvf__cli_err("request: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
    }
    /* write-ahead: the request is in the log before a byte of output exists */
    uint64_t seq;
    int rc = dmvf__cli_acct_request(ac, f, &seq);
    if (rc) {
        dmvf_filter_free(f);
        return rc;
    }
    dmvf_decision d = dmvf_filter_decision(f);
    /* the pipeline gzips chunk by chunk itself; the other paths let the sink do it */
    int chunked = d == DMVF_DECISION_RELEASE && dmvf_filter_max_records(f) == 0;
    dmvf_cli_sink sink;
    rc = dmvf__cli_sink_open(&sink, cfg->out, cfg->gzip && !chunked);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    if (d != DMVF_DECISION_RELEASE) {
        rc = refuse_records(cfg, ac, f, seq, src, &sink);
        dmvf_filter_free(f);
        return rc;
    }

    int st;
    uint64_t n_in = 0, n_out = 0, n_dropped = 0;
    if (chunked) {
        dmvf_cli_par par;
        memset(&par, 0, sizeof par);
        par.policy = pol;
        par.keyring = kr;
        par.req = req;
        par.fo = fo;
        par.threads = cfg->threads;
        if (!par.threads) {
            unsigned cores = dmvf__cli_cores();
            par.threads = cores < DMVF_CLI_AUTO_THREADS_MAX ? cores : DMVF_CLI_AUTO_THREADS_MAX;
        }
        par.gzip = cfg->gzip;
        par.quiet = cfg->quiet;
        rc = dmvf__cli_par_run(&par, f, src, &sink);
        st = par.status;
        err = par.err;
        n_in = par.records_in;
        n_out = par.records_out;
        n_dropped = par.records_dropped;
    } else {
        size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
        rc = pump(f, stream_filter, count_filter, src, &sink, NULL, maxrec, cfg->quiet, &st, &err);
        dmvf_filter_counts(f, &n_in, &n_out, &n_dropped);
    }
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    if (st == DMVF_EREFUSED) {
        /* the record limit was passed: the request is refused as a whole */
        char why[64];
        snprintf(why, sizeof why, "more than the record limit of %llu records",
                 (unsigned long long)dmvf_filter_max_records(f));
        dmvf_audit_counts c = {n_in, 0, n_dropped, 0};
        rc = dmvf__cli_acct_notify(ac, f, &c.notices);
        if (!rc)
            rc = dmvf__cli_acct_event(ac, f, DMVF_AUDIT_RELEASE, &c, seq, NULL,
                                      "refused: more than the record limit; nothing released");
        if (rc) {
            dmvf__cli_sink_abort(&sink);
            dmvf_filter_free(f);
            return rc;
        }
        report_refusal("", f, err.msg[0] ? err.msg : why);
        rc = dmvf__cli_sink_rewind(&sink);
        if (!rc)
            rc = dmvf__cli_sink_commit(&sink);
        else
            dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc ? rc : DMVF_EXIT_REFUSED;
    }
    if (st != DMVF_OK) {
        report_stream_error(src, "malformed record", "record", &err);
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return dmvf__cli_exit_for(st);
    }
    dmvf_trailer t;
    memset(&t, 0, sizeof t);
    st = dmvf_filter_finish(f, &t);
    if (st != DMVF_OK) {
        dmvf__cli_err("finishing the request failed: %s", dmvf_strerror(st));
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return dmvf__cli_exit_for(st) ? dmvf__cli_exit_for(st) : DMVF_EXIT_SOFTWARE;
    }
    /* notices and the release entry are on disk before the output is */
    dmvf_audit_counts c = {n_in, n_out, n_dropped, 0};
    rc = dmvf__cli_acct_notify(ac, f, &c.notices);
    if (!rc)
        rc = dmvf__cli_acct_release(ac, f, &c, seq);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    rc = dmvf__cli_sink_commit(&sink);
    if (rc) {
        dmvf_filter_free(f);
        return rc;
    }
    if (!cfg->quiet) {
        char rule[300], drop[64] = "";
        rule_text(f, rule, sizeof rule);
        if (n_dropped)
            snprintf(drop, sizeof drop, "; %llu malformed dropped", (unsigned long long)n_dropped);
        dmvf__cli_err("released %llu of %llu records (%s, policy %.8s)%s",
                      (unsigned long long)n_out, (unsigned long long)n_in, rule,
                      dmvf_policy_id(pol), drop);
    }
    dmvf_filter_free(f);
    return DMVF_EXIT_RELEASED;
}

/* ---- framed format ---- */

typedef struct framed_ctx {
    int quiet;
    dmvf_cli_acct *ac;
    uint64_t seq;               /* the open request's audit entry */
    int rc;                     /* the exit code of a failed audit step */
} framed_ctx;

/* The audit hook: the request entry before any of its output, notices and
 * the release entry before its trailer. */
static int framed_audit(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    framed_ctx *ctx = ud;
    if (!t) {
        ctx->rc = dmvf__cli_acct_request(ctx->ac, f, &ctx->seq);
        return ctx->rc;
    }
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
    uint64_t max = dmvf_filter_max_records(f);
    int released = dmvf_filter_decision(f) == DMVF_DECISION_RELEASE && !(max && c.records_in > max);
    if (!released)
        c.records_out = 0;
    ctx->rc = dmvf__cli_acct_notify(ctx->ac, f, &c.notices);
    if (!ctx->rc && released)
        ctx->rc = dmvf__cli_acct_release(ctx->ac, f, &c, ctx->seq);
    else if (!ctx->rc && dmvf_filter_decision(f) == DMVF_DECISION_RELEASE)
        ctx->rc = dmvf__cli_acct_event(ctx->ac, f, DMVF_AUDIT_RELEASE, &c, ctx->seq, NULL,
                                       "refused: more than the record limit; nothing released");
    else if (!ctx->rc && c.notices)
        ctx->rc = dmvf__cli_acct_event(ctx->ac, f, DMVF_AUDIT_RELEASE, &c, ctx->seq, NULL,
                                       "refused: nothing released; subjects notified");
    return ctx->rc;
}

static void framed_done(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    const framed_ctx *ctx = ud;
    char prefix[200];
    const char *id = t && t->request_id && t->request_id[0] ? t->request_id : "(no id)";
    snprintf(prefix, sizeof prefix, "request %s: ", id);
    uint64_t in, out, dropped;
    dmvf_filter_counts(f, &in, &out, &dropped);
    uint64_t max = dmvf_filter_max_records(f);
    if (dmvf_filter_decision(f) != DMVF_DECISION_RELEASE) {
        report_refusal(prefix, f, NULL);
    } else if (max && in > max) {
        char why[120];
        snprintf(why, sizeof why, "%llu records, more than the record limit of %llu",
                 (unsigned long long)in, (unsigned long long)max);
        report_refusal(prefix, f, why);
    } else if (!ctx->quiet) {
        char rule[300], drop[64] = "";
        rule_text(f, rule, sizeof rule);
        if (dropped)
            snprintf(drop, sizeof drop, "; %llu malformed dropped", (unsigned long long)dropped);
        dmvf__cli_err("%sreleased %llu of %llu records (%s)%s", prefix, (unsigned long long)out,
                      (unsigned long long)in, rule, drop);
    }
}

static int run_framed(const filter_cfg *cfg, const dmvf_policy *pol, const dmvf_keyring *kr,
                      dmvf_cli_src *src, dmvf_cli_acct *ac)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_filter_options fo = {.max_record_bytes = cfg->max_record_bytes, .drop_malformed = cfg->drop_malformed,
                              .as_of = cfg->as_of};
    dmvf__cli_acct_options(ac, &fo);
    if (ac->notices)
        fo.collect_subjects = 1;    /* requests of rules with notify_subject */
    dmvf_framed *fr = dmvf_framed_create(pol, kr, &fo, &err);
    if (!fr) {
        dmvf__cli_err("framed stream: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
    }
    framed_ctx ctx = {cfg->quiet, ac, 0, 0};
    dmvf_framed_set_callback(fr, framed_done, &ctx);
    if (ac->audit || ac->notices)
        dmvf_framed_set_audit(fr, framed_audit, &ctx);
    if (cfg->max_request_frames)
        dmvf_framed_set_max_request_frames(fr, cfg->max_request_frames);
    dmvf_cli_sink sink;
    int rc = dmvf__cli_sink_open(&sink, cfg->out, cfg->gzip);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_framed_free(fr);
        return rc;
    }
    int st;
    size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
    rc = pump(fr, stream_framed, count_framed, src, &sink, NULL, maxrec, cfg->quiet, &st, &err);
    if (!rc && st != DMVF_OK && ctx.rc) {
        rc = ctx.rc;    /* an audit step failed; its message is printed */
    } else if (!rc && st != DMVF_OK) {
        report_stream_error(src, "malformed frame", "frame", &err);
        rc = dmvf__cli_exit_for(st);
        if (rc == DMVF_EXIT_RELEASED || rc == DMVF_EXIT_REFUSED)
            rc = DMVF_EXIT_SOFTWARE;
    }
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_framed_free(fr);
        return rc;
    }
    rc = dmvf__cli_sink_commit(&sink);
    dmvf_framed_stats s;
    dmvf_framed_stats_get(fr, &s);
    dmvf_framed_free(fr);
    if (rc)
        return rc;
    if (!cfg->quiet)
        dmvf__cli_err("%llu requests: %llu released, %llu refused, %llu held for review; "
                      "released %llu of %llu records (policy %.8s)",
                      (unsigned long long)s.requests, (unsigned long long)s.released,
                      (unsigned long long)s.refused, (unsigned long long)s.reviewed,
                      (unsigned long long)s.records_out, (unsigned long long)s.records_in,
                      dmvf_policy_id(pol));
    if (s.refused)
        return DMVF_EXIT_REFUSED;
    if (s.reviewed)
        return DMVF_EXIT_REVIEW;
    return DMVF_EXIT_RELEASED;
}

/* ---- the command ---- */

/* A positive decimal count. 0, or -1 when s is not one. */
static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

int dmvf__cli_cmd_filter(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv)) {
        fputs(dmvf__cli_filter_help, stdout);
        return dmvf__cli_flush_stdout();
    }
    filter_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    dmvf_cli_request rq;
    int rc = dmvf__cli_request_init(&rq, argc);
    if (rc)
        return rc;
    dmvf_cli_args a;
    dmvf__cli_args_init(&a, argc, argv, "filter", filter_usage);
    for (a.i = 0; a.i < argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dmvf__cli_is_positional(&a)) {
            dmvf__cli_usage_error(&a, "unexpected argument '%s'", argv[a.i]);
        } else if (dmvf__cli_value(&a, "--policy", &v)) {
            cfg.policy = v;
        } else if (dmvf__cli_value(&a, "--keyring", &v)) {
            cfg.keyring = v;
        } else if (dmvf__cli_value(&a, "--passphrase-file", &v)) {
            cfg.passfile = v;
        } else if (dmvf__cli_value(&a, "--in", &v)) {
            cfg.in = v;
        } else if (dmvf__cli_value(&a, "--out", &v)) {
            cfg.out = v;
        } else if (dmvf__cli_value(&a, "--format", &v)) {
            if (v && strcmp(v, "framed") == 0)
                cfg.framed = 1;
            else if (v && strcmp(v, "records") == 0)
                cfg.framed = 0;
            else if (v)
                dmvf__cli_usage_error(&a, "--format '%s': records or framed expected", v);
        } else if (dmvf__cli_switch(&a, "--gzip")) {
            cfg.gzip = 1;
        } else if (dmvf__cli_value(&a, "--max-record-bytes", &v)) {
            if (v && dmvf__cli_parse_size(v, &cfg.max_record_bytes) != 0)
                dmvf__cli_usage_error(&a, "--max-record-bytes '%s': a positive size expected "
                                      "(e.g. 65536, 64K, 16M)", v);
        } else if (dmvf__cli_value(&a, "--max-inflate", &v)) {
            size_t n;
            if (v && dmvf__cli_parse_size(v, &n) != 0)
                dmvf__cli_usage_error(&a, "--max-inflate '%s': a positive size expected "
                                      "(e.g. 1048576, 512M, 4G)", v);
            else if (v)
                cfg.max_inflate = n;
        } else if (dmvf__cli_value(&a, "--max-request-frames", &v)) {
            if (v && parse_count(v, &cfg.max_request_frames) != 0)
                dmvf__cli_usage_error(&a, "--max-request-frames '%s': a positive number "
                                      "of frames expected", v);
        } else if (dmvf__cli_switch(&a, "--drop-malformed")) {
            cfg.drop_malformed = 1;
        } else if (dmvf__cli_value(&a, "--threads", &v)) {
            char *end = NULL;
            long n = v && v[0] >= '0' && v[0] <= '9' ? strtol(v, &end, 10) : -1;
            if (v && (n < 1 || n > DMVF_CLI_MAX_THREADS || *end != '\0'))
                dmvf__cli_usage_error(&a, "--threads '%s': a number of threads 1..%d expected", v,
                                      DMVF_CLI_MAX_THREADS);
            else if (v)
                cfg.threads = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--audit", &v)) {
            cfg.acct.audit_dir = v;
        } else if (dmvf__cli_switch(&a, "--audit-subjects")) {
            cfg.acct.audit_subjects = 1;
        } else if (dmvf__cli_value(&a, "--notices", &v)) {
            cfg.acct.notices = v;
        } else if (dmvf__cli_value(&a, "--review-spool", &v)) {
            cfg.acct.review_spool = v;
        } else if (dmvf__cli_value(&a, "--review-public-key", &v)) {
            cfg.acct.review_pub = v;
        } else if (dmvf__cli_switch(&a, "--quiet") || dmvf__cli_switch(&a, "-q")) {
            cfg.quiet = 1;
        } else if (dmvf__cli_request_flag(&a, &rq)) {
            /* consumed */
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", argv[a.i]);
        }
    }
    if (!a.bad) {
        if (!cfg.policy)
            dmvf__cli_usage_error(&a, "--policy is required");
        else if (!cfg.keyring)
            dmvf__cli_usage_error(&a, "--keyring is required");
        else if (cfg.framed && rq.any)
            dmvf__cli_usage_error(&a, "request flags are not used with --format framed: "
                                  "the stream carries its requests");
        else if (!cfg.framed && cfg.max_request_frames)
            dmvf__cli_usage_error(&a, "--max-request-frames is used with --format framed only");
        else if (!cfg.framed && !rq.have_ori)
            dmvf__cli_usage_error(&a, "--ori is required");
    }
    cfg.as_of = rq.as_of;
    if (a.bad) {
        dmvf__cli_request_free(&rq);
        return DMVF_EXIT_USAGE;
    }

    dmvf_policy *pol = dmvf__cli_policy_load(cfg.policy, &rc);
    if (!pol) {
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_keyring *kr = dmvf__cli_keyring_load(cfg.keyring, cfg.passfile, &rc);
    if (!kr) {
        dmvf_policy_free(pol);
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_cli_acct ac;
    rc = dmvf__cli_acct_open(&ac, &cfg.acct, pol, kr);
    if (rc) {
        dmvf_keyring_free(kr);
        dmvf_policy_free(pol);
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_cli_src src;
    rc = dmvf__cli_src_open(&src, cfg.in);
    src.max_inflate = cfg.max_inflate;
    if (!rc)
        rc = cfg.framed ? run_framed(&cfg, pol, kr, &src, &ac) : run_records(&cfg, pol, kr, &rq.req, &src, &ac);
    dmvf__cli_src_close(&src);
    int crc = dmvf__cli_acct_close(&ac);
    if (!rc || rc == DMVF_EXIT_REFUSED || rc == DMVF_EXIT_REVIEW)
        rc = crc ? crc : rc;
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    dmvf__cli_request_free(&rq);
    return rc;
}
