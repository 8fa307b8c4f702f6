/*
 * review.c - the review queue: hold, list, show, approve, deny.
 *
 * Spool directory (created 0700), one item per id (32 lowercase hex digits,
 * 16 random bytes):
 *
 *   ID.sealed    crypto_box_seal(ReviewBody) to the reviewer public key:
 *                ephemeral pk (32) || box(packed ReviewBody) (len + 16)
 *   ID.meta      ReviewMeta (audit.proto), packed, in clear; written last:
 *                an item without it is not listed and cannot be opened
 *   ID.approved  one line "YYYY-MM-DDTHH:MM:SSZ\tREVIEWER\tNOTE\n" once
 *   ID.denied    approved / denied (control bytes as \xNN); at most one
 *                of the two exists
 *
 * Every file is written to a temporary name beside its target (0600),
 * fsync'd, then linked into place (never replacing a file: a second
 * decision fails on the existing marker), and the directory fsync'd
 * (core/fileio.h); an approved release is renamed over its output file.
 * Approve and deny hold flock(LOCK_EX) on ID.sealed while they decide.
 *
 * ReviewBody.release is a stream of varint-length-delimited DriverRecords,
 * exactly the bytes the filter would have released:
 *
 *   release := (varint(len) DriverRecord[len])*
 *
 * The opened body (records of real people) is kept in memory wiped on free
 * (a protobuf-c allocator that zeroes every block it frees). Key bytes are
 * handled in keys/review_keys.c only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmv/v1/record.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "filter/core/pballoc.h"
#include "filter/core/reqmap.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"
#include "keys/keys.h"

#define PATH_CAP 4096
#define META_MAX ((size_t)1 << 20)
#define MARK_MAX 4096

/* ---- memory that is wiped when freed ---- */

static void free_wiped(void *p, size_t n)
{
    if (p) {
        sodium_memzero(p, n);
        free(p);
    }
}

/* ---- small helpers ---- */

static int valid_id(const char *id)
{
    uint8_t raw[DMVF_REVIEW_ID_LEN / 2];
    return dmvf__hex_decode(raw, sizeof raw, id, strlen(id), DMVF__HEX_LOWER) == 0;
}

static int bad_id(const char *id, dmvf_error *err)
{
    char shown[80];
    dmvf__escape_copy(shown, sizeof shown, id);
    return dmvf__seterr(err, DMVF_EINVAL,
                        "review id '%s' is not %u lowercase hex digits", shown,
                        DMVF_REVIEW_ID_LEN);
}

static int item_path(char *buf, const char *spool, const char *id, const char *ext,
                     dmvf_error *err)
{
    int n = snprintf(buf, PATH_CAP, "%s/%s.%s", spool, id, ext);
    if (n < 0 || n >= PATH_CAP)
        return dmvf__seterr(err, DMVF_EINVAL, "spool path %s is too long", spool);
    return DMVF_OK;
}

static char *fmt_time(uint64_t ns, char buf[DMVF__TIME_CAP])
{
    return dmvf__time_format(ns / 1000000000u, 0, DMVF__TIME_WHOLE, buf);
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Creates target whole (core/fileio.h), mode 0600, never replacing a file:
 * *exists is set when target was there already. */
static int create_file(const char *target, const void *data, size_t len, const char *what,
                       int *exists, dmvf_error *err)
{
    int st = dmvf__file_create(target, data, len, 0600, DMVF__FILE_NEW);
    *exists = st == DMVF__FILE_EXISTS;
    return st ? dmvf__file_error(err, st, what, target) : DMVF_OK;
}

/* Reads the rest of fd (at most max bytes; more is DMVF_ETAMPER, the spool
 * never holds such a file). */
static int read_fd(int fd, const char *path, size_t max, uint8_t **out, size_t *out_len,
                   dmvf_error *err)
{
    struct stat st;
    *out = NULL;
    *out_len = 0;
    if (fstat(fd, &st) != 0)
        return dmvf__seterr(err, DMVF_EIO, "%s cannot be examined: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return dmvf__seterr(err, DMVF_ETAMPER, "%s is not a regular file", path);
    if ((uintmax_t)st.st_size > max)
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "%s is %jd bytes, more than the review spool ever writes (%zu)", path,
                            (intmax_t)st.st_size, max);
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading %s", path);
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return dmvf__seterr(err, DMVF_EIO, "%s cannot be read: %s", path, strerror(e));
        }
        if (r == 0)
            break; /* shrank: what was read is checked by the caller */
        got += (size_t)r;
    }
    *out = buf;
    *out_len = got;
    return DMVF_OK;
}

/* Reads a whole small file; *missing is set (and DMVF_EIO returned) when it
 * does not exist. */
static int read_path(const char *path, size_t max, uint8_t **out, size_t *out_len, int *missing,
                     dmvf_error *err)
{
    *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *missing = errno == ENOENT;
        return dmvf__seterr(err, DMVF_EIO, "%s cannot be opened: %s", path, strerror(errno));
    }
    int rc = read_fd(fd, path, max, out, out_len, err);
    close(fd);
    return rc;
}

static int ensure_spool(const char *spool, dmvf_error *err)
{
    struct stat st;
    if (mkdir(spool, 0700) == 0) {
        (void)dmvf__fsync_parent(spool);
        return DMVF_OK;
    }
    if (errno != EEXIST)
        return dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be created: %s", spool,
                            strerror(errno));
    if (stat(spool, &st) != 0 || !S_ISDIR(st.st_mode))
        return dmvf__seterr(err, DMVF_EIO, "review spool %s is not a directory", spool);
    return DMVF_OK;
}

