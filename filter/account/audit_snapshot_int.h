/*
 * audit_snapshot_int.h - a reader's view of the audit log at one moment
 * (audit_snapshot.c), shared by the scan and verify.
 */
#ifndef DMVF_AUDIT_SNAPSHOT_INT_H
#define DMVF_AUDIT_SNAPSHOT_INT_H

#include <stddef.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/account/audit_int.h"

typedef struct dmvf__audit_snap {
    dmvf__audit_seg *segs;
    size_t nsegs;
    dmvf__audit_frame head;   /* head.len == 0: no HEAD (head.off UINT64_MAX:
                                 a HEAD that is not one frame) */
} dmvf__audit_snap;

/* HEAD and the segment list as one consistent moment: under a shared lock
 * on DIR/LOCK when there is one we may open (a copied log may have none).
 * DMVF_OK, DMVF_EIO (dir is no directory, a file cannot be read),
 * DMVF_ENOMEM. */
int dmvf__audit_snap_take(const char *dir, dmvf__audit_snap *s, dmvf_error *err);
void dmvf__audit_snap_free(dmvf__audit_snap *s);

/* Opens segment sg of a snapshot for reading: the .log.z when there is
 * one, else the .log up to its snapshot size (or, if it was compressed and
 * removed since, the .log.z). name receives the file's name; *fd and *r
 * are the caller's to close and free. */
int dmvf__audit_seg_open(const char *dir, const dmvf__audit_seg *sg, int *fd, dmvf__audit_rd **r,
                         char *name, size_t ncap, dmvf_error *err);

#endif
