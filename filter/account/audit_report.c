/*
 * audit_report.c - the transparency report (dmvf_audit_report): what was
 * asked, by whom, under which purpose and legal process, and what left.
 *
 * Input: the entries of an audit log (dmvf__audit_scan), oldest first.
 * The fields it reads:
 *
 *   REQUEST          seq, time_ns, request{ori, agency_name, agency_kind,
 *                    tags, purpose, legal_process}, decision, not_found_reply
 *   RELEASE          time_ns, ref -> REQUEST seq, records_out,
 *                    fields[]{action, klass, values}; request and
 *                    decision (a copy: used only when the REQUEST entry
 *                    is not in the log)
 *   REVIEW_APPROVE   time_ns, ref -> REQUEST seq, request (maybe),
 *                    records_out, fields[]
 *   REVIEW_DENY      time_ns, ref -> REQUEST seq, request (maybe)
 *   REVIEW_HOLD, NOTICE_SENT: not counted
 *
 * Counting rules (also printed in the report's footer, see `rules` below):
 *
 *   - an entry counts in the window [from_ns, to_ns) by its own time_ns;
 *   - requests = REQUEST entries; released / refused / held = their decision
 *     (an unknown decision counts as refused); a DENY shown as not found
 *     counts as refused and as "refused, shown as not found";
 *   - holds are counted once, by the REQUEST decision REVIEW; REVIEW_HOLD
 *     entries are ignored; approved / denied = REVIEW_APPROVE / _DENY;
 *   - records and fields released come from RELEASE entries whose REQUEST
 *     decided RELEASE (a RELEASE entry after a refused or held request adds
 *     nothing) and from REVIEW_APPROVE entries;
 *   - fields: FieldCount.values with action != REDACT, by class: P if klass
 *     has the P bit, else C if it has the C or M bit, else ordinary; values
 *     with action REDACT are "redacted";
 *   - a follow-up is attributed to the requester of the REQUEST it refers
 *     to (kept by seq; for review steps, when that request was not held for
 *     review, to the request the entry carries); when that REQUEST is not
 *     in the log, to the request the entry carries (a RELEASE whose copied
 *     decision is not RELEASE then adds nothing), else to "(unknown)";
 *   - incomplete = REQUEST in the window decided RELEASE with no RELEASE
 *     entry referring to it anywhere in the log.
 *
 * Output is deterministic: no clock is read, rows are sorted, rows with
 * nothing to show are left out.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"
#include "filter/account/report_int.h"

const char *const dmvf__report_fig_names[DMVF__FIG_COUNT] = {
    "requests", "released", "refused", "refused_not_found", "held_for_review",
    "approved", "denied", "incomplete", "records_released", "fields_released_p",
    "fields_released_c", "fields_released_ordinary", "fields_redacted"
};
const char *const dmvf__report_breakdown_names[DMVF__BD_COUNT] = {
    "agency", "agency_kind", "tag", "purpose", "legal_process"
};

/* Column heads for md and html. */
static const char *const fig_heads[DMVF__FIG_COUNT] = {
    "Requests", "Released", "Refused", "Refused, shown as not found", "Held for review",
    "Approved", "Denied", "Incomplete", "Records released", "Fields released: P",
    "Fields released: C", "Fields released: ordinary", "Fields redacted"
};
static const char *const bd_titles[DMVF__BD_COUNT] = {
    "By agency", "By agency kind", "By tag", "By purpose (DPPA permissible use)",
    "By legal process"
};
static const char *const bd_key_heads[DMVF__BD_COUNT] = {
    "ORI", "Agency kind", "Tag", "Purpose", "Legal process"
};

static const char *const rules[] = {
    "Window: an entry counts when from <= its time < to (UTC). Each entry counts by its own "
    "time, so a release or a review decision made after the window counts in the window "
    "in which it was made.",
    "Requests: the REQUEST entries of the audit log. Released, refused and held for review are "
    "the decision recorded in the entry (a decision the report does not know counts as "
    "refused). A refusal whose reply looked like a genuine miss (the not-found form) counts "
    "as refused and also under \"refused, shown as not found\".",
    "Held for review: requests decided REVIEW (REVIEW_HOLD entries are not counted again). "
    "Approved and denied: the reviewers' REVIEW_APPROVE and REVIEW_DENY entries, counted "
    "under the requester of the held request.",
    "Incomplete: requests decided RELEASE for which the log holds no RELEASE entry (the run "
    "stopped before the release): nothing was released for them.",
    "Records released: the records_out of the RELEASE entries of requests decided RELEASE, "
    "plus the records of approved reviews. A RELEASE entry after a refused or held request "
    "adds nothing.",
    "Fields released: field values released as they are, masked, generalized, pseudonymized, "
    "encrypted or replaced by a constant, by class: P (highly restricted personal data such "
    "as the photo and SSN; a field both P and C counts as P), C (marking-correlated, with the "
    "marking fields M, which only the DMV's own internal use may receive) and ordinary. "
    "Fields redacted: the values withheld in the same releases.",
    "Breakdowns: by agency (ORI and agency name as given in the request), agency kind, tag (a "
    "request with two tags counts under both, so the tag rows may add up to more than the "
    "total; \"(none)\" = untagged), DPPA permissible use 18 U.S.C. 2721(b)(N) (\"0\" = none "
    "given) and legal process. A release or review entry whose REQUEST entry is not in the log "
    "counts under the request it carries, or under \"(unknown)\" when it carries none.",
};
#define NRULES (sizeof rules / sizeof rules[0])

/* ------------------------------------------------------------------------ */
/* Hash maps: strings -> index, and seq -> request info.                     */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

typedef struct sslot { char *k; size_t klen; uint32_t v; } sslot;
typedef struct smap { sslot *s; size_t cap, n; } smap;

/* The slot for key (empty or matching); grows first. NULL when out of memory. */
static sslot *smap_slot(smap *m, const char *k, size_t klen)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        sslot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->s[i].k)
                continue;
            size_t j = hash_bytes(m->s[i].k, m->s[i].klen) & (ncap - 1);
            while (ns[j].k)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->s[i];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    size_t j = hash_bytes(k, klen) & (m->cap - 1);
    while (m->s[j].k && (m->s[j].klen != klen || memcmp(m->s[j].k, k, klen) != 0))
        j = (j + 1) & (m->cap - 1);
    return &m->s[j];
}

