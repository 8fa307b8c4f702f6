/*
 * notices.c - subject notices: due dates, the notice queue (JSON Lines),
 * the due list and marking notices sent.
 *
 * The queue file, appended under flock(LOCK_EX), never rewritten:
 *
 *   offset 0
 *   +------------------------------------------------------------------+
 *   | {"type":"notice","id":"<16 hex>","subject":"<record_id>", ...}\n | one call of
 *   | {"type":"notice","id":"<16 hex>","subject":"<record_id>", ...}\n | dmvf_notices_queue:
 *   |                                                                  | one write(), fsync
 *   | {"type":"sent","id":"<16 hex>","date":"YYYY-MM-DD","actor":S}\n  | dmvf_notices_mark_sent
 *   | ...                                                              |
 *   +------------------------------------------------------------------+
 *   every line ends with '\n' and is at most DMVF_NOTICE_MAX_LINE bytes
 *   (with the '\n'); a file that ends inside a line is malformed and is
 *   never appended to.
 *
 * A notice line, keys in this order (all values strings unless noted):
 *
 *   type "notice" | id | subject | request_id | ori | agency | agency_kind |
 *   tags (array of strings) | legal_process | legal_reference |
 *   purpose (number, 0..14) | decision "release"|"deny"|"review" |
 *   date "YYYY-MM-DD" (the request) | due "YYYY-MM-DD"
 *
 * id = the first 8 bytes, in hex, of BLAKE2b-256 (unkeyed) over
 *   request_id || 0x00 || subject || 0x00 || "YYYYMMDD" || nonce[16]
 * with a fresh random nonce per call, so that two requests for one subject
 * on one day get distinct ids. Within one call a subject is queued once.
 *
 * Strings are written as JSON: '"' and '\' escaped, control bytes as \n,
 * \r, \t, \b, \f or \u00XX, DEL as \u007f, valid UTF-8 as is, and every
 * byte that does not start a valid UTF-8 sequence as \ufffd.
 *
 * The reader accepts exactly this family of JSON: one object per line whose
 * values are strings, non-negative integers or arrays of strings, with
 * unknown keys of those kinds ignored (for later versions); anything else
 * (nesting, true/false/null, floats, raw control bytes, invalid UTF-8 or
 * escapes, a repeated key, trailing bytes) is DMVF_EMALFORMED naming the
 * file, line and byte. It reads line by line through one fixed buffer;
 * for each notice it keeps 40 bytes (id, due, line, offset) and reads the
 * line again when printing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"

/* ------------------------------------------------------------------ */
/* the due date                                                       */
/* ------------------------------------------------------------------ */

uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s)
{
    if (!dmvf__date_valid(date))
        return 0;
    unsigned n = s && s->due_days ? s->due_days : 3;
    if (!s || !s->business_days)
        return dmvf__date_add(date, n, 0, NULL, 0);
    DMVF_REQUIRE(s->nholidays == 0 || s->holidays != NULL, "holidays is NULL");
    return dmvf__date_add(date, n, 1, s->holidays, s->nholidays);
}

/* ------------------------------------------------------------------ */
/* files                                                              */
/* ------------------------------------------------------------------ */

static int lock_fd(int fd, int how)
{
    while (flock(fd, how) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* Opens the queue for appending (creating it 0600 when create is set),
 * refuses anything but a regular file without group/other access, and
 * takes the exclusive lock. *size: the file's size under the lock. */
static int open_for_append(const char *path, int create, int *fdp, uint64_t *size, dmvf_error *err)
{
    int created = 0;
    int fd = -1;
    if (create) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            created = 1;
        else if (errno != EEXIST)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot create: %s", path,
                                strerror(errno));
    }
    if (fd < 0) {
        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot open: %s", path,
                                strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return dmvf__seterr(err, DMVF_EIO,
                            "notice queue %s: readable or writable by group or others (mode %04o); "
                            "it holds record_ids: chmod 600 it",
                            path, (unsigned)(st.st_mode & 07777));
    }
    if (created && dmvf__fsync_parent(path) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot sync its directory: %s", path,
                            strerror(e));
    }
    if (lock_fd(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot lock: %s", path, strerror(e));
    }
    *fdp = fd;
    *size = (uint64_t)st.st_size;
    return DMVF_OK;
}

/* Appends b under the lock already held, then fsyncs; on any failure the
 * file is cut back to `size` so that no partial line stays behind. */
