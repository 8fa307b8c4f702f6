/*
 * filter.c - one request: the decision, the per-request keys, the record
 * and stream entry points, the trailer.
 *
 * Stream layout (records format):
 *
 *   stream := record*
 *   record := varint(len) DriverRecord[len]      len <= dmvf_stream_record_limit
 *
 * The record-size limit (max_record_bytes) judges what the record's twin
 * would be judged on: for a plan without marking: release, the size the
 * record has without its M and C fields (wire/measure.h); the whole size
 * for the DMV's internal plan. It costs nothing for a record no longer
 * than the limit. The stream reader holds at most dmvf_stream_record_limit
 * bytes of one record, far above any real record (filter.h).
 *
 * Output has the same layout with the released records. When the rule
 * limits the number of records, output is held until the end of the
 * stream, so that a request refused for passing the limit releases nothing.
 *
 * How records are handled (mode, fixed at create, changed only by the
 * record limit and restored by dmvf_filter_reset):
 *
 *   REWRITE  a release, or a REVIEW held with options.hold_for_review
 *            whose rule has a profile: records are rewritten with the plan
 *   COLLECT  not released, with options.collect_subjects (or a REVIEW held
 *            whose rule has no profile: an empty held release): records are
 *            checked as a release would check them, their record_ids kept,
 *            nothing is written
 *   REFUSE   not released: DMVF_EREFUSED
 *
 * The audit's field counts and subjects (count.h) cost one flag test per
 * record when neither option is set.
 *
 * A rewritten record is judged in this order: its size, the rewrite (a
 * malformed record fails or, with drop_malformed, is dropped), its subject
 * (under notify_subject a record without a record_id fails the request:
 * DMVF_ENOSUBJECT), then the record limit, which counts released records
 * only: a dropped record never makes a request pass its limit.
 */
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"
#include "filter/wire/count.h"
#include "filter/wire/measure.h"
#include "filter/wire/rewrite.h"
#include "filter/release/stream_int.h"
#include "keys/keys.h"
#include "filter/release/filter_int.h"

enum { MODE_REWRITE = 1, MODE_COLLECT, MODE_REFUSE };

struct dmvf_filter {
    const dmvf_policy *policy;
    const dmvf_keyring *keyring;
    dmvf_verdict v;
    dmvf_decision decision0;    /* the decision at create (the limit may change v's) */
    dmvf_plan *restricted;      /* owned when the request named fields */
    const dmvf_plan *plan;      /* set in REWRITE mode */
    dmvf_keyctx *kc;
    dmvf_request recv;          /* the request as received, a copy: its strings live in reqbuf */
    dmvf_request req;           /* as the DMV records it: recv with the directory's identity */
    void *reqbuf;
    uint32_t as_of;             /* options.as_of */
    const char *client;         /* options.client (borrowed) */
    const char *request_id;     /* req.request_id, or "" */
    size_t max_record_bytes;
    int drop_malformed;
    int mode, mode0;            /* MODE_*: now, and at create */
    int acct_on;                /* count_fields or collect_subjects */
    int sticky;                 /* error code, 0 if none */
    dmvf_error first;           /* and its error (common.h: sticky errors) */
    int limit_refused;
    uint64_t in, out, dropped;
    dmvf__reader rd;
    dmvf__outq oq;
    dmvf__acct acct;
    char reason[256];
};