static const sslot *smap_find(const smap *m, const char *k, size_t klen)
{
    if (!m->cap)
        return NULL;
    size_t j = hash_bytes(k, klen) & (m->cap - 1);
    while (m->s[j].k) {
        if (m->s[j].klen == klen && memcmp(m->s[j].k, k, klen) == 0)
            return &m->s[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].k);
    free(m->s);
}

enum { REQ_RESOLVED = 1, REQ_IN_WINDOW = 2, REQ_HAS_RELEASE = 4 };
typedef struct reqinfo { uint32_t profile; uint8_t decision, flags; } reqinfo;
typedef struct uslot { uint64_t seq; reqinfo v; uint8_t used; } uslot;
typedef struct umap { uslot *s; size_t cap, n; } umap;

static reqinfo *umap_get(const umap *m, uint64_t seq)
{
    if (!m->cap)
        return NULL;
    size_t j = hash_u64(seq) & (m->cap - 1);
    while (m->s[j].used) {
        if (m->s[j].seq == seq)
            return &m->s[j].v;
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

/* The info for seq, created zeroed when new. NULL when out of memory. */
static reqinfo *umap_put(umap *m, uint64_t seq)
{
    reqinfo *have = umap_get(m, seq);
    if (have)
        return have;
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        uslot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->s[i].used)
                continue;
            size_t j = hash_u64(m->s[i].seq) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->s[i];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    size_t j = hash_u64(seq) & (m->cap - 1);
    while (m->s[j].used)
        j = (j + 1) & (m->cap - 1);
    m->s[j].used = 1;
    m->s[j].seq = seq;
    memset(&m->s[j].v, 0, sizeof m->s[j].v);
    m->n++;
    return &m->s[j].v;
}

/* ------------------------------------------------------------------------ */
/* Rows and requester profiles.                                              */

typedef struct row {
    int bd;
    uint64_t order;          /* sorts before key: enum value, or 1 for "(none)" */
    char *key, *name;
    uint64_t fig[DMVF__FIG_COUNT];
} row;

/* A requester profile: the rows one request counts in (one per breakdown,
 * one per distinct tag). */
typedef struct profile { uint32_t first, n; } profile;

struct dmvf__report {
    uint64_t from_ns, to_ns;
    row *rows;
    size_t nrows, caprows;
    smap rowmap;                 /* bd + key (+ name) -> row index */
    profile *profiles;
    size_t nprofiles, capprofiles;
    uint32_t *prow;              /* the profiles' row indices */
    size_t nprow, capprow;
    smap profmap;                /* serialized profile -> profile index */
    umap reqs;                   /* REQUEST seq -> info */
    uint64_t totals[DMVF__FIG_COUNT];
    uint64_t entries_read, entries_in_window, unattributed;
    uint32_t unknown_profile;    /* UINT32_MAX until made */
};

typedef struct buf { char *p; size_t n, cap; int oom; } buf;

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 128;
        while (b->n + n + 1 > ncap)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* A length-prefixed part, so that no two profiles serialize alike. */
static void buf_part(buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    buf_add(b, &n, sizeof n);
    buf_add(b, s, n);
}

static int in_window(const dmvf__report *r, uint64_t t)
{
    return t >= r->from_ns && (r->to_ns == 0 || t < r->to_ns);
}

/* The index of row (bd, key, name), created when new; UINT32_MAX when out
 * of memory. */
static uint32_t row_get(dmvf__report *r, int bd, uint64_t order, const char *key,
                        const char *name)
{
    buf k = {0};
    unsigned char b = (unsigned char)bd;
    buf_add(&k, &b, 1);
    buf_part(&k, key);
    if (bd == DMVF__BD_AGENCY)
        buf_part(&k, name);
    if (k.oom)
        return UINT32_MAX;
    sslot *s = smap_slot(&r->rowmap, k.p, k.n);
    if (!s) {
        free(k.p);
        return UINT32_MAX;
    }
    if (s->k) {
        free(k.p);
        return s->v;
    }
    if (r->nrows == r->caprows) {
        size_t ncap = r->caprows ? r->caprows * 2 : 64;
        row *nr = realloc(r->rows, ncap * sizeof *nr);
        if (!nr) {
            free(k.p);
            return UINT32_MAX;
        }
        r->rows = nr;
        r->caprows = ncap;
    }
    row *w = &r->rows[r->nrows];
    memset(w, 0, sizeof *w);
    w->bd = bd;
    w->order = order;
    w->key = strdup(key);
    w->name = strdup(name ? name : "");
    if (!w->key || !w->name) {
        free(w->key);
        free(w->name);
        free(k.p);
        return UINT32_MAX;
    }
    s->k = k.p;
    s->klen = k.n;
    s->v = (uint32_t)r->nrows;
    r->rowmap.n++;
    return (uint32_t)r->nrows++;
}

static int prow_add(dmvf__report *r, uint32_t idx)
{
    if (idx == UINT32_MAX)
        return -1;
    if (r->nprow == r->capprow) {
        size_t ncap = r->capprow ? r->capprow * 2 : 256;
        uint32_t *np = realloc(r->prow, ncap * sizeof *np);
        if (!np)
            return -1;
        r->prow = np;
        r->capprow = ncap;
    }
    r->prow[r->nprow++] = idx;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* v's spelling in t, or "value-V" (in tmp) when it has none. */
static const char *enum_key(const dmvf__names *t, unsigned v, char *tmp, size_t cap)
{
    const char *name = dmvf__name(t, v, NULL);
    if (name)
        return name;
    snprintf(tmp, cap, "value-%u", v);
    return tmp;
}

/* The profile of request q (NULL: the "(unknown)" requester). UINT32_MAX
 * when out of memory. */
static uint32_t profile_get(dmvf__report *r, const Dmv__V1__Request *q)
{
    static const Dmv__V1__Request empty = DMV__V1__REQUEST__INIT;
    int unknown = q == NULL;
    if (unknown && r->unknown_profile != UINT32_MAX)
        return r->unknown_profile;
    if (!q)
        q = &empty;
    const char *ori = q->ori && q->ori[0] ? q->ori : DMVF__REPORT_NONE;
    const char *agency = q->agency_name ? q->agency_name : "";
    unsigned kind = (unsigned)q->agency_kind, legal = (unsigned)q->legal_process;
    char ktmp[32], ltmp[32], ptmp[16], pname[32];
    const char *kname = enum_key(&dmvf__agency_kinds, kind, ktmp, sizeof ktmp);
    const char *lname = enum_key(&dmvf__legal_processes, legal, ltmp, sizeof ltmp);
    snprintf(ptmp, sizeof ptmp, "%u", (unsigned)q->purpose);
    if (q->purpose == 0)
        snprintf(pname, sizeof pname, "none given");
    else
        snprintf(pname, sizeof pname, "2721(b)(%u)", (unsigned)q->purpose);

    /* the tags, sorted and without repeats or empty strings */
    const char **tags = NULL;
    size_t ntags = 0;
    if (q->n_tags) {
        tags = malloc(q->n_tags * sizeof *tags);
        if (!tags)
            return UINT32_MAX;
        for (size_t i = 0; i < q->n_tags; i++)
            if (q->tags[i] && q->tags[i][0])
                tags[ntags++] = q->tags[i];
        qsort(tags, ntags, sizeof *tags, cmp_str);
        size_t w = 0;
        for (size_t i = 0; i < ntags; i++)
            if (w == 0 || strcmp(tags[w - 1], tags[i]) != 0)
                tags[w++] = tags[i];
        ntags = w;
    }

    buf k = {0};
    buf_part(&k, unknown ? "\001unknown" : "");
    buf_part(&k, ori);
    buf_part(&k, agency);
    buf_part(&k, kname);
    buf_part(&k, ptmp);
    buf_part(&k, lname);
    for (size_t i = 0; i < ntags; i++)
        buf_part(&k, tags[i]);
    sslot *s = k.oom ? NULL : smap_slot(&r->profmap, k.p, k.n);
    if (!s) {
        free(tags);
        free(k.p);
        return UINT32_MAX;
    }
    if (s->k) {
        free(tags);
        free(k.p);
        return s->v;
    }
    if (r->nprofiles == r->capprofiles) {
        size_t ncap = r->capprofiles ? r->capprofiles * 2 : 64;
        profile *np = realloc(r->profiles, ncap * sizeof *np);
        if (!np) {
            free(tags);
            free(k.p);
            return UINT32_MAX;
        }
        r->profiles = np;
        r->capprofiles = ncap;
    }
    profile p = { (uint32_t)r->nprow, 0 };
    int bad = 0;
    if (unknown) {
        for (int bd = 0; bd < DMVF__BD_COUNT; bd++)
            bad |= prow_add(r, row_get(r, bd, UINT64_MAX, DMVF__REPORT_UNKNOWN, ""));
    } else {
        bad |= prow_add(r, row_get(r, DMVF__BD_AGENCY, ori == q->ori ? 0 : 1, ori, agency));
        bad |= prow_add(r, row_get(r, DMVF__BD_AGENCY_KIND, kind, kname, ""));
        for (size_t i = 0; i < ntags; i++)
            bad |= prow_add(r, row_get(r, DMVF__BD_TAG, 0, tags[i], ""));
        if (!ntags)
            bad |= prow_add(r, row_get(r, DMVF__BD_TAG, 1, DMVF__REPORT_NONE, ""));
        bad |= prow_add(r, row_get(r, DMVF__BD_PURPOSE, q->purpose, ptmp, pname));
        bad |= prow_add(r, row_get(r, DMVF__BD_LEGAL_PROCESS, legal, lname, ""));
    }
    free(tags);
    if (bad) {
        r->nprow = p.first;
        free(k.p);
        return UINT32_MAX;
    }
    p.n = (uint32_t)(r->nprow - p.first);
    s->k = k.p;
    s->klen = k.n;
    s->v = (uint32_t)r->nprofiles;
    r->profmap.n++;
    r->profiles[r->nprofiles] = p;
    if (unknown)
        r->unknown_profile = (uint32_t)r->nprofiles;
    return (uint32_t)r->nprofiles++;
}

static void count(dmvf__report *r, uint32_t prof, int fig, uint64_t n)
{
    const profile *p = &r->profiles[prof];
    r->totals[fig] += n;
    for (uint32_t i = 0; i < p->n; i++)
        r->rows[r->prow[p->first + i]].fig[fig] += n;
}

static void count_release(dmvf__report *r, uint32_t prof, const Dmv__V1__AuditEntry *e)
{
    count(r, prof, DMVF__FIG_RECORDS, e->records_out);
    for (size_t i = 0; i < e->n_fields; i++) {
        const Dmv__V1__FieldCount *fc = e->fields[i];
        int fig;
        if (!fc)
            continue;
        if (fc->action == DMV__V1__FIELD_ACTION__FIELD_ACTION_REDACT)
            fig = DMVF__FIG_REDACTED;
        else if (fc->klass & DMVF_FIELD_CLASS_P)
            fig = DMVF__FIG_FIELDS_P;
        else if (fc->klass & (DMVF_FIELD_CLASS_C | DMVF_FIELD_CLASS_M))
            fig = DMVF__FIG_FIELDS_C;
        else
            fig = DMVF__FIG_FIELDS_ORDINARY;
        count(r, prof, fig, fc->values);
    }
}

dmvf__report *dmvf__report_create(uint64_t from_ns, uint64_t to_ns)
{
    dmvf__report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->from_ns = from_ns;
    r->to_ns = to_ns;
    r->unknown_profile = UINT32_MAX;
    return r;
}

void dmvf__report_free(dmvf__report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrows; i++) {
        free(r->rows[i].key);
        free(r->rows[i].name);
    }
    free(r->rows);
    smap_free(&r->rowmap);
    smap_free(&r->profmap);
    free(r->profiles);
    free(r->prow);
    free(r->reqs.s);
    free(r);
}

static int is_followup(int kind)
{
    return kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE ||
           kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE ||
           kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY;
}

static int oom(dmvf_error *err)
{
    return dmvf__seterr(err, DMVF_ENOMEM, "audit report: out of memory");
}

int dmvf__report_prescan(dmvf__report *r, const Dmv__V1__AuditEntry *e, dmvf_error *err)
{
    DMVF_REQUIRE(r && e, "report and entry");
    if (is_followup((int)e->kind) && in_window(r, e->time_ns) && !umap_put(&r->reqs, e->ref))
        return oom(err);
    return DMVF_OK;
}

int dmvf__report_add(dmvf__report *r, const Dmv__V1__AuditEntry *e, dmvf_error *err)
{
    DMVF_REQUIRE(r && e, "report and entry");
    int inw = in_window(r, e->time_ns);
    r->entries_read++;
    r->entries_in_window += (uint64_t)inw;
    switch ((int)e->kind) {
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST: {
        reqinfo *ri = umap_get(&r->reqs, e->seq);
        if (!inw && !ri)
            return DMVF_OK;
        uint32_t prof = profile_get(r, e->request);
        if (prof == UINT32_MAX || (!ri && !(ri = umap_put(&r->reqs, e->seq))))
            return oom(err);
        ri->profile = prof;
        ri->decision = (unsigned)e->decision <= DMV__V1__DECISION__DECISION_REVIEW
                           ? (uint8_t)e->decision : 0;   /* unknown: refused */
        ri->flags = (uint8_t)(ri->flags | REQ_RESOLVED | (inw ? REQ_IN_WINDOW : 0));
        if (!inw)
            return DMVF_OK;
        count(r, prof, DMVF__FIG_REQUESTS, 1);
        if (e->decision == DMV__V1__DECISION__DECISION_RELEASE) {
            count(r, prof, DMVF__FIG_RELEASED, 1);
        } else if (e->decision == DMV__V1__DECISION__DECISION_REVIEW) {
            count(r, prof, DMVF__FIG_HELD, 1);
        } else {
            count(r, prof, DMVF__FIG_REFUSED, 1);
            if (e->not_found_reply)
                count(r, prof, DMVF__FIG_NOT_FOUND, 1);
        }
        return DMVF_OK;
    }
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE: {
        reqinfo *ri = umap_get(&r->reqs, e->ref);
        if (ri && (ri->flags & REQ_RESOLVED))
            ri->flags |= REQ_HAS_RELEASE;
        if (!inw)
            return DMVF_OK;
        uint32_t prof;
        if (ri && (ri->flags & REQ_RESOLVED)) {
            if (ri->decision != DMV__V1__DECISION__DECISION_RELEASE)
                return DMVF_OK;   /* refused or held: nothing was released */
            prof = ri->profile;
        } else if (e->request) {
            /* its REQUEST is not in the log: the copy it carries tells */
            if (e->decision != DMV__V1__DECISION__DECISION_UNSPECIFIED &&
                e->decision != DMV__V1__DECISION__DECISION_RELEASE)
                return DMVF_OK;
            prof = profile_get(r, e->request);
        } else {
            r->unattributed++;
            prof = profile_get(r, NULL);
        }
        if (prof == UINT32_MAX)
            return oom(err);
        count_release(r, prof, e);
        return DMVF_OK;
    }
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE:
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY: {
        if (!inw)
            return DMVF_OK;
        reqinfo *ri = umap_get(&r->reqs, e->ref);
        uint32_t prof;
        if (ri && (ri->flags & REQ_RESOLVED) &&
            (ri->decision == DMV__V1__DECISION__DECISION_REVIEW || !e->request)) {
            prof = ri->profile;
        } else if (e->request) {
            prof = profile_get(r, e->request);
        } else {
            r->unattributed++;
            prof = profile_get(r, NULL);
        }
        if (prof == UINT32_MAX)
            return oom(err);
        if (e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY) {
            count(r, prof, DMVF__FIG_DENIED, 1);
        } else {
            count(r, prof, DMVF__FIG_APPROVED, 1);
            count_release(r, prof, e);
        }
        return DMVF_OK;
    }
    default:
        return DMVF_OK;
    }
}

void dmvf__report_finish(dmvf__report *r)
{
    DMVF_REQUIRE(r, "report");
    for (size_t i = 0; i < r->reqs.cap; i++) {
        const uslot *s = &r->reqs.s[i];
        if (s->used && (s->v.flags & REQ_IN_WINDOW) && !(s->v.flags & REQ_HAS_RELEASE) &&
            s->v.decision == DMV__V1__DECISION__DECISION_RELEASE)
            count(r, s->v.profile, DMVF__FIG_INCOMPLETE, 1);
    }
}

const uint64_t *dmvf__report_figures(const dmvf__report *r, int bd, const char *key,
                                     const char *name)
{
    DMVF_REQUIRE(r, "report");
    if (bd == DMVF__BD_COUNT)
        return r->totals;
    if (bd < 0 || bd > DMVF__BD_COUNT || !key)
        return NULL;
    buf k = {0};
    unsigned char b = (unsigned char)bd;
    buf_add(&k, &b, 1);
    buf_part(&k, key);
    if (bd == DMVF__BD_AGENCY)
        buf_part(&k, name ? name : "");
    const sslot *s = k.oom ? NULL : smap_find(&r->rowmap, k.p, k.n);
    free(k.p);
    return s ? r->rows[s->v].fig : NULL;
}

uint64_t dmvf__report_unattributed(const dmvf__report *r)
{
    DMVF_REQUIRE(r, "report");
    return r->unattributed;
}

/* ------------------------------------------------------------------------ */
/* Writing.                                                                  */

/* HTML text or attribute value: & < > " ' as references; control bytes
 * and bytes that are not valid UTF-8 as U+FFFD. At most max_chars
 * characters (0: all), "..." after a cut. */
static void put_html_n(FILE *o, const char *s, size_t max_chars)
{
    const unsigned char *c = (const unsigned char *)s, *end = c + strlen(s);
    size_t chars = 0;
    while (*c) {
        if (max_chars && chars == max_chars) {
            fputs("&#8230;", o);
            return;
        }
        chars++;
        size_t n = dmvf__utf8_seq(c, (size_t)(end - c));
        switch (*c) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default:
            if (n == 0 || *c < 0x20 || *c == 0x7f) {
                fputs("&#xfffd;", o);
                break;
            }
            fwrite(c, 1, n, o);
            c += n;
            continue;
        }
        c++;
    }
}

