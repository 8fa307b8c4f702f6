/*
 * release.c - one Release call, judged as `dmvfilter filter --format
 * framed` judges one request (filter/cli/filter_framed.c):
 *
 *   client check   the request's ORI must be one the client may speak for
 *                  (else permission_denied: a REQUEST entry, decision deny,
 *                  naming the client; nothing released)
 *   framed         a framed stream of this one request (decode.h) through
 *                  dmvf_framed with the audit hook (account.c): directory
 *                  precheck, decision, REQUEST entry, rewrite, notices,
 *                  RELEASE entry, then the signed trailer
 *   reply          only when every step succeeded: its records and trailer
 *                  (reply.c); any failure replies an error and releases
 *                  nothing; either only once the call's entries are
 *                  durable (dmvf__racct_settle: a REQUEST entry no later
 *                  entry covered)
 *
 * A refusal is a 200 whose trailer says so; in the not-found form it is a
 * genuine miss's bytes exactly, as the framed format makes it.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/core/reqmap.h"
#include "filter/serve/serve_int.h"

static int code_for(int st)
{
    switch (st) {
    case DMVF_EMALFORMED:
    case DMVF_ENOSUBJECT:
    case DMVF_EINVAL:
        return DMVF__C_INVALID_ARGUMENT;
    case DMVF_ETOOBIG:
    case DMVF_ENOMEM:
        return DMVF__C_RESOURCE_EXHAUSTED;
    default:
        return DMVF__C_INTERNAL;
    }
}

/* The client may ask for the request's ORI; else the refusal is audited. */
static int client_may(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__racct *ra, dmvf__reply *r)
{
    const char *ori = d->req->ori ? d->req->ori : "";
    if (dmvf_policy_client_may_speak_for(c->client, ori))
        return 1;
    char note[200];
    snprintf(note, sizeof note, "permission denied: client '%s' may not ask for ORI '%.16s'; nothing released",
             c->client->name, ori);
    dmvf_request req;
    dmvf__request_from_pb(d->req, &req);
    dmvf_filter_options fo;
    memset(&fo, 0, sizeof fo);
    fo.as_of = c->cfg->as_of;
    fo.client = c->client->name;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_filter *f = dmvf_filter_create(c->sn->pol, c->sn->kr, &req, &fo, &err);
    int rc = f ? dmvf__racct_refused(ra, f, note) : 0;
    dmvf_filter_free(f);
    r->decision = DMVF_DECISION_DENY;
    snprintf(r->rule, sizeof r->rule, "(client)");
    if (rc)
        dmvf__racct_reply(ra, r);
    else
        dmvf__reply_error(r, DMVF__C_PERMISSION_DENIED, "client '%s' may not ask for ORI '%.16s'",
                          c->client->name, ori);
    return 0;
}

/* Runs the framed stream in[0..n) into *out (grown). */
static int run_framed(dmvf_framed *fr, const uint8_t *in, size_t n, uint8_t **out, size_t *len, dmvf_error *err)
{
    size_t cap = 4096 + n + n / 2;
    uint8_t *o = malloc(cap);
    if (!o)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    dmvf_in_buffer ib = {in, n, 0};
    dmvf_out_buffer ob = {o, cap, 0};
    int st;
    while ((st = dmvf_framed_stream(fr, &ob, &ib, 1, err)) == DMVF_ESPACE) {
        uint8_t *g = cap < SIZE_MAX / 2 ? realloc(o, cap * 2) : NULL;
        if (!g) {
            free(o);
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
        }
        o = g;
        cap *= 2;
        ob.dst = o;
        ob.size = cap;
    }
    if (st != DMVF_OK) {
        free(o);
        return st;
    }
    *out = o;
    *len = ob.pos;
    return DMVF_OK;
}