/* Counts the records of a delimited stream; -1 at the byte offset *bad when
 * it is not one. */
static int count_records(const uint8_t *p, size_t n, uint64_t *count, size_t *bad)
{
    size_t pos = 0;
    *count = 0;
    while (pos < n) {
        uint64_t len;
        size_t pre;
        if (dmvf_stream_prefix(p + pos, n - pos, &len, &pre) != 1 || len > n - pos - pre) {
            *bad = pos;
            return -1;
        }
        pos += pre + (size_t)len;
        (*count)++;
    }
    return 0;
}

/* ---- requests ---- */

/* 1 when the two requests pack to the same bytes. -1 on no memory. */
static int same_request(const Dmv__V1__Request *a, const Dmv__V1__Request *b)
{
    if (!a || !b)
        return a == b;
    size_t na = dmv__v1__request__get_packed_size(a);
    size_t nb = dmv__v1__request__get_packed_size(b);
    if (na != nb)
        return 0;
    uint8_t *pa = malloc(na ? na : 1), *pb = malloc(nb ? nb : 1);
    int same = -1;
    if (pa && pb) {
        dmv__v1__request__pack(a, pa);
        dmv__v1__request__pack(b, pb);
        same = memcmp(pa, pb, na) == 0;
    }
    free(pa);
    free(pb);
    return same;
}

/* ---- hold ---- */

int dmvf_review_hold(const char *spool, const char *reviewer_public_path, const dmvf_filter *f,
                     const void *release, size_t len, const dmvf_audit_counts *c,
                     uint64_t request_seq, char id_out[DMVF_REVIEW_ID_LEN + 1], dmvf_error *err)
{
    DMVF_REQUIRE(spool && reviewer_public_path && f && c && id_out, "NULL argument");
    DMVF_REQUIRE(release || len == 0, "release is NULL");
    id_out[0] = '\0';
    if (dmvf_filter_decision(f) != DMVF_DECISION_REVIEW)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "only a request decided 'review' can be held (this one is not)");
    if (len > DMVF_REVIEW_MAX_BODY)
        return dmvf__seterr(err, DMVF_ETOOBIG,
                            "the would-be release is %zu bytes, over the review limit of %zu",
                            len, DMVF_REVIEW_MAX_BODY);
    uint64_t nrec = 0;
    size_t bad = 0;
    if (count_records(release, len, &nrec, &bad) != 0)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "the would-be release is not a delimited record stream "
                            "(bad length prefix or short record at byte %zu)", bad);
    if (nrec != c->records_out)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "the would-be release holds %llu records, its counts say %llu",
                            (unsigned long long)nrec, (unsigned long long)c->records_out);

    uint8_t pk[DMVF__REVIEW_KEY_LEN];
    int rc = dmvf__review_public_read(reviewer_public_path, pk, err);
    if (rc != DMVF_OK)
        return rc;
    if ((rc = ensure_spool(spool, err)) != DMVF_OK)
        return rc;
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_ENOMEM, "libsodium failed to initialize");

    char id[DMVF_REVIEW_ID_LEN + 1];
    uint8_t rnd[DMVF_REVIEW_ID_LEN / 2];
    randombytes_buf(rnd, sizeof rnd);
    dmvf__hex_encode(id, rnd, sizeof rnd);

    Dmv__V1__Request rq;
    dmvf__request_to_pb(dmvf_filter_request(f), &rq);

    size_t nfields = dmvf_filter_field_counts(f, NULL, 0);
    size_t nsub = dmvf_filter_subject_count(f);
    dmvf_field_count *fc = calloc(nfields ? nfields : 1, sizeof *fc);
    Dmv__V1__FieldCount *pf = calloc(nfields ? nfields : 1, sizeof *pf);
    Dmv__V1__FieldCount **pfp = calloc(nfields ? nfields : 1, sizeof *pfp);
    char **sids = calloc(nsub ? nsub : 1, sizeof *sids);
    uint8_t *plain = NULL, *sealed = NULL, *metabuf = NULL;
    size_t plain_len = 0, sealed_len = 0, i;
    char spath[PATH_CAP], mpath[PATH_CAP];
    int exists = 0, sealed_written = 0;

    if (!fc || !pf || !pfp || !sids) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
        goto done;
    }
    nfields = dmvf_filter_field_counts(f, fc, nfields);
    for (i = 0; i < nfields; i++) {
        dmv__v1__field_count__init(&pf[i]);
        pf[i].path = (char *)nz(fc[i].path);
        pf[i].action = (Dmv__V1__FieldAction)fc[i].action;
        pf[i].klass = fc[i].klass;
        pf[i].values = fc[i].values;
        pfp[i] = &pf[i];
    }
    for (i = 0; i < nsub; i++) {
        size_t sl = 0;
        const char *s = dmvf_filter_subject(f, i, &sl);
        sids[i] = malloc(sl + 1);
        if (!sids[i]) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
            goto done;
        }
        if (sl)
            memcpy(sids[i], s, sl);
        sids[i][sl] = '\0';
    }

    Dmv__V1__ReviewBody body = DMV__V1__REVIEW_BODY__INIT;
    body.review_id = id;
    body.request = &rq;
    body.release.data = (uint8_t *)release;
    body.release.len = len;
    body.records_in = c->records_in;
    body.records_out = c->records_out;
    body.n_fields = nfields;
    body.fields = pfp;
    body.n_subject_ids = nsub;
    body.subject_ids = sids;
    plain_len = dmv__v1__review_body__get_packed_size(&body);
    if (plain_len > DMVF_REVIEW_MAX_BODY) {
        rc = dmvf__seterr(err, DMVF_ETOOBIG,
                          "the review body is %zu bytes, over the review limit of %zu", plain_len,
                          DMVF_REVIEW_MAX_BODY);
        goto done;
    }
    plain = malloc(plain_len ? plain_len : 1);
    sealed_len = plain_len + DMVF__REVIEW_SEAL_OVERHEAD;
    sealed = malloc(sealed_len);
    if (!plain || !sealed) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory sealing a request for review");
        goto done;
    }
    dmv__v1__review_body__pack(&body, plain);
    if (dmvf__review_seal(pk, plain, plain_len, sealed) != 0) {
        rc = dmvf__seterr(err, DMVF_EINVAL, "reviewer public key %s is not a usable X25519 key",
                          reviewer_public_path);
        goto done;
    }
    free_wiped(plain, plain_len);
    plain = NULL;

    if ((rc = item_path(spath, spool, id, "sealed", err)) != DMVF_OK ||
        (rc = item_path(mpath, spool, id, "meta", err)) != DMVF_OK)
        goto done;
    if ((rc = create_file(spath, sealed, sealed_len, "review item", &exists, err)) != DMVF_OK)
        goto done;
    sealed_written = 1;

    Dmv__V1__ReviewMeta meta = DMV__V1__REVIEW_META__INIT;
    meta.review_id = id;
    meta.time_ns = dmvf__now_ns();
    meta.request = &rq;
    meta.rule = (char *)nz(dmvf_filter_rule(f));
    meta.policy_id = (char *)nz(dmvf_filter_policy_id(f));
    meta.request_seq = request_seq;
    meta.records = c->records_out;
    meta.reviewer_public_key.data = pk;
    meta.reviewer_public_key.len = sizeof pk;
    size_t mlen = dmv__v1__review_meta__get_packed_size(&meta);
    metabuf = malloc(mlen ? mlen : 1);
    if (!metabuf) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
        goto done;
    }
    dmv__v1__review_meta__pack(&meta, metabuf);
    if ((rc = create_file(mpath, metabuf, mlen, "review item", &exists, err)) != DMVF_OK)
        goto done;
    memcpy(id_out, id, sizeof id);
    rc = DMVF_OK;