static void put_html(FILE *o, const char *s)
{
    put_html_n(o, s, 0);
}

/* Markdown table cell: HTML-significant characters as references (a
 * renderer would pass raw HTML through), Markdown punctuation backslashed,
 * control bytes as spaces. */
static void put_md(FILE *o, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '|': case '\\': case '`': case '*': case '_': case '[': case ']':
        case '#': case '!': case '~':
            fputc('\\', o);
            fputc(*c, o);
            break;
        default:
            fputc(*c < 0x20 || *c == 0x7f ? ' ' : *c, o);
        }
    }
}

/* RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes
 * doubled); a field a spreadsheet would run as a formula (= + - @ first)
 * is prefixed with an apostrophe and quoted. */
static void put_csv(FILE *o, const char *s)
{
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, o);
        return;
    }
    fputc('"', o);
    if (formula)
        fputc('\'', o);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            fputc('"', o);
        fputc(*c, o);
    }
    fputc('"', o);
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = *(const row *const *)a, *y = *(const row *const *)b;
    if (x->bd != y->bd)
        return x->bd < y->bd ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->name, y->name);
}

static int row_empty(const row *w)
{
    for (int i = 0; i < DMVF__FIG_COUNT; i++)
        if (w->fig[i])
            return 0;
    return 1;
}

