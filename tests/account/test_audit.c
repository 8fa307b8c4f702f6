/*
 * test_audit.c - the audit log (filter/account/audit_*.c):
 * writing entries, verifying, and detecting every kind of tampering the
 * log promises to detect, each on a fresh copy of a good log:
 *
 *   a flipped byte in every item (its length, body and chain): the message
 *   names the item's byte offset and entry; a deleted, swapped or
 *   duplicated item; truncation at every item boundary and inside every
 *   item; a deleted middle segment; segments renamed into another order; an
 *   edited or removed HEAD; a log verified with another keyring; a byte
 *   changed inside a compressed segment, and its two forms disagreeing.
 *
 * The known limit is pinned too: a log cut back to an older checkpoint
 * together with that checkpoint's HEAD verifies (only an outside copy of
 * HEAD can tell). Then: rotation by size with compression (appends going
 * on while a closed segment is compressed aside), two processes
 * appending 200 entries each at once, group commit (threads appending on
 * one handle share write+fsync: every entry there, the chain verifies,
 * fewer fsyncs than entries; one failed fsync fails every call of its
 * batch), a writer killed before close, opening
 * an unwritable directory, opening a tampered log (refused: nothing is
 * appended), queries by every criterion with valid JSON output, a query
 * and a report over several logs (merged by time; figures summed, each
 * log's releases against its own requests), and the
 * entries a real filter writes through dmvf_audit_request/release.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "check.h"
#include "fixture.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"

static dmvf_keyring *g_kr, *g_kr2;

/* ---- fsync, counted (and delayed, held or failed on demand) ----
 *
 * The library is linked into this program, so its fsync calls come here.
 * g_fs_delay_us: each fsync takes at least that long (a disk's latency:
 * while one batch syncs the others queue). g_fs_hold 1: the next fsync
 * waits (g_fs_hold 2) until the test sets it to 0, then succeeds.
 * g_fs_fail: fsyncs fail with EIO. g_fs_hold_z 1: the fsync of a
 * compressed segment being written aside (.log.z.tmp) waits (g_fs_hold_z
 * 2) until the test sets it to 0; the others go on. */
static atomic_uint g_fsyncs, g_fsyncs_ended;
static atomic_int g_fs_delay_us, g_fs_hold, g_fs_fail, g_fs_hold_z;

static int is_ztmp(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k < 0)
        return 0;
    path[k] = 0;
    return strstr(path, ".log.z.tmp") != NULL;
}

