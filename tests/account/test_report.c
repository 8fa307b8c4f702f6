/*
 * test_report.c - the transparency report (dmvf_audit_report): its figures
 * equal counts recomputed from the traffic that made the log.
 *
 * Part 1 feeds hand-made audit entries (a few hundred randomized requests
 * of several agencies, kinds, tags, purposes, legal processes and decisions,
 * releases, reviews, a window cutting through them, entries exactly at its
 * ends, orphans) to the aggregation inside the library, computes what every
 * row must say in plain arrays here, and checks every figure of the JSON and
 * CSV output and of the rows themselves; the Markdown and HTML forms are
 * checked for their key figures, for being self-contained and for escaping
 * a hostile agency name.
 *
 * Part 2 writes a real log through the public writer (dmvf_audit_open,
 * dmvf_audit_request/_release over real filters with the example policy,
 * dmvf_audit_event_write for review steps) and checks dmvf_audit_report's
 * JSON against what the test sent, and the window's ends on the entries'
 * real times.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include "check.h"
#include "fixture.h"
#include "filter/account/audit_int.h"
#include "filter/account/report_int.h"

#define NFIG DMVF__FIG_COUNT
#define NBD DMVF__BD_COUNT

/* ------------------------------------------------------------------------ */
/* A small JSON parser: enough to read the report back and to prove it is
 * valid JSON (RFC 8259 grammar; numbers kept as text).                      */

typedef struct jv {
    int type;                 /* 'o' object, 'a' array, 's' string, 'n' number, 'b', 'z' null */
    char *s;                  /* string value, or number text */
    struct jv **items;        /* array elements or object values */
    char **keys;              /* object keys */
    size_t n;
} jv;

typedef struct jp { const char *p, *end; int bad; } jp;

static void jv_free(jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    free(v);
}

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static void put_utf8(char *o, size_t *n, unsigned c)
{
    if (c < 0x80) {
        o[(*n)++] = (char)c;
    } else if (c < 0x800) {
        o[(*n)++] = (char)(0xc0 | (c >> 6));
        o[(*n)++] = (char)(0x80 | (c & 0x3f));
    } else {
        o[(*n)++] = (char)(0xe0 | (c >> 12));
        o[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[(*n)++] = (char)(0x80 | (c & 0x3f));
    }
}

static char *jstr(jp *j)
{
    if (j->p >= j->end || *j->p != '"') {
        j->bad = 1;
        return NULL;
    }
    j->p++;
    char *o = malloc((size_t)(j->end - j->p) * 3 + 1);
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) {
            j->bad = 1;
            break;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            continue;
        }
        if (j->p >= j->end) {
            j->bad = 1;
            break;
        }
        char e = *j->p++;
        switch (e) {
        case '"': case '\\': case '/': o[n++] = e; break;
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'u': {
            unsigned c4 = 0;
            for (int i = 0; i < 4; i++) {
                char h = j->p < j->end ? *j->p++ : 0;
                c4 <<= 4;
                if (h >= '0' && h <= '9') c4 |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f') c4 |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') c4 |= (unsigned)(h - 'A' + 10);
                else j->bad = 1;
            }
            put_utf8(o, &n, c4);
            break;
        }
        default: j->bad = 1;
        }
    }
    if (j->p >= j->end)
        j->bad = 1;
    else
        j->p++;
    o[n] = 0;
    return o;
}

static jv *jvalue(jp *j, int depth)
{
    ws(j);
    if (j->p >= j->end || depth > 32) {
        j->bad = 1;
        return NULL;
    }
    jv *v = calloc(1, sizeof *v);
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? 'o' : 'a';
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == (c == '{' ? '}' : ']')) {
            j->p++;
            return v;
        }
        for (;;) {
            char *k = NULL;
            if (v->type == 'o') {
                ws(j);
                k = jstr(j);
                ws(j);
                if (j->p >= j->end || *j->p != ':')
                    j->bad = 1;
                else
                    j->p++;
            }
            jv *x = j->bad ? NULL : jvalue(j, depth + 1);
            v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
            v->keys = v->type == 'o' ? realloc(v->keys, (v->n + 1) * sizeof *v->keys) : NULL;
            v->items[v->n] = x;
            if (v->keys)
                v->keys[v->n] = k;
            v->n++;
            if (j->bad)
                return v;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == (v->type == 'o' ? '}' : ']')) {
                j->p++;
                return v;
            }
            j->bad = 1;
            return v;
        }
    }
    if (c == '"') {
        v->type = 's';
        v->s = jstr(j);
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        if (*j->p == '-')
            j->p++;
        if (j->p < j->end && *j->p == '0')
            j->p++;
        else if (j->p < j->end && *j->p >= '1' && *j->p <= '9')
            while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                j->p++;
        else
            j->bad = 1;
        if (j->p < j->end && *j->p == '.') {
            j->p++;
            while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                j->p++;
        }
        v->type = 'n';
        v->s = strndup(s, (size_t)(j->p - s));
        return v;
    }
    static const char *const words[] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= l && memcmp(j->p, words[i], l) == 0) {
            j->p += l;
            v->type = i < 2 ? 'b' : 'z';
            return v;
        }
    }
    j->bad = 1;
    return v;
}

/* The parsed document, or NULL when text is not exactly one JSON value. */
static jv *json_parse(const char *text, size_t len)
{
    jp j = { text, text + len, 0 };
    jv *v = jvalue(&j, 0);
    ws(&j);
    if (j.bad || j.p != j.end) {
        jv_free(v);
        return NULL;
    }
    return v;
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->type != 'o')
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (o->keys[i] && strcmp(o->keys[i], key) == 0)
            return o->items[i];
    return NULL;
}

static int jnum(const jv *v, uint64_t *out)
{
    if (!v || v->type != 'n')
        return -1;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v->s, &e, 10);
    if (errno || *e)
        return -1;
    *out = x;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Expected figures: plain arrays of rows, filled from what the test sent.   */

typedef struct xrow {
    int bd;
    char key[64], name[96];
    uint64_t fig[NFIG];
} xrow;

typedef struct expect {
    xrow rows[512];
    size_t n;
    uint64_t tot[NFIG];
} expect;

static uint64_t *xfig(expect *x, int bd, const char *key, const char *name)
{
    if (bd == NBD)
        return x->tot;
    if (bd != DMVF__BD_AGENCY)
        name = "";
    for (size_t i = 0; i < x->n; i++)
        if (x->rows[i].bd == bd && strcmp(x->rows[i].key, key) == 0 &&
            strcmp(x->rows[i].name, name) == 0)
            return x->rows[i].fig;
    if (x->n == sizeof x->rows / sizeof x->rows[0]) {
        fprintf(stderr, "too many expected rows\n");
        abort();
    }
    xrow *r = &x->rows[x->n++];
    memset(r, 0, sizeof *r);
    r->bd = bd;
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r->fig;
}

/* The rows of one requester: a request counts in each. */
typedef struct who {
    const char *ori, *agency;
    int kind;                 /* enum value */
    const char *tags[4];
    size_t ntags;
    unsigned purpose;
    int legal;
    const char *client;       /* the entry's client, "": the command line */
    int unknown;              /* the "(unknown)" requester */
} who;

static const char *const kind_names[] = {
    "unspecified", "federal", "state", "local", "tribal", "foreign",
    "court", "research", "commercial", "internal"
};
static const char *const legal_names[] = {
    "unspecified", "none", "administrative_subpoena", "judicial_subpoena",
    "court_order", "judicial_warrant"
};

