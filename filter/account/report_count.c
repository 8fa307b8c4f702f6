/*
 * report_count.c - the transparency report's counting (report_int.h):
 * the window, the requester profiles and their rows, the figures; and the
 * rows as a table for the writers (report_out_int.h).
 *
 * Input: the entries of an audit log (dmvf__audit_scan), oldest first.
 * The fields it reads:
 *
 *   REQUEST          seq, time_ns, request{ori, agency_name, agency_kind,
 *                    tags, purpose, legal_process}, client, decision,
 *                    not_found_reply
 *   RELEASE          time_ns, ref -> REQUEST seq, records_out,
 *                    fields[]{action, klass, values}; request, client and
 *                    decision (a copy: used only when the REQUEST entry
 *                    is not in the log)
 *   REVIEW_APPROVE   time_ns, ref -> REQUEST seq, request (maybe), client,
 *                    records_out, fields[]
 *   REVIEW_DENY      time_ns, ref -> REQUEST seq, request (maybe), client
 *   REVIEW_HOLD, NOTICE_SENT: not counted
 *
 * Counting rules (also printed in the report's footer, report_labels.c):
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
 *     in the log, to the request (and client) the entry carries (a RELEASE whose copied
 *     decision is not RELEASE then adds nothing), else to "(unknown)";
 *   - incomplete = REQUEST in the window decided RELEASE with no RELEASE
 *     entry referring to it anywhere in the log.
 *
 * A request's profile is the set of rows it counts in: one per breakdown
 * (agency = ORI and name, agency kind, purpose, legal process, client) and
 * one per distinct tag ("(none)" when untagged); requests that share all of these
 * share one profile, so that counting is a walk over a few row indices.
 * Rows and profiles are found by a serialized key (length-prefixed parts,
 * so that no two serialize alike) in report_map.c's maps.
 *
 * Output is deterministic: no clock is read, rows are sorted, rows with
 * nothing to show are left out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/account/report_int.h"
#include "filter/account/report_map_int.h"
#include "filter/account/report_out_int.h"

/* A requester profile: the rows one request counts in (one per breakdown,
 * one per distinct tag). */
typedef struct profile { uint32_t first, n; } profile;