done:
    if (rc != DMVF_OK && sealed_written) {
        unlink(spath);
        (void)dmvf__fsync_parent(spath);
    }
    free_wiped(plain, plain_len);
    free(sealed);
    free(metabuf);
    if (sids)
        for (i = 0; i < nsub; i++)
            if (sids[i]) {
                sodium_memzero(sids[i], strlen(sids[i]));
                free(sids[i]);
            }
    free(sids);
    free(pfp);
    free(pf);
    free(fc);
    return rc;
}

/* ---- one item, opened ---- */

enum { ST_PENDING = 0, ST_APPROVED = 1, ST_DENIED = 2, ST_DAMAGED = 3 };
static const char *const state_names[] = {"pending", "approved", "denied", "damaged"};

typedef struct item {
    char id[DMVF_REVIEW_ID_LEN + 1];
    Dmv__V1__ReviewMeta *meta;
    Dmv__V1__ReviewBody *body;  /* wiping allocator */
    int state;
    char mark[MARK_MAX];        /* the decision line, "" while pending */
    int fd;                     /* ID.sealed, flocked when asked; -1 */
} item;

static void item_close(item *it)
{
    dmvf__pballoc w;
    if (it->meta)
        dmv__v1__review_meta__free_unpacked(it->meta, NULL);
    if (it->body)
        dmv__v1__review_body__free_unpacked(it->body, dmvf__pballoc_init(&w, DMVF__PB_WIPED));
    if (it->fd >= 0)
        close(it->fd); /* releases the lock */
    it->meta = NULL;
    it->body = NULL;
    it->fd = -1;
}

/* The decision marker, if any: sets state and the line (without its end). */
static int read_state(const char *spool, const char *id, int *state, char mark[MARK_MAX],
                      dmvf_error *err)
{
    static const char *const ext[2] = {"approved", "denied"};
    *state = ST_PENDING;
    mark[0] = '\0';
    for (int k = 0; k < 2; k++) {
        char path[PATH_CAP];
        uint8_t *buf = NULL;
        size_t n = 0;
        int missing = 0, rc;
        if ((rc = item_path(path, spool, id, ext[k], err)) != DMVF_OK)
            return rc;
        rc = read_path(path, MARK_MAX - 1, &buf, &n, &missing, err);
        if (rc != DMVF_OK && missing)
            continue;
        if (rc != DMVF_OK)
            return rc;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        memcpy(mark, buf, n);
        mark[n] = '\0';
        free(buf);
        *state = k == 0 ? ST_APPROVED : ST_DENIED;
        return DMVF_OK;
    }
    return DMVF_OK;
}

#define OPEN_LOCK 1           /* flock ID.sealed (approve, deny) */
#define OPEN_PENDING 2        /* refuse a decided item */