static int append_sync(int fd, const char *path, uint64_t size, const dmvf__text *b, dmvf_error *err)
{
    if (size > 0) {
        char last = 0;
        ssize_t r;
        do
            r = pread(fd, &last, 1, (off_t)(size - 1));
        while (r < 0 && errno == EINTR);
        if (r != 1)
            return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot read its last byte: %s",
                                path, r < 0 ? strerror(errno) : "short read");
        if (last != '\n')
            return dmvf__seterr(err, DMVF_EIO,
                                "notice queue %s: ends inside a line (byte %llu is not a newline); "
                                "nothing appended: repair the file first",
                                path, (unsigned long long)(size - 1));
    }
    if (dmvf__write_all(fd, b->p, b->len) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (ftruncate(fd, (off_t)size) == 0)
            (void)fsync(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot append: %s", path,
                            strerror(e));
    }
    return DMVF_OK;
}

/* ------------------------------------------------------------------ */
/* queueing                                                           */
/* ------------------------------------------------------------------ */

typedef struct subj {
    const char *p;
    size_t n;
    size_t idx;
} subj;

static int subj_cmp(const void *a, const void *b)
{
    const subj *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    int c = x->n ? memcmp(x->p, y->p, x->n) : 0;
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int idx_cmp(const void *a, const void *b)
{
    const subj *x = a, *y = b;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int dmvf_notices_queue(const char *queue, const dmvf_filter *f, const dmvf_policy_notices *s,
                       uint32_t date, uint32_t *queued, dmvf_error *err)
{
    DMVF_REQUIRE(queue != NULL, "queue is NULL");
    DMVF_REQUIRE(f != NULL, "filter is NULL");
    if (queued)
        *queued = 0;
    const dmvf_request *req = dmvf_filter_request(f);
    if (date == 0) /* the day the request was judged on: the DMV's clock, never the request's */
        date = dmvf_filter_judged_date(f);
    if (!dmvf__date_valid(date))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)date);
    uint32_t due = dmvf_notice_due(date, s);
    if (!due)
        return dmvf__seterr(err, DMVF_EINVAL, "notices: no due date for %u (past year 9999)",
                            (unsigned)date);
    size_t n = dmvf_filter_subject_count(f);
    if (n == 0)
        return DMVF_OK;
    if (n > UINT32_MAX)
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %zu subjects in one request", n);
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: libsodium did not initialize");

    /* one notice per distinct subject, in the order first read */
    subj *v = malloc(n * sizeof *v);
    if (!v)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory (%zu subjects)", n);
    for (size_t i = 0; i < n; i++) {
        v[i].p = dmvf_filter_subject(f, i, &v[i].n);
        v[i].idx = i;
    }
    qsort(v, n, sizeof *v, subj_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[i].n != v[m - 1].n || (v[i].n && memcmp(v[i].p, v[m - 1].p, v[i].n) != 0))
            v[m++] = v[i];
    qsort(v, m, sizeof *v, idx_cmp);

    /* the fields every notice of this call shares */
    char dstr[DMVF__DATE_CAP], duestr[DMVF__DATE_CAP], d8[12];   /* date is a valid YYYYMMDD: 8 digits */
    dmvf__date_format(date, dstr);
    dmvf__date_format(due, duestr);
    snprintf(d8, sizeof d8, "%08u", (unsigned)date);
    uint8_t nonce[16];
    randombytes_buf(nonce, sizeof nonce);
    const char *rid = req->request_id ? req->request_id : "";
    dmvf__text common = dmvf__text_mem();
    dmvf__text_puts(&common, ",\"request_id\":");
    dmvf__text_json_c(&common, req->request_id);
    dmvf__text_puts(&common, ",\"ori\":");
    dmvf__text_json_c(&common, req->ori);
    dmvf__text_puts(&common, ",\"agency\":");
    dmvf__text_json_c(&common, req->agency_name);
    dmvf__text_puts(&common, ",\"agency_kind\":");
    dmvf__text_json_c(&common, dmvf_agency_kind_name(req->agency_kind));
    dmvf__text_puts(&common, ",\"tags\":");
    dmvf__text_json_strs(&common, req->tags, req->ntags);
    dmvf__text_puts(&common, ",\"legal_process\":");
    dmvf__text_json_c(&common, dmvf_legal_process_name(req->legal_process));
    dmvf__text_puts(&common, ",\"legal_reference\":");
    dmvf__text_json_c(&common, req->legal_reference);
    char tail[160];
    snprintf(tail, sizeof tail, ",\"purpose\":%u,\"decision\":\"%s\",\"date\":\"%s\",\"due\":\"%s\"}\n",
             req->purpose, dmvf__decision_name(dmvf_filter_decision(f)), dstr, duestr);

    dmvf__text b = dmvf__text_mem();
    int rc = DMVF_OK;
    for (size_t i = 0; i < m && rc == DMVF_OK && !b.failed && !common.failed; i++) {
        uint8_t h[crypto_generichash_BYTES];
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof h);
        crypto_generichash_update(&st, (const unsigned char *)rid, strlen(rid) + 1);
        crypto_generichash_update(&st, (const unsigned char *)v[i].p, v[i].n);
        crypto_generichash_update(&st, (const unsigned char *)"", 1);
        crypto_generichash_update(&st, (const unsigned char *)d8, 8);
        crypto_generichash_update(&st, nonce, sizeof nonce);
        crypto_generichash_final(&st, h, sizeof h);
        char id[17];
        dmvf__hex_encode(id, h, 8);
        size_t start = b.len;
        dmvf__text_puts(&b, "{\"type\":\"notice\",\"id\":\"");
        dmvf__text_puts(&b, id);
        dmvf__text_puts(&b, "\",\"subject\":");
        dmvf__text_json(&b, v[i].p, v[i].n);
        dmvf__text_put(&b, common.p, common.len);
        dmvf__text_puts(&b, tail);
        if (!b.failed && b.len - start > DMVF_NOTICE_MAX_LINE)
            rc = dmvf__seterr(err, DMVF_EINVAL,
                              "notices: the notice for subject %zu would be a %zu-byte line, over "
                              "the %u-byte limit (a request string is too long)",
                              v[i].idx, b.len - start, (unsigned)DMVF_NOTICE_MAX_LINE);
    }
    free(v);
    dmvf__text_free(&common);
    if (rc == DMVF_OK && (b.failed || common.failed))
        rc = dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory building %zu notices", m);
    if (rc != DMVF_OK) {
        dmvf__text_free(&b);
        return rc;
    }

    int fd;
    uint64_t size;
    rc = open_for_append(queue, 1, &fd, &size, err);
    if (rc == DMVF_OK) {
        rc = append_sync(fd, queue, size, &b, err);
        close(fd);   /* releases the lock */
    }
    dmvf__text_free(&b);
    if (rc == DMVF_OK && queued)
        *queued = (uint32_t)m;
    return rc;
}