struct dmvf__report {
    uint64_t from_ns, to_ns;
    dmvf__report_row *rows;
    size_t nrows, caprows;
    dmvf__smap rowmap;           /* bd + key (+ name) -> row index */
    profile *profiles;
    size_t nprofiles, capprofiles;
    uint32_t *prow;              /* the profiles' row indices */
    size_t nprow, capprow;
    dmvf__smap profmap;          /* serialized profile -> profile index */
    dmvf__umap reqs;             /* REQUEST seq -> info */
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

/* The rowmap's key of row (bd, key, name): the breakdown's byte, then key
 * and, for agencies only, name (NULL: "") as parts. */
static void row_key(buf *k, int bd, const char *key, const char *name)
{
    unsigned char b = (unsigned char)bd;
    buf_add(k, &b, 1);
    buf_part(k, key);
    if (bd == DMVF__BD_AGENCY)
        buf_part(k, name ? name : "");
}

/* The index of row (bd, key, name), created when new; UINT32_MAX when out
 * of memory. */
static uint32_t row_get(dmvf__report *r, int bd, uint64_t order, const char *key,
                        const char *name)
{
    buf k = {0};
    row_key(&k, bd, key, name);
    if (k.oom)
        return UINT32_MAX;
    dmvf__sslot *s = dmvf__smap_slot(&r->rowmap, k.p, k.n);
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
        dmvf__report_row *nr = realloc(r->rows, ncap * sizeof *nr);
        if (!nr) {
            free(k.p);
            return UINT32_MAX;
        }
        r->rows = nr;
        r->caprows = ncap;
    }
    dmvf__report_row *w = &r->rows[r->nrows];
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

/* The profile of request q made by client (NULL or "": not through the
 * service); q NULL: the "(unknown)" requester. UINT32_MAX when out of
 * memory. */
static uint32_t profile_get(dmvf__report *r, const Dmv__V1__Request *q, const char *client)
{
    static const Dmv__V1__Request empty = DMV__V1__REQUEST__INIT;
    int unknown = q == NULL;
    if (unknown && r->unknown_profile != UINT32_MAX)
        return r->unknown_profile;
    if (!q)
        q = &empty;
    const char *ori = q->ori && q->ori[0] ? q->ori : DMVF__REPORT_NONE;
    const char *agency = q->agency_name ? q->agency_name : "";
    const char *cl = client && client[0] ? client : DMVF__REPORT_NONE;
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
    buf_part(&k, cl);
    for (size_t i = 0; i < ntags; i++)
        buf_part(&k, tags[i]);
    dmvf__sslot *s = k.oom ? NULL : dmvf__smap_slot(&r->profmap, k.p, k.n);
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
        bad |= prow_add(r, row_get(r, DMVF__BD_CLIENT, cl == client ? 0 : 1, cl, ""));
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
    dmvf__smap_free(&r->rowmap);
    dmvf__smap_free(&r->profmap);
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

int dmvf__report_oom(dmvf_error *err)
{
    return dmvf__seterr(err, DMVF_ENOMEM, "audit report: out of memory");
}

int dmvf__report_prescan(dmvf__report *r, const Dmv__V1__AuditEntry *e, dmvf_error *err)
{
    DMVF_REQUIRE(r && e, "report and entry");
    if (is_followup((int)e->kind) && in_window(r, e->time_ns) && !dmvf__umap_put(&r->reqs, e->ref))
        return dmvf__report_oom(err);
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
        dmvf__reqinfo *ri = dmvf__umap_get(&r->reqs, e->seq);
        if (!inw && !ri)
            return DMVF_OK;
        uint32_t prof = profile_get(r, e->request, e->client);
        if (prof == UINT32_MAX || (!ri && !(ri = dmvf__umap_put(&r->reqs, e->seq))))
            return dmvf__report_oom(err);
        ri->profile = prof;
        ri->decision = (unsigned)e->decision <= DMV__V1__DECISION__DECISION_REVIEW
                           ? (uint8_t)e->decision : 0;   /* unknown: refused */
        ri->flags = (uint8_t)(ri->flags | DMVF__REQ_RESOLVED | (inw ? DMVF__REQ_IN_WINDOW : 0));
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
        dmvf__reqinfo *ri = dmvf__umap_get(&r->reqs, e->ref);
        if (ri && (ri->flags & DMVF__REQ_RESOLVED))
            ri->flags |= DMVF__REQ_HAS_RELEASE;
        if (!inw)
            return DMVF_OK;
        uint32_t prof;
        if (ri && (ri->flags & DMVF__REQ_RESOLVED)) {
            if (ri->decision != DMV__V1__DECISION__DECISION_RELEASE)
                return DMVF_OK;   /* refused or held: nothing was released */
            prof = ri->profile;
        } else if (e->request) {
            /* its REQUEST is not in the log: the copy it carries tells */
            if (e->decision != DMV__V1__DECISION__DECISION_UNSPECIFIED &&
                e->decision != DMV__V1__DECISION__DECISION_RELEASE)
                return DMVF_OK;
            prof = profile_get(r, e->request, e->client);
        } else {
            r->unattributed++;
            prof = profile_get(r, NULL, NULL);
        }
        if (prof == UINT32_MAX)
            return dmvf__report_oom(err);
        count_release(r, prof, e);
        return DMVF_OK;
    }
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE:
    case DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY: {
        if (!inw)
            return DMVF_OK;
        dmvf__reqinfo *ri = dmvf__umap_get(&r->reqs, e->ref);
        uint32_t prof;
        if (ri && (ri->flags & DMVF__REQ_RESOLVED) &&
            (ri->decision == DMV__V1__DECISION__DECISION_REVIEW || !e->request)) {
            prof = ri->profile;
        } else if (e->request) {
            prof = profile_get(r, e->request, e->client);
        } else {
            r->unattributed++;
            prof = profile_get(r, NULL, NULL);
        }
        if (prof == UINT32_MAX)
            return dmvf__report_oom(err);
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
        const dmvf__uslot *s = &r->reqs.s[i];
        if (s->used && (s->v.flags & DMVF__REQ_IN_WINDOW) &&
            !(s->v.flags & DMVF__REQ_HAS_RELEASE) &&
            s->v.decision == DMV__V1__DECISION__DECISION_RELEASE)
            count(r, s->v.profile, DMVF__FIG_INCOMPLETE, 1);
    }
    /* seqs are the log's own: the next log starts with none known */
    free(r->reqs.s);
    memset(&r->reqs, 0, sizeof r->reqs);
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
    row_key(&k, bd, key, name);
    const dmvf__sslot *s = k.oom ? NULL : dmvf__smap_find(&r->rowmap, k.p, k.n);
    free(k.p);
    return s ? r->rows[s->v].fig : NULL;
}

uint64_t dmvf__report_unattributed(const dmvf__report *r)
{
    DMVF_REQUIRE(r, "report");
    return r->unattributed;
}

int dmvf__report_row_cmp(const void *a, const void *b)
{
    const dmvf__report_row *x = *(const dmvf__report_row *const *)a;
    const dmvf__report_row *y = *(const dmvf__report_row *const *)b;
    if (x->bd != y->bd)
        return x->bd < y->bd ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->name, y->name);
}

static int row_empty(const dmvf__report_row *w)
{
    for (int i = 0; i < DMVF__FIG_COUNT; i++)
        if (w->fig[i])
            return 0;
    return 1;
}

int dmvf__report_table_make(const dmvf__report *r, dmvf__report_table *t)
{
    t->from_ns = r->from_ns;
    t->to_ns = r->to_ns;
    t->totals = r->totals;
    t->entries_read = r->entries_read;
    t->entries_in_window = r->entries_in_window;
    t->unattributed = r->unattributed;
    /* the rows to print, sorted by breakdown then order, key, name */
    const dmvf__report_row **v = malloc((r->nrows ? r->nrows : 1) * sizeof *v);
    size_t k = 0;
    if (!v)
        return DMVF_ENOMEM;
    for (size_t i = 0; i < r->nrows; i++)
        if (!row_empty(&r->rows[i]))
            v[k++] = &r->rows[i];
    qsort(v, k, sizeof *v, dmvf__report_row_cmp);
    size_t j = 0;
    for (int bd = 0; bd <= DMVF__BD_COUNT; bd++) {
        while (j < k && v[j]->bd < bd)
            j++;
        t->starts[bd] = j;
    }
    t->starts[DMVF__BD_COUNT] = k;
    t->rows = v;
    t->nrows = k;
    return DMVF_OK;
}