static int item_open(const char *spool, const char *id, const char *sk_path, const char *pass,
                     int flags, item *it, dmvf_error *err)
{
    char spath[PATH_CAP], mpath[PATH_CAP];
    uint8_t *mbuf = NULL, *sbuf = NULL, *plain = NULL;
    size_t mlen = 0, slen = 0, plain_len = 0;
    dmvf__review_key *k = NULL;
    int rc, missing = 0;

    memset(it, 0, sizeof *it);
    it->fd = -1;
    if (!valid_id(id))
        return bad_id(id, err);
    memcpy(it->id, id, DMVF_REVIEW_ID_LEN + 1);
    if ((rc = item_path(spath, spool, id, "sealed", err)) != DMVF_OK ||
        (rc = item_path(mpath, spool, id, "meta", err)) != DMVF_OK)
        return rc;

    /* the .meta first: an item without one does not exist */
    rc = read_path(mpath, META_MAX, &mbuf, &mlen, &missing, err);
    if (rc != DMVF_OK && missing)
        return dmvf__seterr(err, DMVF_EINVAL, "no review item %s in spool %s", id, spool);
    if (rc != DMVF_OK)
        return rc;
    it->meta = dmv__v1__review_meta__unpack(NULL, mlen, mbuf);
    free(mbuf);
    if (!it->meta) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s does not decode as a ReviewMeta (damaged)", mpath);
        goto fail;
    }
    if (strcmp(it->meta->review_id, id) != 0) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s names review id '%s', not its own: the spool was altered", mpath,
                          it->meta->review_id);
        goto fail;
    }

    it->fd = open(spath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (it->fd < 0) {
        rc = errno == ENOENT
                 ? dmvf__seterr(err, DMVF_ETAMPER, "review item %s has a .meta but no %s", id, spath)
                 : dmvf__seterr(err, DMVF_EIO, "%s cannot be opened: %s", spath, strerror(errno));
        goto fail;
    }
    if (flags & OPEN_LOCK) {
        while (flock(it->fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rc = dmvf__seterr(err, DMVF_EIO, "cannot lock %s: %s", spath, strerror(errno));
                goto fail;
            }
        }
    }
    if ((rc = read_state(spool, id, &it->state, it->mark, err)) != DMVF_OK)
        goto fail;
    if ((flags & OPEN_PENDING) && it->state != ST_PENDING) {
        char line[300];
        dmvf__escape_copy(line, sizeof line, it->mark);
        rc = dmvf__seterr(err, DMVF_EINVAL, "review item %s was already %s (%s)", id,
                          state_names[it->state], line);
        goto fail;
    }

    /* the reviewer key: the one the item was sealed to? */
    k = dmvf__review_key_load(sk_path, pass, err);
    if (!k) {
        rc = err ? err->code : DMVF_EKEYRING;
        goto fail;
    }
    uint8_t pk[DMVF__REVIEW_KEY_LEN];
    dmvf__review_key_public(k, pk);
    if (it->meta->reviewer_public_key.len != sizeof pk) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s: the reviewer public key is %zu bytes, not 32",
                          mpath, it->meta->reviewer_public_key.len);
        goto fail;
    }
    if (memcmp(it->meta->reviewer_public_key.data, pk, sizeof pk) != 0) {
        char want[17], have[17];
        dmvf__hex_encode(want, it->meta->reviewer_public_key.data, 8);
        dmvf__hex_encode(have, pk, 8);
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "review item %s was sealed to reviewer key %s..., not to the key in %s "
                          "(%s...)", id, want, sk_path, have);
        goto fail;
    }

    /* the sealed body */
    if ((rc = read_fd(it->fd, spath, DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD, &sbuf,
                      &slen, err)) != DMVF_OK)
        goto fail;
    if (slen < DMVF__REVIEW_SEAL_OVERHEAD) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s is truncated (%zu bytes)", spath, slen);
        goto fail;
    }
    plain_len = slen - DMVF__REVIEW_SEAL_OVERHEAD;
    plain = malloc(plain_len ? plain_len : 1);
    if (!plain) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory opening %s", spath);
        goto fail;
    }
    if (dmvf__review_open(k, sbuf, slen, plain) != 0) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s does not open with the reviewer key: it was altered or truncated",
                          spath);
        goto fail;
    }
    dmvf__review_key_free(k);
    k = NULL;
    free(sbuf);
    sbuf = NULL;
    dmvf__pballoc w;
    it->body = dmv__v1__review_body__unpack(dmvf__pballoc_init(&w, DMVF__PB_WIPED), plain_len, plain);
    free_wiped(plain, plain_len);
    plain = NULL;
    if (!it->body) {
        rc = w.oom ? dmvf__seterr(err, DMVF_ENOMEM, "out of memory opening %s", spath)
                 : dmvf__seterr(err, DMVF_ETAMPER, "%s opens but does not decode as a ReviewBody",
                                spath);
        goto fail;
    }

    /* the clear .meta must describe this body */
    if (strcmp(it->body->review_id, id) != 0) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s holds the body of review item '%s', not of %s: the spool was altered",
                          spath, it->body->review_id, id);
        goto fail;
    }
    int same = same_request(it->meta->request, it->body->request);
    if (same < 0) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory opening %s", spath);
        goto fail;
    }
    if (!same || it->meta->records != it->body->records_out) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s does not match the sealed item (%s differs): the spool was altered",
                          mpath, same ? "the record count" : "the request");
        goto fail;
    }
    return DMVF_OK;
fail:
    dmvf__review_key_free(k);
    free(sbuf);
    free_wiped(plain, plain_len);
    item_close(it);
    return rc;
}

/* ---- list ---- */

typedef struct listed {
    char id[DMVF_REVIEW_ID_LEN + 1];
    Dmv__V1__ReviewMeta *meta;   /* NULL when damaged */
    int state;
} listed;