static void xadd(expect *x, const who *w, int fig, uint64_t n)
{
    char pk[16];
    x->tot[fig] += n;
    if (w->unknown) {
        for (int bd = 0; bd < NBD; bd++)
            xfig(x, bd, "(unknown)", "")[fig] += n;
        return;
    }
    xfig(x, DMVF__BD_AGENCY, w->ori[0] ? w->ori : "(none)", w->agency)[fig] += n;
    xfig(x, DMVF__BD_AGENCY_KIND, kind_names[w->kind], "")[fig] += n;
    /* each distinct tag once */
    int any = 0;
    for (size_t i = 0; i < w->ntags; i++) {
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= strcmp(w->tags[k], w->tags[i]) == 0;
        if (!dup) {
            xfig(x, DMVF__BD_TAG, w->tags[i], "")[fig] += n;
            any = 1;
        }
    }
    if (!any)
        xfig(x, DMVF__BD_TAG, "(none)", "")[fig] += n;
    snprintf(pk, sizeof pk, "%u", w->purpose);
    xfig(x, DMVF__BD_PURPOSE, pk, "")[fig] += n;
    xfig(x, DMVF__BD_LEGAL_PROCESS, legal_names[w->legal], "")[fig] += n;
    xfig(x, DMVF__BD_CLIENT, w->client && w->client[0] ? w->client : "(none)", "")[fig] += n;
}

static int xrow_nonzero(const xrow *r)
{
    for (int f = 0; f < NFIG; f++)
        if (r->fig[f])
            return 1;
    return 0;
}

/* Every figure of every expected row and of the totals in the JSON report;
 * no other rows there. */
static void check_json(const char *what, const char *text, size_t len, expect *x)
{
    jv *doc = json_parse(text, len);
    CHECK_MSG(doc != NULL, "%s: the JSON report parses", what);
    if (!doc)
        return;
    const jv *tot = jget(doc, "totals");
    for (int f = 0; f < NFIG; f++) {
        uint64_t v = UINT64_MAX;
        CHECK_MSG(jnum(jget(tot, dmvf__report_fig_names[f]), &v) == 0 && v == x->tot[f],
                  "%s: totals.%s = %" PRIu64 ", want %" PRIu64, what, dmvf__report_fig_names[f],
                  v, x->tot[f]);
    }
    const jv *bds = jget(doc, "breakdowns");
    for (int bd = 0; bd < NBD; bd++) {
        const jv *arr = jget(bds, dmvf__report_breakdown_names[bd]);
        CHECK_MSG(arr && arr->type == 'a', "%s: breakdown %s is an array", what,
                  dmvf__report_breakdown_names[bd]);
        if (!arr || arr->type != 'a')
            continue;
        size_t want = 0;
        for (size_t i = 0; i < x->n; i++) {
            const xrow *r = &x->rows[i];
            if (r->bd != bd || !xrow_nonzero(r))
                continue;
            want++;
            const jv *obj = NULL;
            for (size_t k = 0; k < arr->n && !obj; k++) {
                const jv *key = jget(arr->items[k], "key"), *name = jget(arr->items[k], "name");
                if (key && key->type == 's' && strcmp(key->s, r->key) == 0 &&
                    (bd != DMVF__BD_AGENCY || (name && name->type == 's' && strcmp(name->s, r->name) == 0)))
                    obj = arr->items[k];
            }
            CHECK_MSG(obj != NULL, "%s: row %s/%s/%s is in the JSON", what,
                      dmvf__report_breakdown_names[bd], r->key, r->name);
            for (int f = 0; obj && f < NFIG; f++) {
                uint64_t v = UINT64_MAX;
                CHECK_MSG(jnum(jget(obj, dmvf__report_fig_names[f]), &v) == 0 && v == r->fig[f],
                          "%s: %s/%s %s = %" PRIu64 ", want %" PRIu64, what,
                          dmvf__report_breakdown_names[bd], r->key, dmvf__report_fig_names[f], v,
                          r->fig[f]);
            }
        }
        CHECK_MSG(arr->n == want, "%s: breakdown %s has %zu rows, want %zu", what,
                  dmvf__report_breakdown_names[bd], arr->n, want);
    }
    jv_free(doc);
}

/* ------------------------------------------------------------------------ */
/* CSV (RFC 4180) reader.                                                    */

#define CSV_MAXF 24
typedef struct csvrow { char *f[CSV_MAXF]; int n; } csvrow;

/* Parses one record at *p; 0 at the end, -1 on bad quoting. */
static int csv_next(const char **p, const char *end, csvrow *r)
{
    const char *s = *p;
    if (s >= end)
        return 0;
    r->n = 0;
    for (;;) {
        char *o = malloc((size_t)(end - s) + 1);
        size_t n = 0;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) {
                    free(o);
                    return -1;
                }
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        o[n++] = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                o[n++] = *s++;
            }
        } else {
            while (s < end && *s != ',' && *s != '\r' && *s != '\n') {
                if (*s == '"') {
                    free(o);
                    return -1;
                }
                o[n++] = *s++;
            }
        }
        o[n] = 0;
        if (r->n < CSV_MAXF)
            r->f[r->n++] = o;
        else
            free(o);
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s + 1 < end && s[0] == '\r' && s[1] == '\n') {
            *p = s + 2;
            return 1;
        }
        *p = s;
        return s >= end ? 1 : -1;    /* a bare LF is not RFC 4180 */
    }
}

