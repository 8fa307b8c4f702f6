/*
 * review_spool.c - the review spool's files: ids and paths, creating a
 * file whole and reading one, the spool directory, and the decision
 * markers.
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
 * A file read is at most as large as the spool ever writes it
 * (core/fileio.h's whole-file read); a larger one, or one that is not a
 * regular file, is DMVF_ETAMPER. Items are sealed and opened in
 * review_item.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/account/review_int.h"

const char *const dmvf__review_state_names[4] = {"pending", "approved", "denied", "damaged"};

int dmvf__review_id_valid(const char *id)
{
    uint8_t raw[DMVF_REVIEW_ID_LEN / 2];
    return dmvf__hex_decode(raw, sizeof raw, id, strlen(id), DMVF__HEX_LOWER) == 0;
}

int dmvf__review_id_bad(const char *id, dmvf_error *err)
{
    char shown[80];
    dmvf__escape_copy(shown, sizeof shown, id);
    return dmvf__seterr(err, DMVF_EINVAL,
                        "review id '%s' is not %u lowercase hex digits", shown,
                        DMVF_REVIEW_ID_LEN);
}

int dmvf__review_path(char *buf, const char *spool, const char *id, const char *ext,
                      dmvf_error *err)
{
    int n = snprintf(buf, DMVF__REVIEW_PATH_CAP, "%s/%s.%s", spool, id, ext);
    if (n < 0 || n >= DMVF__REVIEW_PATH_CAP)
        return dmvf__seterr(err, DMVF_EINVAL, "spool path %s is too long", spool);
    return DMVF_OK;
}

int dmvf__review_file_create(const char *target, const void *data, size_t len, const char *what,
                             int *exists, dmvf_error *err)
{
    int st = dmvf__file_create(target, data, len, 0600, DMVF__FILE_NEW);
    *exists = st == DMVF__FILE_EXISTS;
    return st ? dmvf__file_error(err, st, what, target) : DMVF_OK;
}

/* A failure st of a whole-file read of path, as the spool says it. */
static int read_error(int st, const char *path, size_t max, size_t size, dmvf_error *err)
{
    switch (st) {
    case DMVF__READ_OK:
        return DMVF_OK;
    case DMVF__READ_OPEN:
        return dmvf__seterr(err, DMVF_EIO, "%s cannot be opened: %s", path, strerror(errno));
    case DMVF__READ_STAT:
        return dmvf__seterr(err, DMVF_EIO, "%s cannot be examined: %s", path, strerror(errno));
    case DMVF__READ_NOTREG:
        return dmvf__seterr(err, DMVF_ETAMPER, "%s is not a regular file", path);
    case DMVF__READ_TOOBIG:
        return dmvf__seterr(err, DMVF_ETAMPER,
                            "%s is %jd bytes, more than the review spool ever writes (%zu)", path,
                            (intmax_t)size, max);
    case DMVF__READ_NOMEM:
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading %s", path);
    default:
        return dmvf__seterr(err, DMVF_EIO, "%s cannot be read: %s", path, strerror(errno));
    }
}

int dmvf__review_fd_read(int fd, const char *path, size_t max, uint8_t **out, size_t *out_len,
                         dmvf_error *err)
{
    int st = dmvf__file_read_fd(fd, max, out, out_len, 0, NULL);
    return read_error(st, path, max, *out_len, err);
}

int dmvf__review_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len,
                           int *missing, dmvf_error *err)
{
    int st = dmvf__file_read(path, max, out, out_len, 0, NULL);
    *missing = st == DMVF__READ_OPEN && errno == ENOENT;
    return read_error(st, path, max, *out_len, err);
}

int dmvf__review_spool_ensure(const char *spool, dmvf_error *err)
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

int dmvf__review_state_read(const char *spool, const char *id, int *state,
                            char mark[DMVF__REVIEW_MARK_MAX], dmvf_error *err)
{
    static const char *const ext[2] = {"approved", "denied"};
    *state = DMVF__REVIEW_PENDING;
    mark[0] = '\0';
    for (int k = 0; k < 2; k++) {
        char path[DMVF__REVIEW_PATH_CAP];
        uint8_t *buf = NULL;
        size_t n = 0;
        int missing = 0, rc;
        if ((rc = dmvf__review_path(path, spool, id, ext[k], err)) != DMVF_OK)
            return rc;
        rc = dmvf__review_file_read(path, DMVF__REVIEW_MARK_MAX - 1, &buf, &n, &missing, err);
        if (rc != DMVF_OK && missing)
            continue;
        if (rc != DMVF_OK)
            return rc;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        memcpy(mark, buf, n);
        mark[n] = '\0';
        free(buf);
        *state = k == 0 ? DMVF__REVIEW_APPROVED : DMVF__REVIEW_DENIED;
        return DMVF_OK;
    }
    return DMVF_OK;
}

int dmvf__review_mark(const char *spool, const char *id, int state, const char *reviewer,
                      const char *note, dmvf_error *err)
{
    char path[DMVF__REVIEW_PATH_CAP], when[32], who[512], what[1536], line[DMVF__REVIEW_MARK_MAX];
    int rc, exists = 0;
    const char *ext = state == DMVF__REVIEW_APPROVED ? "approved" : "denied";
    if ((rc = dmvf__review_path(path, spool, id, ext, err)))
        return rc;
    dmvf__review_time(dmvf__now_ns(), when);
    dmvf__escape_copy(who, sizeof who, reviewer);
    dmvf__escape_copy(what, sizeof what, dmvf__review_nz(note));
    int n = snprintf(line, sizeof line, "%s\t%s\t%s\n", when, who, what);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)strlen(line);
    rc = dmvf__review_file_create(path, line, (size_t)n, "review decision", &exists, err);
    if (rc != DMVF_OK && exists)
        rc = dmvf__seterr(err, DMVF_EINVAL, "review item %s was already decided", id);
    return rc;
}