/* ------------------------------------------------------------------ */
/* reading: lines                                                     */
/* ------------------------------------------------------------------ */

#define READ_CHUNK ((size_t)1 << 16)
#define LONG_LINE "line longer than DMVF_NOTICE_MAX_LINE (65536) bytes"

typedef struct lreader {
    int fd;
    char *buf;           /* DMVF_NOTICE_MAX_LINE + READ_CHUNK bytes */
    size_t start, end;   /* buf[start..end) is read but not yet handed out */
    uint64_t base;       /* file offset of buf[0] */
    uint64_t line;       /* 1-based number of the line last handed out */
    int eof;
} lreader;

/* Next line (without its '\n'). 1: *p, *n and *off set; 0: end of file;
 * -1: error with *why set (I/O when *io is set, else malformed). */
static int next_line(lreader *r, char **p, size_t *n, uint64_t *off, const char **why, int *io)
{
    const size_t cap = DMVF_NOTICE_MAX_LINE + READ_CHUNK;
    *io = 0;
    for (;;) {
        char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl) {
            *p = r->buf + r->start;
            *n = (size_t)(nl - *p);
            *off = r->base + r->start;
            r->start += *n + 1;
            r->line++;
            if (*n + 1 > DMVF_NOTICE_MAX_LINE) {
                *why = LONG_LINE;
                return -1;
            }
            return 1;
        }
        if (r->end - r->start >= DMVF_NOTICE_MAX_LINE) {
            r->line++;
            *why = LONG_LINE;
            return -1;
        }
        if (r->eof) {
            if (r->end == r->start)
                return 0;
            r->line++;
            *why = "the file ends inside this line (no newline)";
            return -1;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->base += r->start;
            r->end -= r->start;
            r->start = 0;
        }
        ssize_t got;
        do
            got = pread(r->fd, r->buf + r->end, cap - r->end, (off_t)(r->base + r->end));
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            *io = 1;
            *why = strerror(errno);
            return -1;
        }
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

/* ------------------------------------------------------------------ */
/* reading: one JSON object                                           */
/* ------------------------------------------------------------------ */

typedef struct jstr {
    const char *p;    /* decoded, NUL-terminated (may hold NULs: use n) */
    size_t n;
    int set;
} jstr;

typedef struct nfields {
    jstr type, id, subject, request_id, ori, agency, agency_kind, legal_process,
        legal_reference, decision, date, due, actor;
    int have_tags, have_purpose;
} nfields;

