/*
 * parse_requesters.c - the requester directory: who each ORI is, as the
 * DMV says (as Nlets' ORION does), read from the policy's `requesters` list
 * and, optionally, the `requesters_file` CSV. One entry per exact ORI or
 * ORI prefix:
 *
 *   requesters:
 *     - {ori: NY0010000, name: NYPD 1st Precinct, kind: local, jurisdiction: NY,
 *        certified_until: 2027-12-31}
 *     - {ori_prefix: DCICE, name: ICE ERO, kind: federal, tags: [immigration-enforcement]}
 *     - {ori: NYRES0001, name: SUNY Traffic Safety Study, kind: research, scope: suny-study}
 *   requesters_file: orion.csv     (relative to the policy file)
 *
 * The file is RFC 4180 CSV (fields separated by ',', quoted with '"' when
 * they hold a ',', a '"' (doubled) or a line end; lines end in CRLF or LF;
 * an empty line is skipped; a UTF-8 byte order mark is skipped), with
 * exactly this header:
 *
 *   ori,ori_prefix,name,kind,jurisdiction,tags,certified_until,scope
 *   NY0010000,,NYPD 1st Precinct,local,NY,,2027-12-31,
 *   ,DCICE,ICE ERO,federal,,immigration-enforcement;ice,,
 *
 * An empty cell is a value not given; tags are separated by ';'. Both
 * forms check the same things, each with its place (policy file:line:column
 * or CSV file:line:column): exactly one of ori and ori_prefix, their
 * syntax (core/request.h), a name and a kind, the jurisdiction, tags,
 * certification date and scope. That the entries are one directory with no
 * ORI or prefix twice is directory.c's to check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/fileio.h"
#include "filter/policy/parse_int.h"

#define DMVF__REQUESTERS_FILE_MAX ((size_t)64 << 20)
#define SCOPE_MAX 64u

/* The fields of an entry, in the CSV header's order. */
enum { F_ORI, F_PREFIX, F_NAME, F_KIND, F_JUR, F_TAGS, F_CERT, F_SCOPE, NF };
static const char *const field_name[NF] = {"ori", "ori_prefix", "name", "kind", "jurisdiction",
                                           "tags", "certified_until", "scope"};
#define HEADER "ori,ori_prefix,name,kind,jurisdiction,tags,certified_until,scope"

/* A value as written: NUL-terminated text (NULL: not given) and its place. */
typedef struct val {
    const char *s;
    unsigned line, col;
} val;

/* Where the entry being read comes from. */
typedef struct src {
    dmvf_policy *p;
    const char *file;       /* for messages */
    dmvf_error *err;
} src;

static int fail(const src *c, unsigned line, unsigned col, const char *fmt, ...) DMVF_PRINTF(4, 5);
static int fail(const src *c, unsigned line, unsigned col, const char *fmt, ...)
{
    char buf[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dmvf__perr(c->err, c->file, line, col, "%s", buf);
}

static int nomem(const src *c)
{
    return dmvf__seterr(c->err, DMVF_ENOMEM, "%s: out of memory while loading the requester directory",
                        c->file);
}

static int scope_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
}

static int scope_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > SCOPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!scope_char(s[i]))
            return 0;
    return 1;
}

static int has_control(const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u < 0x20 || *u == 0x7f)
            return 1;
    return 0;
}

/* Fills e from the values v (and the ntags tags), checking each; `at` is
 * the entry's place, num its 1-based number in its list or file. */