static int by_time(const void *pa, const void *pb)
{
    const listed *a = pa, *b = pb;
    uint64_t ta = a->meta ? a->meta->time_ns : 0, tb = b->meta ? b->meta->time_ns : 0;
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(a->id, b->id);
}

int dmvf_review_list(const char *spool, FILE *out, int json, dmvf_error *err)
{
    DMVF_REQUIRE(spool && out, "NULL argument");
    DIR *d = opendir(spool);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be read: %s", spool,
                            strerror(errno));
    listed *v = NULL;
    size_t n = 0, cap = 0, i;
    int rc = DMVF_OK;
    char damaged[PATH_CAP] = "";
    struct dirent *de;

    for (;;) {
        errno = 0;
        if (!(de = readdir(d)))
            break;
        const char *name = de->d_name;
        if (strlen(name) != DMVF_REVIEW_ID_LEN + 5 || strcmp(name + DMVF_REVIEW_ID_LEN, ".meta") != 0)
            continue;
        char id[DMVF_REVIEW_ID_LEN + 1];
        memcpy(id, name, DMVF_REVIEW_ID_LEN);
        id[DMVF_REVIEW_ID_LEN] = '\0';
        if (!valid_id(id))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            listed *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory listing %s", spool);
                goto done;
            }
            v = nv;
            cap = nc;
        }
        listed *e = &v[n++];
        memset(e, 0, sizeof *e);
        memcpy(e->id, id, sizeof id);
        char path[PATH_CAP];
        uint8_t *buf = NULL;
        size_t len = 0;
        int missing = 0;
        dmvf_error e2;
        if ((rc = item_path(path, spool, id, "meta", err)) != DMVF_OK)
            goto done;
        int r = read_path(path, META_MAX, &buf, &len, &missing, &e2);
        if (r == DMVF_ENOMEM) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory listing %s", spool);
            goto done;
        }
        if (r == DMVF_OK) {
            e->meta = dmv__v1__review_meta__unpack(NULL, len, buf);
            free(buf);
        }
        if (r != DMVF_OK && missing) {
            n--; /* gone meanwhile (cannot happen to a kept item) */
            continue;
        }
        if (!e->meta || strcmp(e->meta->review_id, id) != 0) {
            e->state = ST_DAMAGED;
            if (!damaged[0])
                snprintf(damaged, sizeof damaged, "%s", path);
            continue;
        }
        char mark[MARK_MAX];
        if (read_state(spool, id, &e->state, mark, &e2) != DMVF_OK) {
            e->state = ST_DAMAGED;
            if (!damaged[0])
                snprintf(damaged, sizeof damaged, "%s", path);
        }
    }
    if (errno) {
        rc = dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be read: %s", spool,
                          strerror(errno));
        goto done;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, by_time);
    if (!json)
        fprintf(out, "%-32s  %-20s  %-8s  %7s  %-9s  %s\n", "ID", "HELD (UTC)", "STATE",
                "RECORDS", "ORI", "RULE / AGENCY");
    for (i = 0; i < n; i++) {
        const listed *e = &v[i];
        const Dmv__V1__ReviewMeta *m = e->meta && e->state != ST_DAMAGED ? e->meta : NULL;
        const Dmv__V1__Request *q = m ? m->request : NULL;
        char when[32] = "?";
        if (m)
            fmt_time(m->time_ns, when);
        if (json) {
            fprintf(out, "{\"id\":\"%s\",\"time\":", e->id);
            dmvf__json_fput(out, m ? when : "");
            fprintf(out, ",\"time_ns\":%llu,\"state\":\"%s\",\"records\":%llu,\"ori\":",
                    (unsigned long long)(m ? m->time_ns : 0), state_names[e->state],
                    (unsigned long long)(m ? m->records : 0));
            dmvf__json_fput(out, q ? q->ori : "");
            fputs(",\"agency\":", out);
            dmvf__json_fput(out, q ? q->agency_name : "");
            fputs(",\"rule\":", out);
            dmvf__json_fput(out, m ? m->rule : "");
            fputs(",\"request_id\":", out);
            dmvf__json_fput(out, q ? q->request_id : "");
            fputs("}\n", out);
        } else {
            char ori[40], rule[200], agency[200], recs[24];
            dmvf__escape_copy(ori, sizeof ori, q ? nz(q->ori) : "");
            dmvf__escape_copy(rule, sizeof rule, m ? nz(m->rule) : "");
            dmvf__escape_copy(agency, sizeof agency, q ? nz(q->agency_name) : "");
            snprintf(recs, sizeof recs, "%llu", (unsigned long long)(m ? m->records : 0));
            fprintf(out, "%-32s  %-20s  %-8s  %7s  %-9s  %s%s%s\n", e->id, m ? when : "?",
                    state_names[e->state], m ? recs : "?", ori[0] ? ori : "-",
                    rule[0] ? rule : "-", agency[0] ? " / " : "", agency);
        }
    }
    if (fflush(out) != 0 || ferror(out)) {
        rc = dmvf__seterr(err, DMVF_EIO, "cannot write the review list: %s", strerror(errno));
        goto done;
    }
    if (damaged[0])
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s does not decode or names another item: the spool was altered",
                          damaged);
done:
    closedir(d);
    for (i = 0; i < n; i++)
        if (v[i].meta)
            dmv__v1__review_meta__free_unpacked(v[i].meta, NULL);
    free(v);
    return rc;
}