static const struct {
    const char *key;
    size_t off;
} str_keys[] = {
    {"type", offsetof(nfields, type)},
    {"id", offsetof(nfields, id)},
    {"subject", offsetof(nfields, subject)},
    {"request_id", offsetof(nfields, request_id)},
    {"ori", offsetof(nfields, ori)},
    {"agency", offsetof(nfields, agency)},
    {"agency_kind", offsetof(nfields, agency_kind)},
    {"legal_process", offsetof(nfields, legal_process)},
    {"legal_reference", offsetof(nfields, legal_reference)},
    {"decision", offsetof(nfields, decision)},
    {"date", offsetof(nfields, date)},
    {"due", offsetof(nfields, due)},
    {"actor", offsetof(nfields, actor)},
};

typedef struct jparser {
    const unsigned char *s;
    size_t n, i;
    char *out;        /* scratch: decoded strings go here */
    size_t olen;
    const char *why;  /* static message on error */
} jparser;

static void skip_ws(jparser *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r'))
        j->i++;
}

static int fail(jparser *j, const char *why)
{
    j->why = why;
    return -1;
}

static int hex4(jparser *j, unsigned *v)
{
    if (j->n - j->i < 4)
        return fail(j, "truncated \\u escape");
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        int d = dmvf__hex_digit(j->s[j->i++], 0);
        if (d < 0)
            return fail(j, "bad hex digit in a \\u escape");
        x = x * 16 + (unsigned)d;
    }
    *v = x;
    return 0;
}

/* A string at j->i (which is '"'); decoded into the scratch. The decoded
 * bytes plus NUL never outnumber the raw bytes with both quotes, so a
 * scratch as long as the line always suffices. */
static int parse_string(jparser *j, jstr *out)
{
    if (j->i >= j->n || j->s[j->i] != '"')
        return fail(j, "expected a string");
    j->i++;
    char *o = j->out + j->olen;
    size_t k = 0;
    for (;;) {
        if (j->i >= j->n)
            return fail(j, "unterminated string");
        unsigned c = j->s[j->i];
        if (c == '"') {
            j->i++;
            break;
        }
        if (c < 0x20)
            return fail(j, "raw control byte in a string");
        if (c == '\\') {
            if (++j->i >= j->n)
                return fail(j, "unterminated escape");
            unsigned e = j->s[j->i++];
            switch (e) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u': {
                unsigned u;
                if (hex4(j, &u))
                    return -1;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return fail(j, "lone low surrogate in a \\u escape");
                if (u >= 0xd800 && u <= 0xdbff) {
                    unsigned lo;
                    if (j->n - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
                        return fail(j, "high surrogate without a low one");
                    j->i += 2;
                    if (hex4(j, &lo))
                        return -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail(j, "high surrogate without a low one");
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (u < 0x80) {
                    o[k++] = (char)u;
                } else if (u < 0x800) {
                    o[k++] = (char)(0xc0 | (u >> 6));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                } else if (u < 0x10000) {
                    o[k++] = (char)(0xe0 | (u >> 12));
                    o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                } else {
                    o[k++] = (char)(0xf0 | (u >> 18));
                    o[k++] = (char)(0x80 | ((u >> 12) & 0x3f));
                    o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                }
                break;
            }
            default:
                return fail(j, "unknown escape in a string");
            }
            continue;
        }
        size_t q = dmvf__utf8_seq(j->s + j->i, j->n - j->i);
        if (!q)
            return fail(j, "invalid UTF-8 in a string");
        memcpy(o + k, j->s + j->i, q);
        k += q;
        j->i += q;
    }
    o[k] = '\0';
    out->p = o;
    out->n = k;
    out->set = 1;
    j->olen += k + 1;
    return 0;
}

static int parse_number(jparser *j)
{
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    size_t len = j->i - start;
    if (len == 0)
        return fail(j, "expected a string, a number or an array of strings");
    if (len > 1 && j->s[start] == '0')
        return fail(j, "number with a leading zero");
    if (len > 19)
        return fail(j, "number too long");
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return fail(j, "only whole numbers are expected");
    return 0;
}