static int build_entry(const src *c, dmvf_dirent *e, const val v[NF], const val *tags, size_t ntags,
                       unsigned line, unsigned col, size_t num)
{
    dmvf_arena *A = &c->p->arena;
    dmvf_requester *r = &e->pub;
    e->src = c->file;
    e->line = line;
    e->col = col;
    if (v[F_ORI].s && v[F_PREFIX].s)
        return fail(c, v[F_PREFIX].line, v[F_PREFIX].col,
                    "requester entry #%zu has both ori and ori_prefix: an entry is one ORI or one prefix", num);
    if (!v[F_ORI].s && !v[F_PREFIX].s)
        return fail(c, line, col, "requester entry #%zu has neither ori nor ori_prefix", num);
    char label[64];
    if (v[F_ORI].s) {
        if (!dmvf__ori_valid(v[F_ORI].s, strlen(v[F_ORI].s)))
            return fail(c, v[F_ORI].line, v[F_ORI].col, "requester entry #%zu: ori '%s': " DMVF__ORI_RULE, num,
                        v[F_ORI].s);
        if (!(r->ori = dmvf__arena_strndup(A, v[F_ORI].s, strlen(v[F_ORI].s))))
            return nomem(c);
    } else {
        if (!dmvf__ori_prefix_valid(v[F_PREFIX].s, strlen(v[F_PREFIX].s)))
            return fail(c, v[F_PREFIX].line, v[F_PREFIX].col,
                        "requester entry #%zu: ori_prefix '%s': " DMVF__ORI_PREFIX_RULE, num, v[F_PREFIX].s);
        if (!(r->ori_prefix = dmvf__arena_strndup(A, v[F_PREFIX].s, strlen(v[F_PREFIX].s))))
            return nomem(c);
    }
    dmvf__dirent_key(r, label, sizeof label);

    if (!v[F_NAME].s)
        return fail(c, line, col, "requester %s has no name", label);
    if (has_control(v[F_NAME].s))
        return fail(c, v[F_NAME].line, v[F_NAME].col, "requester %s: name holds a control character", label);
    if (!(r->name = dmvf__arena_strndup(A, v[F_NAME].s, strlen(v[F_NAME].s))))
        return nomem(c);

    if (!v[F_KIND].s)
        return fail(c, line, col, "requester %s has no kind (federal, state, local, tribal, foreign, court, "
                    "research, commercial, internal)", label);
    if (dmvf_agency_kind_parse(v[F_KIND].s, &r->kind) != DMVF_OK)
        return fail(c, v[F_KIND].line, v[F_KIND].col,
                    "requester %s: unknown kind '%s' (expected federal, state, local, tribal, foreign, court, "
                    "research, commercial, internal)", label, v[F_KIND].s);

    if (v[F_JUR].s) {
        if (!dmvf__jurisdiction_valid(v[F_JUR].s, strlen(v[F_JUR].s)))
            return fail(c, v[F_JUR].line, v[F_JUR].col, "requester %s: jurisdiction '%s': " DMVF__JURISDICTION_RULE,
                        label, v[F_JUR].s);
        if (!(r->jurisdiction = dmvf__arena_strndup(A, v[F_JUR].s, 2)))
            return nomem(c);
    }

    if (ntags) {
        const char **t = dmvf__arena_alloc(A, ntags * sizeof *t);
        if (!t)
            return nomem(c);
        for (size_t i = 0; i < ntags; i++) {
            size_t n = strlen(tags[i].s);
            if (!dmvf__tag_valid(tags[i].s, n))
                return fail(c, tags[i].line, tags[i].col, "requester %s: tag '%s': " DMVF__TAG_RULE, label,
                            tags[i].s);
            for (size_t j = 0; j < i; j++)
                if (strcmp(t[j], tags[i].s) == 0)
                    return fail(c, tags[i].line, tags[i].col, "requester %s: tag '%s' is given twice", label,
                                tags[i].s);
            if (!(t[i] = dmvf__arena_strndup(A, tags[i].s, n)))
                return nomem(c);
        }
        r->tags = t;
        r->ntags = ntags;
    }

    if (v[F_CERT].s && !(r->certified_until = dmvf__date_parse(v[F_CERT].s, strlen(v[F_CERT].s))))
        return fail(c, v[F_CERT].line, v[F_CERT].col,
                    "requester %s: bad date '%s' in certified_until (expected YYYY-MM-DD)", label, v[F_CERT].s);

    if (v[F_SCOPE].s) {
        if (!scope_valid(v[F_SCOPE].s))
            return fail(c, v[F_SCOPE].line, v[F_SCOPE].col,
                        "requester %s: scope '%s': a scope is 1 to 64 characters A-Z, a-z, 0-9, '.', '_' or '-'",
                        label, v[F_SCOPE].s);
        if (!(r->scope = dmvf__arena_strndup(A, v[F_SCOPE].s, strlen(v[F_SCOPE].s))))
            return nomem(c);
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ requesters: [...] */

static int field_index(const char *key)
{
    for (int i = 0; i < NF; i++)
        if (strcmp(key, field_name[i]) == 0)
            return i;
    return -1;
}

static int yaml_entry(dmvf__yload *L, const src *c, const yaml_node_t *m, size_t num, dmvf_dirent *e)
{
    char what[64];
    snprintf(what, sizeof what, "requester entry #%zu", num);
    int rc = dmvf__ymap(L, m, what);
    if (rc)
        return rc;
    val v[NF];
    memset(v, 0, sizeof v);
    val *tags = NULL;
    size_t ntags = 0;
    for (yaml_node_pair_t *a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        int f = field_index(dmvf__ystr(k));
        if (f < 0) {
            free(tags);
            return dmvf__yfail(L, k, "unknown key '%s' in %s (expected ori, ori_prefix, name, kind, jurisdiction, "
                               "tags, certified_until, scope)", dmvf__ystr(k), what);
        }
        if (f == F_TAGS) {
            if ((rc = dmvf__yseq(L, x, "tags", 0)))
                return rc;
            ntags = dmvf__yseq_len(x);
            tags = ntags ? calloc(ntags, sizeof *tags) : NULL;
            if (ntags && !tags)
                return dmvf__ynomem(L);
            for (size_t i = 0; i < ntags; i++) {
                yaml_node_t *t = dmvf__ynode(L, x->data.sequence.items.start[i]);
                if ((rc = dmvf__yscalar(L, t, "a tag"))) {
                    free(tags);
                    return rc;
                }
                tags[i] = (val){dmvf__ystr(t), dmvf__yline(t), dmvf__ycol(t)};
            }
            continue;
        }
        char fw[96];
        snprintf(fw, sizeof fw, "%s of %s", field_name[f], what);
        if ((rc = dmvf__yname(L, x, fw))) {
            free(tags);
            return rc;
        }
        v[f] = (val){dmvf__ystr(x), dmvf__yline(x), dmvf__ycol(x)};
    }
    rc = build_entry(c, e, v, tags, ntags, dmvf__yline(m), dmvf__ycol(m), num);
    free(tags);
    return rc;
}

int dmvf__parse_requesters(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__yseq(L, v, "requesters", 0);
    if (rc)
        return rc;
    dmvf_directory *d = &L->p->dir;
    d->given = 1;
    d->nyaml = dmvf__yseq_len(v);
    d->yaml = dmvf__arena_alloc(&L->p->arena, d->nyaml * sizeof *d->yaml);
    if (!d->yaml)
        return dmvf__ynomem(L);
    src c = {L->p, L->p->name, L->err};
    for (size_t i = 0; i < d->nyaml; i++)
        if ((rc = yaml_entry(L, &c, dmvf__ynode(L, v->data.sequence.items.start[i]), i + 1, &d->yaml[i])))
            return rc;
    return DMVF_OK;
}

/* ------------------------------------------------------------------ requesters_file (CSV) */

typedef struct csv {
    const src *c;
    const uint8_t *b;
    size_t n, pos;
    unsigned line, col;         /* of b[pos] */
    char *cell;                 /* the row's cells, unquoted, each NUL-terminated */
    size_t len, cap;
    size_t off[NF + 1];         /* where each cell starts in `cell` */
    unsigned cline[NF + 1], ccol[NF + 1];
    size_t ncells;
} csv;

static int put(csv *r, char ch)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        char *np = realloc(r->cell, cap);
        if (!np)
            return nomem(r->c);
        r->cell = np;
        r->cap = cap;
    }
    r->cell[r->len++] = ch;
    return DMVF_OK;
}