/* ---- show ---- */

/* A string value between quotes, on one line: control bytes, DEL, '"' and
 * '\' as \xNN. */
static void put_quoted(FILE *out, const char *s)
{
    dmvf__text t = dmvf__text_file(out);
    dmvf__text_put(&t, "\"", 1);
    dmvf__text_escaped(&t, s, strlen(s), DMVF__ESC_QUOTE | DMVF__ESC_BACKSLASH);
    dmvf__text_put(&t, "\"", 1);
}

static void put_line(FILE *out, const char *label, const char *v)
{
    char buf[1024];
    dmvf__escape_copy(buf, sizeof buf, nz(v));
    fprintf(out, "  %-16s %s\n", label, buf[0] ? buf : "-");
}

static void put_list(FILE *out, const char *label, char **v, size_t n, const char *none)
{
    fprintf(out, "  %-16s ", label);
    if (n == 0)
        fputs(none, out);
    for (size_t i = 0; i < n; i++) {
        char buf[512];
        dmvf__escape_copy(buf, sizeof buf, nz(v[i]));
        fprintf(out, "%s%s", i ? ", " : "", buf);
    }
    fputc('\n', out);
}

static void print_request(FILE *out, const Dmv__V1__Request *q)
{
    char num[64];
    if (!q) {
        fputs("  (none)\n", out);
        return;
    }
    put_line(out, "request id", q->request_id);
    put_line(out, "ORI", q->ori);
    put_line(out, "agency name", q->agency_name);
    put_line(out, "agency kind", q->agency_kind ? dmvf_agency_kind_name((dmvf_agency_kind)q->agency_kind) : "");
    put_line(out, "jurisdiction", q->jurisdiction);
    put_list(out, "tags", q->tags, q->n_tags, "-");
    put_line(out, "operator", q->operator_id);
    if (q->purpose)
        snprintf(num, sizeof num, "2721(b)(%u)", q->purpose);
    else
        snprintf(num, sizeof num, "none given");
    put_line(out, "purpose", num);
    put_line(out, "legal process", q->legal_process ? dmvf_legal_process_name((dmvf_legal_process)q->legal_process) : "");
    put_line(out, "legal reference", q->legal_reference);
    put_line(out, "query kind", q->query_kind ? dmvf_query_kind_name((dmvf_query_kind)q->query_kind) : "");
    put_list(out, "fields", q->fields, q->n_fields, "(all the profile releases)");
    put_line(out, "channel", q->channel);
    if (q->date)
        dmvf__date_format(q->date, num);
    else
        snprintf(num, sizeof num, "the day it was made");
    put_line(out, "judged on", num);
}

/* One value of a scalar field at p (the element of a repeated field or the
 * singular member). */
static void dump_value(FILE *out, const char *path, const ProtobufCFieldDescriptor *fd,
                       const void *p)
{
    fprintf(out, "    %s: ", path);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        put_quoted(out, nz(s));
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        fprintf(out, "<%zu bytes>", ((const ProtobufCBinaryData *)p)->len);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", out);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)fd->descriptor, v);
        if (ev)
            fputs(ev->name, out);
        else
            fprintf(out, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(out, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(out, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(out, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fprintf(out, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        fprintf(out, "%g", *(const double *)p);
        break;
    default:
        fputs("?", out);
        break;
    }
    fputc('\n', out);
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4;
    }
}

/* Whether a singular proto3 scalar holds its default (then it is absent). */
static int is_default(const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)p == 0;
    default: {
        size_t n = elem_size(fd->type);
        static const uint8_t zero[8];
        return memcmp(p, zero, n) == 0;
    }
    }
}

static void dump_message(FILE *out, const ProtobufCMessage *m, const char *prefix, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const char *member = (const char *)m + fd->offset;
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", fd->name);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)((const char *)m + fd->quantifier_offset);
            const char *arr = *(const char *const *)(const void *)member;
            size_t es = elem_size(fd->type);
            for (size_t j = 0; j < n && arr; j++) {
                char ipath[540];
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, j);
                const void *el = arr + j * es;
                if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                    const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)el;
                    if (sub && depth < 8)
                        dump_message(out, sub, ipath, depth + 1);
                } else {
                    dump_value(out, ipath, fd, el);
                }
            }
        } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(const void *)member;
            if (sub && depth < 8)
                dump_message(out, sub, path, depth + 1);
        } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
                   fd->type != PROTOBUF_C_TYPE_STRING) {
            if (*(const protobuf_c_boolean *)(const void *)((const char *)m + fd->quantifier_offset))
                dump_value(out, path, fd, member);
        } else if (!is_default(fd, member)) {
            dump_value(out, path, fd, member);
        }
    }
}

static int dump_records(FILE *out, const ProtobufCBinaryData *rel, const char *spath,
                        dmvf_error *err)
{
    size_t pos = 0;
    uint64_t idx = 0;
    while (pos < rel->len) {
        uint64_t len;
        size_t pre;
        if (dmvf_stream_prefix(rel->data + pos, rel->len - pos, &len, &pre) != 1 ||
            len > rel->len - pos - pre)
            return dmvf__seterr(err, DMVF_ETAMPER, "%s: the held release is cut at byte %zu",
                                spath, pos);
        dmvf__pballoc w;
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(
            dmvf__pballoc_init(&w, DMVF__PB_WIPED), (size_t)len, rel->data + pos + pre);
        fprintf(out, "record %llu:\n", (unsigned long long)(idx + 1));
        if (!r) {
            if (w.oom)
                return dmvf__seterr(err, DMVF_ENOMEM, "out of memory showing record %llu",
                                    (unsigned long long)(idx + 1));
            fputs("    (does not decode as a DriverRecord)\n", out);
        } else {
            if (len == 0)
                fputs("    (empty: every field redacted)\n", out);
            dump_message(out, &r->base, "", 0);
            dmv__v1__driver_record__free_unpacked(r, &w.pb);
        }
        pos += pre + (size_t)len;
        idx++;
    }
    return DMVF_OK;
}