static int fsync_now(int fd)
{
    if (atomic_load(&g_fs_hold_z) && is_ztmp(fd)) {
        atomic_store(&g_fs_hold_z, 2);
        while (atomic_load(&g_fs_hold_z) == 2)
            usleep(1000);
    }
    int one = 1;
    if (atomic_compare_exchange_strong(&g_fs_hold, &one, 2)) {
        while (atomic_load(&g_fs_hold) == 2)
            usleep(1000);
        return (int)syscall(SYS_fsync, fd);   /* the held one succeeds */
    }
    int d = atomic_load(&g_fs_delay_us);
    if (d > 0)
        usleep((useconds_t)d);
    if (atomic_load(&g_fs_fail)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

/* g_fsyncs counts the fsyncs begun, g_fsyncs_ended those that returned */
int fsync(int fd)
{
    atomic_fetch_add(&g_fsyncs, 1);
    int rc = fsync_now(fd);
    atomic_fetch_add(&g_fsyncs_ended, 1);
    return rc;
}
static uint8_t g_pub[32], g_pub2[32];

/* ---- small helpers ---- */

static const char *P(const char *fmt, ...) DMVF_PRINTF(1, 2);
static const char *P(const char *fmt, ...)
{
    static char ring[8][600];
    static int at;
    char rel[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    char *o = ring[at++ % 8];
    snprintf(o, 600, "%s/%s", g_dir, rel);
    return o;
}

static int sh(const char *fmt, ...) DMVF_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A fresh copy of log src at dst. */
static void copy_log(const char *src, const char *dst)
{
    CHECK_EQ_INT(sh("rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst), 0);
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ_INT(fwrite(p, 1, n, f), n);
    CHECK_EQ_INT(fclose(f), 0);
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}

/* The frames of a plain segment file. */
typedef struct fi {
    uint64_t off;
    size_t len, pre, item_len;
    int kind;       /* DMV__V1__AUDIT_ITEM__BODY_* */
    uint64_t seq;   /* entries: their seq */
} fi;

static size_t frames_of(const uint8_t *p, size_t n, fi *out, size_t cap)
{
    size_t k = 0, off = 0;
    while (off < n && k < cap) {
        uint64_t len = 0;
        size_t pre = 0;
        while (p[off + pre] & 0x80) {
            len |= (uint64_t)(p[off + pre] & 0x7f) << (7 * pre);
            pre++;
        }
        len |= (uint64_t)p[off + pre] << (7 * pre);
        pre++;
        out[k].off = off;
        out[k].pre = pre;
        out[k].item_len = (size_t)len;
        out[k].len = pre + (size_t)len + 32;
        Dmv__V1__AuditItem *it = dmv__v1__audit_item__unpack(NULL, (size_t)len, p + off + pre);
        out[k].kind = it ? (int)it->body_case : -1;
        out[k].seq = it && it->body_case == DMV__V1__AUDIT_ITEM__BODY_ENTRY ? it->entry->seq : 0;
        if (it)
            dmv__v1__audit_item__free_unpacked(it, NULL);
        off += out[k].len;
        k++;
    }
    return k;
}

static int verify_kr(const char *dir, dmvf_error *err)
{
    memset(err, 0, sizeof *err);
    return dmvf_audit_verify(dir, g_kr, NULL, NULL, err);
}

static int verify_pub(const char *dir, dmvf_error *err)
{
    memset(err, 0, sizeof *err);
    return dmvf_audit_verify(dir, NULL, g_pub, NULL, err);
}

/* A request with every field set. */
static const char *const k_tags_ice[] = {"immigration-enforcement", "federal"};
static const char *const k_tags_pd[] = {"patrol"};
static const char *const k_fields[] = {"person.family_name", "license.number"};

static void sample_request(dmvf_request *r, int who)
{
    memset(r, 0, sizeof *r);
    if (who == 0) {
        r->ori = "NY0300000";
        r->agency_name = "Albany Police Department";
        r->agency_kind = DMVF_AGENCY_LOCAL;
        r->tags = k_tags_pd;
        r->ntags = 1;
        r->purpose = 1;
        r->legal_process = DMVF_LEGAL_NONE;
        r->query_kind = DMVF_QUERY_BY_PLATE;
    } else {
        r->ori = "DHSICE001";
        r->agency_name = "ICE Enforcement and Removal Operations";
        r->agency_kind = DMVF_AGENCY_FEDERAL;
        r->tags = k_tags_ice;
        r->ntags = 2;
        r->purpose = 1;
        r->legal_process = DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA;
        r->legal_reference = "AS-2026-0042";
        r->query_kind = DMVF_QUERY_BY_NAME_DOB;
        r->fields = k_fields;
        r->nfields = 2;
    }
    r->jurisdiction = "NY";
    r->operator_id = "op-17";
    r->channel = "nlets";
    r->date = 20261122;
}

/* Writes n entries: REQUEST / RELEASE pairs alternating requesters, with
 * subjects on the releases. Returns 0 when every write succeeded. */
static int write_entries(dmvf_audit *a, int n, int base)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        dmvf_request r;
        char rid[32];
        int who = ((base + i) / 2) % 2;
        sample_request(&r, who);
        snprintf(rid, sizeof rid, "req-%d", (base + i) / 2);
        r.request_id = rid;
        dmvf_audit_event ev;
        memset(&ev, 0, sizeof ev);
        ev.request = &r;
        ev.rule = who ? "immigration enforcement" : "in-state police";
        ev.policy_id = "0123abcd";
        uint8_t subj[3 * DMVF_SUBJECT_HASH_LEN];
        if ((base + i) % 2 == 0) {
            ev.kind = DMVF_AUDIT_REQUEST;
            ev.decision = who ? DMVF_DECISION_DENY : DMVF_DECISION_RELEASE;
        } else {
            ev.kind = DMVF_AUDIT_RELEASE;
            ev.decision = who ? DMVF_DECISION_DENY : DMVF_DECISION_RELEASE;
            ev.counts.records_in = 3;
            ev.counts.records_out = who ? 0 : 3;
            if (!who) {
                for (int s = 0; s < 3; s++) {
                    char id[32];
                    snprintf(id, sizeof id, "R%05d", (base + i) * 3 + s);
                    dmvf_keyring_subject_hash(g_kr, id, strlen(id), subj + s * DMVF_SUBJECT_HASH_LEN);
                }
                ev.subjects = subj;
                ev.nsubjects = 3;
            }
        }
        dmvf_error err;
        uint64_t seq = UINT64_MAX;
        if (dmvf_audit_event_write(a, &ev, &seq, &err) != DMVF_OK) {
            fprintf(stderr, "event_write: %s\n", err.msg);
            bad = 1;
        }
    }
    return bad;
}

/* One writer session: open, n entries, close. */
static int session(const char *dir, const dmvf_audit_options *o, int n, int base)
{
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(dir, g_kr, o, &err);
    if (!a) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return 1;
    }
    int bad = write_entries(a, n, base);
    if (dmvf_audit_close(a, &err) != DMVF_OK) {
        fprintf(stderr, "close: %s\n", err.msg);
        bad = 1;
    }
    return bad;
}

static int count_cb(void *ud, const Dmv__V1__AuditEntry *e)
{
    uint64_t *c = ud;
    if (e->seq != c[0])
        c[1]++;   /* out of order */
    c[0]++;
    return 0;
}

static uint64_t count_entries(const char *dir)
{
    uint64_t c[2] = {0, 0};
    dmvf_error err;
    int rc = dmvf__audit_scan(dir, count_cb, c, &err);
    CHECK_MSG(rc == DMVF_OK, "scan %s: %s", dir, rc ? err.msg : "");
    CHECK_EQ_INT(c[1], 0);
    return c[0];
}

/* "byte offset N" and, for entries, "(entry S)" in the message. */
static void check_names(const dmvf_error *err, uint64_t off, const fi *f, const char *what)
{
    char want[64];
    snprintf(want, sizeof want, "byte offset %" PRIu64, off);
    CHECK_MSG(strstr(err->msg, want) != NULL, "%s: want '%s' in: %s", what, want, err->msg);
    CHECK_MSG(err->offset == off, "%s: err.offset %" PRIu64 " want %" PRIu64, what, err->offset, off);
    if (f && f->kind == DMV__V1__AUDIT_ITEM__BODY_ENTRY) {
        snprintf(want, sizeof want, "(entry %" PRIu64 ")", f->seq);
        CHECK_MSG(strstr(err->msg, want) != NULL, "%s: want '%s' in: %s", what, want, err->msg);
    }
}

/* ---- the one-segment log and its tamperings ---- */

#define MAXF 64

static void test_basic_and_tamper(void)
{
    char good[600], t[600], seg[600];
    snprintf(good, sizeof good, "%s", P("good"));
    /* two writer sessions: header, 6 entries, checkpoint, 5 entries, checkpoint */
    CHECK_EQ_INT(session(good, NULL, 6, 0), 0);
    CHECK_EQ_INT(session(good, NULL, 5, 6), 0);
    dmvf_error err;
    char *sum = NULL;
    size_t sumlen = 0;
    FILE *m = open_memstream(&sum, &sumlen);
    CHECK_EQ_INT(dmvf_audit_verify(good, g_kr, NULL, m, &err), DMVF_OK);
    fclose(m);
    CHECK_MSG(sum && strstr(sum, ": intact") && strstr(sum, "entries:     11 (seq 0..10"),
              "summary: %s", sum ? sum : "");
    CHECK(sum && strstr(sum, "checkpoints: 2,"));
    free(sum);
    CHECK_MSG(verify_pub(good, &err) == DMVF_OK, "pub: %s", err.msg);
    CHECK_EQ_INT(count_entries(good), 11);
    CHECK_EQ_INT(file_size(P("good/HEAD")) > 0, 1);
    struct stat st;
    CHECK(stat(good, &st) == 0 && (st.st_mode & 0777) == 0700);

    size_t n;
    uint8_t *orig = slurp(P("good/audit-00000001.log"), &n);
    CHECK(orig != NULL);
    if (!orig)
        return;
    fi f[MAXF];
    size_t nf = frames_of(orig, n, f, MAXF);
    CHECK_EQ_INT(nf, 1 + 6 + 1 + 5 + 1);
    CHECK_EQ_INT(f[0].kind, DMV__V1__AUDIT_ITEM__BODY_HEADER);
    CHECK_EQ_INT(f[7].kind, DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT);
    CHECK_EQ_INT(f[nf - 1].kind, DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT);
    /* HEAD is the last checkpoint frame, byte for byte */
    size_t hn;
    uint8_t *head = slurp(P("good/HEAD"), &hn);
    CHECK(head && hn == f[nf - 1].len && memcmp(head, orig + f[nf - 1].off, hn) == 0);

    snprintf(t, sizeof t, "%s", P("t"));
    snprintf(seg, sizeof seg, "%s", P("t/audit-00000001.log"));
    uint8_t *buf = malloc(n * 2 + 1);
    /* a flipped byte in every item: in its length, its body and its chain */
    for (size_t i = 0; i < nf; i++) {
        size_t where[3] = {f[i].off, f[i].off + f[i].pre + f[i].item_len / 2,
                           f[i].off + f[i].len - 5};
        for (int w = 0; w < 3; w++) {
            copy_log(good, t);
            memcpy(buf, orig, n);
            buf[where[w]] ^= (uint8_t)(w == 0 ? 0x01 : 0x20);
            put(seg, buf, n);
            char what[80];
            snprintf(what, sizeof what, "flip in item %zu (%s)", i, w == 0 ? "length" : w == 1 ? "body" : "chain");
            CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
            check_names(&err, f[i].off, &f[i], what);
            /* with the public key alone: every item of a closed log is
             * covered by a signature */
            CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
        }
    }
    /* the message for an entry edit reads as documented */
    copy_log(good, t);
    memcpy(buf, orig, n);
    buf[f[3].off + f[3].pre + 3] ^= 0x04;
    put(seg, buf, n);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    char want[200];
    snprintf(want, sizeof want, "audit-00000001.log: byte offset %" PRIu64 " (entry 2): chain does "
             "not match: the entry was edited, removed or reordered", f[3].off);
    CHECK_EQ_STR(err.msg, want);
    CHECK_EQ_INT(err.record, 2);

    /* a deleted item: noticed where it was (the final checkpoint: by HEAD) */
    for (size_t i = 0; i < nf; i++) {
        copy_log(good, t);
        size_t k = f[i].off;
        memcpy(buf, orig, k);
        memcpy(buf + k, orig + f[i].off + f[i].len, n - f[i].off - f[i].len);
        put(seg, buf, n - f[i].len);
        char what[64];
        snprintf(what, sizeof what, "item %zu deleted", i);
        CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
        if (i + 1 < nf)
            check_names(&err, f[i].off, NULL, what);
        else
            CHECK_MSG(strstr(err.msg, "truncated") != NULL, "%s: %s", what, err.msg);
        CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
    }
    /* two neighbours swapped */
    for (size_t i = 0; i + 1 < nf; i++) {
        copy_log(good, t);
        memcpy(buf, orig, n);
        size_t o = f[i].off;
        memcpy(buf + o, orig + f[i + 1].off, f[i + 1].len);
        memcpy(buf + o + f[i + 1].len, orig + f[i].off, f[i].len);
        put(seg, buf, n);
        char what[64];
        snprintf(what, sizeof what, "items %zu and %zu swapped", i, i + 1);
        CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
        check_names(&err, f[i].off, NULL, what);
        CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
    }
    /* an item duplicated right after itself */
    for (size_t i = 0; i < nf; i++) {
        copy_log(good, t);
        size_t end = f[i].off + f[i].len;
        memcpy(buf, orig, end);
        memcpy(buf + end, orig + f[i].off, f[i].len);
        memcpy(buf + end + f[i].len, orig + end, n - end);
        put(seg, buf, n + f[i].len);
        char what[64];
        snprintf(what, sizeof what, "item %zu duplicated", i);
        CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
        check_names(&err, end, NULL, what);
        CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
    }
    /* an entry appended with a forged chain */
    copy_log(good, t);
    memcpy(buf, orig, n);
    memcpy(buf + n, orig + f[2].off, f[2].len);
    put(seg, buf, n + f[2].len);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    check_names(&err, n, NULL, "appended copy");
    /* truncated at every item boundary and inside every item */
    for (size_t i = 0; i < nf; i++) {
        size_t cuts[2] = {f[i].off, f[i].off + f[i].len / 2};
        for (int c = 0; c < 2; c++) {
            copy_log(good, t);
            put(seg, orig, cuts[c]);
            char what[64];
            snprintf(what, sizeof what, "cut at %zu (item %zu, %s)", cuts[c], i, c ? "inside" : "boundary");
            CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
            CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
            if (c == 1) {
                check_names(&err, f[i].off, NULL, what);
                CHECK_MSG(strstr(err.msg, "ends inside an item") != NULL, "%s: %s", what, err.msg);
            }
        }
    }

    /* HEAD: edited, removed, older, cut back */
    copy_log(good, t);
    uint8_t *h2 = malloc(hn);
    memcpy(h2, head, hn);
    h2[hn / 2] ^= 0x10;
    put(P("t/HEAD"), h2, hn);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "HEAD") != NULL, "edited HEAD: %s", err.msg);
    CHECK_EQ_INT(verify_pub(t, &err), DMVF_ETAMPER);
    put(P("t/HEAD"), head, hn - 1);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    free(h2);
    copy_log(good, t);
    CHECK_EQ_INT(unlink(P("t/HEAD")), 0);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "HEAD is missing") != NULL, "%s", err.msg);
    /* HEAD replaced by the older checkpoint, log intact: reported, not a fault */
    copy_log(good, t);
    put(P("t/HEAD"), orig + f[7].off, f[7].len);
    m = open_memstream(&sum, &sumlen);
    CHECK_MSG(dmvf_audit_verify(t, g_kr, NULL, m, &err) == DMVF_OK, "older HEAD: %s", err.msg);
    fclose(m);
    CHECK_MSG(sum && strstr(sum, "newer checkpoint"), "%s", sum ? sum : "");
    free(sum);
    /* the log cut back to the first checkpoint, HEAD new: truncation */
    copy_log(good, t);
    put(seg, orig, f[7].off + f[7].len);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    CHECK_EQ_INT(verify_pub(t, &err), DMVF_ETAMPER);
    /* KNOWN LIMIT: cut back to the first checkpoint and HEAD set back to it
     * (an attacker who kept the old HEAD): verifies. Only a copy of HEAD
     * kept outside the log's reach detects this (README, audit.h). */
    put(P("t/HEAD"), orig + f[7].off, f[7].len);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_OK);

    /* another keyring */
    CHECK_EQ_INT(dmvf_audit_verify(good, g_kr2, NULL, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "another keyring") != NULL, "%s", err.msg);
    CHECK_EQ_INT(err.offset, 0);
    CHECK_EQ_INT(dmvf_audit_verify(good, NULL, g_pub2, NULL, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "another keyring") != NULL, "%s", err.msg);
    /* a log written with another keyring is refused by a writer too */
    dmvf_audit *a = dmvf_audit_open(good, g_kr2, NULL, &err);
    CHECK(a == NULL);
    CHECK_EQ_INT(err.code, DMVF_ETAMPER);
    dmvf_audit_close(a, NULL);

    /* a writer refuses a tampered active segment and appends nothing */
    copy_log(good, t);
    memcpy(buf, orig, n);
    buf[f[9].off + f[9].pre + 2] ^= 0x01;
    put(seg, buf, n);
    a = dmvf_audit_open(t, g_kr, NULL, &err);
    CHECK(a == NULL);
    CHECK_EQ_INT(err.code, DMVF_ETAMPER);
    check_names(&err, f[9].off, NULL, "open on an edited log");
    CHECK_EQ_INT(file_size(seg), n);
    /* ... a torn tail (a crash inside a write), naming the offset */
    copy_log(good, t);
    memcpy(buf, orig, n);
    memcpy(buf + n, orig + f[2].off, 10);
    put(seg, buf, n + 10);
    a = dmvf_audit_open(t, g_kr, NULL, &err);
    CHECK(a == NULL);
    CHECK_EQ_INT(err.code, DMVF_ETAMPER);
    check_names(&err, n, NULL, "open on a torn tail");
    CHECK_MSG(strstr(err.msg, "verif") != NULL, "%s", err.msg);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    check_names(&err, n, NULL, "verify of a torn tail");
    /* ... a removed HEAD, or a log cut back before HEAD */
    copy_log(good, t);
    unlink(P("t/HEAD"));
    a = dmvf_audit_open(t, g_kr, NULL, &err);
    CHECK(a == NULL && err.code == DMVF_ETAMPER);
    copy_log(good, t);
    put(seg, orig, f[10].off);
    a = dmvf_audit_open(t, g_kr, NULL, &err);
    CHECK(a == NULL && err.code == DMVF_ETAMPER);
    CHECK_EQ_INT(file_size(seg), f[10].off);
    /* ... every segment removed, HEAD kept */
    copy_log(good, t);
    unlink(seg);
    a = dmvf_audit_open(t, g_kr, NULL, &err);
    CHECK(a == NULL && err.code == DMVF_ETAMPER);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);

    free(head);
    free(buf);
    free(orig);
}