/* Advances past b[pos], keeping line and column (columns count characters:
 * UTF-8 continuation bytes are not counted). */
static void step(csv *r)
{
    uint8_t ch = r->b[r->pos++];
    if (ch == '\n') {
        r->line++;
        r->col = 1;
    } else if ((ch & 0xc0) != 0x80) {
        r->col++;
    }
}

static int line_end(const csv *r)
{
    return r->pos < r->n && (r->b[r->pos] == '\n' || (r->b[r->pos] == '\r' && r->pos + 1 < r->n &&
                                                       r->b[r->pos + 1] == '\n'));
}

/* One row into r->cell; 0 cells at the end of the file. */
static int read_row(csv *r)
{
    r->len = 0;
    r->ncells = 0;
    while (r->pos < r->n && line_end(r)) {  /* empty lines are skipped */
        if (r->b[r->pos] == '\r')
            step(r);
        step(r);
    }
    if (r->pos >= r->n)
        return DMVF_OK;
    for (;;) {
        if (r->ncells == NF)
            return fail(r->c, r->line, r->col, "a row has more than the %u fields of the header (" HEADER ")",
                        (unsigned)NF);
        r->off[r->ncells] = r->len;
        r->cline[r->ncells] = r->line;
        r->ccol[r->ncells] = r->col;
        int rc;
        if (r->pos < r->n && r->b[r->pos] == '"') {
            unsigned ql = r->line, qc = r->col;
            step(r);
            for (;;) {
                if (r->pos >= r->n)
                    return fail(r->c, ql, qc, "a quoted field is not closed before the end of the file");
                if (r->b[r->pos] == '"') {
                    step(r);
                    if (r->pos < r->n && r->b[r->pos] == '"') {
                        step(r);
                        if ((rc = put(r, '"')))
                            return rc;
                        continue;
                    }
                    break;
                }
                if ((rc = put(r, (char)r->b[r->pos])))
                    return rc;
                step(r);
            }
            if (r->pos < r->n && r->b[r->pos] != ',' && !line_end(r))
                return fail(r->c, r->line, r->col, "after a quoted field comes ',' or the line end, not '%c'",
                            (char)r->b[r->pos]);
        } else {
            while (r->pos < r->n && r->b[r->pos] != ',' && !line_end(r)) {
                uint8_t ch = r->b[r->pos];
                if (ch == '"')
                    return fail(r->c, r->line, r->col, "a '\"' inside a field that is not quoted (quote the "
                                "field and double the '\"')");
                if (ch == '\r')
                    return fail(r->c, r->line, r->col, "a carriage return that does not end a line");
                if ((rc = put(r, (char)ch)))
                    return rc;
                step(r);
            }
        }
        if ((rc = put(r, '\0')))
            return rc;
        r->ncells++;
        if (r->pos < r->n && r->b[r->pos] == ',') {
            step(r);
            continue;
        }
        if (r->pos < r->n) {    /* the line end */
            if (r->b[r->pos] == '\r')
                step(r);
            step(r);
        }
        return DMVF_OK;
    }
}

