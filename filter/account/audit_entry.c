/*
 * audit_entry.c - what an audit entry holds: the public calls that log
 * an event, a request or a release, each as one AuditEntry
 * (schema/dmv/v1/audit.proto) appended by audit_append.c.
 *
 *   REQUEST   the request, the verdict (rule, policy id, key epoch,
 *             decision, whether a refusal is shown as not found, reason,
 *             whether the subject is to be told)
 *   RELEASE   the same, with ref (the REQUEST's seq), the record counts,
 *             the field counts and, with the subjects option, the
 *             subjects' keyed hashes (sorted, without repeats)
 *   an event  (review steps, notices sent) whatever the caller gives,
 *             the decision following from its kind when not given
 *
 * Strings the caller leaves NULL are logged as "". A request's NULL tag or
 * field is refused (DMVF_EINVAL) before anything is written.
 */
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/reqmap.h"
#include "filter/account/audit_writer_int.h"

static char *s_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

/* The tags and fields arrays may hold NULL strings in a careless caller's
 * request; protobuf-c would crash on them, so they are checked here. */
static int request_ok(const dmvf_request *r, dmvf_error *err)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (!r->tags[i])
            return dmvf__seterr(err, DMVF_EINVAL, "the request's tag %zu is NULL", i);
    for (size_t i = 0; i < r->nfields; i++)
        if (!r->fields[i])
            return dmvf__seterr(err, DMVF_EINVAL, "the request's field %zu is NULL", i);
    return DMVF_OK;
}

static int subj_cmp(const void *x, const void *y)
{
    return memcmp(x, y, DMVF_SUBJECT_HASH_LEN);
}

/* Sorted, de-duplicated subject hashes as ProtobufCBinaryData pointing into
 * *store. */
static int subjects_msg(const uint8_t *hashes, size_t n, uint8_t **store, ProtobufCBinaryData **out,
                        size_t *nout)
{
    *store = NULL;
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return DMVF_OK;
    uint8_t *s = malloc(n * DMVF_SUBJECT_HASH_LEN);
    ProtobufCBinaryData *b = malloc(n * sizeof *b);
    if (!s || !b) {
        free(s);
        free(b);
        return DMVF_ENOMEM;
    }
    memcpy(s, hashes, n * DMVF_SUBJECT_HASH_LEN);
    qsort(s, n, DMVF_SUBJECT_HASH_LEN, subj_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *h = s + i * DMVF_SUBJECT_HASH_LEN;
        if (k > 0 && memcmp(b[k - 1].data, h, DMVF_SUBJECT_HASH_LEN) == 0)
            continue;
        b[k].data = (uint8_t *)(uintptr_t)h;
        b[k].len = DMVF_SUBJECT_HASH_LEN;
        k++;
    }
    *store = s;
    *out = b;
    *nout = k;
    return DMVF_OK;
}

/* Field counts as messages; paths borrowed. */
static int fields_msg(const dmvf_field_count *fc, size_t n, Dmv__V1__FieldCount **store,
                      Dmv__V1__FieldCount ***out)
{
    *store = NULL;
    *out = NULL;
    if (n == 0)
        return DMVF_OK;
    Dmv__V1__FieldCount *m = malloc(n * sizeof *m);
    Dmv__V1__FieldCount **p = malloc(n * sizeof *p);
    if (!m || !p) {
        free(m);
        free(p);
        return DMVF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        dmv__v1__field_count__init(&m[i]);
        m[i].path = s_or_empty(fc[i].path);
        m[i].action = (Dmv__V1__FieldAction)fc[i].action;
        m[i].klass = fc[i].klass;
        m[i].values = fc[i].values;
        p[i] = &m[i];
    }
    *store = m;
    *out = p;
    return DMVF_OK;
}

static Dmv__V1__Decision decision_for(const dmvf_audit_event *ev)
{
    if (ev->decision)
        return (Dmv__V1__Decision)ev->decision;
    switch (ev->kind) {
    case DMVF_AUDIT_REVIEW_HOLD: return DMV__V1__DECISION__DECISION_REVIEW;
    case DMVF_AUDIT_REVIEW_APPROVE: return DMV__V1__DECISION__DECISION_RELEASE;
    case DMVF_AUDIT_REVIEW_DENY: return DMV__V1__DECISION__DECISION_DENY;
    default: return DMV__V1__DECISION__DECISION_UNSPECIFIED;
    }
}

int dmvf_audit_event_write(dmvf_audit *a, const dmvf_audit_event *ev, uint64_t *seq,
                           dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(ev != NULL, "event is NULL");
    DMVF_REQUIRE(ev->kind >= DMVF_AUDIT_REQUEST && ev->kind <= DMVF_AUDIT_NOTICE_SENT,
                 "unknown audit event kind");
    DMVF_REQUIRE(ev->nfields == 0 || ev->fields != NULL, "nfields > 0 but fields is NULL");
    DMVF_REQUIRE(ev->nsubjects == 0 || ev->subjects != NULL, "nsubjects > 0 but subjects is NULL");
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq;
    if (ev->request) {
        int rc = request_ok(ev->request, err);
        if (rc != DMVF_OK)
            return rc;
        dmvf__request_to_pb(ev->request, &rq);
        e.request = &rq;
    }
    e.kind = (Dmv__V1__AuditKind)ev->kind;
    e.rule = s_or_empty(ev->rule);
    e.policy_id = s_or_empty(ev->policy_id);
    e.decision = decision_for(ev);
    e.review_id = s_or_empty(ev->review_id);
    e.actor = s_or_empty(ev->actor);
    e.note = s_or_empty(ev->note);
    e.ref = ev->ref;
    e.records_in = ev->counts.records_in;
    e.records_out = ev->counts.records_out;
    e.records_dropped = ev->counts.records_dropped;
    e.notices = ev->counts.notices;
    e.client = s_or_empty(ev->client);
    Dmv__V1__FieldCount *fstore;
    uint8_t *sstore;
    if (fields_msg(ev->fields, ev->nfields, &fstore, &e.fields) != DMVF_OK)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    e.n_fields = ev->nfields;
    if (subjects_msg(ev->subjects, ev->nsubjects, &sstore, &e.subjects, &e.n_subjects) != DMVF_OK) {
        free(fstore);
        free(e.fields);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    }
    int rc = dmvf__audit_entry_append(a, &e, 1, seq, err);
    free(fstore);
    free(e.fields);
    free(sstore);
    free(e.subjects);
    return rc;
}