/* The rows to print, sorted by breakdown then order, key, name; starts[bd]
 * .. starts[bd + 1] are breakdown bd's. NULL when out of memory (or no
 * rows: *n 0). */
static const row **sorted_rows(const dmvf__report *r, size_t *n, size_t starts[DMVF__BD_COUNT + 1])
{
    const row **v = malloc((r->nrows ? r->nrows : 1) * sizeof *v);
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < r->nrows; i++)
        if (!row_empty(&r->rows[i]))
            v[k++] = &r->rows[i];
    qsort(v, k, sizeof *v, cmp_row);
    size_t j = 0;
    for (int bd = 0; bd <= DMVF__BD_COUNT; bd++) {
        while (j < k && v[j]->bd < bd)
            j++;
        starts[bd] = j;
    }
    starts[DMVF__BD_COUNT] = k;
    *n = k;
    return v;
}

typedef struct wctx {
    const dmvf__report *r;
    const char *title;
    FILE *o;
    const row **rows;
    size_t nrows, starts[DMVF__BD_COUNT + 1];
    char from[DMVF__TIME_CAP], to[DMVF__TIME_CAP];
} wctx;

static void write_json(const wctx *w)
{
    FILE *o = w->o;
    const dmvf__report *r = w->r;
    fputs("{\n  \"title\": ", o);
    dmvf__json_fput(o, w->title);
    fprintf(o, ",\n  \"window\": {\"from\": \"%s\", \"to\": ", w->from);
    if (r->to_ns)
        fprintf(o, "\"%s\"", w->to);
    else
        fputs("null", o);
    fprintf(o, ", \"from_ns\": %" PRIu64 ", \"to_ns\": ", r->from_ns);
    if (r->to_ns)
        fprintf(o, "%" PRIu64 "}", r->to_ns);
    else
        fputs("null}", o);
    fprintf(o, ",\n  \"entries\": {\"read\": %" PRIu64 ", \"in_window\": %" PRIu64
            ", \"unattributed\": %" PRIu64 "}", r->entries_read, r->entries_in_window,
            r->unattributed);
    fputs(",\n  \"totals\": {", o);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "%s\"%s\": %" PRIu64, f ? ", " : "", dmvf__report_fig_names[f], r->totals[f]);
    fputs("},\n  \"breakdowns\": {", o);
    for (int bd = 0; bd < DMVF__BD_COUNT; bd++) {
        fprintf(o, "%s\n    \"%s\": [", bd ? "," : "", dmvf__report_breakdown_names[bd]);
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const row *x = w->rows[i];
            fprintf(o, "%s\n      {\"key\": ", i > w->starts[bd] ? "," : "");
            dmvf__json_fput(o, x->key);
            fputs(", \"name\": ", o);
            dmvf__json_fput(o, x->name);
            for (int f = 0; f < DMVF__FIG_COUNT; f++)
                fprintf(o, ", \"%s\": %" PRIu64, dmvf__report_fig_names[f], x->fig[f]);
            fputc('}', o);
        }
        fputs(w->starts[bd] < w->starts[bd + 1] ? "\n    ]" : "]", o);
    }
    fputs("\n  },\n  \"rules\": [", o);
    for (size_t i = 0; i < NRULES; i++) {
        fputs(i ? ",\n    " : "\n    ", o);
        dmvf__json_fput(o, rules[i]);
    }
    fputs("\n  ]\n}\n", o);
}