static void csv_free(csvrow *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* The report writes a cell a spreadsheet would run as a formula, or one
 * that starts with an apostrophe before such a start, with an apostrophe
 * first: the value is what follows it. */
static const char *csv_value(const char *f)
{
    return f[0] == '\'' && f[1] && strchr("=+-@\t\r'", f[1]) ? f + 1 : f;
}

static void check_csv(const char *what, const char *text, size_t len, expect *x)
{
    const char *p = text, *end = text + len;
    csvrow r;
    int rc = csv_next(&p, end, &r);
    CHECK_MSG(rc == 1 && r.n == 3 + NFIG, "%s: CSV header has %d columns", what, rc == 1 ? r.n : -1);
    if (rc != 1)
        return;
    CHECK_EQ_STR(r.f[0], "breakdown");
    for (int f = 0; f < NFIG && 3 + f < r.n; f++)
        CHECK_EQ_STR(r.f[3 + f], dmvf__report_fig_names[f]);
    csv_free(&r);
    size_t seen[NBD + 1] = {0}, rows = 0;
    while ((rc = csv_next(&p, end, &r)) == 1) {
        rows++;
        CHECK_MSG(r.n == 3 + NFIG, "%s: CSV row %zu has %d fields", what, rows, r.n);
        if (r.n != 3 + NFIG) {
            csv_free(&r);
            continue;
        }
        int bd = -1;
        if (strcmp(r.f[0], "total") == 0)
            bd = NBD;
        for (int b = 0; b < NBD; b++)
            if (strcmp(r.f[0], dmvf__report_breakdown_names[b]) == 0)
                bd = b;
        CHECK_MSG(bd >= 0, "%s: CSV breakdown %s is known", what, r.f[0]);
        if (bd < 0) {
            csv_free(&r);
            continue;
        }
        seen[bd]++;
        const uint64_t *want = NULL;
        if (bd == NBD) {
            want = x->tot;
        } else {
            for (size_t i = 0; i < x->n && !want; i++)
                if (x->rows[i].bd == bd && strcmp(x->rows[i].key, csv_value(r.f[1])) == 0 &&
                    (bd != DMVF__BD_AGENCY || strcmp(x->rows[i].name, csv_value(r.f[2])) == 0))
                    want = x->rows[i].fig;
        }
        CHECK_MSG(want != NULL, "%s: CSV row %s/%s/%s is expected", what, r.f[0], r.f[1], r.f[2]);
        for (int f = 0; want && f < NFIG; f++) {
            char *e;
            unsigned long long v = strtoull(r.f[3 + f], &e, 10);
            CHECK_MSG(*e == 0 && v == want[f], "%s: CSV %s/%s %s = %s, want %" PRIu64, what,
                      r.f[0], r.f[1], dmvf__report_fig_names[f], r.f[3 + f], want[f]);
        }
        csv_free(&r);
    }
    CHECK_MSG(rc == 0, "%s: the CSV is well-formed RFC 4180 to its end", what);
    CHECK_EQ_INT(seen[NBD], 1);
    for (int bd = 0; bd < NBD; bd++) {
        size_t want = 0;
        for (size_t i = 0; i < x->n; i++)
            want += x->rows[i].bd == bd && xrow_nonzero(&x->rows[i]);
        CHECK_MSG(seen[bd] == want, "%s: CSV breakdown %s has %zu rows, want %zu", what,
                  dmvf__report_breakdown_names[bd], seen[bd], want);
    }
}

/* The report of r in fmt, as a malloc'd NUL-terminated string. */
static char *render(const dmvf__report *r, dmvf_report_format fmt, const char *title, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    dmvf_error err;
    if (!f)
        return NULL;
    int rc = dmvf__report_write(r, fmt, title, f, &err);
    fclose(f);
    CHECK_MSG(rc == DMVF_OK, "report write fmt %d: %s", (int)fmt, rc ? err.msg : "");
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Part 1: hand-made entries.                                                */

static uint64_t rng_s = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return rng_s;
}
static unsigned rnd_n(unsigned n) { return (unsigned)(rnd() % n); }

static const struct { const char *ori, *name; int kind; } agencies[] = {
    { "NY0300000", "Albany County Sheriff", 3 },
    { "NYSP00000", "New York State Police", 2 },
    { "DCICE0100", "ICE ERO New York", 1 },
    { "DCHSI0000", "<script>alert(1)</script>&\"'", 1 },
    { "NYRES0001", "Cornell, \"Policy\" Lab", 7 },
    { "NYCRT0000", "Kings County Court", 6 },
    { "NYINS0000", "=HYPERLINK(\"x\")", 8 },
    { "", "No ORI given", 9 },
};
#define NAG (sizeof agencies / sizeof agencies[0])
static const char *const tagpool[] = { "immigration-enforcement", "traffic", "child-support" };
/* the clients of `dmvfilter serve` ("": the command line), two of them
 * names a spreadsheet would run or unguard */
static const char *const clientpool[] = { "", "message-switch", "research-portal",
                                          "=cmd|' /C calc'!A0", "'+guarded" };
#define NCLIENT (sizeof clientpool / sizeof clientpool[0])

enum { EV_REQUEST, EV_RELEASE, EV_HOLD, EV_APPROVE, EV_DENY, EV_NOTICE, EV_ORPHAN,
       EV_OWNREQ, EV_ORPHAN_OWN, EV_ORPHAN_DENY };

typedef struct gen {
    who w;
    Dmv__V1__Request req;
    char *tagv[4];
    int decision, not_found;
    uint64_t t;
    int release;              /* a RELEASE entry is written */
    uint64_t rel_t, rel_records;
    uint64_t rel_f[6];        /* values: P, P+C, C, M, ordinary, redacted */
    int review;               /* 1 approve, 2 deny */
    uint64_t rev_t, rev_records, rev_f[6];
    uint64_t seq;
} gen;

typedef struct ev { int kind; size_t g; uint64_t t, order; } ev;

static int cmp_ev(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

#define NREQ 400
#define T0 ((uint64_t)1700000000 * 1000000000u)
#define SEC ((uint64_t)1000000000u)

static gen gens[NREQ + 2];
static ev evs[(NREQ + 2) * 5 + 16];

/* FieldCount entries for the six amounts (P, P+C, C, M, ordinary, redacted). */
static size_t make_fields(const uint64_t f[6], Dmv__V1__FieldCount *fc, Dmv__V1__FieldCount **pp)
{
    static const char *const paths[6] = {
        "photo.image", "person.ssn", "person.race", "marking.program", "person.family_name",
        "person.residence.street"
    };
    static const unsigned klass[6] = { 4, 6, 2, 1, 0, 0 };
    static const int action[6] = { 1, 2, 3, 1, 4, 0 };
    size_t n = 0;
    for (int i = 0; i < 6; i++) {
        if (!f[i])
            continue;
        dmv__v1__field_count__init(&fc[n]);
        fc[n].path = (char *)paths[i];
        fc[n].action = (Dmv__V1__FieldAction)action[i];
        fc[n].klass = klass[i];
        fc[n].values = f[i];
        pp[n] = &fc[n];
        n++;
    }
    /* a redacted marking value too: counts as redacted, not as C */
    if (f[5]) {
        dmv__v1__field_count__init(&fc[n]);
        fc[n].path = (char *)"marking.card_legend";
        fc[n].action = DMV__V1__FIELD_ACTION__FIELD_ACTION_REDACT;
        fc[n].klass = 1;
        fc[n].values = 3;
        pp[n] = &fc[n];
        n++;
    }
    return n;
}

static void xadd_fields(expect *x, const who *w, const uint64_t f[6], uint64_t records)
{
    xadd(x, w, DMVF__FIG_RECORDS, records);
    xadd(x, w, DMVF__FIG_FIELDS_P, f[0] + f[1]);
    xadd(x, w, DMVF__FIG_FIELDS_C, f[2] + f[3]);
    xadd(x, w, DMVF__FIG_FIELDS_ORDINARY, f[4]);
    xadd(x, w, DMVF__FIG_REDACTED, f[5] ? f[5] + 3 : 0);
}

static void rand_fields(uint64_t f[6])
{
    for (int i = 0; i < 6; i++)
        f[i] = rnd_n(3) ? rnd_n(50) : 0;
}

/* Builds the traffic (deterministic) and the event list in log order. */
static size_t build_traffic(void)
{
    size_t ne = 0, o = 0;
    for (size_t i = 0; i < NREQ + 2; i++) {
        gen *g = &gens[i];
        memset(g, 0, sizeof *g);
        size_t a = rnd_n(NAG);
        if (i >= NREQ)
            a = 0;                    /* the two edge requests: own agencies below */
        g->w.ori = agencies[a].ori;
        g->w.agency = agencies[a].name;
        g->w.kind = agencies[a].kind;
        unsigned tm = rnd_n(16);
        for (int k = 0; k < 3; k++)
            if (tm & (1u << k))
                g->w.tags[g->w.ntags++] = tagpool[k];
        if ((tm & 8) && g->w.ntags)
            g->w.tags[g->w.ntags++] = g->w.tags[0];   /* a repeated tag counts once */
        g->w.purpose = rnd_n(4) == 0 ? 0 : 1 + rnd_n(14);
        g->w.legal = (int)rnd_n(6);
        g->w.client = clientpool[i % NCLIENT];
        unsigned d = rnd_n(10);
        g->decision = d < 5 ? 1 : d < 8 ? 2 : 3;
        g->not_found = g->decision == 2 && rnd_n(2);
        g->t = T0 + (uint64_t)i * (SEC * 10) / 4 + rnd_n(1000);   /* 0..1000 s */
        if (g->decision == 1) {
            g->release = rnd_n(10) != 0;          /* ~10% incomplete */
            g->rel_records = rnd_n(60);
            rand_fields(g->rel_f);
        } else {
            g->release = rnd_n(3) == 0;           /* a RELEASE after a refusal: counts nothing */
            g->rel_records = 1 + rnd_n(5);
            rand_fields(g->rel_f);
        }
        g->rel_t = g->t + 1 + rnd_n(5) * SEC;
        if (g->decision == 3 && rnd_n(4)) {
            g->review = 1 + (int)rnd_n(2);
            g->rev_t = g->t + rnd_n(300) * SEC + 7;
            g->rev_records = g->review == 1 ? rnd_n(20) : 0;
            if (g->review == 1)
                rand_fields(g->rev_f);
        }
        if (i == NREQ || i == NREQ + 1) {        /* exactly at from, exactly at to */
            g->w.ori = i == NREQ ? "EDGEFROM0" : "EDGETO000";
            g->w.agency = i == NREQ ? "At from" : "At to";
            g->t = i == NREQ ? T0 + 200 * SEC : T0 + 800 * SEC;
            g->decision = 1;
            g->release = 1;
            g->rel_t = g->t;                      /* its RELEASE at the same instant */
            g->review = 0;
        }
        g->w.unknown = 0;
        evs[ne++] = (ev){ EV_REQUEST, i, g->t, o++ };
        if (g->release)
            evs[ne++] = (ev){ EV_RELEASE, i, g->rel_t, o++ };
        if (g->decision == 3)
            evs[ne++] = (ev){ EV_HOLD, i, g->t + 1, o++ };
        if (g->review)
            evs[ne++] = (ev){ g->review == 1 ? EV_APPROVE : EV_DENY, i, g->rev_t, o++ };
        if (g->release && rnd_n(8) == 0)
            evs[ne++] = (ev){ EV_NOTICE, i, g->rel_t + 2, o++ };
    }
    /* two orphans in the window: a RELEASE whose request is not in the log,
     * an approval that carries its own request */
    evs[ne++] = (ev){ EV_ORPHAN, 0, T0 + 500 * SEC, o++ };
    evs[ne++] = (ev){ EV_OWNREQ, 1, T0 + 501 * SEC, o++ };
    /* RELEASE entries whose REQUEST is not in the log but which carry a
     * copy of the request and decision: released, and refused */
    evs[ne++] = (ev){ EV_ORPHAN_OWN, 2, T0 + 502 * SEC, o++ };
    evs[ne++] = (ev){ EV_ORPHAN_DENY, 3, T0 + 503 * SEC, o++ };
    qsort(evs, ne, sizeof *evs, cmp_ev);
    return ne;
}

static void fill_request(gen *g)
{
    dmv__v1__request__init(&g->req);
    g->req.ori = (char *)g->w.ori;
    g->req.agency_name = (char *)g->w.agency;
    g->req.agency_kind = (Dmv__V1__AgencyKind)g->w.kind;
    for (size_t k = 0; k < g->w.ntags; k++)
        g->tagv[k] = (char *)g->w.tags[k];
    g->req.n_tags = g->w.ntags;
    g->req.tags = g->tagv;
    g->req.purpose = g->w.purpose;
    g->req.legal_process = (Dmv__V1__LegalProcess)g->w.legal;
    g->req.request_id = (char *)"r";
}

/* The entry of event k (seq = k); fc/pp: storage for its field counts. */
static void make_entry(size_t k, Dmv__V1__AuditEntry *e, Dmv__V1__FieldCount *fc,
                       Dmv__V1__FieldCount **pp)
{
    const ev *v = &evs[k];
    gen *g = &gens[v->g];
    dmv__v1__audit_entry__init(e);
    e->seq = k;
    e->time_ns = v->t;
    if (v->kind != EV_ORPHAN && g->w.client[0])
        e->client = (char *)g->w.client;
    switch (v->kind) {
    case EV_REQUEST:
        g->seq = k;
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST;
        e->request = &g->req;
        e->decision = (Dmv__V1__Decision)g->decision;
        e->not_found_reply = g->not_found;
        break;
    case EV_RELEASE:
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE;
        e->ref = g->seq;
        e->records_in = g->rel_records + 3;
        e->records_out = g->rel_records;
        e->n_fields = make_fields(g->rel_f, fc, pp);
        e->fields = pp;
        break;
    case EV_HOLD:
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_HOLD;
        e->ref = g->seq;
        e->request = &g->req;
        break;
    case EV_APPROVE:
    case EV_DENY:
        e->kind = v->kind == EV_APPROVE ? DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE
                                        : DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_DENY;
        e->ref = g->seq;
        e->request = rnd_n(2) ? &g->req : NULL;
        e->records_out = g->rev_records;
        e->n_fields = make_fields(g->rev_f, fc, pp);
        e->fields = pp;
        break;
    case EV_NOTICE:
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_NOTICE_SENT;
        e->ref = g->seq;
        e->notices = 4;
        break;
    case EV_ORPHAN: {
        static const uint64_t f[6] = { 1, 2, 3, 4, 5, 6 };
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE;
        e->ref = 1000000;
        e->records_out = 11;
        e->n_fields = make_fields(f, fc, pp);
        e->fields = pp;
        break;
    }
    case EV_ORPHAN_OWN:
    case EV_ORPHAN_DENY: {
        static const uint64_t f[6] = { 0, 0, 0, 0, 2, 0 };
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE;
        e->ref = v->kind == EV_ORPHAN_OWN ? 3000000 : 3000001;
        e->request = &g->req;
        e->decision = v->kind == EV_ORPHAN_OWN ? DMV__V1__DECISION__DECISION_RELEASE
                                               : DMV__V1__DECISION__DECISION_DENY;
        e->records_out = 17;
        e->n_fields = make_fields(f, fc, pp);
        e->fields = pp;
        break;
    }
    case EV_OWNREQ: {
        static const uint64_t f[6] = { 0, 0, 0, 0, 9, 0 };
        e->kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REVIEW_APPROVE;
        e->ref = 2000000;
        e->request = &g->req;
        e->records_out = 13;
        e->n_fields = make_fields(f, fc, pp);
        e->fields = pp;
        break;
    }
    }
}

/* What the window [from, to) must show, computed from the generator's own
 * choices (not from the entries). */
static void expected(expect *x, uint64_t from, uint64_t to)
{
    memset(x, 0, sizeof *x);
#define IN(t) ((t) >= from && (to == 0 || (t) < to))
    for (size_t i = 0; i < NREQ + 2; i++) {
        const gen *g = &gens[i];
        if (IN(g->t)) {
            xadd(x, &g->w, DMVF__FIG_REQUESTS, 1);
            xadd(x, &g->w, g->decision == 1 ? DMVF__FIG_RELEASED
                           : g->decision == 2 ? DMVF__FIG_REFUSED : DMVF__FIG_HELD, 1);
            if (g->not_found)
                xadd(x, &g->w, DMVF__FIG_NOT_FOUND, 1);
            if (g->decision == 1 && !g->release)
                xadd(x, &g->w, DMVF__FIG_INCOMPLETE, 1);
        }
        if (g->release && g->decision == 1 && IN(g->rel_t))
            xadd_fields(x, &g->w, g->rel_f, g->rel_records);
        if (g->review && IN(g->rev_t)) {
            xadd(x, &g->w, g->review == 1 ? DMVF__FIG_APPROVED : DMVF__FIG_DENIED, 1);
            if (g->review == 1)
                xadd_fields(x, &g->w, g->rev_f, g->rev_records);
        }
    }
    if (IN(T0 + 500 * SEC)) {
        static const uint64_t f[6] = { 1, 2, 3, 4, 5, 6 };
        who u = { .unknown = 1 };
        xadd_fields(x, &u, f, 11);
    }
    if (IN(T0 + 501 * SEC)) {
        static const uint64_t f[6] = { 0, 0, 0, 0, 9, 0 };
        xadd(x, &gens[1].w, DMVF__FIG_APPROVED, 1);
        xadd_fields(x, &gens[1].w, f, 13);
    }
    if (IN(T0 + 502 * SEC)) {
        static const uint64_t f[6] = { 0, 0, 0, 0, 2, 0 };
        xadd_fields(x, &gens[2].w, f, 17);
    }
#undef IN
}

static dmvf__report *aggregate(size_t ne, uint64_t from, uint64_t to)
{
    dmvf__report *r = dmvf__report_create(from, to);
    Dmv__V1__AuditEntry e;
    Dmv__V1__FieldCount fc[8], *pp[8];
    dmvf_error err;
    CHECK(r != NULL);
    if (!r)
        return NULL;
    rng_s = 12345;   /* make_entry draws: the same in both passes */
    for (size_t k = 0; k < ne; k++) {
        make_entry(k, &e, fc, pp);
        CHECK_EQ_INT(dmvf__report_prescan(r, &e, &err), DMVF_OK);
    }
    rng_s = 12345;
    for (size_t k = 0; k < ne; k++) {
        make_entry(k, &e, fc, pp);
        CHECK_EQ_INT(dmvf__report_add(r, &e, &err), DMVF_OK);
    }
    dmvf__report_finish(r);
    return r;
}

static void check_rows(const char *what, const dmvf__report *r, expect *x)
{
    const uint64_t *t = dmvf__report_figures(r, NBD, NULL, NULL);
    for (int f = 0; f < NFIG; f++)
        CHECK_MSG(t[f] == x->tot[f], "%s: total %s = %" PRIu64 ", want %" PRIu64, what,
                  dmvf__report_fig_names[f], t[f], x->tot[f]);
    for (size_t i = 0; i < x->n; i++) {
        const xrow *w = &x->rows[i];
        if (!xrow_nonzero(w))
            continue;
        const uint64_t *g = dmvf__report_figures(r, w->bd, w->key, w->name);
        CHECK_MSG(g != NULL, "%s: row %s/%s", what, dmvf__report_breakdown_names[w->bd], w->key);
        for (int f = 0; g && f < NFIG; f++)
            CHECK_MSG(g[f] == w->fig[f], "%s: %s/%s/%s %s = %" PRIu64 ", want %" PRIu64, what,
                      dmvf__report_breakdown_names[w->bd], w->key, w->name,
                      dmvf__report_fig_names[f], g[f], w->fig[f]);
    }
}

static void test_handmade(void)
{
    rng_s = 0x5eed;
    size_t ne = build_traffic();
    for (size_t i = 0; i < NREQ + 2; i++)
        fill_request(&gens[i]);
    const uint64_t from = T0 + 200 * SEC, to = T0 + 800 * SEC;

    expect *x = malloc(sizeof *x);
    expected(x, from, to);
    /* the traffic is varied enough to mean something */
    CHECK(x->tot[DMVF__FIG_REQUESTS] > 150);
    CHECK(x->tot[DMVF__FIG_REFUSED] > 20 && x->tot[DMVF__FIG_HELD] > 10);
    CHECK(x->tot[DMVF__FIG_NOT_FOUND] > 0 && x->tot[DMVF__FIG_INCOMPLETE] > 0);
    CHECK(x->tot[DMVF__FIG_APPROVED] > 0 && x->tot[DMVF__FIG_DENIED] > 0);
    CHECK(x->tot[DMVF__FIG_FIELDS_P] > 0 && x->tot[DMVF__FIG_FIELDS_C] > 0);

    dmvf__report *r = aggregate(ne, from, to);
    if (!r) {
        free(x);
        return;
    }
    check_rows("window", r, x);
    CHECK_EQ_INT(dmvf__report_unattributed(r), 1);
    /* the window's ends: the request at from is in, the one at to is out */
    const uint64_t *edge = dmvf__report_figures(r, DMVF__BD_AGENCY, "EDGEFROM0", "At from");
    CHECK(edge && edge[DMVF__FIG_REQUESTS] == 1 && edge[DMVF__FIG_RECORDS] == gens[NREQ].rel_records);
    CHECK(dmvf__report_figures(r, DMVF__BD_AGENCY, "EDGETO000", "At to") == NULL);

    size_t len;
    char *json = render(r, DMVF_REPORT_JSON, "Q4 \"report\"\n", &len);
    if (json) {
        check_json("window json", json, len, x);
        CHECK(strstr(json, "\"title\": \"Q4 \\\"report\\\"\\n\"") != NULL);
        CHECK(strstr(json, "\"from\": \"2023-11-14T22:16:40Z\"") != NULL);
        CHECK(strstr(json, "\"to\": \"2023-11-14T22:26:40Z\"") != NULL);
    }
    char *csv = render(r, DMVF_REPORT_CSV, NULL, &len);
    if (csv) {
        check_csv("window csv", csv, len, x);
        CHECK(strstr(csv, ",\"Cornell, \"\"Policy\"\" Lab\",") != NULL);
        CHECK(strstr(csv, "\"<script>alert(1)</script>&\"\"'\"") != NULL);
        CHECK(strstr(csv, ",\"'=HYPERLINK(\"\"x\"\")\",") != NULL);
        /* the client rows: a formula guarded, a guard-like start guarded too */
        CHECK(strstr(csv, "\r\nclient,\"'=cmd|' /C calc'!A0\",,") != NULL);
        CHECK(strstr(csv, "\r\nclient,\"''+guarded\",,") != NULL);
        CHECK(strstr(csv, "\r\nclient,message-switch,,") != NULL);
        CHECK(strstr(csv, "\r\nclient,(none),,") != NULL);
    }
    /* deterministic: the same report twice is the same bytes */
    size_t len2;
    char *csv2 = render(r, DMVF_REPORT_CSV, NULL, &len2);
    CHECK(csv && csv2 && len == len2 && memcmp(csv, csv2, len) == 0);

    char *md = render(r, DMVF_REPORT_MD, "Quarterly <b>report</b>", &len);
    if (md) {
        char line[512];
        size_t o = 0;
        for (int f = 0; f < NFIG; f++)
            o += (size_t)snprintf(line + o, sizeof line - o, "| %" PRIu64 " ", x->tot[f]);
        snprintf(line + o, sizeof line - o, "|\n");
        CHECK_MSG(strstr(md, line) != NULL, "md totals line %s", line);
        static const char head[] = "# Quarterly &lt;b&gt;report&lt;/b&gt;\n";
        CHECK(strncmp(md, head, sizeof head - 1) == 0);
        CHECK(strstr(md, "| DCHSI0000 | &lt;script&gt;alert(1)&lt;/script&gt;&amp;\"'") != NULL);
        CHECK(strstr(md, "<script") == NULL);
        CHECK(strstr(md, "## By agency kind") && strstr(md, "## How to read these figures"));
        const uint64_t *ice = dmvf__report_figures(r, DMVF__BD_TAG, "immigration-enforcement", "");
        if (ice) {
            snprintf(line, sizeof line, "| immigration-enforcement | %" PRIu64 " | %" PRIu64 " |",
                     ice[0], ice[1]);
            CHECK_MSG(strstr(md, line) != NULL, "md tag row %s", line);
        }
        CHECK(strstr(md, "## By client") != NULL);
        const uint64_t *ms = dmvf__report_figures(r, DMVF__BD_CLIENT, "message-switch", "");
        CHECK(ms != NULL && ms[DMVF__FIG_REQUESTS] > 0);
        if (ms) {
            snprintf(line, sizeof line, "| message-switch | %" PRIu64 " | %" PRIu64 " |", ms[0], ms[1]);
            CHECK_MSG(strstr(md, line) != NULL, "md client row %s", line);
        }
    }
    char *html = render(r, DMVF_REPORT_HTML, "Report <i>", &len);
    if (html) {
        CHECK(strncmp(html, "<!DOCTYPE html>\n<html", 21) == 0);
        CHECK(len > 8 && strcmp(html + len - 8, "</html>\n") == 0);
        CHECK(strstr(html, "<svg") != NULL);
        CHECK(strstr(html, "http") == NULL);            /* no link to anywhere */
        CHECK(strstr(html, "src=") == NULL && strstr(html, "href") == NULL);
        CHECK(strstr(html, "<script") == NULL);          /* the hostile name is escaped */
        CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;") != NULL);
        CHECK(strstr(html, "<title>Report &lt;i&gt;</title>") != NULL);
        CHECK(strstr(html, "<h2>By client</h2>") != NULL && strstr(html, "research-portal") != NULL);
        CHECK(strstr(html + 21, "<html") == NULL);       /* one page */
        char cell[64];
        snprintf(cell, sizeof cell, "<td>%" PRIu64 "</td>", x->tot[DMVF__FIG_RECORDS]);
        CHECK(strstr(html, cell) != NULL);
        unsigned svgs = 0;
        for (const char *p = html; (p = strstr(p, "<svg")) != NULL; p++)
            svgs++;
        CHECK_EQ_INT(svgs, 4);
    }
    free(json);
    free(csv);
    free(csv2);
    free(md);
    free(html);
    dmvf__report_free(r);

    /* an open end, and a window holding only the edge "from" request's
     * neighbourhood: [from, from + 1 ns) */
    static const uint64_t wins[][2] = {
        { T0 + 200 * SEC, 0 }, { T0 + 200 * SEC, T0 + 200 * SEC + 1 }, { 0, 0 },
        { T0 + 800 * SEC, T0 + 2000 * SEC },
    };
    for (size_t wi = 0; wi < sizeof wins / sizeof wins[0]; wi++) {
        char what[64];
        snprintf(what, sizeof what, "window %zu", wi);
        expected(x, wins[wi][0], wins[wi][1]);
        r = aggregate(ne, wins[wi][0], wins[wi][1]);
        if (!r)
            continue;
        check_rows(what, r, x);
        json = render(r, DMVF_REPORT_JSON, NULL, &len);
        if (json)
            check_json(what, json, len, x);
        csv = render(r, DMVF_REPORT_CSV, NULL, &len);
        if (csv)
            check_csv(what, csv, len, x);
        if (wi == 0)
            CHECK(json && strstr(json, "\"to\": null") != NULL);
        if (wi == 3)
            CHECK(dmvf__report_figures(r, DMVF__BD_AGENCY, "EDGETO000", "At to") != NULL);
        free(json);
        free(csv);
        dmvf__report_free(r);
    }
    free(x);

    /* an empty report is still a valid document */
    r = dmvf__report_create(1, 2);
    dmvf__report_finish(r);
    expect *z = calloc(1, sizeof *z);
    json = render(r, DMVF_REPORT_JSON, NULL, &len);
    if (json)
        check_json("empty", json, len, z);
    html = render(r, DMVF_REPORT_HTML, NULL, &len);
    CHECK(html && strstr(html, "No entries.") != NULL);
    free(json);
    free(html);
    free(z);

    /* a failing stream is DMVF_EIO; an unknown format DMVF_EINVAL */
    dmvf_error err;
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        CHECK_EQ_INT(dmvf__report_write(r, DMVF_REPORT_HTML, NULL, full, &err), DMVF_EIO);
        fclose(full);
    }
    CHECK_EQ_INT(dmvf__report_write(r, (dmvf_report_format)99, NULL, stdout, &err), DMVF_EINVAL);
    dmvf__report_free(r);
}

/* One refused REQUEST entry of the requester ori / name, counted into r. */
static void add_refused(dmvf__report *r, const char *ori, const char *name)
{
    Dmv__V1__Request q = DMV__V1__REQUEST__INIT;
    Dmv__V1__AuditEntry e = DMV__V1__AUDIT_ENTRY__INIT;
    dmvf_error err;
    q.ori = (char *)ori;
    q.agency_name = (char *)name;
    e.kind = DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST;
    e.request = &q;
    e.decision = DMV__V1__DECISION__DECISION_DENY;
    CHECK_EQ_INT(dmvf__report_prescan(r, &e, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__report_add(r, &e, &err), DMVF_OK);
}

/* CSV cells a spreadsheet could run as a formula get an apostrophe first and
 * are quoted: = + - @ first, and TAB or CR first (which spreadsheets skip
 * before they look for a formula); other cells are written as they are. */
static void test_csv_formula(void)
{
    static const struct { const char *ori, *name, *cell; } cases[] = {
        { "NYF000001", "=1+1", ",\"'=1+1\"," },
        { "NYF000002", "+1", ",\"'+1\"," },
        { "NYF000003", "-1", ",\"'-1\"," },
        { "NYF000004", "@SUM(A1)", ",\"'@SUM(A1)\"," },
        { "NYF000005", "\t=cmd|' /C calc'!A0", ",\"'\t=cmd|' /C calc'!A0\"," },
        { "NYF000006", "\r=1+1", ",\"'\r=1+1\"," },
        { "NYF000007", "\tplain", ",\"'\tplain\"," },
        { "\t=ORI", "tab ori", "\"'\t=ORI\",tab ori," },
        { "NYF000008", "plain =1", ",plain =1," },
        { "NYF000009", " =1", ", =1," },
        { "NYF000010", "a\tb", ",a\tb," },
        /* dmvf__text_csv's guard: a value that starts as a guarded cell does
           is guarded too, so that every value reads back exactly */
        { "NYF000011", "'=1", ",\"''=1\"," },
        { "NYF000012", "''", ",\"'''\"," },
        { "NYF000013", "'plain", ",'plain," },
    };
    dmvf__report *r = dmvf__report_create(0, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        add_refused(r, cases[i].ori, cases[i].name);
    dmvf__report_finish(r);
    size_t len;
    char *csv = render(r, DMVF_REPORT_CSV, NULL, &len);
    for (size_t i = 0; csv && i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(strstr(csv, cases[i].cell) != NULL, "csv cell %zu (%s) written as %s", i,
                  cases[i].ori, cases[i].cell);
    /* no cell of the agency rows starts with a bare TAB or CR */
    CHECK(csv && !strstr(csv, ",\t") && !strstr(csv, ",\r") && !strstr(csv, "\n\t"));
    free(csv);
    dmvf__report_free(r);
}

/* JSON strings stay valid for any bytes in the log. */
static void test_json_bytes(void)
{
    dmvf__report *r = dmvf__report_create(0, 0);
    add_refused(r, "BAD\x01\xff\xc3(", "tab\there \"q\" \\ \xe2\x82\xac \xed\xa0\x80");
    dmvf__report_finish(r);
    size_t len;
    char *json = render(r, DMVF_REPORT_JSON, NULL, &len);
    jv *doc = json ? json_parse(json, len) : NULL;
    CHECK_MSG(doc != NULL, "JSON with odd bytes parses");
    const jv *ag = jget(jget(doc, "breakdowns"), "agency");
    const jv *name = ag && ag->n ? jget(ag->items[0], "name") : NULL;
    CHECK(name && name->type == 's' && strstr(name->s, "tab\there \"q\" \\ \xe2\x82\xac") != NULL);
    /* the surrogate and the bytes that are not UTF-8 as \ufffd, one each */
    CHECK(json && strstr(json, "\xe2\x82\xac \\ufffd\\ufffd\\ufffd\"") != NULL);
    CHECK(json && strstr(json, "\"BAD\\u0001\\ufffd\\ufffd(\"") != NULL);
    jv_free(doc);
    char *html = render(r, DMVF_REPORT_HTML, NULL, &len);
    CHECK(html && strstr(html, "BAD&#xfffd;&#xfffd;&#xfffd;(") != NULL);
    free(json);
    free(html);
    dmvf__report_free(r);
}

/* ------------------------------------------------------------------------ */
/* Part 2: a real log through the public writer.                             */

typedef struct times { uint64_t t[4096]; uint64_t seq[4096]; int kind[4096]; size_t n; } times;

static int collect_times(void *ud, const Dmv__V1__AuditEntry *e)
{
    times *t = ud;
    if (t->n < 4096) {
        t->t[t->n] = e->time_ns;
        t->seq[t->n] = e->seq;
        t->kind[t->n] = (int)e->kind;
        t->n++;
    }
    return 0;
}

static char *report_file(const char *dir, uint64_t from, uint64_t to, dmvf_report_format fmt,
                         size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    dmvf_error err;
    int rc = dmvf_audit_report(dir, from, to, fmt, "Audit test", f, &err);
    fclose(f);
    CHECK_MSG(rc == DMVF_OK, "dmvf_audit_report: %s", rc ? err.msg : "");
    *len = n;
    if (rc != DMVF_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The policy of part 2: each requester below is decided in a known way. */
static const char real_policy[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "profiles:\n"
    "  basic:\n"
    "    default: redact\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      person.family_name: release\n"
    "      person.birth_date: {generalize: year}\n"
    "      license.number: release\n"
    "review: {spool: /nonexistent/spool, public_key: /nonexistent/reviewers.pub}\n"
    "requesters:\n"
    "  - {ori: NY0300000, name: Albany County Sheriff, kind: local, jurisdiction: NY}\n"
    "  - {ori: DCICE0100, name: \"ICE <ERO> & co\", kind: federal, tags: [immigration-enforcement]}\n"
    "  - {ori: NYRES0001, name: \"Cornell, Lab\", kind: research}\n"
    "  - {ori: NYINS0000, name: Insurer, kind: commercial}\n"
    "rules:\n"
    "  - name: immigration enforcement\n"
    "    match: {tags: [immigration-enforcement]}\n"
    "    decision: release\n"
    "    legal_process: [court_order, judicial_warrant]\n"
    "    refusal: not-found\n"
    "    profile: basic\n"
    "  - name: police\n"
    "    match: {agency_kind: [local]}\n"
    "    purposes: [1]\n"
    "    decision: release\n"
    "    profile: basic\n"
    "  - name: researchers\n"
    "    match: {agency_kind: [research]}\n"
    "    decision: release\n"
    "    profile: basic\n"
    "  - name: insurers\n"
    "    match: {agency_kind: [commercial]}\n"
    "    decision: review\n"
    "    profile: basic\n";

static void test_real_log(void)
{
    static const uint8_t seed[32] = { 7, 7, 7 };
    dmvf_policy *pol = NULL;
    dmvf_keyring *kr = NULL;
    dmvf_error err;
    char recs[600], logdir[600], krpath[600], cmd[1024];
    snprintf(g_dir, sizeof g_dir, "/tmp/dmvf-report-XXXXXX");
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    atexit(fixture_cleanup);
    pol = dmvf_policy_load_buffer(real_policy, sizeof real_policy - 1, "report-test.yaml", &err);
    CHECK_MSG(pol != NULL, "policy: %s", pol ? "" : err.msg);
    snprintf(krpath, sizeof krpath, "%s/keyring", g_dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(krpath, seed, 1, &err), DMVF_OK);
    kr = dmvf_keyring_load(krpath, NULL, &err);
    CHECK_MSG(kr != NULL, "keyring: %s", kr ? "" : err.msg);
    if (!pol || !kr)
        goto out;
    snprintf(recs, sizeof recs, "%s/recs.bin", g_dir);
    snprintf(logdir, sizeof logdir, "%s/audit", g_dir);
    snprintf(cmd, sizeof cmd, "--count 7 --seed 3 --marked 0.5 --out '%s'", recs);
    CHECK_EQ_INT(run_gen(cmd), 0);
    size_t nrec;
    uint8_t *in = slurp(recs, &nrec);
    CHECK(in != NULL);
    if (!in)
        goto out;

    dmvf_audit *a = dmvf_audit_open(logdir, kr, NULL, &err);
    CHECK_MSG(a != NULL, "dmvf_audit_open: %s", a ? "" : err.msg);
    if (!a) {
        free(in);
        goto out;
    }
    static const char *const ice_tags[] = { "immigration-enforcement" };
    static const struct {
        dmvf_request q;
        int decision;
    } reqs[] = {
        { { .ori = "NY0300000", .agency_name = "Albany County Sheriff", .agency_kind = DMVF_AGENCY_LOCAL,
            .jurisdiction = "NY", .purpose = 1, .query_kind = DMVF_QUERY_BY_LICENSE,
            .legal_process = DMVF_LEGAL_NONE }, DMVF_DECISION_RELEASE },
        { { .ori = "DCICE0100", .agency_name = "ICE <ERO> & co", .agency_kind = DMVF_AGENCY_FEDERAL,
            .tags = ice_tags, .ntags = 1, .legal_process = DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA,
            .query_kind = DMVF_QUERY_BY_LICENSE }, DMVF_DECISION_DENY },
        { { .ori = "NYRES0001", .agency_name = "Cornell, Lab", .agency_kind = DMVF_AGENCY_RESEARCH,
            .purpose = 5 }, DMVF_DECISION_RELEASE },
        { { .ori = "NYINS0000", .agency_name = "Insurer", .agency_kind = DMVF_AGENCY_COMMERCIAL,
            .purpose = 6 }, DMVF_DECISION_REVIEW },
        { { .ori = "XX0000000", .agency_name = "Nobody", .agency_kind = DMVF_AGENCY_FOREIGN }, DMVF_DECISION_DENY },
    };
    enum { NR = sizeof reqs / sizeof reqs[0], ROUNDS = 6 };
    expect *x = calloc(1, sizeof *x);
    size_t order[NR * ROUNDS];
    uint8_t *outbuf = malloc(nrec * 4 + 4096);
    for (size_t k = 0; k < NR * ROUNDS; k++) {
        size_t i = k % NR, round = k / NR;
        order[k] = i;
        /* every other round through the service, as one of two clients */
        static const char *const clients[] = { NULL, "message-switch", NULL, "research-portal" };
        dmvf_filter_options fo = { .count_fields = 1, .as_of = 20261122, .client = clients[round % 4] };
        dmvf_filter *f = dmvf_filter_create(pol, kr, &reqs[i].q, &fo, &err);
        CHECK_MSG(f != NULL, "filter %zu: %s", i, f ? "" : err.msg);
        if (!f)
            continue;
        int d = (int)dmvf_filter_decision(f);
        CHECK_MSG(d == reqs[i].decision, "request %zu decided %d, want %d", i, d, reqs[i].decision);
        uint64_t seq = UINT64_MAX;
        CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
        if (d == DMVF_DECISION_RELEASE) {
            dmvf_in_buffer ib = { in, nrec, 0 };
            dmvf_out_buffer ob = { outbuf, nrec * 4 + 4096, 0 };
            CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &ib, 1, &err), DMVF_OK);
        }
        dmvf_audit_counts c = {0};
        dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
        /* the last round of the police requests stops before its release */
        int skip_release = i == 0 && round == ROUNDS - 1;
        if (!skip_release)
            CHECK_EQ_INT(dmvf_audit_release(a, f, &c, seq, &err), DMVF_OK);

        /* the report names the requester as the directory does (the request as
         * the DMV records it); XX0000000 is not in it: no name, no kind */
        const dmvf_request *rec = dmvf_filter_request(f);
        who w = { rec->ori, rec->agency_name ? rec->agency_name : "", (int)rec->agency_kind, {0}, 0,
                  rec->purpose, (int)rec->legal_process, clients[round % 4], 0 };
        for (size_t t = 0; t < rec->ntags; t++)
            w.tags[w.ntags++] = rec->tags[t];
        xadd(x, &w, DMVF__FIG_REQUESTS, 1);
        xadd(x, &w, d == DMVF_DECISION_RELEASE ? DMVF__FIG_RELEASED
                    : d == DMVF_DECISION_REVIEW ? DMVF__FIG_HELD : DMVF__FIG_REFUSED, 1);
        if (d == DMVF_DECISION_DENY && dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND)
            xadd(x, &w, DMVF__FIG_NOT_FOUND, 1);
        if (d == DMVF_DECISION_RELEASE && skip_release)
            xadd(x, &w, DMVF__FIG_INCOMPLETE, 1);
        if (d == DMVF_DECISION_RELEASE && !skip_release) {
            xadd(x, &w, DMVF__FIG_RECORDS, c.records_out);
            size_t nf = dmvf_filter_field_counts(f, NULL, 0);
            dmvf_field_count *fc = calloc(nf + 1, sizeof *fc);
            dmvf_filter_field_counts(f, fc, nf);
            for (size_t j = 0; j < nf; j++) {
                int fig = fc[j].action == DMVF_FIELD_REDACT ? DMVF__FIG_REDACTED
                        : (fc[j].klass & DMVF_FIELD_CLASS_P) ? DMVF__FIG_FIELDS_P
                        : fc[j].klass ? DMVF__FIG_FIELDS_C : DMVF__FIG_FIELDS_ORDINARY;
                xadd(x, &w, fig, fc[j].values);
            }
            free(fc);
        }
        /* the held requests: the first approved (4 records, 4 + 2 field
         * values), the second denied, the rest still pending */
        if (d == DMVF_DECISION_REVIEW && round < 2) {
            dmvf_field_count rf[2] = { { "person.family_name", DMVF_FIELD_RELEASE, 0, 4 },
                                       { "person.ssn", DMVF_FIELD_REDACT, 6, 2 } };
            dmvf_audit_event rev = { .kind = round == 0 ? DMVF_AUDIT_REVIEW_APPROVE
                                                       : DMVF_AUDIT_REVIEW_DENY,
                                    .request = round == 0 ? &reqs[i].q : NULL,
                                    .review_id = "0123456789abcdef0123456789abcdef",
                                    .actor = "reviewer", .ref = seq };
            if (round == 0) {
                rev.counts.records_out = 4;
                rev.fields = rf;
                rev.nfields = 2;
                xadd(x, &w, DMVF__FIG_APPROVED, 1);
                xadd(x, &w, DMVF__FIG_RECORDS, 4);
                xadd(x, &w, DMVF__FIG_FIELDS_ORDINARY, 4);
                xadd(x, &w, DMVF__FIG_REDACTED, 2);
            } else {
                xadd(x, &w, DMVF__FIG_DENIED, 1);
            }
            CHECK_EQ_INT(dmvf_audit_event_write(a, &rev, NULL, &err), DMVF_OK);
        }
        dmvf_filter_free(f);
    }
    CHECK(x->tot[DMVF__FIG_RECORDS] > 0 && x->tot[DMVF__FIG_FIELDS_ORDINARY] > 0);
    CHECK(x->tot[DMVF__FIG_REDACTED] > 0 && x->tot[DMVF__FIG_NOT_FOUND] == ROUNDS);

    /* a review step whose ref names no held request: it counts under the
     * request it carries */
    static const char *const tags2[] = { "civil", "civil" };
    dmvf_request other = { .ori = "NYINS0002", .agency_name = "Other insurer", .agency_kind =
                           DMVF_AGENCY_COMMERCIAL, .tags = tags2, .ntags = 2, .purpose = 6,
                           .legal_process = DMVF_LEGAL_NONE };
    dmvf_field_count rf[2] = { { "person.family_name", DMVF_FIELD_RELEASE, 0, 5 },
                               { "photo.image", DMVF_FIELD_REDACT, DMVF_FIELD_CLASS_P, 5 } };
    dmvf_audit_event evt = { .kind = DMVF_AUDIT_REVIEW_APPROVE, .request = &other,
                             .review_id = "r1", .actor = "reviewer", .ref = 999999, .fields = rf,
                             .nfields = 2 };
    evt.counts.records_out = 5;
    CHECK_EQ_INT(dmvf_audit_event_write(a, &evt, NULL, &err), DMVF_OK);
    who ow = { "NYINS0002", "Other insurer", DMVF_AGENCY_COMMERCIAL, { "civil", "civil" }, 2, 6,
               DMVF_LEGAL_NONE, NULL, 0 };
    xadd(x, &ow, DMVF__FIG_APPROVED, 1);
    xadd(x, &ow, DMVF__FIG_RECORDS, 5);
    xadd(x, &ow, DMVF__FIG_FIELDS_ORDINARY, 5);
    xadd(x, &ow, DMVF__FIG_REDACTED, 5);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);

    size_t len;
    char *json = report_file(logdir, 0, 0, DMVF_REPORT_JSON, &len);
    if (json)
        check_json("real log", json, len, x);
    char *csv = report_file(logdir, 0, 0, DMVF_REPORT_CSV, &len);
    if (csv)
        check_csv("real log csv", csv, len, x);
    char *html = report_file(logdir, 0, 0, DMVF_REPORT_HTML, &len);
    CHECK(html && strstr(html, "ICE &lt;ERO&gt; &amp; co") && !strstr(html, "<ERO>"));
    free(json);
    free(csv);
    free(html);

    /* the window's ends on the entries' real times: from = the time of the
     * 5th REQUEST, to = the time of the 9th; requests 5..8 are in */
    times *tm = calloc(1, sizeof *tm);
    CHECK_EQ_INT(dmvf__audit_scan(logdir, collect_times, tm, &err), DMVF_OK);
    uint64_t rt[NR * ROUNDS];
    size_t nreq = 0;
    for (size_t i = 0; i < tm->n; i++)
        if (tm->kind[i] == DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST && nreq < NR * ROUNDS)
            rt[nreq++] = tm->t[i];
    CHECK_EQ_INT(nreq, NR * ROUNDS);
    if (nreq == NR * ROUNDS) {
        uint64_t from = rt[4], to = rt[8];
        size_t want = 0;
        uint64_t per[NR] = {0};
        for (size_t k = 0; k < nreq; k++)
            if (rt[k] >= from && rt[k] < to) {
                want++;
                per[order[k]]++;
            }
        CHECK(want >= 1 && per[order[4]] >= 1);
        json = report_file(logdir, from, to, DMVF_REPORT_JSON, &len);
        jv *doc = json ? json_parse(json, len) : NULL;
        uint64_t v = UINT64_MAX;
        CHECK(jnum(jget(jget(doc, "totals"), "requests"), &v) == 0 && v == want);
        const jv *ag = jget(jget(doc, "breakdowns"), "agency");
        for (size_t i = 0; i < NR; i++) {
            uint64_t got = 0;
            for (size_t k = 0; ag && k < ag->n; k++) {
                const jv *key = jget(ag->items[k], "key");
                if (key && key->type == 's' && strcmp(key->s, reqs[i].q.ori) == 0)
                    jnum(jget(ag->items[k], "requests"), &got);
            }
            CHECK_MSG(got == per[i], "window: agency %s requests %" PRIu64 ", want %" PRIu64,
                      reqs[i].q.ori, got, per[i]);
        }
        jv_free(doc);
        free(json);
    }
    free(tm);

    /* errors: a missing log, a directory without one, an empty window, an
     * unknown format */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nolog", g_dir);
    FILE *devnull = fopen("/dev/null", "w");
    CHECK_EQ_INT(dmvf_audit_report(missing, 0, 0, DMVF_REPORT_JSON, NULL, devnull, &err), DMVF_EIO);
    CHECK(strstr(err.msg, "nolog") != NULL);
    CHECK_EQ_INT(dmvf_audit_report(g_dir, 0, 0, DMVF_REPORT_JSON, NULL, devnull, &err), DMVF_EIO);
    CHECK(strstr(err.msg, "no audit log") != NULL);
    CHECK_EQ_INT(dmvf_audit_report(logdir, 5, 5, DMVF_REPORT_JSON, NULL, devnull, &err), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_audit_report(logdir, 0, 0, (dmvf_report_format)0, NULL, devnull, &err),
                 DMVF_EINVAL);
    fclose(devnull);
    free(x);
    free(outbuf);
    free(in);
out:
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
}

int main(void)
{
    test_handmade();
    test_json_bytes();
    test_csv_formula();
    test_real_log();
    CHECK_DONE();
}