/* What the request said of its requester (ori, agency name, kind,
 * jurisdiction, tags, date), when it said any of it: recorded beside the
 * directory's word. 1 when there is something to record. */
static int claimed_from_filter(const dmvf_filter *f, Dmv__V1__Request *cl)
{
    const dmvf_request *q = dmvf_filter_request_received(f);
    if (!(q->agency_name && *q->agency_name) && !q->agency_kind && !(q->jurisdiction && *q->jurisdiction) &&
        !q->ntags && !q->date)
        return 0;
    dmvf_request said;
    memset(&said, 0, sizeof said);
    said.ori = q->ori;
    said.agency_name = q->agency_name;
    said.agency_kind = q->agency_kind;
    said.jurisdiction = q->jurisdiction;
    said.tags = q->tags;
    said.ntags = q->ntags;
    said.date = q->date;
    dmvf__request_to_pb(&said, cl);
    return 1;
}

/* What REQUEST and RELEASE entries share: the request (checked first; as
 * the DMV records it, and what it claimed), the day it was judged as of,
 * and the verdict. */
static int entry_from_filter(const dmvf_filter *f, Dmv__V1__AuditEntry *e, Dmv__V1__Request *rq,
                             Dmv__V1__Request *cl, dmvf_error *err)
{
    int rc = request_ok(dmvf_filter_request(f), err);
    if (rc != DMVF_OK)
        return rc;
    dmvf__request_to_pb(dmvf_filter_request(f), rq);
    e->request = rq;
    if (claimed_from_filter(f, cl))
        e->claimed = cl;
    e->judged_as_of = dmvf_filter_as_of(f);
    e->client = s_or_empty(dmvf_filter_client(f));
    const char *rule = dmvf_filter_rule(f);
    e->rule = s_or_empty(rule);
    e->policy_id = s_or_empty(dmvf_filter_policy_id(f));
    e->key_epoch = dmvf_filter_key_epoch(f);
    dmvf_decision d = dmvf_filter_decision(f);
    e->decision = (Dmv__V1__Decision)d;
    e->not_found_reply = d != DMVF_DECISION_RELEASE &&
                         dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND;
    e->reason = s_or_empty(dmvf_filter_reason(f));
    e->notify_subject = dmvf_filter_notify_subject(f) != 0;
    return DMVF_OK;
}

int dmvf_audit_request(dmvf_audit *a, const dmvf_filter *f, uint64_t *seq, dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq, cl;
    int rc = entry_from_filter(f, &e, &rq, &cl, err);
    if (rc != DMVF_OK)
        return rc;
    e.kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST;
    return dmvf__audit_entry_append(a, &e, !a->o.defer_request_sync, seq, err);
}

int dmvf_audit_release(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c,
                       uint64_t ref, dmvf_error *err)
{
    return dmvf_audit_release_note(a, f, c, ref, NULL, err);
}

int dmvf_audit_release_note(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c,
                            uint64_t ref, const char *note, dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    DMVF_REQUIRE(c != NULL, "counts is NULL");
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    Dmv__V1__Request rq, cl;
    int rc = entry_from_filter(f, &e, &rq, &cl, err);
    if (rc != DMVF_OK)
        return rc;
    e.kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE;
    e.ref = ref;
    e.note = s_or_empty(note);
    e.records_in = c->records_in;
    e.records_out = c->records_out;
    e.records_dropped = c->records_dropped;
    e.notices = c->notices;

    size_t nf = dmvf_filter_field_counts(f, NULL, 0);
    dmvf_field_count *fc = nf ? calloc(nf, sizeof *fc) : NULL;
    if (nf && !fc)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    if (nf)
        nf = dmvf_filter_field_counts(f, fc, nf);
    size_t ns = a->o.subjects ? dmvf_filter_subject_count(f) : 0;
    uint8_t *hashes = ns ? malloc(ns * DMVF_SUBJECT_HASH_LEN) : NULL;
    if (ns && !hashes) {
        free(fc);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ns; i++) {
        size_t len = 0;
        const char *id = dmvf_filter_subject(f, i, &len);
        dmvf_keyring_subject_hash(a->kr, id, len, hashes + i * DMVF_SUBJECT_HASH_LEN);
    }
    Dmv__V1__FieldCount *fstore = NULL;
    uint8_t *sstore = NULL;
    rc = fields_msg(fc, nf, &fstore, &e.fields);
    e.n_fields = nf;
    if (rc == DMVF_OK)
        rc = subjects_msg(hashes, ns, &sstore, &e.subjects, &e.n_subjects);
    if (rc != DMVF_OK)
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    else
        rc = dmvf__audit_entry_append(a, &e, 1, NULL, err);
    free(fstore);
    free(e.fields);
    free(sstore);
    free(e.subjects);
    free(hashes);
    free(fc);
    return rc;
}

int dmvf_audit_sync(dmvf_audit *a, dmvf_error *err)
{
    DMVF_REQUIRE(a != NULL, "audit handle is NULL");
    return dmvf__audit_entry_append(a, NULL, 1, NULL, err);
}