static void csv_figs(FILE *o, const uint64_t *fig)
{
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, ",%" PRIu64, fig[f]);
    fputs("\r\n", o);
}

static void write_csv(const wctx *w)
{
    FILE *o = w->o;
    fputs("breakdown,key,name", o);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, ",%s", dmvf__report_fig_names[f]);
    fputs("\r\ntotal,all,", o);
    csv_figs(o, w->r->totals);
    for (size_t i = 0; i < w->nrows; i++) {
        const row *x = w->rows[i];
        fprintf(o, "%s,", dmvf__report_breakdown_names[x->bd]);
        put_csv(o, x->key);
        fputc(',', o);
        put_csv(o, x->name);
        csv_figs(o, x->fig);
    }
}

static void md_table_head(FILE *o, const char *key1, const char *key2)
{
    if (key1)
        fprintf(o, "| %s ", key1);
    if (key2)
        fprintf(o, "| %s ", key2);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "| %s ", fig_heads[f]);
    fputs("|\n", o);
    if (key1)
        fputs("|---", o);
    if (key2)
        fputs("|---", o);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fputs("|--:", o);
    fputs("|\n", o);
}

static void md_figs(FILE *o, const uint64_t *fig)
{
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "| %" PRIu64 " ", fig[f]);
    fputs("|\n", o);
}

