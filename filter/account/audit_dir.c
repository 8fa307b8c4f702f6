/*
 * audit_dir.c - the audit log's directory: segment names and the list of
 * the segments there.
 *
 *   DIR/audit-00000001.log     segment 1; once rotated and compressed
 *   DIR/audit-00000001.log.z   the same bytes, zlib (compress2 format)
 *   DIR/audit-00000002.log ... the last one is the active segment
 *   DIR/HEAD                   the newest checkpoint frame, byte for byte
 *                              (audit_head.c)
 *   DIR/LOCK                   flock'd: exclusive by writers, shared (for a
 *                              moment) by readers taking a snapshot
 *
 * A segment name is canonical: "audit-", the number in at least eight
 * decimal digits (no more leading zeros than that), ".log" or ".log.z";
 * anything else in the directory is not a segment. A number may have both
 * forms while it is being compressed (or after a crash in between).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/account/audit_int.h"

void dmvf__audit_seg_name(char *out, size_t cap, uint64_t n, int z)
{
    snprintf(out, cap, "audit-%08" PRIu64 ".log%s", n, z ? ".z" : "");
}

/* 1 when name is a canonical segment name; *n and *z set. */
static int parse_seg_name(const char *name, uint64_t *n, int *z)
{
    if (strncmp(name, "audit-", 6) != 0)
        return 0;
    const char *p = name + 6;
    uint64_t v = 0;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(p[digits] - '0');
        digits++;
    }
    if (digits < 8 || v == 0)
        return 0;
    const char *rest = p + digits;
    int iz;
    if (strcmp(rest, ".log") == 0)
        iz = 0;
    else if (strcmp(rest, ".log.z") == 0)
        iz = 1;
    else
        return 0;
    char canon[64];
    dmvf__audit_seg_name(canon, sizeof canon, v, iz);
    if (strcmp(canon, name) != 0)
        return 0;   /* e.g. leading zeros beyond eight digits */
    *n = v;
    *z = iz;
    return 1;
}

static int seg_cmp(const void *a, const void *b)
{
    const dmvf__audit_seg *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

int dmvf__audit_segments(const char *dir, dmvf__audit_seg **segs, size_t *n, dmvf_error *err)
{
    *segs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open the audit log directory: %s", dir,
                            strerror(errno));
    dmvf__audit_seg *v = NULL;
    size_t len = 0, cap = 0;
    int rc = DMVF_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t num;
        int z;
        if (!parse_seg_name(de->d_name, &num, &z))
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            dmvf__audit_seg *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory listing segments", dir);
                break;
            }
            v = nv;
            cap = nc;
        }
        memset(&v[len], 0, sizeof v[len]);
        v[len].n = num;
        if (z) {
            v[len].has_z = 1;
        } else {
            char path[4096];
            struct stat st;
            v[len].has_log = 1;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (stat(path, &st) == 0)
                v[len].log_size = (uint64_t)st.st_size;
            else if (errno != ENOENT) {
                rc = dmvf__seterr(err, DMVF_EIO, "%s: cannot stat: %s", path, strerror(errno));
                break;
            } else {
                /* removed since readdir: compressed (the .log.z was
                 * renamed into place first) it is listed so; else it is
                 * not listed (verify reports the gap) */
                snprintf(path, sizeof path, "%s/%s.z", dir, de->d_name);
                if (stat(path, &st) != 0) {
                    errno = 0;
                    continue;
                }
                v[len].has_log = 0;
                v[len].has_z = 1;
            }
        }
        len++;
        errno = 0;
    }
    if (rc == DMVF_OK && errno != 0)
        rc = dmvf__seterr(err, DMVF_EIO, "%s: cannot list: %s", dir, strerror(errno));
    closedir(d);
    if (rc != DMVF_OK) {
        free(v);
        return rc;
    }
    if (len > 1)
        qsort(v, len, sizeof *v, seg_cmp);
    /* merge the .log and .log.z of one number */
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o > 0 && v[o - 1].n == v[i].n) {
            v[o - 1].has_z |= v[i].has_z;
            if (v[i].has_log) {
                v[o - 1].has_log = 1;
                v[o - 1].log_size = v[i].log_size;
            }
        } else {
            v[o++] = v[i];
        }
    }
    *segs = v;
    *n = o;
    return DMVF_OK;
}