static int parse_array(jparser *j)
{
    j->i++;   /* '[' */
    skip_ws(j);
    if (j->i < j->n && j->s[j->i] == ']') {
        j->i++;
        return 0;
    }
    for (;;) {
        jstr tmp;
        skip_ws(j);
        size_t mark = j->olen;
        if (parse_string(j, &tmp))
            return j->why && strcmp(j->why, "expected a string") == 0
                       ? fail(j, "arrays hold strings only") : -1;
        j->olen = mark;   /* array elements are not kept */
        skip_ws(j);
        if (j->i >= j->n)
            return fail(j, "unterminated array");
        if (j->s[j->i] == ']') {
            j->i++;
            return 0;
        }
        if (j->s[j->i] != ',')
            return fail(j, "expected ',' or ']' in an array");
        j->i++;
    }
}

/* Parses one line into *nf. 0, or -1 with j->why and j->i (the byte). */
static int parse_object(jparser *j, nfields *nf)
{
    memset(nf, 0, sizeof *nf);
    skip_ws(j);
    if (j->i >= j->n || j->s[j->i] != '{')
        return fail(j, "a line must be one JSON object");
    j->i++;
    skip_ws(j);
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
    } else {
        for (;;) {
            skip_ws(j);
            jstr key;
            size_t mark = j->olen;
            if (parse_string(j, &key))
                return j->why && strcmp(j->why, "expected a string") == 0
                           ? fail(j, "expected a key (a string)") : -1;
            skip_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return fail(j, "expected ':' after a key");
            j->i++;
            skip_ws(j);
            if (j->i >= j->n)
                return fail(j, "missing value");
            jstr *slot = NULL;
            for (size_t k = 0; k < sizeof str_keys / sizeof str_keys[0]; k++)
                if (key.n == strlen(str_keys[k].key) && memcmp(key.p, str_keys[k].key, key.n) == 0)
                    slot = (jstr *)((char *)nf + str_keys[k].off);
            int is_tags = key.n == 4 && memcmp(key.p, "tags", 4) == 0;
            int is_purpose = key.n == 7 && memcmp(key.p, "purpose", 7) == 0;
            j->olen = mark;   /* the key is not kept */
            unsigned c = j->s[j->i];
            if (slot) {
                if (slot->set)
                    return fail(j, "a key appears twice");
                if (c != '"')
                    return fail(j, "this key's value must be a string");
                if (parse_string(j, slot))
                    return -1;
            } else if (is_tags) {
                if (nf->have_tags)
                    return fail(j, "a key appears twice");
                if (c != '[')
                    return fail(j, "tags must be an array of strings");
                nf->have_tags = 1;
                if (parse_array(j))
                    return -1;
            } else if (is_purpose) {
                if (nf->have_purpose)
                    return fail(j, "a key appears twice");
                nf->have_purpose = 1;
                if (parse_number(j))
                    return -1;
            } else if (c == '"') {
                jstr tmp;
                size_t m2 = j->olen;
                if (parse_string(j, &tmp))
                    return -1;
                j->olen = m2;
            } else if (c == '[') {
                if (parse_array(j))
                    return -1;
            } else if (parse_number(j)) {
                return -1;
            }
            skip_ws(j);
            if (j->i >= j->n)
                return fail(j, "unterminated object");
            if (j->s[j->i] == '}') {
                j->i++;
                break;
            }
            if (j->s[j->i] != ',')
                return fail(j, "expected ',' or '}' in an object");
            j->i++;
        }
    }
    skip_ws(j);
    if (j->i != j->n)
        return fail(j, "bytes after the object");
    return 0;
}

/* 16 hex digits (either case) into *v; -1 if s[0..n) is not that. */
static int parse_id(const char *s, size_t n, uint64_t *v)
{
    return n == 16 ? dmvf__hex_u64(s, n, 0, v) : -1;
}

/* ------------------------------------------------------------------ */
/* reading: the whole queue                                           */
/* ------------------------------------------------------------------ */

typedef struct qnotice {
    uint64_t id;
    uint64_t line;
    uint64_t off;        /* the line's file offset */
    uint32_t len;        /* without the '\n' */
    uint32_t due;        /* YYYYMMDD */
    uint64_t sent_line;  /* 0: not sent */
} qnotice;

typedef struct qsent {
    uint64_t id;
    uint64_t line;
} qsent;

typedef struct queue {
    const char *path;
    qnotice *nv;
    size_t nn, ncap;
    qsent *sv;
    size_t ns, scap;
    char *lbuf;          /* the line reader's buffer */
    char *scratch;       /* DMVF_NOTICE_MAX_LINE + 1 bytes */
} queue;

static void queue_free(queue *q)
{
    free(q->nv);
    free(q->sv);
    free(q->lbuf);
    free(q->scratch);
}

static int queue_bufs(queue *q, dmvf_error *err)
{
    q->lbuf = malloc(DMVF_NOTICE_MAX_LINE + READ_CHUNK);
    q->scratch = malloc(DMVF_NOTICE_MAX_LINE + 1);
    if (!q->lbuf || !q->scratch)
        return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory", q->path);
    return DMVF_OK;
}