static void write_md(const wctx *w)
{
    FILE *o = w->o;
    const dmvf__report *r = w->r;
    fputs("# ", o);
    put_md(o, w->title);
    fprintf(o, "\n\nWindow: from %s (inclusive) to %s%s.\n\n", w->from,
            r->to_ns ? w->to : "the end of the log", r->to_ns ? " (exclusive)" : "");
    fprintf(o, "Generated by dmvfilter %s from the audit log: %" PRIu64 " entries read, %"
            PRIu64 " in the window.\n\n", dmvf_version(), r->entries_read, r->entries_in_window);
    fputs("## Totals\n\n", o);
    md_table_head(o, NULL, NULL);
    md_figs(o, r->totals);
    for (int bd = 0; bd < DMVF__BD_COUNT; bd++) {
        fprintf(o, "\n## %s\n\n", bd_titles[bd]);
        if (w->starts[bd] == w->starts[bd + 1]) {
            fputs("No entries.\n", o);
            continue;
        }
        int two = bd == DMVF__BD_AGENCY || bd == DMVF__BD_PURPOSE;
        md_table_head(o, bd_key_heads[bd], two ? (bd == DMVF__BD_AGENCY ? "Agency" : "Use") : NULL);
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const row *x = w->rows[i];
            fputs("| ", o);
            put_md(o, x->key);
            fputc(' ', o);
            if (two) {
                fputs("| ", o);
                put_md(o, x->name);
                fputc(' ', o);
            }
            md_figs(o, x->fig);
        }
    }
    fputs("\n## How to read these figures\n\n", o);
    for (size_t i = 0; i < NRULES; i++) {
        fputs("- ", o);
        put_md(o, rules[i]);
        fputc('\n', o);
    }
}

/* ---- HTML ---- */

typedef struct bar {
    const char *label;
    uint64_t v[3];
} bar;

static const char *const series_class[3] = { "s0", "s1", "s2" };

/* A horizontal bar chart: n bars of nseries stacked values, one legend. */
static void svg_chart(FILE *o, const char *title, const bar *bars, size_t n, int nseries,
                      const char *const *series)
{
    const unsigned left = 230, width = 460, rowh = 22, top = nseries > 1 ? 30 : 8;
    unsigned height = top + (unsigned)n * rowh + 8;
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = 0;
        for (int s = 0; s < nseries; s++)
            t += bars[i].v[s];
        if (t > max)
            max = t;
    }
    fputs("<figure>\n<figcaption>", o);
    put_html(o, title);
    fprintf(o, "</figcaption>\n<svg role=\"img\" aria-label=\"");
    put_html(o, title);
    fprintf(o, "\" viewBox=\"0 0 %u %u\" width=\"%u\" height=\"%u\">\n", left + width + 90, height,
            left + width + 90, height);
    if (nseries > 1) {
        unsigned x = left;
        for (int s = 0; s < nseries; s++) {
            fprintf(o, "<rect class=\"%s\" x=\"%u\" y=\"8\" width=\"12\" height=\"12\"/>"
                    "<text x=\"%u\" y=\"18\">", series_class[s], x, x + 16);
            put_html(o, series[s]);
            fputs("</text>\n", o);
            x += 24 + 8 * (unsigned)strlen(series[s]);
        }
    }
    if (n == 0)
        fprintf(o, "<text x=\"%u\" y=\"%u\">no entries</text>\n", left, top + 15);
    for (size_t i = 0; i < n; i++) {
        unsigned y = top + (unsigned)i * rowh;
        uint64_t t = 0, x10 = (uint64_t)left * 10;   /* positions in tenths of a pixel */
        fprintf(o, "<text text-anchor=\"end\" x=\"%u\" y=\"%u\">", left - 8, y + 15);
        put_html_n(o, bars[i].label, 32);
        fputs("</text>\n", o);
        for (int s = 0; s < nseries; s++) {
            t += bars[i].v[s];
            if (!bars[i].v[s] || !max)
                continue;
            /* integers, not %f: the output must not depend on the locale */
            uint64_t w10 = (uint64_t)((double)bars[i].v[s] * width * 10.0 / (double)max + 0.5);
            fprintf(o, "<rect class=\"%s\" x=\"%" PRIu64 ".%u\" y=\"%u\" width=\"%" PRIu64
                    ".%u\" height=\"%u\"><title>", series_class[s], x10 / 10, (unsigned)(x10 % 10),
                    y + 3, w10 / 10, (unsigned)(w10 % 10), rowh - 6);
            put_html(o, bars[i].label);
            fprintf(o, ": %" PRIu64 " ", bars[i].v[s]);
            put_html(o, series[s]);
            fputs("</title></rect>\n", o);
            x10 += w10;
        }
        x10 += 60;
        fprintf(o, "<text x=\"%" PRIu64 ".%u\" y=\"%u\">%" PRIu64 "</text>\n", x10 / 10,
                (unsigned)(x10 % 10), y + 15, t);
    }
    fputs("</svg>\n</figure>\n", o);
}

static int cmp_records_desc(const void *a, const void *b)
{
    const row *x = *(const row *const *)a, *y = *(const row *const *)b;
    uint64_t p = x->fig[DMVF__FIG_RECORDS], q = y->fig[DMVF__FIG_RECORDS];
    if (p != q)
        return p > q ? -1 : 1;
    return cmp_row(a, b);
}

#define CHART_MAX_AGENCIES 20