/* Bytes a string takes in the copy (0 for NULL). */
static size_t str_need(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *str_put(char **cur, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *cur;
    memcpy(d, s, n);
    *cur += n;
    return d;
}

/* One allocation: the tag and field pointer arrays, then every string.
 * NULL strings stay NULL; NULL tags and fields are left out (nothing could
 * record them). */
static int copy_request(dmvf_filter *f, const dmvf_request *q)
{
    size_t nt = q->tags ? q->ntags : 0, nf = q->fields ? q->nfields : 0;
    size_t bytes = (nt + nf) * sizeof(char *);
    bytes += str_need(q->request_id) + str_need(q->ori) + str_need(q->agency_name) +
             str_need(q->jurisdiction) + str_need(q->operator_id) + str_need(q->legal_reference) +
             str_need(q->channel);
    for (size_t i = 0; i < nt; i++)
        bytes += str_need(q->tags[i]);
    for (size_t i = 0; i < nf; i++)
        bytes += str_need(q->fields[i]);
    char *blk = malloc(bytes ? bytes : 1);
    if (!blk)
        return -1;
    f->reqbuf = blk;
    const char **tags = (const char **)(void *)blk;
    const char **fields = tags + nt;
    char *cur = blk + (nt + nf) * sizeof(char *);
    dmvf_request *c = &f->recv;
    *c = *q;
    c->request_id = str_put(&cur, q->request_id);
    c->ori = str_put(&cur, q->ori);
    c->agency_name = str_put(&cur, q->agency_name);
    c->jurisdiction = str_put(&cur, q->jurisdiction);
    c->operator_id = str_put(&cur, q->operator_id);
    c->legal_reference = str_put(&cur, q->legal_reference);
    c->channel = str_put(&cur, q->channel);
    size_t kt = 0, kf = 0;
    for (size_t i = 0; i < nt; i++)
        if (q->tags[i])
            tags[kt++] = str_put(&cur, q->tags[i]);
    for (size_t i = 0; i < nf; i++)
        if (q->fields[i])
            fields[kf++] = str_put(&cur, q->fields[i]);
    c->tags = kt ? tags : NULL;
    c->ntags = kt;
    c->fields = kf ? fields : NULL;
    c->nfields = kf;
    f->request_id = c->request_id ? c->request_id : "";
    return 0;
}

/* The request as the DMV records it: as received, its requester named as
 * the directory names it (none of it when no entry identified it), dated
 * the day it was judged on. */
static void recorded_request(dmvf_filter *f)
{
    const dmvf_requester *w = f->v.who;
    f->req = f->recv;
    f->req.agency_name = w ? w->name : NULL;
    f->req.agency_kind = w ? w->kind : DMVF_AGENCY_UNSPECIFIED;
    f->req.jurisdiction = w ? w->jurisdiction : NULL;
    f->req.tags = w && w->ntags ? w->tags : NULL;
    f->req.ntags = w ? w->ntags : 0;
    f->req.date = f->v.judged;
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
    dmvf__reader_init(&f->rd, 0);
    dmvf__outq_init(&f->oq);
    f->max_record_bytes = opts && opts->max_record_bytes ? opts->max_record_bytes
                                                         : DMVF_DEFAULT_MAX_RECORD_BYTES;
    f->drop_malformed = opts ? opts->drop_malformed : 0;
    int count_fields = opts && opts->count_fields;
    int collect = opts && opts->collect_subjects;
    int hold = opts && opts->hold_for_review;
    f->acct_on = count_fields || collect;
    f->as_of = opts ? opts->as_of : 0;
    f->client = opts ? opts->client : NULL;
    if (f->as_of && !dmvf__date_valid(f->as_of)) {
        dmvf__seterr(err, DMVF_EINVAL, "options.as_of %u is not a date (YYYYMMDD)", (unsigned)f->as_of);
        dmvf_filter_free(f);
        return NULL;
    }
    if (copy_request(f, req) != 0 || dmvf__acct_init(&f->acct, count_fields, collect) != 0)
        goto nomem;
    /* the one check of the request's attributes (dmvf_request_validate) is
     * the first step of the decision: a bad request is denied, not failed */
    dmvf__policy_decide(policy, req, f->as_of, &f->v);
    recorded_request(f);
    f->decision0 = f->v.decision;
    dmvf__escape_copy(f->reason, sizeof f->reason, f->v.reason);

    const dmvf_plan *plan = NULL;
    if (f->v.decision == DMVF_DECISION_RELEASE) {
        plan = f->v.plan;
        f->mode = MODE_REWRITE;
    } else if (f->v.decision == DMVF_DECISION_REVIEW && hold) {
        plan = f->v.plan; /* NULL when the rule has no profile: an empty held release */
        f->mode = plan ? MODE_REWRITE : MODE_COLLECT;
    } else {
        f->mode = collect ? MODE_COLLECT : MODE_REFUSE;
    }
    f->mode0 = f->mode;
    if (plan) {
        f->plan = plan;
        if (f->recv.nfields) {
            f->restricted = dmvf__plan_restrict(plan, f->recv.fields, f->recv.nfields, err);
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
            /* the scope: the directory entry's (one agreement, many ORIs), else
             * the ORI; a released request always has both an ORI and an entry */
            const char *scope = f->v.who && f->v.who->scope ? f->v.who->scope : f->recv.ori;
            DMVF_REQUIRE(scope && *scope, "a released request without a pseudonym scope");
            f->kc = dmvf__keyctx_create(keyring, scope, f->plan->pseudo_paths, f->plan->npseudo);
            if (!f->kc)
                goto nomem;
        }
    }
    f->rd.max = dmvf_stream_record_limit(f->max_record_bytes);
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
    dmvf__acct_free(&f->acct);
    free(f->reqbuf);
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

/* What a call on a filter that holds a sticky error says: DMVF_ESTATE. */
static int in_error_state(const dmvf_filter *f, dmvf_error *err)
{
    return dmvf__seterr(err, DMVF_ESTATE, "filter is in an error state (%s): reset it",
                        dmvf_strerror(f->sticky));
}

/* What a record of a request refused outright says: DMVF_EREFUSED. */
static int not_released_error(const dmvf_filter *f, dmvf_error *err)
{
    return dmvf__seterr(err, DMVF_EREFUSED, "request not released: %s", f->reason);
}

static int subject_nomem(dmvf_filter *f, dmvf_error *err)
{
    dmvf__seterr(err, DMVF_ENOMEM, "out of memory keeping the subjects of request '%s'", f->request_id);
    if (err)
        err->record = f->in;
    return f->sticky = DMVF_ENOMEM;
}

/* A record the rewrite (or its checks) refused with rc: dropped and counted
 * when it is malformed and drop_malformed is set, else rc, sticky. */
static int bad_rewrite(dmvf_filter *f, int rc, int *dropped, dmvf_error *err)
{
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

/* 1 when rec has a non-empty record_id, a subject that can be notified and
 * kept: it is id[0..len); else 0. */
static int record_subject(const uint8_t *rec, size_t n, const uint8_t **id, size_t *len)
{
    return dmvf__record_id(rec, n, id, len) > 0 && *len > 0;
}

/* Keeps the record_id of rec (when it has a non-empty one). 0 or -1. */
static int keep_subject(dmvf_filter *f, const uint8_t *rec, size_t n)
{
    const uint8_t *id;
    size_t len;
    if (record_subject(rec, n, &id, &len))
        return dmvf__acct_subject(&f->acct, id, len);
    return 0;
}

/* Passing the record limit turns the request into a refusal: what was held
 * is discarded, the field counts are cleared (nothing was released), the
 * subjects stay, and this record's record_id joins them (it was read). */
static int refuse_for_limit(dmvf_filter *f, const uint8_t *rec, size_t n, dmvf_error *err)
{
    if (!f->limit_refused) {
        f->limit_refused = 1;
        if (f->v.decision == DMVF_DECISION_RELEASE)
            f->v.decision = DMVF_DECISION_DENY;
        snprintf(f->reason, sizeof f->reason,
                 "rule '%s': more than max_records %llu records for one request",
                 f->v.rule_name ? f->v.rule_name : "?", (unsigned long long)f->v.max_records);
        dmvf__outq_discard(&f->oq);
        dmvf__acct_clear_counts(&f->acct);
        f->mode = f->acct.collect ? MODE_COLLECT : MODE_REFUSE;
        if (f->acct.collect && keep_subject(f, rec, n) != 0)
            return subject_nomem(f, err);
    }
    return dmvf__seterr(err, DMVF_EREFUSED, "%s", f->reason);
}

/* The record-size limit for a record longer than max_record_bytes (the
 * caller tests that): judged on the record without its M and C fields,
 * unless the plan releases marking. 0, or DMVF_ETOOBIG (sticky). */
static int over_limit(dmvf_filter *f, const dmvf_plan *plan, const uint8_t *in, size_t in_len, dmvf_error *err)
{
    if (plan->marking_release) {
        dmvf__seterr(err, DMVF_ETOOBIG, "record of %zu bytes exceeds the limit of %zu bytes", in_len,
                     f->max_record_bytes);
    } else {
        size_t n = dmvf__size_without_marking(in, in_len);
        if (n <= f->max_record_bytes)
            return 0;
        dmvf__seterr(err, DMVF_ETOOBIG, "record of %zu bytes, not counting its marking and marking-correlated "
                     "fields, exceeds the limit of %zu bytes", n, f->max_record_bytes);
    }
    if (err)
        err->record = f->in;
    return f->sticky = DMVF_ETOOBIG;
}

/* A record of a request whose records are not rewritten (COLLECT, REFUSE). */
static int not_released(dmvf_filter *f, const uint8_t *in, size_t in_len, int *dropped, dmvf_error *err)
{
    if (f->mode == MODE_REFUSE)
        return not_released_error(f, err);
    if (in_len > f->max_record_bytes && over_limit(f, dmvf__plan_none(), in, in_len, err))
        return DMVF_ETOOBIG;
    /* the same checks a release makes, writing nothing */
    uint8_t none[1];
    size_t olen = 0;
    int rc = dmvf__rewrite(dmvf__plan_none(), NULL, in, in_len, none, sizeof none, &olen, err);
    if (rc)
        return bad_rewrite(f, rc, dropped, err);
    if (f->acct.collect && keep_subject(f, in, in_len) != 0)
        return subject_nomem(f, err);
    f->in++;
    return DMVF_OK;
}

static int filter_record(dmvf_filter *f, const void *in, size_t in_len,
                         void *out, size_t cap, size_t *out_len, int *dropped,
                         dmvf_error *err)
{
    *out_len = 0;
    if (dropped)
        *dropped = 0;
    if (f->sticky)
        return in_error_state(f, err);
    if (DMVF_UNLIKELY(f->mode != MODE_REWRITE))
        return not_released(f, in, in_len, dropped, err);
    if (DMVF_UNLIKELY(in_len > f->max_record_bytes) && over_limit(f, f->plan, in, in_len, err))
        return DMVF_ETOOBIG;
    int rc = dmvf__rewrite(f->plan, f->kc, in, in_len, out, cap, out_len, err);
    if (rc == DMVF_ESPACE)
        return rc;
    if (rc)
        return bad_rewrite(f, rc, dropped, err);
    /* the subject, looked up once: id is set (non-empty) once it was */
    const uint8_t *id = NULL;
    size_t idlen = 0;
    if (DMVF_UNLIKELY(f->v.notify_subject) && !record_subject(in, in_len, &id, &idlen)) {
        *out_len = 0;
        dmvf__seterr(err, DMVF_ENOSUBJECT,
                     "the record has no record_id (or an empty one) and rule '%s' notifies "
                     "subjects: its subject cannot be told, so nothing of the request is released",
                     f->v.rule_name ? f->v.rule_name : "?");
        if (err)
            err->record = f->in;
        return f->sticky = DMVF_ENOSUBJECT;
    }
    /* the limit counts released records: a dropped one is not, and is judged first */
    if (f->v.max_records && f->out >= f->v.max_records) {
        *out_len = 0;
        f->in++; /* the record that passes the limit was received too */
        return refuse_for_limit(f, in, in_len, err);
    }
    if (DMVF_UNLIKELY(f->acct_on)) {
        /* the subject first: a record whose subject cannot be kept is not released */
        if (f->acct.collect && (id || record_subject(in, in_len, &id, &idlen)) &&
            dmvf__acct_subject(&f->acct, id, idlen) != 0) {
            *out_len = 0;
            return subject_nomem(f, err);
        }
        dmvf__acct_count(&f->acct, f->plan, in, in_len);
    }
    f->in++;
    f->out++;
    return DMVF_OK;
}

static int filter_stream(dmvf_filter *f, dmvf_out_buffer *out, dmvf_in_buffer *in,
                         int end, dmvf_error *err)
{
    if (f->sticky)
        return in_error_state(f, err);
    if (f->mode == MODE_REFUSE)
        return not_released_error(f, err);
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
        if (f->mode != MODE_REWRITE) {
            /* COLLECT (a refused request's records after the limit, too) */
            rc = not_released(f, rec, len, NULL, err);
            if (rc) {
                if (err && rc != DMVF_EREFUSED)
                    err->offset += at + dmvf__varint_size(len);
                return rc;
            }
            continue;
        }
        for (;;) {
            uint8_t *dst;
            size_t room;
            dmvf__outq_reserve(&f->oq, len, &dst, &room);
            size_t olen = 0;
            int dropped = 0;
            if (!dst)
                return f->sticky = dmvf__seterr(err, DMVF_ENOMEM, "out of memory for output");
            rc = filter_record(f, rec, len, dst, room, &olen, &dropped, err);
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

/* The public record and stream calls: the call that makes the filter's
 * error sticky leaves it in f->first, also when the caller gave no err
 * (the inner calls then fill a local one). A stream's record error is
 * kept as the stream says it, with its offset into the stream. */
int dmvf_filter_record(dmvf_filter *f, const void *in, size_t in_len,
                       void *out, size_t cap, size_t *out_len, int *dropped,
                       dmvf_error *err)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    DMVF_REQUIRE(out_len != NULL, "out_len is NULL");
    DMVF_REQUIRE(in != NULL || in_len == 0, "input is NULL");
    dmvf_error local;
    dmvf_error *e = err ? err : &local;
    int was = f->sticky;
    local.code = DMVF_OK;
    int rc = filter_record(f, in, in_len, out, cap, out_len, dropped, e);
    if (DMVF_UNLIKELY(f->sticky != was))
        dmvf__error_keep(&f->first, f->sticky, e);
    return rc;
}

int dmvf_filter_stream(dmvf_filter *f, dmvf_out_buffer *out, dmvf_in_buffer *in,
                       int end, dmvf_error *err)
{
    DMVF_REQUIRE(f != NULL && out != NULL && in != NULL, "NULL argument");
    dmvf_error local;
    dmvf_error *e = err ? err : &local;
    int was = f->sticky;
    local.code = DMVF_OK;
    int rc = filter_stream(f, out, in, end, e);
    if (DMVF_UNLIKELY(f->sticky != was))
        dmvf__error_keep(&f->first, f->sticky, e);
    return rc;
}

int dmvf_filter_last_error(const dmvf_filter *f, dmvf_error *out)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return dmvf__error_get(f->sticky, &f->first, out);
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
        f->v.decision = f->decision0;
        dmvf__escape_copy(f->reason, sizeof f->reason, f->v.reason);
    }
    f->mode = f->mode0;
    dmvf__reader_reset(&f->rd);
    dmvf__outq_discard(&f->oq);
    f->oq.hold = f->v.max_records > 0;
}

/* For the framed processor: a record of a request that is not released.
 * It is counted as received; with collect_subjects its record_id is kept
 * when the record's top level can be read (a framed stream does not check
 * the records of a refused request further). Out of memory makes the
 * filter's error sticky, so the request ends without a trailer. */
void dmvf__filter_count_refused(dmvf_filter *f, const uint8_t *rec, size_t n)
{
    if (f->acct.collect && !f->sticky && keep_subject(f, rec, n) != 0)
        (void)subject_nomem(f, &f->first);
    f->in++;
}

const dmvf_plan *dmvf__filter_plan(const dmvf_filter *f)
{
    return f->mode == MODE_REWRITE ? f->plan : NULL;
}

size_t dmvf__filter_max_record(const dmvf_filter *f)
{
    return f->max_record_bytes;
}

int dmvf__filter_refuses(const dmvf_filter *f)
{
    return f->mode == MODE_REFUSE;
}

/* The filter's error just became sticky with code outside the public
 * calls (which keep it themselves): f->first as err says it, or the code's
 * text when there is no err. */
static void keep_first(dmvf_filter *f, int code, const dmvf_error *err)
{
    if (err)
        dmvf__error_keep(&f->first, code, err);
    else
        dmvf__seterr(&f->first, code, "%s", dmvf_strerror(code));
}

int dmvf__filter_bad_record(dmvf_filter *f, int code, int *dropped, dmvf_error *err)
{
    *dropped = 0;
    if (f->sticky)
        return in_error_state(f, err);
    if (f->mode == MODE_REFUSE)
        return not_released_error(f, err);
    int rc = bad_rewrite(f, code, dropped, err);
    if (rc)
        keep_first(f, rc, err);
    return rc;
}

int dmvf__filter_fail(dmvf_filter *f, int code, const dmvf_error *err)
{
    if (!f->sticky) {
        f->sticky = code;
        keep_first(f, code, err);
    }
    return code;
}

int dmvf__filter_rewrites(const dmvf_filter *f)
{
    return f->mode == MODE_REWRITE;
}

const char *dmvf__filter_request_id(const dmvf_filter *f)
{
    return f->request_id;
}

dmvf__acct *dmvf__filter_acct(const dmvf_filter *f)
{
    return (dmvf__acct *)&f->acct;
}

const dmvf_request *dmvf_filter_request(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return &f->req;
}

const dmvf_request *dmvf_filter_request_received(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return &f->recv;
}

const dmvf_requester *dmvf_filter_requester(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.who;
}

dmvf_precheck dmvf_filter_precheck(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.precheck;
}

uint32_t dmvf_filter_judged_date(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->v.judged;
}

uint32_t dmvf_filter_as_of(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->as_of;
}

const char *dmvf_filter_client(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->client;
}

const char *dmvf_filter_policy_id(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return dmvf_policy_id(f->policy);
}

uint32_t dmvf_filter_key_epoch(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->keyring ? dmvf_keyring_epoch(f->keyring) : 0;
}

const dmvf_keyring *dmvf_filter_keyring(const dmvf_filter *f)
{
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    return f->keyring;
}