#define NO_BYTE SIZE_MAX

/* "notice queue PATH:LINE: why (byte B of the line)"; err->line is LINE,
 * err->column B (0 when byte is NO_BYTE: the line as a whole is wrong). */
static int malformed(dmvf_error *err, const char *path, uint64_t line, size_t byte, const char *why)
{
    unsigned l = (unsigned)(line > UINT_MAX ? UINT_MAX : line);
    if (byte == NO_BYTE)
        return dmvf__seterr_at(err, DMVF_EMALFORMED, l, 0, "notice queue %s:%llu: %s", path,
                               (unsigned long long)line, why);
    return dmvf__seterr_at(err, DMVF_EMALFORMED, l, (unsigned)(byte + 1),
                           "notice queue %s:%llu: %s (byte %zu of the line)", path,
                           (unsigned long long)line, why, byte + 1);
}

static int grow(void **p, size_t *cap, size_t n, size_t elt)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    if (nc > SIZE_MAX / elt)
        return -1;
    void *np = realloc(*p, nc * elt);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    const qnotice *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int due_cmp(const void *a, const void *b)
{
    const qnotice *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static qnotice *find_notice(queue *q, uint64_t id)
{
    qnotice key;
    key.id = id;
    return q->nn ? bsearch(&key, q->nv, q->nn, sizeof *q->nv, id_cmp) : NULL;
}

/* Reads the whole queue from fd: every line parsed and checked; then
 * notices sorted by id, each notice id unique, each "sent" line naming a
 * notice above it that is not already sent. */
static int queue_read(queue *q, int fd, dmvf_error *err)
{
    int rc = queue_bufs(q, err);
    if (rc)
        return rc;
    lreader r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.buf = q->lbuf;
    for (;;) {
        char *p;
        size_t n;
        uint64_t off;
        const char *why;
        int io;
        int got = next_line(&r, &p, &n, &off, &why, &io);
        if (got == 0)
            break;
        if (got < 0) {
            if (io)
                return dmvf__seterr(err, DMVF_EIO, "notice queue %s: read failed after line %llu: %s",
                                    q->path, (unsigned long long)r.line, why);
            return malformed(err, q->path, r.line, NO_BYTE, why);
        }
        size_t blank = 0;
        while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
            blank++;
        if (blank == n)
            continue;   /* an empty line is nothing */
        jparser j = {(const unsigned char *)p, n, 0, q->scratch, 0, NULL};
        nfields nf;
        if (parse_object(&j, &nf))
            return malformed(err, q->path, r.line, j.i < n ? j.i : n, j.why);
        uint64_t id;
        if (!nf.type.set)
            return malformed(err, q->path, r.line, NO_BYTE, "no \"type\"");
        if (!nf.id.set || parse_id(nf.id.p, nf.id.n, &id))
            return malformed(err, q->path, r.line, NO_BYTE, "no \"id\" of 16 hex digits");
        if (nf.date.set && !dmvf__date_parse(nf.date.p, nf.date.n))
            return malformed(err, q->path, r.line, NO_BYTE, "\"date\" is not a YYYY-MM-DD date");
        if (strcmp(nf.type.p, "notice") == 0 && nf.type.n == 6) {
            uint32_t due;
            if (!nf.subject.set || nf.subject.n == 0)
                return malformed(err, q->path, r.line, NO_BYTE, "a notice without a \"subject\"");
            if (!nf.due.set || !(due = dmvf__date_parse(nf.due.p, nf.due.n)))
                return malformed(err, q->path, r.line, NO_BYTE, "a notice without a YYYY-MM-DD \"due\"");
            if (grow((void **)&q->nv, &q->ncap, q->nn, sizeof *q->nv))
                return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory at line %llu",
                                    q->path, (unsigned long long)r.line);
            qnotice *e = &q->nv[q->nn++];
            e->id = id;
            e->line = r.line;
            e->off = off;
            e->len = (uint32_t)n;
            e->due = due;
            e->sent_line = 0;
        } else if (strcmp(nf.type.p, "sent") == 0 && nf.type.n == 4) {
            if (grow((void **)&q->sv, &q->scap, q->ns, sizeof *q->sv))
                return dmvf__seterr(err, DMVF_ENOMEM, "notice queue %s: out of memory at line %llu",
                                    q->path, (unsigned long long)r.line);
            q->sv[q->ns].id = id;
            q->sv[q->ns].line = r.line;
            q->ns++;
        } else {
            return malformed(err, q->path, r.line, NO_BYTE, "\"type\" is neither \"notice\" nor \"sent\"");
        }
    }

    /* ids: the earliest line at which the file stops making sense */
    if (q->nn > 1)
        qsort(q->nv, q->nn, sizeof *q->nv, id_cmp);
    uint64_t bad_line = UINT64_MAX;
    char why[160] = "";
    for (size_t i = 1; i < q->nn; i++) {
        if (q->nv[i].id == q->nv[i - 1].id) {
            uint64_t a = q->nv[i].line < q->nv[i - 1].line ? q->nv[i].line : q->nv[i - 1].line;
            uint64_t b = q->nv[i].line < q->nv[i - 1].line ? q->nv[i - 1].line : q->nv[i].line;
            if (b < bad_line) {
                bad_line = b;
                snprintf(why, sizeof why, "notice id %016llx already used on line %llu",
                         (unsigned long long)q->nv[i].id, (unsigned long long)a);
            }
        }
    }
    for (size_t i = 0; i < q->ns && q->sv[i].line < bad_line; i++) {
        qnotice *e = find_notice(q, q->sv[i].id);
        if (!e || e->line > q->sv[i].line) {
            bad_line = q->sv[i].line;
            snprintf(why, sizeof why, "\"sent\" for notice %016llx, which is not queued above it",
                     (unsigned long long)q->sv[i].id);
        } else if (e->sent_line) {
            bad_line = q->sv[i].line;
            snprintf(why, sizeof why, "notice %016llx already marked sent on line %llu",
                     (unsigned long long)q->sv[i].id, (unsigned long long)e->sent_line);
        } else {
            e->sent_line = q->sv[i].line;
        }
    }
    if (bad_line != UINT64_MAX)
        return malformed(err, q->path, bad_line, NO_BYTE, why);
    return DMVF_OK;
}