/* ---- several segments, compressed ---- */

static size_t inflate_file(const char *path, uint8_t **out)
{
    size_t zn;
    uint8_t *z = slurp(path, &zn);
    *out = NULL;
    if (!z)
        return 0;
    uLongf cap = 1 << 20;
    uint8_t *p = malloc(cap);
    int zr = uncompress(p, &cap, z, zn);
    free(z);
    CHECK_EQ_INT(zr, Z_OK);
    *out = p;
    return zr == Z_OK ? (size_t)cap : 0;
}

static void put_compressed(const char *path, const uint8_t *p, size_t n)
{
    uLongf cap = compressBound(n);
    uint8_t *z = malloc(cap);
    CHECK_EQ_INT(compress2(z, &cap, p, n, 6), Z_OK);
    put(path, z, cap);
    free(z);
}

static void test_rotation(void)
{
    char good[600], t[600];
    snprintf(good, sizeof good, "%s", P("rot"));
    dmvf_audit_options o;
    memset(&o, 0, sizeof o);
    o.rotate_bytes = 2048;
    o.compress = 1;
    CHECK_EQ_INT(session(good, &o, 40, 0), 0);
    CHECK_EQ_INT(session(good, &o, 21, 40), 0);
    dmvf_error err;
    CHECK_MSG(verify_kr(good, &err) == DMVF_OK, "rotated: %s", err.msg);
    CHECK_MSG(verify_pub(good, &err) == DMVF_OK, "rotated, pub: %s", err.msg);
    CHECK_EQ_INT(count_entries(good), 61);
    dmvf__audit_seg *segs;
    size_t ns;
    CHECK_EQ_INT(dmvf__audit_segments(good, &segs, &ns, &err), DMVF_OK);
    CHECK_MSG(ns >= 4, "%zu segments", ns);
    size_t nz = 0;
    for (size_t i = 0; i < ns; i++) {
        CHECK_EQ_INT(segs[i].n, i + 1);
        nz += segs[i].has_z;
        CHECK(!(segs[i].has_z && segs[i].has_log));
    }
    CHECK_EQ_INT(nz, ns - 1);   /* every closed segment compressed */
    CHECK(segs[ns - 1].has_log && !segs[ns - 1].has_z);
    free(segs);
    if (ns < 4)
        return;

    snprintf(t, sizeof t, "%s", P("rt"));
    /* a middle segment deleted */
    copy_log(good, t);
    unlink(P("rt/audit-00000002.log.z"));
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "audit-00000002.log: missing") != NULL, "%s", err.msg);
    CHECK_EQ_INT(verify_pub(t, &err), DMVF_ETAMPER);
    /* the first one deleted */
    copy_log(good, t);
    unlink(P("rt/audit-00000001.log.z"));
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "audit-00000001.log: missing") != NULL, "%s", err.msg);
    /* the last one deleted (HEAD is in it) */
    copy_log(good, t);
    char last[64];
    dmvf__audit_seg_name(last, sizeof last, ns, 0);
    unlink(P("rt/%s", last));
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    CHECK_EQ_INT(verify_pub(t, &err), DMVF_ETAMPER);
    /* the last two deleted */
    dmvf__audit_seg_name(last, sizeof last, ns - 1, 1);
    unlink(P("rt/%s", last));
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    /* segments 2 and 3 renamed into each other's place */
    copy_log(good, t);
    CHECK_EQ_INT(rename(P("rt/audit-00000002.log.z"), P("rt/x")), 0);
    CHECK_EQ_INT(rename(P("rt/audit-00000003.log.z"), P("rt/audit-00000002.log.z")), 0);
    CHECK_EQ_INT(rename(P("rt/x"), P("rt/audit-00000003.log.z")), 0);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "audit-00000002.log.z") != NULL, "%s", err.msg);
    CHECK_EQ_INT(verify_pub(t, &err), DMVF_ETAMPER);
    /* a byte changed inside a compressed segment (inflated, edited, recompressed) */
    uint8_t *plain;
    size_t pn = inflate_file(P("rot/audit-00000002.log.z"), &plain);
    CHECK(pn > 100);
    fi f[MAXF];
    size_t nf = frames_of(plain, pn, f, MAXF);
    CHECK(nf >= 3);
    CHECK_EQ_INT(f[nf - 1].kind, DMV__V1__AUDIT_ITEM__BODY_CHECKPOINT);
    for (size_t i = 0; i < nf; i++) {
        copy_log(good, t);
        plain[f[i].off + f[i].pre + f[i].item_len / 2] ^= 0x08;
        put_compressed(P("rt/audit-00000002.log.z"), plain, pn);
        plain[f[i].off + f[i].pre + f[i].item_len / 2] ^= 0x08;
        char what[64];
        snprintf(what, sizeof what, "flip in compressed item %zu", i);
        CHECK_MSG(verify_kr(t, &err) == DMVF_ETAMPER, "%s not detected", what);
        check_names(&err, f[i].off, &f[i], what);
        CHECK_MSG(strstr(err.msg, "audit-00000002.log.z") != NULL, "%s: %s", what, err.msg);
        CHECK_MSG(verify_pub(t, &err) == DMVF_ETAMPER, "%s not detected without the keyring", what);
    }
    /* ... a raw compressed byte changed (zlib's check or the chain notices) */
    copy_log(good, t);
    size_t zn;
    uint8_t *z = slurp(P("rot/audit-00000002.log.z"), &zn);
    z[zn / 2] ^= 0x01;
    put(P("rt/audit-00000002.log.z"), z, zn);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    /* ... the compressed segment cut short, or followed by junk */
    put(P("rt/audit-00000002.log.z"), z, zn / 2);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    z[zn / 2] ^= 0x01;
    uint8_t *zz = malloc(zn + 4);
    memcpy(zz, z, zn);
    memcpy(zz + zn, "junk", 4);
    put(P("rt/audit-00000002.log.z"), zz, zn + 4);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "follow") != NULL, "%s", err.msg);
    free(zz);
    free(z);
    /* both forms present: identical is fine, different is tampering */
    copy_log(good, t);
    put(P("rt/audit-00000002.log"), plain, pn);
    CHECK_MSG(verify_kr(t, &err) == DMVF_OK, "both forms, identical: %s", err.msg);
    plain[pn - 40] ^= 0x01;
    put(P("rt/audit-00000002.log"), plain, pn);
    CHECK_EQ_INT(verify_kr(t, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "differ") != NULL, "%s", err.msg);
    free(plain);
    /* a writer continues a rotated log */
    CHECK_EQ_INT(session(good, &o, 5, 61), 0);
    CHECK_MSG(verify_kr(good, &err) == DMVF_OK, "continued: %s", err.msg);
    CHECK_EQ_INT(count_entries(good), 66);
}

/* Rotation does not make appends wait for the closed segment's deflate:
 * with the compressor held in its fsync, appends on the handle go on
 * through further rotations; close then waits for it, and every closed
 * segment is compressed. (Compressing on the appending thread, the
 * appender stays stuck behind the held fsync and the wait below times
 * out.) */
