/*
 * filter.c - one request: the decision, the per-request keys, the record
 * and stream entry points, the trailer.
 *
 * Stream layout (records format):
 *
 *   stream := record*
 *   record := varint(len) DriverRecord[len]      len <= max_record_bytes
 *
 * Output has the same layout with the released records. When the rule
 * limits the number of records, output is held until the end of the
 * stream, so that a request refused for passing the limit releases nothing.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/internal.h"
#include "filter/rewrite.h"
#include "filter/stream.h"
#include "keys/keys.h"

struct dmvf_filter {
    const dmvf_policy *policy;
    const dmvf_keyring *keyring;
    dmvf_verdict v;
    dmvf_plan *restricted;      /* owned when the request named fields */
    const dmvf_plan *plan;
    dmvf_keyctx *kc;
    char *request_id;
    size_t max_record_bytes;
    int drop_malformed;
    int sticky;                 /* error code, 0 if none */
    int limit_refused;
    uint64_t in, out, dropped;
    dmvf__reader rd;
    dmvf__outq oq;
    char reason[256];
};

static char *dupstr(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int node_encrypts(const dmvf_pnode *node)
{
    for (uint32_t i = 0; i <= node->max_number; i++) {
        const dmvf_fplan *fp = &node->f[i];
        if (fp->action == DMVF_ACT_ENCRYPT)
            return 1;
        if (fp->action == DMVF_ACT_DESCEND && node_encrypts(fp->child))
            return 1;
    }
    return 0;
}

dmvf_filter *dmvf_filter_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                const dmvf_request *req, const dmvf_filter_options *opts,
                                dmvf_error *err)
{
    DMVF_REQUIRE(policy != NULL, "policy is NULL");
    DMVF_REQUIRE(req != NULL, "request is NULL");
    dmvf_filter *f = calloc(1, sizeof *f);
    if (!f) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a filter");
        return NULL;
    }
    f->policy = policy;
    f->keyring = keyring;
    dmvf__keyring_acquire(keyring); /* released by dmvf_filter_free */
    dmvf__policy_acquire(policy);
    f->max_record_bytes = opts && opts->max_record_bytes ? opts->max_record_bytes
                                                         : DMVF_DEFAULT_MAX_RECORD_BYTES;
    f->drop_malformed = opts ? opts->drop_malformed : 0;
    f->request_id = dupstr(req->request_id);
    if (!f->request_id)
        goto nomem;
    dmvf__policy_decide(policy, req, &f->v);
    dmvf__escape_copy(f->reason, sizeof f->reason, f->v.reason);

    if (f->v.decision == DMVF_DECISION_RELEASE) {
        f->plan = f->v.plan;
        if (req->nfields) {
            f->restricted = dmvf__plan_restrict(f->v.plan, req->fields, req->nfields, err);
            if (!f->restricted) {
                dmvf_filter_free(f);
                return NULL;
            }
            f->plan = f->restricted;
        }
        if (f->plan->npseudo || node_encrypts(f->plan->root)) {
            if (!keyring) {
                dmvf__seterr(err, DMVF_EKEYRING,
                             "rule '%s' pseudonymizes or encrypts: a keyring is required",
                             f->v.rule_name ? f->v.rule_name : "?");
                dmvf_filter_free(f);
                return NULL;
            }
            f->kc = dmvf__keyctx_create(keyring, req->ori ? req->ori : "",
                                        f->plan->pseudo_paths, f->plan->npseudo);
            if (!f->kc)
                goto nomem;
        }
    }
    dmvf__reader_init(&f->rd, f->max_record_bytes);
    dmvf__outq_init(&f->oq);
    f->oq.hold = f->v.max_records > 0;
    return f;
nomem:
    dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a filter");
    dmvf_filter_free(f);
    return NULL;
}

void dmvf_filter_free(dmvf_filter *f)
{
    if (!f)
        return;
    dmvf__keyctx_free(f->kc);
    dmvf__plan_free(f->restricted);
    dmvf__reader_free(&f->rd);
    dmvf__outq_free(&f->oq);
    free(f->request_id);
    dmvf__keyring_release(f->keyring);
    dmvf__policy_release(f->policy);
    free(f);
}

dmvf_decision dmvf_filter_decision(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.decision;
}

dmvf_refusal dmvf_filter_refusal(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.refusal;
}

const char *dmvf_filter_rule(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.rule_name;
}

const char *dmvf_filter_reason(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->reason;
}

uint64_t dmvf_filter_max_records(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.max_records;
}

int dmvf_filter_notify_subject(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.notify_subject;
}

/* Passing the record limit turns the request into a refusal. */
static int refuse_for_limit(dmvf_filter *f, dmvf_error *err)
{
    if (!f->limit_refused) {
        f->limit_refused = 1;
        f->v.decision = DMVF_DECISION_DENY;
        snprintf(f->reason, sizeof f->reason,
                 "rule '%s': more than max_records %llu records for one request",
                 f->v.rule_name ? f->v.rule_name : "?", (unsigned long long)f->v.max_records);
        dmvf__outq_discard(&f->oq);
    }
    return dmvf__seterr(err, DMVF_EREFUSED, "%s", f->reason);
}