static int html_charts(const wctx *w)
{
    FILE *o = w->o;
    static const char *const decisions[3] = { "released", "refused", "held for review" };
    size_t nb = w->nrows + CHART_MAX_AGENCIES + 8;
    bar *bars = calloc(nb, sizeof *bars);
    const row **byrec = malloc((w->nrows + 1) * sizeof *byrec);
    char *labels = malloc((CHART_MAX_AGENCIES + 1) * 160);
    if (!bars || !byrec || !labels) {
        free(bars);
        free(byrec);
        free(labels);
        return -1;
    }
    static const int stacked[2] = { DMVF__BD_AGENCY_KIND, DMVF__BD_LEGAL_PROCESS };
    static const char *const stacked_titles[2] = {
        "Requests by agency kind", "Requests by legal process"
    };
    for (int c = 0; c < 2; c++) {
        int bd = stacked[c];
        size_t n = 0;
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const row *x = w->rows[i];
            if (!x->fig[DMVF__FIG_REQUESTS])
                continue;
            bars[n].label = x->key;
            bars[n].v[0] = x->fig[DMVF__FIG_RELEASED];
            bars[n].v[1] = x->fig[DMVF__FIG_REFUSED];
            bars[n].v[2] = x->fig[DMVF__FIG_HELD];
            n++;
        }
        svg_chart(o, stacked_titles[c], bars, n, 3, decisions);
    }

    /* records released by agency: the most first, the rest as one bar */
    size_t na = 0;
    for (size_t i = w->starts[DMVF__BD_AGENCY]; i < w->starts[DMVF__BD_AGENCY + 1]; i++)
        if (w->rows[i]->fig[DMVF__FIG_RECORDS])
            byrec[na++] = w->rows[i];
    qsort(byrec, na, sizeof *byrec, cmp_records_desc);
    size_t n = 0;
    uint64_t rest = 0;
    for (size_t i = 0; i < na; i++) {
        if (i >= CHART_MAX_AGENCIES) {
            rest += byrec[i]->fig[DMVF__FIG_RECORDS];
            continue;
        }
        char *l = labels + n * 160;
        if (byrec[i]->name[0])
            snprintf(l, 160, "%s %s", byrec[i]->key, byrec[i]->name);
        else
            snprintf(l, 160, "%s", byrec[i]->key);
        bars[n].label = l;
        bars[n].v[0] = byrec[i]->fig[DMVF__FIG_RECORDS];
        n++;
    }
    if (na > CHART_MAX_AGENCIES) {
        char *l = labels + n * 160;
        snprintf(l, 160, "%zu other agencies", na - CHART_MAX_AGENCIES);
        bars[n].label = l;
        bars[n].v[0] = rest;
        n++;
    }
    static const char *const records[1] = { "records" };
    svg_chart(o, "Records released by agency", bars, n, 1, records);

    static const char *const values[1] = { "values" };
    static const char *const class_labels[4] = {
        "P (highly restricted)", "C and M (marking-correlated)", "ordinary", "redacted"
    };
    static const int class_figs[4] = {
        DMVF__FIG_FIELDS_P, DMVF__FIG_FIELDS_C, DMVF__FIG_FIELDS_ORDINARY, DMVF__FIG_REDACTED
    };
    for (int i = 0; i < 4; i++) {
        memset(&bars[i], 0, sizeof bars[i]);
        bars[i].label = class_labels[i];
        bars[i].v[0] = w->r->totals[class_figs[i]];
    }
    svg_chart(o, "Field values released, by class, and redacted", bars, 4, 1, values);
    free(bars);
    free(byrec);
    free(labels);
    return 0;
}

static void html_head_row(FILE *o, const char *key1, const char *key2)
{
    fputs("<thead><tr>", o);
    if (key1)
        fprintf(o, "<th scope=\"col\">%s</th>", key1);
    if (key2)
        fprintf(o, "<th scope=\"col\">%s</th>", key2);
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "<th scope=\"col\">%s</th>", fig_heads[f]);
    fputs("</tr></thead>\n", o);
}

static void html_figs(FILE *o, const uint64_t *fig)
{
    for (int f = 0; f < DMVF__FIG_COUNT; f++)
        fprintf(o, "<td>%" PRIu64 "</td>", fig[f]);
    fputs("</tr>\n", o);
}

static int write_html(const wctx *w)
{
    FILE *o = w->o;
    const dmvf__report *r = w->r;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", o);
    put_html(o, w->title);
    fputs("</title>\n<style>\n"
          "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:2rem auto;"
          "max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.4}\n"
          "h1{font-size:1.8rem}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #ccc}\n"
          "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;display:block;"
          "overflow-x:auto}\n"
          "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;white-space:nowrap}\n"
          "th{background:#f0f0f0;vertical-align:bottom;white-space:normal}\n"
          "td.k,th.k{text-align:left}\n"
          "figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.25rem}\n"
          "svg{max-width:100%;height:auto;font-size:12px}svg text{fill:#1b1b1b}\n"
                    ".s0{fill:#2b6cb0}.s1{fill:#c05621}.s2{fill:#718096}\n"
          "ol.rules li{margin-bottom:.4rem}\n"
          "@media print{table{display:table}}\n"
          "</style>\n</head>\n<body>\n<h1>", o);
    put_html(o, w->title);
    fprintf(o, "</h1>\n<p>Window: from <time datetime=\"%s\">%s</time> (inclusive) to ", w->from,
            w->from);
    if (r->to_ns)
        fprintf(o, "<time datetime=\"%s\">%s</time> (exclusive).", w->to, w->to);
    else
        fputs("the end of the log.", o);
    fprintf(o, " Generated by dmvfilter %s from the audit log: %" PRIu64 " entries read, %"
            PRIu64 " in the window.</p>\n", dmvf_version(), r->entries_read, r->entries_in_window);

    fputs("<h2>Totals</h2>\n<table>\n", o);
    html_head_row(o, NULL, NULL);
    fputs("<tbody><tr>", o);
    html_figs(o, r->totals);
    fputs("</tbody>\n</table>\n<h2>Charts</h2>\n", o);
    if (html_charts(w) != 0)
        return -1;
    for (int bd = 0; bd < DMVF__BD_COUNT; bd++) {
        fprintf(o, "<h2>%s</h2>\n", bd_titles[bd]);
        if (w->starts[bd] == w->starts[bd + 1]) {
            fputs("<p>No entries.</p>\n", o);
            continue;
        }
        int two = bd == DMVF__BD_AGENCY || bd == DMVF__BD_PURPOSE;
        fputs("<table>\n", o);
        html_head_row(o, bd_key_heads[bd], two ? (bd == DMVF__BD_AGENCY ? "Agency" : "Use") : NULL);
        fputs("<tbody>\n", o);
        for (size_t i = w->starts[bd]; i < w->starts[bd + 1]; i++) {
            const row *x = w->rows[i];
            fputs("<tr><td class=\"k\">", o);
            put_html(o, x->key);
            fputs("</td>", o);
            if (two) {
                fputs("<td class=\"k\">", o);
                put_html(o, x->name);
                fputs("</td>", o);
            }
            html_figs(o, x->fig);
        }
        fputs("</tbody>\n</table>\n", o);
    }
    fputs("<h2>How to read these figures</h2>\n<ol class=\"rules\">\n", o);
    for (size_t i = 0; i < NRULES; i++) {
        fputs("<li>", o);
        put_html(o, rules[i]);
        fputs("</li>\n", o);
    }
    fputs("</ol>\n</body>\n</html>\n", o);
    return 0;
}