typedef struct {
    dmvf_audit *a;
    int n, bad;
    atomic_int done;
} aside_arg;

static void *aside_run(void *p)
{
    aside_arg *x = p;
    x->bad = write_entries(x->a, x->n, 0);
    atomic_store(&x->done, 1);
    return NULL;
}

static void test_rotation_aside(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", P("aside"));
    dmvf_audit_options o;
    memset(&o, 0, sizeof o);
    o.rotate_bytes = 2048;
    o.compress = 1;
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(dir, g_kr, &o, &err);
    CHECK_MSG(a != NULL, "open: %s", a ? "" : err.msg);
    if (!a)
        return;
    atomic_store(&g_fs_hold_z, 1);
    aside_arg x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.n = 60;
    pthread_t th;
    if (pthread_create(&th, NULL, aside_run, &x) != 0) {
        CHECK_MSG(0, "pthread_create failed");
        atomic_store(&g_fs_hold_z, 0);
        dmvf_audit_close(a, &err);
        return;
    }
    int waited = 0;
    while (!atomic_load(&x.done) && waited < 20000) {
        usleep(1000);
        waited++;
    }
    int done = atomic_load(&x.done);
    CHECK_MSG(done, "appends waited on the held compression (%d ms)", waited);
    /* the compressor may reach its fsync only after the appends are done
     * (a fast disk, a busy machine): it is held there all the same */
    for (waited = 0; done && atomic_load(&g_fs_hold_z) != 2 && waited < 20000; waited++)
        usleep(1000);
    CHECK_MSG(atomic_load(&g_fs_hold_z) == 2, "the compressor was not held meanwhile");
    dmvf__audit_seg *segs;
    size_t ns, nz = 0;
    if (done) {
        /* the held segment's compression has not happened yet */
        CHECK_EQ_INT(dmvf__audit_segments(dir, &segs, &ns, &err), DMVF_OK);
        CHECK_MSG(ns >= 4, "%zu segments", ns);
        CHECK(segs[0].has_log && !segs[0].has_z);
        free(segs);
        /* readers go on meanwhile */
        CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "while compressing: %s", err.msg);
    }
    atomic_store(&g_fs_hold_z, 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(x.bad, 0);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__audit_segments(dir, &segs, &ns, &err), DMVF_OK);
    for (size_t i = 0; i < ns; i++) {
        nz += segs[i].has_z;
        CHECK(!(segs[i].has_z && segs[i].has_log));
    }
    CHECK_EQ_INT(nz, ns - 1);   /* close waited: every closed segment compressed */
    CHECK(ns > 0 && segs[ns - 1].has_log && !segs[ns - 1].has_z);
    free(segs);
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "after close: %s", err.msg);
    CHECK_EQ_INT(count_entries(dir), 60);
}

/* ---- concurrency and crashes ---- */

static void test_two_writers(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", P("conc"));
    dmvf_audit_options o;
    memset(&o, 0, sizeof o);
    o.rotate_bytes = 4 << 10;
    o.compress = 1;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0)
            _exit(session(dir, &o, 200, k * 1000) ? 1 : 0);
    }
    /* readers meanwhile: every snapshot verifies (segments rotate and are
     * compressed under them) */
    dmvf_error err;
    int verified = 0, failed = 0, done = 0;
    while (done < 2) {
        done = 0;
        int st;
        int rc = verify_kr(dir, &err);
        if (rc == DMVF_OK)
            verified++;
        else if (!(verified == 0 && (rc == DMVF_EIO || strstr(err.msg, "no audit segments")))) {
            /* (before the first writer made the directory and segment 1) */
            if (!failed++)
                CHECK_MSG(0, "verify while writing: %s", err.msg);
        }
        for (int k = 0; k < 2; k++) {
            if (kids[k] > 0 && waitpid(kids[k], &st, WNOHANG) == kids[k]) {
                CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", k);
                kids[k] = -1;
            }
            done += kids[k] < 0;
        }
    }
    CHECK(verified > 0);
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "two writers: %s", err.msg);
    CHECK_EQ_INT(count_entries(dir), 400);
    dmvf__audit_seg *segs;
    size_t ns;
    CHECK_EQ_INT(dmvf__audit_segments(dir, &segs, &ns, &err), DMVF_OK);
    CHECK_MSG(ns > 2, "rotation under concurrency: %zu segments", ns);
    free(segs);
}

/* ---- group commit: threads appending on one handle ---- */

#define GC_MAX_PER 64

typedef struct gc_thread {
    pthread_t th;
    dmvf_audit *a;
    int id, n;
    uint64_t seqs[GC_MAX_PER];
    int rc[GC_MAX_PER];
    char msg[GC_MAX_PER][sizeof ((dmvf_error *)0)->msg];
} gc_thread;

/* n REQUEST entries, one after the other, each call's seq and result kept. */
static void *gc_run(void *ud)
{
    gc_thread *t = ud;
    for (int i = 0; i < t->n; i++) {
        dmvf_request r;
        char rid[48];
        sample_request(&r, t->id % 2);
        snprintf(rid, sizeof rid, "t%d-%d", t->id, i);
        r.request_id = rid;
        dmvf_audit_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = DMVF_AUDIT_REQUEST;
        ev.request = &r;
        ev.rule = "in-state police";
        ev.decision = DMVF_DECISION_RELEASE;
        dmvf_error err;
        memset(&err, 0, sizeof err);
        t->seqs[i] = UINT64_MAX;
        t->rc[i] = dmvf_audit_event_write(t->a, &ev, &t->seqs[i], &err);
        snprintf(t->msg[i], sizeof t->msg[i], "%s", t->rc[i] ? err.msg : "");
    }
    return NULL;
}

/* nt threads x per entries on a; 0 when every call succeeded, with seqs
 * rising in each thread's call order and, unless first is UINT64_MAX
 * (another process appends too), every seq from first on handed out once. */
static int gc_write(dmvf_audit *a, int nt, int per, uint64_t first, int id_base)
{
    gc_thread *t = calloc((size_t)nt, sizeof *t);
    if (!t)
        return 1;
    for (int k = 0; k < nt; k++) {
        t[k].a = a;
        t[k].id = id_base + k;
        t[k].n = per;
        if (pthread_create(&t[k].th, NULL, gc_run, &t[k]) != 0)
            t[k].n = -1;
    }
    int bad = 0;
    uint64_t total = (uint64_t)nt * (uint64_t)per;
    unsigned char *seen = calloc(total ? total : 1, 1);
    for (int k = 0; k < nt; k++) {
        if (t[k].n < 0) {
            bad = 1;
            continue;
        }
        pthread_join(t[k].th, NULL);
        for (int i = 0; i < per; i++) {
            if (t[k].rc[i] != DMVF_OK) {
                fprintf(stderr, "thread %d, append %d: %s\n", k, i, t[k].msg[i]);
                bad = 1;
                continue;
            }
            uint64_t s = t[k].seqs[i];
            int placed = first == UINT64_MAX ||
                         (s >= first && s - first < total && seen && !seen[s - first]++);
            if (!placed || (i > 0 && s <= t[k].seqs[i - 1])) {
                fprintf(stderr, "thread %d, append %d: seq %" PRIu64 " out of place\n", k, i, s);
                bad = 1;
            }
        }
    }
    free(seen);
    free(t);
    return bad;
}

/* How many appends wait in a's queue, once n do (or after 10 s). */
static size_t wait_queued(dmvf_audit *a, size_t n)
{
    size_t queued = 0;
    for (int tries = 0; tries < 10000; tries++) {
        pthread_mutex_lock(&a->mu);
        queued = a->queued;
        pthread_mutex_unlock(&a->mu);
        if (queued >= n)
            break;
        usleep(1000);
    }
    return queued;
}