static const char *cell(const csv *r, size_t i)
{
    return r->cell + r->off[i];
}

/* Rows at most: one per line end, and one more. */
static size_t max_rows(const uint8_t *b, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += b[i] == '\n';
    return k;
}

/* The rows after the header into d->file. */
static int csv_rows(csv *r, dmvf_directory *d)
{
    dmvf_arena *A = &r->c->p->arena;
    size_t cap = max_rows(r->b + r->pos, r->n - r->pos);
    d->file = dmvf__arena_alloc(A, cap * sizeof *d->file);
    if (!d->file)
        return nomem(r->c);
    val *tags = NULL;
    size_t tcap = 0;
    int rc = DMVF_OK;
    for (;;) {
        if ((rc = read_row(r)) || r->ncells == 0)
            break;
        unsigned line = r->cline[0];
        if (r->ncells != NF) {
            rc = fail(r->c, line, 1, "a row has %zu field%s; the header has %u (" HEADER ")", r->ncells,
                      r->ncells == 1 ? "" : "s", (unsigned)NF);
            break;
        }
        val v[NF];
        for (size_t i = 0; i < NF; i++) {
            const char *s = cell(r, i);
            v[i] = (val){*s ? s : NULL, r->cline[i], r->ccol[i]};
        }
        /* tags: "a;b;c", each with its column */
        size_t ntags = 0;
        if (v[F_TAGS].s) {
            char *s = r->cell + r->off[F_TAGS];
            size_t want = 1;
            for (const char *q = s; *q; q++)
                want += *q == ';';
            if (want > tcap) {
                val *nt = realloc(tags, want * sizeof *nt);
                if (!nt) {
                    rc = nomem(r->c);
                    break;
                }
                tags = nt;
                tcap = want;
            }
            unsigned col = v[F_TAGS].col;
            for (char *q = s;; ) {
                char *semi = strchr(q, ';');
                if (semi)
                    *semi = '\0';
                tags[ntags++] = (val){q, v[F_TAGS].line, col};
                if (!semi)
                    break;
                col += (unsigned)(semi - q) + 1;
                q = semi + 1;
            }
        }
        if ((rc = build_entry(r->c, &d->file[d->nfile], v, tags, ntags, line, 1, d->nfile + 1)))
            break;
        d->nfile++;
    }
    free(tags);
    return rc;
}