int dmvf__report_write(const dmvf__report *r, dmvf_report_format fmt, const char *title,
                       FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(r && out, "report and stream");
    if (fmt != DMVF_REPORT_MD && fmt != DMVF_REPORT_CSV && fmt != DMVF_REPORT_JSON &&
        fmt != DMVF_REPORT_HTML)
        return dmvf__seterr(err, DMVF_EINVAL, "audit report: unknown format %d", (int)fmt);
    wctx w;
    memset(&w, 0, sizeof w);
    w.r = r;
    w.o = out;
    w.title = title && title[0] ? title : "Transparency report";
    dmvf__time_format(r->from_ns / 1000000000u, (uint32_t)(r->from_ns % 1000000000u),
                      DMVF__TIME_NANOS_IF, w.from);
    dmvf__time_format(r->to_ns / 1000000000u, (uint32_t)(r->to_ns % 1000000000u),
                      DMVF__TIME_NANOS_IF, w.to);
    w.rows = sorted_rows(r, &w.nrows, w.starts);
    if (!w.rows)
        return oom(err);
    int bad = 0;
    switch (fmt) {
    case DMVF_REPORT_JSON: write_json(&w); break;
    case DMVF_REPORT_CSV: write_csv(&w); break;
    case DMVF_REPORT_MD: write_md(&w); break;
    case DMVF_REPORT_HTML: bad = write_html(&w); break;
    }
    free(w.rows);
    if (bad)
        return oom(err);
    if (fflush(out) != 0 || ferror(out))
        return dmvf__seterr(err, DMVF_EIO, "audit report: writing the report failed");
    return DMVF_OK;
}

/* ------------------------------------------------------------------------ */
/* The entry point: two scans, then the writer.                              */

/* The two scans see the same entries: a writer may append between them,
 * so the second stops after as many entries as the first saw (entries are
 * only ever appended, so those are the same ones). */
typedef struct scan_ctx {
    dmvf__report *r;
    uint64_t seen, limit;
} scan_ctx;
#define SCAN_STOP 0x5ca9

static int scan_prescan(void *ud, const Dmv__V1__AuditEntry *e)
{
    scan_ctx *c = ud;
    c->seen++;
    return dmvf__report_prescan(c->r, e, NULL) == DMVF_OK ? 0 : DMVF_ENOMEM;
}

static int scan_add(void *ud, const Dmv__V1__AuditEntry *e)
{
    scan_ctx *c = ud;
    if (c->seen == c->limit)
        return SCAN_STOP;
    c->seen++;
    return dmvf__report_add(c->r, e, NULL) == DMVF_OK ? 0 : DMVF_ENOMEM;
}

/* A report over a directory that holds no log would be all zeros: a typo
 * must not become a published "nothing happened". DMVF_OK when dir holds
 * at least one segment (audit-*.log or .log.z). */
static int has_segments(const char *dir, dmvf_error *err)
{
    char safe[256];
    dmvf__escape_copy(safe, sizeof safe, dir);
    DIR *d = opendir(dir);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open the log directory: %s",
                            safe, strerror(errno));
    int found = 0;
    const struct dirent *de;
    while (!found && (de = readdir(d)) != NULL)
        found = strncmp(de->d_name, "audit-", 6) == 0 && strstr(de->d_name, ".log") != NULL;
    closedir(d);
    if (!found)
        return dmvf__seterr(err, DMVF_EIO, "%s: no audit log here (no audit-*.log segment)",
                            safe);
    return DMVF_OK;
}

int dmvf_audit_report(const char *dir, uint64_t from_ns, uint64_t to_ns, dmvf_report_format fmt,
                      const char *title, FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(dir && out, "log directory and output stream");
    if (fmt != DMVF_REPORT_MD && fmt != DMVF_REPORT_CSV && fmt != DMVF_REPORT_JSON &&
        fmt != DMVF_REPORT_HTML)
        return dmvf__seterr(err, DMVF_EINVAL, "audit report: unknown format %d", (int)fmt);
    if (to_ns != 0 && to_ns <= from_ns)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "audit report: the window is empty (to %" PRIu64 " ns <= from %"
                            PRIu64 " ns)", to_ns, from_ns);
    int rc = has_segments(dir, err);
    if (rc != DMVF_OK)
        return rc;
    dmvf__report *r = dmvf__report_create(from_ns, to_ns);
    if (!r)
        return oom(err);
    scan_ctx c = { r, 0, 0 };
    rc = dmvf__audit_scan(dir, scan_prescan, &c, err);
    if (rc == DMVF_OK) {
        c.limit = c.seen;
        c.seen = 0;
        rc = dmvf__audit_scan(dir, scan_add, &c, err);
        if (rc == SCAN_STOP)
            rc = DMVF_OK;
    }
    if (rc == DMVF_ENOMEM)
        oom(err);
    if (rc == DMVF_OK) {
        dmvf__report_finish(r);
        rc = dmvf__report_write(r, fmt, title, out, err);
    }
    dmvf__report_free(r);
    return rc;
}
