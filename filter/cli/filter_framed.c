/*
 * filter_framed.c - `dmvfilter filter --format framed`: a stream of
 * requests, each decided, rewritten and accounted for in turn.
 *
 * Per request (the audit hook, dmvf_framed_set_audit, and the callback):
 *
 *   request frame   decided; audit REQUEST entry
 *   record frames   rewritten into the sink (its spool, or the file written
 *                   aside); held for review: kept apart by the library
 *   its end         notices queued; audit RELEASE entry (refused: an entry
 *                   when it notified subjects or passed its record limit;
 *                   held: sealed into the review spool, REVIEW_HOLD entry)
 *   trailer frame   made by the library only after that; once it is whole
 *                   in the output the request's bytes may leave (pump.c)
 *
 * A failure stops the stream: the request that failed and everything after
 * it never leave; stdout, a pipe or a FIFO has received the requests before
 * it whole, each with its signed trailer (no seal: the release is
 * incomplete), a named file nothing at all.
 */
#include <string.h>
#include "filter/cli/cli.h"

typedef struct framed_ctx {
    int quiet;
    dmvf_cli_acct *ac;
    dmvf__reqacct ra;           /* the open request's accounting */
    uint64_t accounted;         /* requests the hook has seen to their end */
    int rc;                     /* the exit code of a failed audit step */
} framed_ctx;

/* The audit hook (dmvf__reqacct_hook): the request entry before any of its
 * output; at its end, before its trailer, its notices, then its RELEASE
 * entry (or, refused, an entry when it notified subjects or passed its
 * record limit; held for review, its would-be release sealed into the
 * review spool and the REVIEW_HOLD entry). Its bytes leave only after its
 * trailer (frame_cut). */
static int framed_audit(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    framed_ctx *ctx = ud;
    ctx->rc = dmvf__reqacct_hook(&ctx->ra, f, t) ? dmvf__cli_acct_failed(ctx->ac, &ctx->ra) : 0;
    if (!ctx->rc && t)
        ctx->accounted++;
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
    dmvf_decision d = dmvf_filter_decision(f);
    if (d == DMVF_DECISION_RELEASE) {
        if (!ctx->quiet) {
            char rule[300], drop[64] = "";
            dmvf__cli_rule_text(f, rule, sizeof rule);
            if (dropped)
                snprintf(drop, sizeof drop, "; %llu malformed dropped", (unsigned long long)dropped);
            dmvf__cli_err("%sreleased %llu of %llu records (%s)%s", prefix, (unsigned long long)out,
                          (unsigned long long)in, rule, drop);
        }
        return;
    }
    if (d == DMVF_DECISION_REVIEW && ctx->ra.held[0] && !ctx->quiet)
        dmvf__cli_err("%sheld for review as %s (%llu records would be released)", prefix, ctx->ra.held,
                      (unsigned long long)out);
    if (ctx->ra.decision0 == DMVF_DECISION_RELEASE) {
        char why[160];
        snprintf(why, sizeof why, "%llu records%s, more than the record limit of %llu",
                 (unsigned long long)(in - dropped), dropped ? " not dropped" : "",
                 (unsigned long long)dmvf_filter_max_records(f));
        dmvf__cli_report_refusal(prefix, f, why);
    } else {
        dmvf__cli_report_refusal(prefix, f, NULL);
    }
}

/* A framed stream that failed: what left and what did not. */
static void report_framed_failure(const dmvf_cli_sink *sink, const dmvf_cli_frame_cut *fc, uint64_t accounted)
{
    const char *out = sink->path ? sink->path : "<stdout>";
    if (!sink->spool) {
        dmvf__cli_err("output %s: nothing released: it is written only when the whole stream "
                      "succeeds%s", out, accounted ? "; the audit log holds the entries of the "
                      "requests finished before the failure, none of whose bytes left" : "");
    } else if (fc->left) {
        dmvf__cli_err("output %s: %llu requests left whole, each with its signed trailer (%llu "
                      "bytes), before the failure; nothing after them left whole, and there is "
                      "no seal: the release is incomplete", out, (unsigned long long)fc->left,
                      (unsigned long long)fc->left_bytes);
    } else if (sink->sent == 0) {
        dmvf__cli_err("output %s: nothing released", out);
    }
}

int dmvf__cli_run_framed(const dmvf_cli_filter_cfg *cfg, const dmvf_policy *pol, const dmvf_keyring *kr,
                      dmvf_cli_src *src, dmvf_cli_acct *ac)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    /* a request held for review is sealed into the review spool, as in the
       records format (a review rule makes the policy name a spool) */
    dmvf_filter_options fo = {.max_record_bytes = cfg->max_record_bytes, .drop_malformed = cfg->drop_malformed,
                              .as_of = cfg->as_of, .hold_for_review = 1};
    dmvf__cli_acct_options(ac, &fo);
    if (ac->where.notices)
        fo.collect_subjects = 1;    /* requests of rules with notify_subject */
    dmvf_framed *fr = dmvf_framed_create(pol, kr, &fo, &err);
    if (!fr) {
        dmvf__cli_err("framed stream: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
    }
    framed_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.quiet = cfg->quiet;
    ctx.ac = ac;
    dmvf__reqacct_init(&ctx.ra, &ac->where);
    ctx.ra.fr = fr;
    dmvf_framed_set_callback(fr, framed_done, &ctx);
    dmvf_framed_set_audit(fr, framed_audit, &ctx);
    if (cfg->max_request_frames)
        dmvf_framed_set_max_request_frames(fr, cfg->max_request_frames);
    dmvf_cli_sink sink;
    int rc = dmvf__cli_sink_open(&sink, cfg->out, &cfg->cz, cfg->spool_dir);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_framed_free(fr);
        return rc;
    }
    int st;
    size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
    dmvf_cli_frame_cut fc;
    memset(&fc, 0, sizeof fc);
    fc.accounted = &ctx.accounted;
    dmvf_cli_pump_out po = {&sink, NULL, &fc};
    rc = dmvf__cli_pump_framed(fr, src, &po, maxrec, cfg->quiet, &st, &err);
    if (!rc && st != DMVF_OK && ctx.rc) {
        rc = ctx.rc;    /* an audit step failed; its message is printed */
    } else if (!rc && st != DMVF_OK) {
        dmvf__cli_report_stream_error(src, "malformed frame", "frame", &err);
        const dmvf_filter *open = dmvf_framed_open_request(fr);
        if (st == DMVF_ENOSUBJECT && open) {
            uint64_t in, out, dropped;   /* the failing record is not counted */
            dmvf_filter_counts(open, &in, &out, &dropped);
            rc = dmvf__cli_acct_no_subject(ac, open, ctx.ra.seq, in);
        }
        if (!rc)
            rc = dmvf__cli_exit_for(st);
        if (rc == DMVF_EXIT_RELEASED || rc == DMVF_EXIT_REFUSED)
            rc = DMVF_EXIT_SOFTWARE;
    }
    if (rc) {
        report_framed_failure(&sink, &fc, ctx.accounted);
        dmvf__cli_sink_abort(&sink);
        dmvf_framed_free(fr);
        return rc;
    }
    rc = dmvf__cli_sink_commit(&sink);
    dmvf_framed_stats s;
    dmvf_framed_stats_get(fr, &s);
    dmvf_framed_free(fr);
    if (rc) {
        report_framed_failure(&sink, &fc, ctx.accounted);
        return rc;
    }
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