static int read_csv(const src *c, dmvf_directory *d)
{
    csv r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.b = d->file_bytes;
    r.n = d->file_len;
    r.line = r.col = 1;
    if (memchr(r.b, '\0', r.n))
        return dmvf__perr(c->err, c->file, 0, 0, "the file holds a NUL byte: not a CSV text file");
    if (r.n >= 3 && memcmp(r.b, "\xef\xbb\xbf", 3) == 0)
        r.pos = 3;  /* a UTF-8 byte order mark */
    int rc = read_row(&r);
    if (rc == DMVF_OK) {
        int ok = r.ncells == NF;
        for (size_t i = 0; ok && i < NF; i++)
            ok = strcmp(cell(&r, i), field_name[i]) == 0;
        if (!ok)
            rc = dmvf__perr(c->err, c->file, 1, 1, "the first line must be the header " HEADER);
    }
    if (rc == DMVF_OK)
        rc = csv_rows(&r, d);
    free(r.cell);
    return rc;
}

int dmvf__parse_requesters_file(dmvf__yload *L, const yaml_node_t *v)
{
    dmvf_directory *d = &L->p->dir;
    int rc = dmvf__ypath(L, v, "requesters_file", &d->file_path);
    if (rc)
        return rc;
    d->fline = dmvf__yline(v);
    d->fcol = dmvf__ycol(v);
    struct stat st;
    int r = dmvf__file_read(d->file_path, DMVF__REQUESTERS_FILE_MAX, &d->file_bytes, &d->file_len, 0, &st);
    switch (r) {
    case DMVF__READ_OK:
        break;
    case DMVF__READ_NOMEM:
        return dmvf__ynomem(L);
    case DMVF__READ_NOTREG:
        return dmvf__yfail(L, v, "requesters_file %s is not a regular file", d->file_path);
    case DMVF__READ_TOOBIG:
        return dmvf__yfail(L, v, "requesters_file %s is larger than %zu MiB", d->file_path,
                           DMVF__REQUESTERS_FILE_MAX >> 20);
    default:
        return dmvf__yfail(L, v, "requesters_file %s: cannot read it: %s", d->file_path, strerror(errno));
    }
    src c = {L->p, d->file_path, L->err};
    return read_csv(&c, d);
}