int dmvf_review_show(const char *spool, const char *id, const char *secret_key_path,
                     const char *passphrase, FILE *out, int records, dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && secret_key_path && out, "NULL argument");
    item it;
    int rc = item_open(spool, id, secret_key_path, passphrase, 0, &it, err);
    if (rc != DMVF_OK)
        return rc;
    const Dmv__V1__ReviewMeta *m = it.meta;
    const Dmv__V1__ReviewBody *b = it.body;
    char when[32], buf[1024];
    fmt_time(m->time_ns, when);
    fprintf(out, "review %s: %s\n", it.id, state_names[it.state]);
    if (it.state != ST_PENDING) {
        dmvf__escape_copy(buf, sizeof buf, it.mark);
        fprintf(out, "decision: %s\n", buf);
    }
    fprintf(out, "held: %s\n", when);
    fputs("request:\n", out);
    print_request(out, b->request);
    dmvf__escape_copy(buf, sizeof buf, nz(m->rule));
    fprintf(out, "rule: %s\n", buf[0] ? buf : "-");
    dmvf__escape_copy(buf, sizeof buf, nz(m->policy_id));
    fprintf(out, "policy id: %s\n", buf[0] ? buf : "-");
    fprintf(out, "audit REQUEST entry: %llu\n", (unsigned long long)m->request_seq);
    fprintf(out, "would-be release: %llu records (of %llu read), %zu bytes\n",
            (unsigned long long)b->records_out, (unsigned long long)b->records_in,
            b->release.len);
    fprintf(out, "fields (values per path and action; class M marking, C correlated, "
                 "P restricted):\n");
    if (b->n_fields == 0)
        fputs("  (none counted)\n", out);
    for (size_t i = 0; i < b->n_fields; i++) {
        const Dmv__V1__FieldCount *fc = b->fields[i];
        char klass[4];
        dmvf__field_class_letters(fc->klass, klass);
        dmvf__escape_copy(buf, sizeof buf, nz(fc->path));
        fprintf(out, "  %-36s %-13s %-3s %llu\n", buf, dmvf__action_name(fc->action),
                klass[0] ? klass : "-", (unsigned long long)fc->values);
    }
    fprintf(out, "subjects: %zu record ids (hashed into the audit log when approved)\n",
            b->n_subject_ids);
    if (records) {
        fputs("records:\n", out);
        rc = dump_records(out, &b->release, it.id, err);
    }
    if (rc == DMVF_OK && (fflush(out) != 0 || ferror(out)))
        rc = dmvf__seterr(err, DMVF_EIO, "cannot write review item %s: %s", it.id,
                          strerror(errno));
    item_close(&it);
    return rc;
}

/* ---- approve, deny ---- */

static int mark_item(const char *spool, const char *id, int state, const char *reviewer,
                     const char *note, dmvf_error *err)
{
    char path[PATH_CAP], when[32], who[512], what[1536], line[MARK_MAX];
    int rc, exists = 0;
    if ((rc = item_path(path, spool, id, state == ST_APPROVED ? "approved" : "denied", err)))
        return rc;
    fmt_time(dmvf__now_ns(), when);
    dmvf__escape_copy(who, sizeof who, reviewer);
    dmvf__escape_copy(what, sizeof what, nz(note));
    int n = snprintf(line, sizeof line, "%s\t%s\t%s\n", when, who, what);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)strlen(line);
    rc = create_file(path, line, (size_t)n, "review decision", &exists, err);
    if (rc != DMVF_OK && exists)
        rc = dmvf__seterr(err, DMVF_EINVAL, "review item %s was already decided", id);
    return rc;
}

static int by_hash(const void *a, const void *b)
{
    return memcmp(a, b, DMVF_SUBJECT_HASH_LEN);
}