/* The request's decision, rule and counts, for metrics and the log. */
static void note_verdict(const dmvf_filter *f, dmvf__reply *r)
{
    r->decision = dmvf_filter_decision(f);
    const char *rule = dmvf_filter_rule(f);
    snprintf(r->rule, sizeof r->rule, "%s", rule && *rule ? rule : "(none)");
    uint64_t dropped;
    dmvf_filter_counts(f, &r->records_in, &r->records_out, &dropped);
}

static void on_done(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    dmvf__reply *r = ud;
    note_verdict(f, r);
    if (r->decision != DMVF_DECISION_RELEASE)
        r->records_out = 0;
}

/* The call, judged and accounted into r. */
static void release(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__racct *ra, dmvf__reply *r)
{
    if (!client_may(c, d, ra, r))
        return;
    dmvf_filter_options fo;
    memset(&fo, 0, sizeof fo);
    fo.max_record_bytes = c->cfg->lim.max_record_bytes;
    fo.as_of = c->cfg->as_of;
    fo.hold_for_review = 1;
    fo.client = c->client->name;
    fo.count_fields = c->acct->audit != NULL;
    fo.collect_subjects = (c->acct->audit && c->acct->subjects) || c->sn->where.notices;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_framed *fr = dmvf_framed_create(c->sn->pol, c->sn->kr, &fo, &err);
    if (!fr) {
        dmvf__reply_error(r, code_for(err.code), "%s", err.msg);
        return;
    }
    ra->r.fr = fr;
    dmvf_framed_set_audit(fr, dmvf__racct_hook, ra);
    dmvf_framed_set_callback(fr, on_done, r);
    dmvf_framed_set_max_request_frames(fr, c->cfg->lim.max_records);
    dmvf_framed_set_seal(fr, 0); /* the reply is records and the signed trailer */
    uint8_t *out = NULL;
    size_t len = 0;
    int st = run_framed(fr, d->framed, d->framed_len, &out, &len, &err);
    if (st != DMVF_OK) {
        const dmvf_filter *open = dmvf_framed_open_request(fr);
        if (open)
            note_verdict(open, r);
        if (ra->failed) {
            dmvf__racct_reply(ra, r);
        } else {
            if (st == DMVF_ENOSUBJECT && open) {
                uint64_t in, o, dr;
                dmvf_filter_counts(open, &in, &o, &dr);
                if (dmvf__racct_no_subject(ra, open, in)) {
                    dmvf__racct_reply(ra, r);
                    dmvf_framed_free(fr);
                    return;
                }
            }
            /* a frame index counts the request frame: records are one less */
            uint64_t rec = err.record != UINT64_MAX && err.record > 0 ? err.record - 1 : 0;
            dmvf__reply_error(r, code_for(st), "record %llu: %s; nothing released", (unsigned long long)rec,
                              err.msg[0] ? err.msg : dmvf_strerror(st));
        }
        dmvf_framed_free(fr);
        return;
    }
    dmvf_framed_free(fr);
    dmvf__reply_release(r, c->json, out, len);
    free(out);
}

void dmvf__serve_release(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__reply *r)
{
    dmvf__racct ra;
    dmvf__racct_init(&ra, c->acct, c->sn);
    release(c, d, &ra, r);
    dmvf__racct_settle(&ra, r);
}

void dmvf__serve_explain(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__reply *r)
{
    const char *ori = d->req->ori ? d->req->ori : "";
    if (!dmvf_policy_client_may_speak_for(c->client, ori)) {
        dmvf__reply_error(r, DMVF__C_PERMISSION_DENIED, "client '%s' may not ask for ORI '%.16s'", c->client->name,
                          ori);
        return;
    }
    dmvf_request req;
    dmvf__request_from_pb(d->req, &req);
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    if (!m) {
        dmvf__reply_error(r, DMVF__C_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int st = dmvf_policy_explain_as_of(c->sn->pol, &req, c->cfg->as_of, m);
    fclose(m);
    if (st != DMVF_OK)
        dmvf__reply_error(r, DMVF__C_INTERNAL, "explain: %s", dmvf_strerror(st));
    else
        dmvf__reply_explain(r, c->json, text, n);
    free(text);
}