static void test_group_commit(void)
{
    dmvf_error err;
    char dir[600];
    /* 8 threads x 40 entries on one handle, fsync taking 1 ms */
    snprintf(dir, sizeof dir, "%s", P("gc"));
    dmvf_audit *a = dmvf_audit_open(dir, g_kr, NULL, &err);
    CHECK_MSG(a != NULL, "open: %s", a ? "" : err.msg);
    if (!a)
        return;
    atomic_store(&g_fs_delay_us, 1000);
    unsigned before = atomic_load(&g_fsyncs);
    CHECK_EQ_INT(gc_write(a, 8, 40, 0, 0), 0);
    unsigned fsyncs = atomic_load(&g_fsyncs) - before;
    atomic_store(&g_fs_delay_us, 0);
    CHECK_MSG(fsyncs < 320, "%u fsyncs for 320 appends", fsyncs);
    printf("group commit: 320 appends from 8 threads, %u fsyncs\n", fsyncs);
    fflush(stdout);   /* not again from a forked child's buffer */
    CHECK_MSG(a->batches == fsyncs, "%" PRIu64 " batches, %u fsyncs", a->batches, fsyncs);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "threads: %s", err.msg);
    CHECK_EQ_INT(verify_pub(dir, &err), DMVF_OK);
    CHECK_EQ_INT(count_entries(dir), 320);

    /* a thread alone: one fsync per append, as before */
    a = dmvf_audit_open(dir, g_kr, NULL, &err);
    CHECK(a != NULL);
    if (!a)
        return;
    before = atomic_load(&g_fsyncs);
    CHECK_EQ_INT(gc_write(a, 1, 10, 320, 100), 0);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 10);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_EQ_INT(count_entries(dir), 330);

    /* batches through rotation and compression, two processes of four
     * threads each on the same log */
    snprintf(dir, sizeof dir, "%s", P("gc2"));
    dmvf_audit_options o;
    memset(&o, 0, sizeof o);
    o.rotate_bytes = 4 << 10;
    o.compress = 1;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            atomic_store(&g_fs_delay_us, 300);
            dmvf_audit *h = dmvf_audit_open(dir, g_kr, &o, &err);
            if (!h)
                _exit(1);
            int bad = gc_write(h, 4, 30, UINT64_MAX, k * 4);
            bad |= dmvf_audit_close(h, &err) != DMVF_OK;
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = -1;
        CHECK_EQ_INT(waitpid(kids[k], &st, 0), kids[k]);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d of threads failed", k);
    }
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "processes of threads: %s", err.msg);
    CHECK_EQ_INT(count_entries(dir), 240);
    dmvf__audit_seg *segs;
    size_t ns;
    CHECK_EQ_INT(dmvf__audit_segments(dir, &segs, &ns, &err), DMVF_OK);
    CHECK_MSG(ns > 2, "rotation under batches: %zu segments", ns);
    free(segs);

    /* a failed fsync fails every call of its batch: the leader's fsync is
     * held while five others queue behind it; the batch of those five then
     * fails its one fsync */
    snprintf(dir, sizeof dir, "%s", P("gcfault"));
    a = dmvf_audit_open(dir, g_kr, NULL, &err);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ_INT(gc_write(a, 1, 1, 0, 0), 0);
    atomic_store(&g_fs_hold, 1);
    gc_thread lead;
    memset(&lead, 0, sizeof lead);
    lead.a = a;
    lead.n = 1;
    CHECK_EQ_INT(pthread_create(&lead.th, NULL, gc_run, &lead), 0);
    while (atomic_load(&g_fs_hold) != 2)
        usleep(1000);
    gc_thread f[5];
    memset(f, 0, sizeof f);
    for (int k = 0; k < 5; k++) {
        f[k].a = a;
        f[k].id = 1 + k;
        f[k].n = 1;
        CHECK_EQ_INT(pthread_create(&f[k].th, NULL, gc_run, &f[k]), 0);
    }
    size_t queued = wait_queued(a, 5);
    CHECK_EQ_INT(queued, 5);
    before = atomic_load(&g_fsyncs);
    atomic_store(&g_fs_fail, 1);
    atomic_store(&g_fs_hold, 0);
    pthread_join(lead.th, NULL);
    for (int k = 0; k < 5; k++)
        pthread_join(f[k].th, NULL);
    atomic_store(&g_fs_fail, 0);
    /* the leader's entry is durable; the five shared one fsync, which
     * failed: each of them fails */
    CHECK_MSG(lead.rc[0] == DMVF_OK, "%s", lead.msg[0]);
    CHECK_EQ_INT(lead.seqs[0], 1);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);
    for (int k = 0; k < 5; k++) {
        CHECK_EQ_INT(f[k].rc[0], DMVF_EIO);
        CHECK_MSG(strstr(f[k].msg[0], "fsync failed") != NULL, "%s", f[k].msg[0]);
    }
    CHECK_EQ_INT(a->batches, 3);
    /* sticky: every later call fails, close writes no checkpoint */
    CHECK_EQ_INT(gc_write(a, 1, 1, 0, 0), 1);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_EIO);
    CHECK_MSG(strstr(err.msg, "an earlier append failed") != NULL, "%s", err.msg);
    /* the five were written before their fsync failed: the file holds them
     * (not known durable; their calls failed, so nothing was released for
     * them) and the chain verifies */
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "after the failed batch: %s", err.msg);
    CHECK_EQ_INT(count_entries(dir), 7);
}

static void test_killed_writer(void)
{
    char dir[600], d2[600];
    snprintf(dir, sizeof dir, "%s", P("killed"));
    dmvf_error err;
    CHECK_EQ_INT(session(dir, NULL, 4, 0), 0);
    pid_t kid = fork();
    if (kid == 0) {
        dmvf_audit *a = dmvf_audit_open(dir, g_kr, NULL, &err);
        if (!a || write_entries(a, 7, 4))
            _exit(1);
        _exit(0);   /* no close: no checkpoint, no HEAD update */
    }
    int st = -1;
    CHECK_EQ_INT(waitpid(kid, &st, 0), kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *sum = NULL;
    size_t sn = 0;
    FILE *m = open_memstream(&sum, &sn);
    CHECK_MSG(dmvf_audit_verify(dir, g_kr, NULL, m, &err) == DMVF_OK, "after a kill: %s", err.msg);
    fclose(m);
    CHECK_MSG(sum && strstr(sum, "7 entries after the last checkpoint (writer did not close)"),
              "%s", sum ? sum : "");
    free(sum);
    m = open_memstream(&sum, &sn);
    CHECK_EQ_INT(dmvf_audit_verify(dir, NULL, g_pub, m, &err), DMVF_OK);
    fclose(m);
    CHECK_MSG(sum && strstr(sum, "entries 4..10"), "%s", sum ? sum : "");
    free(sum);
    /* the next writer continues the chain */
    CHECK_EQ_INT(session(dir, NULL, 3, 11), 0);
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "continued after a kill: %s", err.msg);
    CHECK_EQ_INT(count_entries(dir), 14);
    /* a writer killed before its first close, on a new log */
    snprintf(d2, sizeof d2, "%s", P("killed2"));
    kid = fork();
    if (kid == 0) {
        dmvf_audit *a = dmvf_audit_open(d2, g_kr, NULL, &err);
        _exit(!a || write_entries(a, 2, 0));
    }
    CHECK_EQ_INT(waitpid(kid, &st, 0), kid);
    CHECK_MSG(verify_kr(d2, &err) == DMVF_OK, "no checkpoint yet: %s", err.msg);
    CHECK_EQ_INT(session(d2, NULL, 1, 2), 0);
    CHECK_MSG(verify_kr(d2, &err) == DMVF_OK, "%s", err.msg);

    /* the crash windows a writer can leave (tests/cli/accountability.sh
     * kills one before every durable step): */
    /* ... stopped between the log's first checkpoint and the first HEAD:
     * verifies, and the next writer writes HEAD */
    char d3[600];
    snprintf(d3, sizeof d3, "%s", P("nohead"));
    CHECK_EQ_INT(session(d3, NULL, 3, 0), 0);
    CHECK_EQ_INT(unlink(P("nohead/HEAD")), 0);
    CHECK_MSG(verify_kr(d3, &err) == DMVF_OK, "first HEAD missing: %s", err.msg);
    CHECK_EQ_INT(verify_pub(d3, &err), DMVF_OK);
    dmvf_audit *a = dmvf_audit_open(d3, g_kr, NULL, &err);
    CHECK_MSG(a != NULL, "open without the first HEAD: %s", a ? "" : err.msg);
    CHECK(file_size(P("nohead/HEAD")) != (size_t)-1);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_MSG(verify_kr(d3, &err) == DMVF_OK, "%s", err.msg);
    /* ... but not when entries follow that checkpoint (a writer would have
     * written HEAD first), nor with two checkpoints */
    kid = fork();
    if (kid == 0) {
        dmvf_audit *k = dmvf_audit_open(d3, g_kr, NULL, &err);
        _exit(!k || write_entries(k, 2, 3));
    }
    CHECK_EQ_INT(waitpid(kid, &st, 0), kid);
    CHECK_MSG(verify_kr(d3, &err) == DMVF_OK, "%s", err.msg);
    CHECK_EQ_INT(unlink(P("nohead/HEAD")), 0);
    CHECK_EQ_INT(verify_kr(d3, &err), DMVF_ETAMPER);
    CHECK_MSG(strstr(err.msg, "HEAD is missing") != NULL, "%s", err.msg);
    a = dmvf_audit_open(d3, g_kr, NULL, &err);
    CHECK(a == NULL && err.code == DMVF_ETAMPER);
    /* ... stopped after LOCK, before the first segment: an empty log */
    CHECK_EQ_INT(mkdir(P("nolog"), 0700), 0);
    put(P("nolog/LOCK"), (const uint8_t *)"", 0);
    m = open_memstream(&sum, &sn);
    CHECK_MSG(dmvf_audit_verify(P("nolog"), g_kr, NULL, m, &err) == DMVF_OK, "empty: %s", err.msg);
    fclose(m);
    CHECK_MSG(sum && strstr(sum, "empty"), "%s", sum ? sum : "");
    free(sum);
    CHECK_EQ_INT(session(P("nolog"), NULL, 1, 0), 0);
    CHECK_MSG(verify_kr(P("nolog"), &err) == DMVF_OK, "%s", err.msg);
}

static void test_unwritable(void)
{
    dmvf_error err;
    dmvf_audit *a;
    /* a directory that cannot be created: its parent is a file */
    put(P("plainfile"), (const uint8_t *)"x", 1);
    a = dmvf_audit_open(P("plainfile/log"), g_kr, NULL, &err);
    CHECK(a == NULL);
    CHECK_EQ_INT(err.code, DMVF_EIO);
    if (geteuid() != 0) {
        CHECK_EQ_INT(mkdir(P("ro"), 0500), 0);
        a = dmvf_audit_open(P("ro"), g_kr, NULL, &err);
        CHECK(a == NULL);
        CHECK_EQ_INT(err.code, DMVF_EIO);
        chmod(P("ro"), 0700);
    } else {
        /* root writes anywhere permissions allow nothing: /proc allows no
         * new files even to root */
        a = dmvf_audit_open("/proc/self", g_kr, NULL, &err);
        CHECK(a == NULL);
        CHECK_EQ_INT(err.code, DMVF_EIO);
    }
    CHECK_EQ_INT(dmvf_audit_verify(P("nothere"), g_kr, NULL, NULL, &err), DMVF_EIO);
    /* an empty directory is no log */
    CHECK_EQ_INT(mkdir(P("empty"), 0700), 0);
    CHECK_EQ_INT(dmvf_audit_verify(P("empty"), g_kr, NULL, NULL, &err), DMVF_ETAMPER);
    dmvf_audit_close(NULL, NULL);
}