/* ------------------------------------------------------------------ */
/* the due list                                                       */
/* ------------------------------------------------------------------ */

/* s[0..n) on one line: control bytes, DEL and '\' as \xNN; "-" if empty. */
static void put_text(FILE *out, const char *s, size_t n)
{
    dmvf__text t = dmvf__text_file(out);
    if (n == 0)
        dmvf__text_put(&t, "-", 1);
    dmvf__text_escaped(&t, s, n, DMVF__ESC_BACKSLASH);
}

int dmvf_notices_due_list(const char *queue_path, uint32_t today, int json, FILE *out,
                          uint64_t *count, dmvf_error *err)
{
    DMVF_REQUIRE(queue_path != NULL, "queue is NULL");
    DMVF_REQUIRE(out != NULL, "out is NULL");
    if (count)
        *count = 0;
    if (today == 0)
        today = dmvf__today();
    if (!dmvf__date_valid(today))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)today);
    int fd = open(queue_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot open: %s", queue_path,
                            strerror(errno));
    if (lock_fd(fd, LOCK_SH) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot lock: %s", queue_path,
                            strerror(e));
    }
    queue q;
    memset(&q, 0, sizeof q);
    q.path = queue_path;
    int rc = queue_read(&q, fd, err);
    size_t m = 0;
    if (rc == DMVF_OK) {
        for (size_t i = 0; i < q.nn; i++)
            if (!q.nv[i].sent_line)
                q.nv[m++] = q.nv[i];
        if (m > 1)
            qsort(q.nv, m, sizeof *q.nv, due_cmp);
    }
    for (size_t i = 0; i < m && rc == DMVF_OK; i++) {
        const qnotice *e = &q.nv[i];
        /* read the line again: it was checked above and the file is only
         * ever appended to, and we hold the shared lock */
        ssize_t got;
        do
            got = pread(fd, q.lbuf, e->len, (off_t)e->off);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)e->len) {
            rc = dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot read line %llu again: %s",
                              queue_path, (unsigned long long)e->line,
                              got < 0 ? strerror(errno) : "short read");
            break;
        }
        int overdue = e->due < today;
        if (json) {
            /* the object as written, with "overdue" added before its '}' */
            size_t end = e->len;
            while (end > 0 && q.lbuf[end - 1] != '}')
                end--;
            fwrite(q.lbuf, 1, end ? end - 1 : 0, out);
            fprintf(out, ",\"overdue\":%s}\n", overdue ? "true" : "false");
        } else {
            jparser j = {(const unsigned char *)q.lbuf, e->len, 0, q.scratch, 0, NULL};
            nfields nf;
            if (parse_object(&j, &nf)) {
                rc = malformed(err, queue_path, e->line, j.i, j.why);
                break;
            }
            char due[DMVF__DATE_CAP];
            dmvf__date_format(e->due, due);
            fprintf(out, "%016llx  %s  ", (unsigned long long)e->id, due);
            put_text(out, nf.subject.p, nf.subject.n);
            fputs("  ", out);
            put_text(out, nf.agency.p, nf.agency.n);
            fputs("  ", out);
            put_text(out, nf.legal_process.p, nf.legal_process.n);
            fputs(overdue ? "  OVERDUE\n" : "\n", out);
        }
    }
    if (rc == DMVF_OK && ferror(out))
        rc = dmvf__seterr(err, DMVF_EIO, "notices: writing the due list failed");
    if (rc == DMVF_OK && count)
        *count = m;
    queue_free(&q);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* marking sent                                                       */