/* The event for a decision on it (fields and subjects filled for approve). */
static int audit_decision(dmvf_audit *a, const dmvf_keyring *kr, const item *it,
                          dmvf_audit_kind kind, const char *reviewer, const char *note,
                          dmvf_error *err)
{
    const Dmv__V1__ReviewBody *b = it->body;
    dmvf_request req;
    dmvf_audit_event ev;
    dmvf_field_count *fc = NULL;
    uint8_t *subj = NULL;
    size_t nsub = 0;
    int rc;

    memset(&ev, 0, sizeof ev);
    dmvf__request_from_pb(b->request ? b->request : &(Dmv__V1__Request)DMV__V1__REQUEST__INIT, &req);
    ev.kind = kind;
    ev.request = &req;
    ev.rule = it->meta->rule;
    ev.policy_id = it->meta->policy_id;
    ev.review_id = it->id;
    ev.actor = reviewer;
    ev.note = note;
    ev.ref = it->meta->request_seq;
    ev.counts.records_in = b->records_in;
    if (kind == DMVF_AUDIT_REVIEW_APPROVE) {
        ev.counts.records_out = b->records_out;
        fc = calloc(b->n_fields ? b->n_fields : 1, sizeof *fc);
        subj = malloc(b->n_subject_ids ? b->n_subject_ids * DMVF_SUBJECT_HASH_LEN : 1);
        if (!fc || !subj) {
            free(fc);
            free(subj);
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory auditing review item %s",
                                it->id);
        }
        for (size_t i = 0; i < b->n_fields; i++) {
            fc[i].path = b->fields[i]->path;
            fc[i].action = (dmvf_field_action)b->fields[i]->action;
            fc[i].klass = b->fields[i]->klass;
            fc[i].values = b->fields[i]->values;
        }
        ev.fields = fc;
        ev.nfields = b->n_fields;
        for (size_t i = 0; i < b->n_subject_ids; i++) {
            const char *s = nz(b->subject_ids[i]);
            if (*s)
                dmvf_keyring_subject_hash(kr, s, strlen(s), subj + nsub++ * DMVF_SUBJECT_HASH_LEN);
        }
        if (nsub > 1) {
            qsort(subj, nsub, DMVF_SUBJECT_HASH_LEN, by_hash);
            size_t w = 1;
            for (size_t i = 1; i < nsub; i++)
                if (memcmp(subj + i * DMVF_SUBJECT_HASH_LEN, subj + (w - 1) * DMVF_SUBJECT_HASH_LEN,
                           DMVF_SUBJECT_HASH_LEN) != 0)
                    memmove(subj + w++ * DMVF_SUBJECT_HASH_LEN, subj + i * DMVF_SUBJECT_HASH_LEN,
                            DMVF_SUBJECT_HASH_LEN);
            nsub = w;
        }
        ev.subjects = nsub ? subj : NULL;
        ev.nsubjects = nsub;
    }
    rc = dmvf_audit_event_write(a, &ev, NULL, err);
    free(fc);
    free(subj);
    return rc;
}

int dmvf_review_approve(const char *spool, const char *id, const char *secret_key_path,
                        const char *passphrase, const char *reviewer, const char *note,
                        const char *out_path, dmvf_audit *a, const dmvf_keyring *kr,
                        uint64_t *records, dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && secret_key_path && reviewer && out_path, "NULL argument");
    DMVF_REQUIRE(!a || kr, "an audited approval needs the keyring (subject hashes)");
    if (records)
        *records = 0;
    if (!*reviewer)
        return dmvf__seterr(err, DMVF_EINVAL, "the reviewer's name is empty");
    item it;
    int rc = item_open(spool, id, secret_key_path, passphrase, OPEN_LOCK | OPEN_PENDING, &it, err);
    if (rc != DMVF_OK)
        return rc;
    const ProtobufCBinaryData *rel = &it.body->release;
    int to_stdout = strcmp(out_path, "-") == 0;
    /* a device or FIFO (/dev/null, a pipe) is written in place, never replaced */
    struct stat ost;
    int direct = to_stdout || (stat(out_path, &ost) == 0 && !S_ISREG(ost.st_mode));
    char *tmp = NULL;   /* the release, written aside until the decision is logged */
    int st;

    if (!direct && (st = dmvf__file_aside(out_path, rel->data, rel->len, 0600, &tmp))) {
        rc = dmvf__file_error(err, st, "release", out_path);
        goto done;
    }
    if (a && (rc = audit_decision(a, kr, &it, DMVF_AUDIT_REVIEW_APPROVE, reviewer, note, err))) {
        if (tmp)
            unlink(tmp);
        goto done;
    }
    if (direct) {
        int fd = to_stdout ? STDOUT_FILENO : open(out_path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        int bad = fd < 0 || dmvf__write_all(fd, rel->data, rel->len) != 0;
        int e = errno;
        if (fd >= 0 && !to_stdout && close(fd) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        if (bad) {
            rc = dmvf__seterr(err, DMVF_EIO, "cannot write the release to %s: %s",
                              to_stdout ? "standard output" : out_path, strerror(e));
            goto done;
        }
    } else if ((st = dmvf__file_place(tmp, out_path, DMVF__FILE_REPLACE))) {
        rc = dmvf__file_error(err, st, "release", out_path);
        goto done;
    }
    rc = mark_item(spool, id, ST_APPROVED, reviewer, note, err);
    if (rc != DMVF_OK) {
        char why[sizeof err->msg] = "";
        if (err)
            memcpy(why, err->msg, sizeof why);
        rc = dmvf__seterr(err, rc,
                          "the release of review item %s was written to %s but the item could "
                          "not be marked approved: %s", id, out_path, why);
        goto done;
    }
    if (records)
        *records = it.body->records_out;
done:
    free(tmp);
    item_close(&it);
    return rc;
}

int dmvf_review_deny(const char *spool, const char *id, const char *secret_key_path,
                     const char *passphrase, const char *reviewer, const char *note,
                     dmvf_audit *a, dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && secret_key_path && reviewer, "NULL argument");
    if (!*reviewer)
        return dmvf__seterr(err, DMVF_EINVAL, "the reviewer's name is empty");
    item it;
    int rc = item_open(spool, id, secret_key_path, passphrase, OPEN_LOCK | OPEN_PENDING, &it, err);
    if (rc != DMVF_OK)
        return rc;
    if (a && (rc = audit_decision(a, NULL, &it, DMVF_AUDIT_REVIEW_DENY, reviewer, note, err)))
        goto done;
    rc = mark_item(spool, id, ST_DENIED, reviewer, note, err);
done:
    item_close(&it);
    return rc;
}
