/*
 * dmvfilter/review.h - the review queue: a request whose rule says
 * `decision: review` releases nothing; its request and would-be release are
 * sealed to the reviewers' public key (crypto_box_seal, X25519) and stored
 * in a spool directory until a reviewer approves or denies it.
 *
 * Spool layout (schema/dmv/v1/audit.proto): ID.meta (ReviewMeta, in clear:
 * enough to list it), ID.sealed (the sealed ReviewBody), and, once decided,
 * ID.approved or ID.denied (a line: date, reviewer, note). Files are 0600,
 * written aside and renamed into place. IDs are 32 lowercase hex digits.
 *
 * Reviewer keys: "dmvfilter-x25519-public " + 64 hex + "\n" (public) and a
 * secret key file of mode 0600 (refused when group/other can read it),
 * optionally sealed with a passphrase like a keyring.
 *
 * Threads: thread-safe; no handle.
 */
#ifndef DMVFILTER_REVIEW_H
#define DMVFILTER_REVIEW_H

#include <stdio.h>
#include "common.h"
#include "filter.h"
#include "audit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DMVF_REVIEW_ID_LEN 32u

/* Creates a reviewer key pair: secret_path (0600; sealed when passphrase is
 * not NULL) and public_path. Fails if either exists. */
DMVF_API int dmvf_review_keygen(const char *secret_path, const char *public_path,
                                const char *passphrase, dmvf_error *err);

/* Holds a request: f is the REVIEW-decided filter (created with
 * hold_for_review, count_fields and collect_subjects), release the would-be
 * release (delimited DriverRecords, len bytes), c its counts, request_seq
 * the audit REQUEST entry (0 when not audited). Writes ID.sealed then
 * ID.meta, fsync'd. id_out receives the id (DMVF_REVIEW_ID_LEN + NUL). */
DMVF_API int dmvf_review_hold(const char *spool, const char *reviewer_public_path,
                              const dmvf_filter *f, const void *release, size_t len,
                              const dmvf_audit_counts *c, uint64_t request_seq,
                              char id_out[DMVF_REVIEW_ID_LEN + 1], dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
