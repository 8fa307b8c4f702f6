/*
 * audit_compress.c - a closed segment rewritten as .log.z: the same bytes
 * as one zlib stream (the format compress2 writes), deflated in 64 KiB
 * steps so that memory stays bounded whatever the segment's size.
 *
 *   DIR/.audit-NNNNNNNN.log.z.tmp   written, fsync'd, closed
 *   DIR/audit-NNNNNNNN.log.z        renamed into place, DIR fsync'd
 *   DIR/audit-NNNNNNNN.log          then removed, DIR fsync'd
 *
 * Best effort: on any failure the temporary file is removed and the plain
 * segment stays, which readers accept as well; between the rename and the
 * removal both forms exist, which verify checks are the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/fileio.h"
#include "filter/account/audit_int.h"
#include "filter/account/audit_writer_int.h"

void dmvf__audit_compress(dmvf_audit *a, uint64_t n)
{
    char src[4096], dst[4096], tmp[4096], name[64];
    dmvf__audit_seg_path(a, src, sizeof src, n, 0);
    dmvf__audit_seg_path(a, dst, sizeof dst, n, 1);
    dmvf__audit_seg_name(name, sizeof name, n, 1);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", a->dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return;
    }
    enum { CH = 64 << 10 };
    uint8_t *ib = malloc(CH), *ob = malloc(CH);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int ok = ib && ob && deflateInit(&zs, Z_DEFAULT_COMPRESSION) == Z_OK;
    int zinit = ok;
    while (ok) {
        ssize_t k = read(in, ib, CH);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            ok = 0;
            break;
        }
        int flush = k == 0 ? Z_FINISH : Z_NO_FLUSH;
        zs.next_in = ib;
        zs.avail_in = (uInt)k;
        int zr;
        do {
            zs.next_out = ob;
            zs.avail_out = CH;
            zr = deflate(&zs, flush);
            if (zr == Z_STREAM_ERROR || dmvf__write_all(out, ob, CH - zs.avail_out) != 0) {
                ok = 0;
                break;
            }
        } while (zs.avail_out == 0);
        if (!ok || flush == Z_FINISH)
            break;
    }
    if (zinit)
        deflateEnd(&zs);
    free(ib);
    free(ob);
    close(in);
    if (ok && fsync(out) != 0)
        ok = 0;
    if (close(out) != 0)
        ok = 0;
    if (!ok) {
        unlink(tmp);
        return;
    }
    if (rename(tmp, dst) != 0) {
        unlink(tmp);
        return;
    }
    fsync(a->dirfd);
    unlink(src);
    fsync(a->dirfd);
}