/* ------------------------------------------------------------------ */

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int dmvf_notices_mark_sent(const char *queue_path, const char *const *ids, size_t n,
                           const char *actor, uint32_t date, dmvf_error *err)
{
    DMVF_REQUIRE(queue_path != NULL, "queue is NULL");
    DMVF_REQUIRE(n == 0 || ids != NULL, "ids is NULL");
    if (n == 0)
        return DMVF_OK;
    if (date == 0)
        date = dmvf__today();
    if (!dmvf__date_valid(date))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)date);
    if (n > SIZE_MAX / sizeof(uint64_t))
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: too many ids");
    uint64_t *want = malloc(n * sizeof *want);
    if (!want)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
    for (size_t i = 0; i < n; i++) {
        DMVF_REQUIRE(ids[i] != NULL, "an id is NULL");
        if (parse_id(ids[i], strlen(ids[i]), &want[i])) {
            char shown[64];
            dmvf__escape_copy(shown, sizeof shown, ids[i]);
            free(want);
            return dmvf__seterr(err, DMVF_EINVAL, "notices: '%s' is not a notice id (16 hex digits)",
                                shown);
        }
    }
    uint64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        free(want);
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
    }
    memcpy(sorted, want, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, u64_cmp);
    for (size_t i = 1; i < n; i++) {
        if (sorted[i] == sorted[i - 1]) {
            unsigned long long d = (unsigned long long)sorted[i];
            free(want);
            free(sorted);
            return dmvf__seterr(err, DMVF_EINVAL, "notices: notice %016llx is given twice", d);
        }
    }
    free(sorted);

    int fd;
    uint64_t size;
    int rc = open_for_append(queue_path, 0, &fd, &size, err);
    if (rc) {
        free(want);
        return rc;
    }
    queue q;
    memset(&q, 0, sizeof q);
    q.path = queue_path;
    rc = queue_read(&q, fd, err);
    for (size_t i = 0; i < n && rc == DMVF_OK; i++) {
        const qnotice *e = find_notice(&q, want[i]);
        if (!e)
            rc = dmvf__seterr(err, DMVF_EINVAL, "notice queue %s: no notice %016llx; nothing marked",
                              queue_path, (unsigned long long)want[i]);
        else if (e->sent_line)
            rc = dmvf__seterr(err, DMVF_EINVAL,
                              "notice queue %s: notice %016llx was already marked sent (line %llu); "
                              "nothing marked",
                              queue_path, (unsigned long long)want[i],
                              (unsigned long long)e->sent_line);
    }
    if (rc == DMVF_OK) {
        char d[DMVF__DATE_CAP];
        dmvf__date_format(date, d);
        dmvf__text b = dmvf__text_mem();
        for (size_t i = 0; i < n; i++) {
            char id[40];
            snprintf(id, sizeof id, "%016llx", (unsigned long long)want[i]);
            dmvf__text_puts(&b, "{\"type\":\"sent\",\"id\":\"");
            dmvf__text_puts(&b, id);
            dmvf__text_puts(&b, "\",\"date\":\"");
            dmvf__text_puts(&b, d);
            dmvf__text_puts(&b, "\",\"actor\":");
            size_t start = b.len;
            dmvf__text_json_c(&b, actor);
            if (!b.failed && b.len - start > 4096) {
                rc = dmvf__seterr(err, DMVF_EINVAL, "notices: the actor name is too long");
                break;
            }
            dmvf__text_puts(&b, "}\n");
        }
        if (rc == DMVF_OK && b.failed)
            rc = dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
        if (rc == DMVF_OK)
            rc = append_sync(fd, queue_path, size, &b, err);
        dmvf__text_free(&b);
    }
    queue_free(&q);
    close(fd);
    free(want);
    return rc;
}