int dmvf_filter_record(dmvf_filter *f, const void *in, size_t in_len,
                       void *out, size_t cap, size_t *out_len, int *dropped,
                       dmvf_error *err)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    DMVF_REQUIRE(out_len != NULL, "out_len is NULL");
    DMVF_REQUIRE(in != NULL || in_len == 0, "input is NULL");
    *out_len = 0;
    if (dropped)
        *dropped = 0;
    if (f->sticky)
        return dmvf__seterr(err, DMVF_ESTATE, "filter is in an error state (%s): reset it",
                            dmvf_strerror(f->sticky));
    if (f->v.decision != DMVF_DECISION_RELEASE)
        return dmvf__seterr(err, DMVF_EREFUSED, "request not released: %s", f->reason);
    if (f->v.max_records && f->in - f->dropped >= f->v.max_records) {
        f->in++; /* the record that passes the limit was received too */
        return refuse_for_limit(f, err);
    }
    if (in_len > f->max_record_bytes) {
        dmvf__seterr(err, DMVF_ETOOBIG, "record of %zu bytes exceeds the limit of %zu bytes",
                     in_len, f->max_record_bytes);
        if (err)
            err->record = f->in;
        return f->sticky = DMVF_ETOOBIG;
    }
    int rc = dmvf__rewrite(f->plan, f->kc, in, in_len, out, cap, out_len, err);
    if (rc == DMVF_ESPACE)
        return rc;
    if (rc) {
        if (err)
            err->record = f->in;
        if (f->drop_malformed && rc == DMVF_EMALFORMED) {
            f->in++;
            f->dropped++;
            if (dropped)
                *dropped = 1;
            return DMVF_OK;
        }
        return f->sticky = rc;
    }
    f->in++;
    f->out++;
    return DMVF_OK;
}

int dmvf_filter_stream(dmvf_filter *f, dmvf_out_buffer *out, dmvf_in_buffer *in,
                       int end, dmvf_error *err)
{
    DMVF_REQUIRE(f != NULL && out != NULL && in != NULL, "NULL argument");
    if (f->sticky)
        return dmvf__seterr(err, DMVF_ESTATE, "filter is in an error state (%s): reset it",
                            dmvf_strerror(f->sticky));
    if (f->v.decision != DMVF_DECISION_RELEASE)
        return dmvf__seterr(err, DMVF_EREFUSED, "request not released: %s", f->reason);
    for (;;) {
        if (dmvf__outq_flush(&f->oq, out))
            return DMVF_ESPACE;
        const uint8_t *rec;
        size_t len;
        uint64_t at;
        int rc = dmvf__reader_next(&f->rd, in, end, &rec, &len, &at, err);
        if (rc < 0) {
            if (err)
                err->record = f->in;
            return f->sticky = err ? err->code : DMVF_EMALFORMED;
        }
        if (rc == 0)
            break; /* need more input, or the end */
        for (;;) {
            uint8_t *dst;
            size_t room;
            dmvf__outq_reserve(&f->oq, len, &dst, &room);
            size_t olen = 0;
            int dropped = 0;
            if (!dst)
                return f->sticky = dmvf__seterr(err, DMVF_ENOMEM, "out of memory for output");
            rc = dmvf_filter_record(f, rec, len, dst, room, &olen, &dropped, err);
            if (rc == DMVF_ESPACE) {
                if (dmvf__outq_grow(&f->oq))
                    return f->sticky = dmvf__seterr(err, DMVF_ENOMEM, "out of memory for output");
                continue;
            }
            if (rc) {
                if (err && rc != DMVF_EREFUSED)
                    err->offset += at + dmvf__varint_size(len); /* into the stream */
                return rc;
            }
            if (!dropped)
                dmvf__outq_commit(&f->oq, olen);
            break;
        }
    }
    if (end) {
        f->oq.hold = 0;
        if (dmvf__outq_flush(&f->oq, out))
            return DMVF_ESPACE;
    }
    return DMVF_OK;
}

int dmvf_filter_finish(dmvf_filter *f, dmvf_trailer *t)
{
    DMVF_REQUIRE(f != NULL && t != NULL, "NULL argument");
    memset(t, 0, sizeof *t);
    if (f->sticky)
        return DMVF_ESTATE;
    t->request_id = f->request_id;
    t->policy_id = dmvf_policy_id(f->policy);
    t->key_epoch = f->keyring ? dmvf_keyring_epoch(f->keyring) : 0;
    if (f->v.decision == DMVF_DECISION_RELEASE) {
        t->decision = DMVF_DECISION_RELEASE;
        t->records_in = f->in;
        t->records_out = f->out;
        t->records_dropped = f->dropped;
    } else if (f->v.decision == DMVF_DECISION_DENY && f->v.refusal == DMVF_REFUSAL_NOT_FOUND) {
        t->decision = DMVF_DECISION_RELEASE; /* exactly what a genuine miss reports */
    } else {
        t->decision = f->v.decision;
    }
    return DMVF_OK;
}

void dmvf_filter_counts(const dmvf_filter *f, uint64_t *in, uint64_t *out, uint64_t *dropped)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    if (in) *in = f->in;
    if (out) *out = f->limit_refused ? 0 : f->out;
    if (dropped) *dropped = f->dropped;
}

void dmvf_filter_reset(dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    f->sticky = 0;
    f->in = f->out = f->dropped = 0;
    if (f->limit_refused) {
        f->limit_refused = 0;
        f->v.decision = DMVF_DECISION_RELEASE;
        dmvf__escape_copy(f->reason, sizeof f->reason, f->v.reason);
    }
    dmvf__reader_reset(&f->rd);
    dmvf__outq_discard(&f->oq);
    f->oq.hold = f->v.max_records > 0;
}

/* For the framed processor: count a record of a refused request. */
void dmvf__filter_count_refused(dmvf_filter *f)
{
    f->in++;
}

const char *dmvf__filter_request_id(const dmvf_filter *f)
{
    return f->request_id;
}