/* ---- queries ---- */

static char *run_query(const char *dir, const dmvf_audit_query *q, const dmvf_keyring *kr,
                       int *lines, int *rc)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    dmvf_error err;
    *rc = dmvf_audit_query_run(dir, q, kr, m, &err);
    fclose(m);
    *lines = 0;
    for (size_t i = 0; i < n; i++)
        *lines += out[i] == '\n';
    return out;
}

static int query_count(const char *dir, const dmvf_audit_query *q, const dmvf_keyring *kr)
{
    int lines, rc;
    free(run_query(dir, q, kr, &lines, &rc));
    CHECK_EQ_INT(rc, DMVF_OK);
    return lines;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_query(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", P("q"));
    uint64_t t0 = now_ns();
    CHECK_EQ_INT(session(dir, NULL, 8, 0), 0);   /* req-0..3: Albany, ICE, Albany, ICE */
    struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL);
    uint64_t t1 = now_ns();
    nanosleep(&pause, NULL);
    CHECK_EQ_INT(session(dir, NULL, 4, 8), 0);   /* req-4 (Albany), req-5 (ICE) */
    /* a review and a notice, written by others through event_write */
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(dir, g_kr, NULL, &err);
    CHECK(a != NULL);
    dmvf_request r;
    sample_request(&r, 1);
    r.request_id = "req-held";
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DMVF_AUDIT_REVIEW_HOLD;
    ev.request = &r;
    ev.review_id = "0123456789abcdef0123456789abcdef";
    ev.note = "quote \" backslash \\ tab \t ctl \x01 bad \xff\xfe utf8 \xc3\xa9 end";
    uint64_t seq = 0;
    CHECK_EQ_INT(a ? dmvf_audit_event_write(a, &ev, &seq, &err) : -1, DMVF_OK);
    CHECK_EQ_INT(seq, 12);
    memset(&ev, 0, sizeof ev);
    ev.kind = DMVF_AUDIT_NOTICE_SENT;
    ev.actor = "clerk 9";
    ev.counts.notices = 2;
    CHECK_EQ_INT(a ? dmvf_audit_event_write(a, &ev, &seq, &err) : -1, DMVF_OK);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_MSG(verify_kr(dir, &err) == DMVF_OK, "%s", err.msg);

    dmvf_audit_query q;
    memset(&q, 0, sizeof q);
    CHECK_EQ_INT(query_count(dir, &q, NULL), 14);
    q.ori = "DHSICE001";
    CHECK_EQ_INT(query_count(dir, &q, NULL), 7);         /* 3 requests x 2 + the hold */
    q.kind = DMVF_AUDIT_REQUEST;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 3);
    q.decision = DMVF_DECISION_RELEASE;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 0);
    memset(&q, 0, sizeof q);
    q.agency = "albany police";                            /* any case */
    CHECK_EQ_INT(query_count(dir, &q, NULL), 6);
    q.agency = "Sheriff";
    CHECK_EQ_INT(query_count(dir, &q, NULL), 0);
    memset(&q, 0, sizeof q);
    q.tag = "immigration-enforcement";
    CHECK_EQ_INT(query_count(dir, &q, NULL), 7);
    q.tag = "immigration";
    CHECK_EQ_INT(query_count(dir, &q, NULL), 0);          /* a tag matches whole */
    memset(&q, 0, sizeof q);
    q.decision = DMVF_DECISION_REVIEW;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 1);
    q.decision = DMVF_DECISION_DENY;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 6);
    memset(&q, 0, sizeof q);
    q.kind = DMVF_AUDIT_NOTICE_SENT;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 1);
    memset(&q, 0, sizeof q);
    q.request_id = "req-2";
    CHECK_EQ_INT(query_count(dir, &q, NULL), 2);
    memset(&q, 0, sizeof q);
    q.from_ns = t1;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 6);
    q.from_ns = t0;
    q.to_ns = t1;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 8);
    q.from_ns = now_ns();
    q.to_ns = 0;
    CHECK_EQ_INT(query_count(dir, &q, NULL), 0);
    /* subject: R00003 was released by entry 1 (subjects of i=1: R00003..5) */
    memset(&q, 0, sizeof q);
    q.subject = "R00003";
    int lines, rc;
    char *out = run_query(dir, &q, g_kr, &lines, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(lines, 1);
    CHECK_MSG(out && strstr(out, "\"seq\":1,") && strstr(out, "\"kind\":\"release\"") &&
              strstr(out, "\"ori\":\"NY0300000\""), "%s", out ? out : "");
    free(out);
    q.subject = "R99999";
    CHECK_EQ_INT(query_count(dir, &q, g_kr), 0);
    q.subject = "R00003";
    CHECK_EQ_INT(query_count(dir, &q, g_kr2), 0);          /* another keyring's hash */
    free(run_query(dir, &q, NULL, &lines, &rc));
    CHECK_EQ_INT(rc, DMVF_EINVAL);
    /* the JSON: names, escapes */
    memset(&q, 0, sizeof q);
    q.kind = DMVF_AUDIT_REVIEW_HOLD;
    out = run_query(dir, &q, NULL, &lines, &rc);
    CHECK_EQ_INT(lines, 1);
    CHECK_MSG(out && strstr(out, "\"note\":\"quote \\\" backslash \\\\ tab \\t ctl \\u0001 bad "
                                 "\\ufffd\\ufffd utf8 \xc3\xa9 end\""), "%s", out ? out : "");
    CHECK(out && strstr(out, "\"decision\":\"review\""));
    CHECK(out && strstr(out, "\"agency_kind\":\"federal\""));
    CHECK(out && strstr(out, "\"legal_process\":\"administrative_subpoena\""));
    CHECK(out && strstr(out, "\"legal_reference\":\"AS-2026-0042\""));
    CHECK(out && strstr(out, "\"query_kind\":\"by_name_dob\""));
    CHECK(out && strstr(out, "\"tags\":[\"immigration-enforcement\",\"federal\"]"));
    CHECK(out && strstr(out, "\"fields\":[\"person.family_name\",\"license.number\"]"));
    CHECK(out && strstr(out, "\"operator_id\":\"op-17\""));
    CHECK(out && strstr(out, "\"channel\":\"nlets\""));
    CHECK(out && strstr(out, "\"date\":\"2026-11-22\""));
    CHECK(out && strstr(out, "\"kind\":\"review-hold\""));
    CHECK(out && strstr(out, "Z\",\"time_ns\":"));
    for (size_t i = 0; out && out[i]; i++)
        if ((unsigned char)out[i] < 0x20 && out[i] != '\n') {
            CHECK_MSG(0, "raw control byte 0x%02x in the JSON", out[i]);
            break;
        }
    free(out);
    /* a release's subjects: sorted, hex */
    memset(&q, 0, sizeof q);
    q.request_id = "req-0";
    q.kind = DMVF_AUDIT_RELEASE;
    out = run_query(dir, &q, NULL, &lines, &rc);
    CHECK_EQ_INT(lines, 1);
    const char *s = out ? strstr(out, "\"subjects\":[\"") : NULL;
    CHECK(s != NULL);
    if (s) {
        s += 13;
        CHECK(strncmp(s, s + 35, 32) < 0 && strncmp(s + 35, s + 70, 32) < 0);
    }
    free(out);
}

/* ---- entries written from a real filter ---- */

static const char k_policy[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "profiles:\n"
    "  police:\n"
    "    default: redact\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      person.family_name: release\n"
    "      person.birth_date: release\n"
    "      person.residence.*: release\n"
    "requesters:\n"
    "  - {ori: NY0300000, name: Albany PD, kind: local, jurisdiction: NY, tags: [patrol]}\n"
    "rules:\n"
    "  - name: in-state police\n"
    "    match: {agency_kind: [state, local], jurisdiction: [NY]}\n"
    "    purposes: [1]\n"
    "    decision: release\n"
    "    profile: police\n";

typedef struct found {
    int requests, releases;
    uint64_t release_ref, request_seq;
    size_t nsubjects, nfields;
    int sorted, full_request, counts_ok, claimed_ok;
    uint64_t redacted_ssn, released_family;
} found;

static int find_cb(void *ud, const Dmv__V1__AuditEntry *e)
{
    found *f = ud;
    const Dmv__V1__Request *r = e->request;
    int full = r && strcmp(r->ori, "NY0300000") == 0 && strcmp(r->agency_name, "Albany PD") == 0 &&
               r->agency_kind == DMV__V1__AGENCY_KIND__AGENCY_KIND_LOCAL && r->n_tags == 1 &&
               strcmp(r->tags[0], "patrol") == 0 && strcmp(r->operator_id, "op-3") == 0 &&
               r->purpose == 1 && r->legal_process == DMV__V1__LEGAL_PROCESS__LEGAL_PROCESS_COURT_ORDER &&
               strcmp(r->legal_reference, "CO-9") == 0 &&
               r->query_kind == DMV__V1__QUERY_KIND__QUERY_KIND_BY_PLATE &&
               strcmp(r->request_id, "rq-1") == 0 && strcmp(r->channel, "nlets") == 0 &&
               strcmp(r->jurisdiction, "NY") == 0 && r->date == 20261122;
    /* beside the directory's word, what the request said; and the day the DMV judged it as of */
    const Dmv__V1__Request *c = e->claimed;
    f->claimed_ok += c && strcmp(c->ori, "NY0300000") == 0 && strcmp(c->agency_name, "APD") == 0 &&
                     c->agency_kind == DMV__V1__AGENCY_KIND__AGENCY_KIND_LOCAL && c->n_tags == 1 &&
                     strcmp(c->tags[0], "patrol") == 0 && strcmp(c->jurisdiction, "NY") == 0 &&
                     c->date == 0 && e->judged_as_of == 20261122;
    if (e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST) {
        f->requests++;
        f->request_seq = e->seq;
        f->full_request = full && strcmp(e->rule, "in-state police") == 0 &&
                          e->decision == DMV__V1__DECISION__DECISION_RELEASE &&
                          strlen(e->policy_id) == 64 && e->key_epoch == 2 && e->reason[0];
    } else if (e->kind == DMV__V1__AUDIT_KIND__AUDIT_KIND_RELEASE) {
        f->releases++;
        f->release_ref = e->ref;
        f->nsubjects = e->n_subjects;
        f->nfields = e->n_fields;
        f->sorted = 1;
        for (size_t i = 1; i < e->n_subjects; i++)
            if (memcmp(e->subjects[i - 1].data, e->subjects[i].data, 16) >= 0)
                f->sorted = 0;
        f->counts_ok = full && e->records_in == 25 && e->records_out == 25 && e->notices == 1;
        for (size_t i = 0; i < e->n_fields; i++) {
            if (strcmp(e->fields[i]->path, "person.ssn") == 0 &&
                e->fields[i]->action == DMV__V1__FIELD_ACTION__FIELD_ACTION_REDACT)
                f->redacted_ssn += e->fields[i]->values;
            if (strcmp(e->fields[i]->path, "person.family_name") == 0 &&
                e->fields[i]->action == DMV__V1__FIELD_ACTION__FIELD_ACTION_RELEASE)
                f->released_family += e->fields[i]->values;
        }
    }
    return 0;
}

static void test_filter_entries(void)
{
    dmvf_error err;
    dmvf_policy *pol = dmvf_policy_load_buffer(k_policy, sizeof k_policy - 1, "test-policy", &err);
    CHECK_MSG(pol != NULL, "policy: %s", pol ? "" : err.msg);
    char args[700];
    snprintf(args, sizeof args, "--count 25 --seed 11 --out '%s'", P("rec.bin"));
    CHECK_EQ_INT(run_gen(args), 0);
    size_t n;
    uint8_t *in = slurp(P("rec.bin"), &n);
    CHECK(in != NULL);
    if (!pol || !in) {
        dmvf_policy_free(pol);
        free(in);
        return;
    }
    dmvf_request r;
    memset(&r, 0, sizeof r);
    const char *tags[] = {"patrol"};
    r.request_id = "rq-1";
    r.ori = "NY0300000";
    r.agency_name = "APD";      /* recorded beside the directory's "Albany PD" */
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.jurisdiction = "NY";
    r.tags = tags;
    r.ntags = 1;
    r.operator_id = "op-3";
    r.purpose = 1;
    r.legal_process = DMVF_LEGAL_COURT_ORDER;
    r.legal_reference = "CO-9";
    r.query_kind = DMVF_QUERY_BY_PLATE;
    r.channel = "nlets";
    dmvf_filter_options fo;
    memset(&fo, 0, sizeof fo);
    fo.count_fields = 1;
    fo.collect_subjects = 1;
    fo.as_of = 20261122;
    dmvf_filter *f = dmvf_filter_create(pol, g_kr2, &r, &fo, &err);
    CHECK(f != NULL);
    dmvf_audit_options ao;
    memset(&ao, 0, sizeof ao);
    ao.subjects = 1;
    dmvf_audit *a = dmvf_audit_open(P("flog"), g_kr2, &ao, &err);
    CHECK_MSG(a != NULL, "open: %s", a ? "" : err.msg);
    if (f && a) {
        uint64_t seq = UINT64_MAX;
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
        CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
        CHECK_EQ_INT(seq, 0);
        size_t cap = n * 2 + 4096;
        uint8_t *ob = malloc(cap);
        dmvf_in_buffer ib = {in, n, 0};
        dmvf_out_buffer obuf = {ob, cap, 0};
        CHECK_EQ_INT(dmvf_filter_stream(f, &obuf, &ib, 1, &err), DMVF_OK);
        free(ob);
        dmvf_audit_counts c;
        memset(&c, 0, sizeof c);
        dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
        c.notices = 1;
        CHECK_EQ_INT(dmvf_audit_release(a, f, &c, seq, &err), DMVF_OK);
    }
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_MSG(dmvf_audit_verify(P("flog"), g_kr2, NULL, NULL, &err) == DMVF_OK, "%s", err.msg);
    found fd;
    memset(&fd, 0, sizeof fd);
    CHECK_EQ_INT(dmvf__audit_scan(P("flog"), find_cb, &fd, &err), DMVF_OK);
    CHECK_EQ_INT(fd.requests, 1);
    CHECK_EQ_INT(fd.releases, 1);
    CHECK_EQ_INT(fd.release_ref, fd.request_seq);
    CHECK_MSG(fd.full_request, "the REQUEST entry does not hold the request and verdict in full");
    CHECK_MSG(fd.counts_ok, "the RELEASE entry's counts or request are wrong");
    CHECK_MSG(fd.claimed_ok == 2, "the REQUEST and RELEASE entries do not both hold the claimed request and "
              "judged_as_of (%d of 2)", fd.claimed_ok);
    CHECK_EQ_INT(fd.nsubjects, dmvf_filter_subject_count(f));
    CHECK(fd.nsubjects > 0);
    CHECK(fd.sorted);
    CHECK(fd.nfields > 0);
    CHECK_EQ_INT(fd.released_family, 25);
    CHECK(fd.redacted_ssn > 0);
    /* query by a released subject finds the release */
    if (f && dmvf_filter_subject_count(f) > 0) {
        size_t len;
        const char *id = dmvf_filter_subject(f, 0, &len);
        char sid[128];
        snprintf(sid, sizeof sid, "%.*s", (int)len, id);
        dmvf_audit_query q;
        memset(&q, 0, sizeof q);
        q.subject = sid;
        CHECK_EQ_INT(query_count(P("flog"), &q, g_kr2), 1);
    }
    dmvf_filter_free(f);
    dmvf_policy_free(pol);
    free(in);
}

/* ---- deferred REQUEST entries (defer_request_sync) ---- */

typedef struct deferred_req {
    dmvf_audit *a;
    const dmvf_filter *f;
    int rc;
    atomic_int returned;
} deferred_req;

typedef struct flagged_gc {
    gc_thread t;
    atomic_int returned;
} flagged_gc;

static void *flagged_gc_run(void *ud)
{
    flagged_gc *g = ud;
    gc_run(&g->t);
    atomic_store(&g->returned, 1);
    return NULL;
}

static void *deferred_request_run(void *ud)
{
    deferred_req *d = ud;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    d->rc = dmvf_audit_request(d->a, d->f, NULL, &err);
    atomic_store(&d->returned, 1);
    return NULL;
}

/* With defer_request_sync a REQUEST entry is written without an fsync, and
 * the next entry that is not a REQUEST, a dmvf_audit_sync or close makes
 * it durable; a deferred entry in a batch that fsyncs is done before that
 * fsync; without the option nothing changes. */
static void test_deferred_request(void)
{
    dmvf_error err;
    dmvf_policy *pol = dmvf_policy_load_buffer(k_policy, sizeof k_policy - 1, "test-policy", &err);
    CHECK_MSG(pol != NULL, "policy: %s", pol ? "" : err.msg);
    if (!pol)
        return;
    dmvf_request r;
    memset(&r, 0, sizeof r);
    r.request_id = "rq-d";
    r.ori = "NY0300000";
    r.purpose = 1;
    r.query_kind = DMVF_QUERY_BY_PLATE;
    dmvf_filter_options fo;
    memset(&fo, 0, sizeof fo);
    fo.as_of = 20261122;
    dmvf_filter *f = dmvf_filter_create(pol, g_kr, &r, &fo, &err);
    CHECK_MSG(f != NULL, "filter: %s", f ? "" : err.msg);
    dmvf_audit_options ao;
    memset(&ao, 0, sizeof ao);
    ao.defer_request_sync = 1;
    dmvf_audit *a = f ? dmvf_audit_open(P("deferred"), g_kr, &ao, &err) : NULL;
    CHECK_MSG(a != NULL, "open: %s", a ? "" : err.msg);
    if (!a) {
        dmvf_filter_free(f);
        dmvf_policy_free(pol);
        return;
    }
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    uint64_t seq = UINT64_MAX;

    /* written, no fsync; the RELEASE entry's one fsync covers both */
    unsigned before = atomic_load(&g_fsyncs);
    CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 0);
    CHECK_EQ_INT(count_entries(P("deferred")), 1);   /* readers see it at once */
    CHECK_EQ_INT(dmvf_audit_release(a, f, &c, seq, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);
    /* nothing waits: a barrier does no I/O */
    CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);

    /* a refusal without a RELEASE entry: dmvf_audit_sync makes it durable */
    before = atomic_load(&g_fsyncs);
    CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 0);
    CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);
    CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_OK);
    CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);

    /* in a batch that fsyncs, the deferred entry is done before the fsync:
     * an event's fsync is held while another event and then a REQUEST
     * queue behind it */
    atomic_store(&g_fs_hold, 1);
    gc_thread lead;
    memset(&lead, 0, sizeof lead);
    lead.a = a;
    lead.n = 1;
    CHECK_EQ_INT(pthread_create(&lead.th, NULL, gc_run, &lead), 0);   /* an event: fsync'd */
    while (atomic_load(&g_fs_hold) != 2)
        usleep(1000);
    flagged_gc rel;
    memset(&rel, 0, sizeof rel);
    rel.t.a = a;
    rel.t.id = 7;
    rel.t.n = 1;
    CHECK_EQ_INT(pthread_create(&rel.t.th, NULL, flagged_gc_run, &rel), 0);
    size_t queued = wait_queued(a, 1);
    deferred_req d = {a, f, -1, 0};
    pthread_t dth;
    CHECK_EQ_INT(pthread_create(&dth, NULL, deferred_request_run, &d), 0);
    queued = wait_queued(a, 2);
    CHECK_EQ_INT(queued, 2);
    /* the first fsync goes on; the next batch (the event first, which
     * leads it, then the REQUEST) fsyncs for two seconds: the REQUEST
     * returns long before that ends, the event only after */
    atomic_store(&g_fs_delay_us, 2000000);
    atomic_store(&g_fs_hold, 0);
    pthread_join(lead.th, NULL);
    for (int tries = 0; tries < 1000 && !atomic_load(&d.returned); tries++)
        usleep(1000);
    CHECK_MSG(atomic_load(&d.returned), "a deferred REQUEST did not return");
    CHECK_MSG(!atomic_load(&rel.returned),
              "the RELEASE returned before its batch's fsync ended, or the REQUEST waited for it");
    /* the REQUEST is done but not yet durable: a barrier now waits for that
     * fsync to end */
    unsigned ended = atomic_load(&g_fsyncs_ended);
    CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_OK);
    CHECK_MSG(atomic_load(&g_fsyncs_ended) > ended, "dmvf_audit_sync returned before the fsync it waits for ended");
    pthread_join(dth, NULL);
    pthread_join(rel.t.th, NULL);
    atomic_store(&g_fs_delay_us, 0);
    CHECK_EQ_INT(d.rc, DMVF_OK);
    CHECK_EQ_INT(lead.rc[0], DMVF_OK);
    CHECK_EQ_INT(rel.t.rc[0], DMVF_OK);

    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    CHECK_MSG(verify_kr(P("deferred"), &err) == DMVF_OK, "%s", err.msg);
    CHECK_EQ_INT(count_entries(P("deferred")), 7);

    /* a failed fsync after a deferred entry: its call succeeded (written),
     * the RELEASE entry that needs the fsync fails, and so does every later
     * call */
    a = dmvf_audit_open(P("deferred"), g_kr, &ao, &err);
    CHECK(a != NULL);
    if (a) {
        CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
        atomic_store(&g_fs_fail, 1);
        CHECK_EQ_INT(dmvf_audit_release(a, f, &c, seq, &err), DMVF_EIO);
        CHECK_MSG(strstr(err.msg, "fsync failed") != NULL, "%s", err.msg);
        atomic_store(&g_fs_fail, 0);
        CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_EIO);
        CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_EIO);
        CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_EIO);
    }

    /* without the option, a REQUEST entry is fsync'd before the call
     * returns, as always */
    a = dmvf_audit_open(P("undeferred"), g_kr, NULL, &err);
    CHECK(a != NULL);
    if (a) {
        before = atomic_load(&g_fsyncs);
        CHECK_EQ_INT(dmvf_audit_request(a, f, &seq, &err), DMVF_OK);
        CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);
        CHECK_EQ_INT(dmvf_audit_sync(a, &err), DMVF_OK);
        CHECK_EQ_INT(atomic_load(&g_fsyncs) - before, 1);
        CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
    }
    dmvf_filter_free(f);
    dmvf_policy_free(pol);
}

/* ---- several logs: query merged by time, report summed ---- */

/* One event on a fresh handle of dir: kind, decision, ref, records out. */
static void one_event(const char *dir, int kind, int decision, uint64_t ref, uint64_t out)
{
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(dir, g_kr, NULL, &err);
    CHECK_MSG(a != NULL, "open %s: %s", dir, a ? "" : err.msg);
    if (!a)
        return;
    dmvf_request r;
    sample_request(&r, 0);
    r.request_id = "multi";
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = (dmvf_audit_kind)kind;
    ev.request = &r;
    ev.decision = decision;
    ev.ref = ref;
    ev.counts.records_out = out;
    CHECK_EQ_INT(dmvf_audit_event_write(a, &ev, NULL, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf_audit_close(a, &err), DMVF_OK);
}

static char *report_of(const char *const *dirs, size_t n, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    dmvf_error err;
    *rc = dmvf_audit_report_dirs(dirs, n, 0, 0, DMVF_REPORT_JSON, NULL, m, &err);
    fclose(m);
    return buf;
}

static void test_several_logs(void)
{
    char d1[600], d2[600];
    snprintf(d1, sizeof d1, "%s", P("multi1"));
    snprintf(d2, sizeof d2, "%s", P("multi2"));
    /* log 1: request 0 released, its RELEASE; log 2: its request 0 decided
     * release and never released (incomplete), written between them */
    one_event(d1, DMVF_AUDIT_REQUEST, DMVF_DECISION_RELEASE, 0, 0);
    one_event(d2, DMVF_AUDIT_REQUEST, DMVF_DECISION_RELEASE, 0, 0);
    one_event(d1, DMVF_AUDIT_RELEASE, DMVF_DECISION_RELEASE, 0, 3);
    one_event(d2, DMVF_AUDIT_REQUEST, DMVF_DECISION_DENY, 0, 0);
    const char *const both[] = {d1, d2}, *const rev[] = {d2, d1};
    int rc;
    char *r = report_of(both, 2, &rc);
    CHECK_EQ_INT(rc, DMVF_OK);
    /* the RELEASE of log 1 does not complete log 2's request 0 */
    CHECK_MSG(r && strstr(r, "\"requests\": 3, \"released\": 2, \"refused\": 1") &&
              strstr(r, "\"incomplete\": 1, \"records_released\": 3") &&
              strstr(r, "\"entries\": {\"read\": 4,"), "%s", r ? r : "");
    char *r2 = report_of(rev, 2, &rc);
    CHECK(r && r2 && strcmp(r, r2) == 0);   /* the order of the logs does not matter */
    free(r);
    free(r2);
    const char *const missing[] = {d1, P("multi-none")};
    free(report_of(missing, 2, &rc));
    CHECK_EQ_INT(rc, DMVF_EIO);

    char *q = NULL;
    size_t qn = 0;
    FILE *m = open_memstream(&q, &qn);
    dmvf_audit_query all;
    memset(&all, 0, sizeof all);
    dmvf_error err;
    CHECK_EQ_INT(dmvf_audit_query_dirs(both, NULL, 2, &all, m, &err), DMVF_OK);
    fclose(m);
    /* by time: 1, 2, 1, 2, each line naming its log */
    const char *at = q;
    for (int i = 0; i < 4 && at; i++) {
        char want[700];
        snprintf(want, sizeof want, "{\"log\":\"%s\",\"seq\":%d,", i % 2 ? d2 : d1, i / 2);
        CHECK_MSG(strncmp(at, want, strlen(want)) == 0, "line %d: %.120s", i, at);
        at = strchr(at, '\n');
        at = at ? at + 1 : NULL;
    }
    CHECK(at && *at == '\0');
    free(q);
    all.subject = "R00001";
    const dmvf_keyring *one[] = {g_kr, NULL};
    m = open_memstream(&q, &qn);
    CHECK_EQ_INT(dmvf_audit_query_dirs(both, one, 2, &all, m, &err), DMVF_EINVAL);
    CHECK_MSG(strstr(err.msg, d2) != NULL, "%s", err.msg);
    fclose(m);
    free(q);
}

/* ---- a sample log for tests/cli/audit.sh (test_audit --make-log DIR KEYRING) ---- */

static int make_log(const char *dir, const char *keyring)
{
    dmvf_error err;
    g_kr = dmvf_keyring_load(keyring, NULL, &err);
    if (!g_kr) {
        fprintf(stderr, "%s: %s\n", keyring, err.msg);
        return 1;
    }
    int bad = session(dir, NULL, 8, 0);
    dmvf_keyring_free(g_kr);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--make-log") == 0)
        return make_log(argv[2], argv[3]);
    snprintf(g_dir, sizeof g_dir, "/tmp/dmvf-audit-XXXXXX");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    atexit(fixture_cleanup);
    uint8_t seed[32] = {1, 2, 3}, seed2[32] = {9, 9, 9};
    dmvf_error err;
    CHECK_EQ_INT(dmvf__keyring_create_seeded(P("kr1"), seed, 1, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(P("kr2"), seed2, 2, &err), DMVF_OK);
    g_kr = dmvf_keyring_load(P("kr1"), NULL, &err);
    g_kr2 = dmvf_keyring_load(P("kr2"), NULL, &err);
    CHECK(g_kr && g_kr2);
    if (!g_kr || !g_kr2)
        CHECK_DONE();
    dmvf_keyring_public_key(g_kr, g_pub);
    dmvf_keyring_public_key(g_kr2, g_pub2);

    test_basic_and_tamper();
    test_rotation();
    test_rotation_aside();
    test_two_writers();
    test_group_commit();
    test_killed_writer();
    test_unwritable();
    test_query();
    test_several_logs();
    test_filter_entries();
    test_deferred_request();

    dmvf_keyring_free(g_kr);
    dmvf_keyring_free(g_kr2);
    CHECK_DONE();
}
