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
 * An item without ID.meta (a hold that did not finish) is not listed.
 *
 * Life of an item:
 *
 *   dmvf_review_hold(spool, rpub, f, release, len, &counts, seq, id, &err)
 *        by `dmvfilter filter` for a REVIEW decision; the caller then audits
 *        DMVF_AUDIT_REVIEW_HOLD (review_id = id, ref = seq)
 *   dmvf_review_list(spool, dmv_pub, stdout, 0, &err)       anyone who can read the spool
 *   dmvf_review_show(spool, id, dmv_pub, sk, pass, stdout, 0, &err)    a reviewer
 *   dmvf_review_approve(spool, id, sk, pass, who, note, out, a, kr, &n, &err)
 *   dmvf_review_deny(spool, id, dmv_pub, sk, pass, who, note, a, &err)
 *
 * rpub is the reviewers' X25519 public key file; dmv_pub the DMV's
 * Ed25519 public key (dmvf_keyring_public_key, `keys export-public`,
 * dmvf_public_key_read).
 *
 * What is protected how: the spool is the filter's own. crypto_box_seal is
 * anonymous (anyone with the reviewers' public key can seal a body), so the
 * filter signs every item it holds with the keyring's Ed25519 signing key
 * ("dmvf-review-item-v1", over the whole .meta, which carries the
 * BLAKE2b-256 digest of ID.sealed). List, show, approve and deny first
 * check that the .meta names its own id, is signed, by the DMV's key, and
 * verifies, and that ID.sealed hashes to the signed digest: a planted item,
 * a .meta edited in any field (request, rule, policy id, REQUEST seq,
 * records), a body swapped or re-sealed, or an item signed with another
 * keyring is refused with DMVF_ETAMPER naming the failed check, before the
 * reviewer key is loaded. The sealed body (request, would-be release,
 * counts, field counts, record_ids) opens only with the reviewer secret
 * key; show, approve and deny also check that its review id, request and
 * record count equal the .meta's. Approve then checks the item against its
 * REVIEW_HOLD entry in the audit log (required), so that what is released
 * and logged is what the filter held and logged.
 *
 * Reviewer keys: "dmvfilter-x25519-public " + 64 hex + "\n" (public) and a
 * secret key file of mode 0600 (refused when group/other have any
 * permission bit: DMVF_EKEYRING), optionally sealed with a passphrase like
 * a keyring (Argon2id -> secretbox). A sealed key without its passphrase,
 * or with a wrong one, is DMVF_EPASSPHRASE. A key other than the one the
 * item was sealed to is DMVF_EKEYRING.
 *
 * Deciding: an item is decided once. Approve and deny take an exclusive
 * lock (flock on ID.sealed), so that two reviewers deciding at once cannot
 * both succeed; a decided item returns DMVF_EINVAL. An id that is not 32
 * lowercase hex digits, or names no item, is DMVF_EINVAL.
 *
 * Threads: thread-safe; no handle. Misuse (a NULL path where one is
 * required) aborts.
 */
#ifndef DMVFILTER_REVIEW_H
#define DMVFILTER_REVIEW_H

#include <stdio.h>
#include "common.h"
#include "filter.h"
#include "audit.h"
#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DMVF_REVIEW_ID_LEN 32u
/* The most bytes one packed ReviewBody (mostly the would-be release) may
 * have: a hold over it fails with DMVF_ETOOBIG, and a .sealed file over it
 * (plus the 48-byte seal) is refused when read (DMVF_ETAMPER: no hold
 * writes one). */
#define DMVF_REVIEW_MAX_BODY ((size_t)256 << 20)

/* Creates a reviewer key pair: secret_path (0600; sealed when passphrase is
 * not NULL) and public_path (0644).
 * @return  DMVF_OK; DMVF_EIO when either exists (nothing is written then)
 *          or cannot be written; DMVF_EINVAL for an empty passphrase or
 *          equal paths; DMVF_ENOMEM.
 * Threads: thread-safe.
 * NULL:    secret_path and public_path abort; passphrase NULL: unsealed;
 *          err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_review_keygen(const char *secret_path, const char *public_path,
                                const char *passphrase, dmvf_error *err);

/* Holds a request: f is the REVIEW-decided filter (created with
 * hold_for_review, count_fields and collect_subjects, and a keyring, whose
 * signing key signs the item), release the would-be release (delimited
 * DriverRecords, len bytes), c its counts, request_seq the audit REQUEST
 * entry (0 when not audited: such an item can be denied, never approved).
 * Writes ID.sealed then ID.meta (signed), fsync'd. id_out receives the id
 * (DMVF_REVIEW_ID_LEN + NUL).
 * The spool directory is created (0700) when missing (not its parents).
 * The REVIEW_HOLD audit entry is the caller's to write (after this returns,
 * with the id). No subject hashes are stored: the record_ids travel inside
 * the sealed body only, and are hashed for the audit log at approval.
 * @return  DMVF_OK with id_out set; DMVF_EINVAL when f's decision is not
 *          REVIEW, when the release is not a delimited stream of exactly
 *          c->records_out records, or when the reviewer public key file is
 *          not one; DMVF_EKEYRING when f has no keyring; DMVF_ETOOBIG over
 *          DMVF_REVIEW_MAX_BODY; DMVF_EIO (the
 *          public key file cannot be read, the spool cannot be written);
 *          DMVF_ENOMEM.
 * Threads: thread-safe; f, release and c are only read.
 * NULL:    spool, reviewer_public_path, f, c and id_out abort; release may
 *          be NULL only with len 0 (else aborts); err may be NULL.
 * Owns:    the caller owns id_out; nothing else is kept. */
DMVF_API int dmvf_review_hold(const char *spool, const char *reviewer_public_path,
                              const dmvf_filter *f, const void *release, size_t len,
                              const dmvf_audit_counts *c, uint64_t request_seq,
                              char id_out[DMVF_REVIEW_ID_LEN + 1], dmvf_error *err);

/* Lists the spool's items, oldest first. Text (json 0): one header line,
 * then per item: id, time held (UTC, ISO 8601), state, records, ORI, rule,
 * agency name. JSON (json 1): one object per line, {"id", "time",
 * "time_ns", "state", "records", "ori", "agency", "rule", "request_id"}.
 * state: "pending", "approved", "denied", or "damaged": an item that is
 * not the filter's (above: its .meta does not decode, names another id, is
 * not signed by pub or does not verify, or its ID.sealed is missing or not
 * the signed body) is listed with its id only, and the call returns
 * DMVF_ETAMPER naming the first such item and the check it failed after
 * listing them all. Needs no secret key: pub is the DMV's public key.
 * @return  DMVF_OK; DMVF_ETAMPER (a damaged item, above); DMVF_EIO (no such
 *          spool, out not writable); DMVF_ENOMEM.
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    spool, pub and out abort; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_review_list(const char *spool, const uint8_t pub[32], FILE *out, int json,
                              dmvf_error *err);

/* Checks item id is the filter's (signed, by pub: above), opens it with
 * the reviewer secret key (passphrase NULL for an unsealed key file) and
 * writes what a reviewer decides on: the state, the
 * request in full, rule, policy id, audit seq, and a summary of the
 * would-be release: records, bytes, per field path the action, class and
 * number of values, the number of subjects. Never the record contents,
 * unless records is non-zero: then every would-be released record follows
 * as a text dump, one "path: value" line per field (strings quoted and
 * escaped, bytes as their length).
 * @return  DMVF_OK; DMVF_EINVAL (bad or unknown id); DMVF_ETAMPER;
 *          DMVF_EKEYRING; DMVF_EPASSPHRASE (above); DMVF_EIO; DMVF_ENOMEM.
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    spool, id, pub, secret_key_path and out abort; passphrase NULL:
 *          an unsealed key file; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_review_show(const char *spool, const char *id, const uint8_t pub[32],
                              const char *secret_key_path, const char *passphrase, FILE *out,
                              int records, dmvf_error *err);

/* Approves item id: checks it is the filter's (signed with kr's key:
 * above) and matches its REVIEW_HOLD entry in the audit log a (a is
 * verified whole with its keyring first, then must hold exactly one
 * REVIEW_HOLD entry for id with the item's request, rule, policy id,
 * record count and REQUEST seq, that REQUEST entry, and no decision on id
 * yet); writes exactly the would-be release (the delimited DriverRecords
 * that were held) to out_path ("-": standard output; a path that is not a
 * regular file, such as /dev/null or a FIFO, is written in place, never
 * replaced), marks ID.approved ("DATE\tREVIEWER\tNOTE\n", control bytes
 * escaped as \xNN), and audits DMVF_AUDIT_REVIEW_APPROVE: the request,
 * rule, policy id, review id, reviewer (actor), note, ref = the held
 * request's REQUEST seq, the counts, the field counts and the subjects
 * (record_ids hashed with kr). The log is required: without one (a NULL)
 * nothing is released (DMVF_EINVAL), and an item held without a log can
 * only be denied.
 *
 * Order (write-ahead): the release is written to a temporary file beside
 * out_path and fsync'd; then the audit entry is written and fsync'd; then
 * the file is renamed into place (standard output, a device or a FIFO:
 * written only now);
 * then the item is marked. Any failure before the rename leaves no output
 * and the item pending. reviewer must not be empty; note may be NULL.
 * @return  DMVF_OK with *records the number of records released (0 on
 *          failure); DMVF_EINVAL (bad or unknown id, already decided, empty
 *          reviewer, no audit log); DMVF_ETAMPER (not the filter's item, or
 *          the audit log does not verify or says otherwise); DMVF_EKEYRING;
 *          DMVF_EPASSPHRASE (above); DMVF_EIO; DMVF_ENOMEM; or the audit
 *          log's error.
 * Threads: thread-safe, but a belongs to its thread (audit.h).
 * NULL:    spool, id, secret_key_path, reviewer and out_path abort;
 *          passphrase NULL: an unsealed key file; note NULL: none; a NULL:
 *          DMVF_EINVAL, nothing released; kr may be NULL only when a is
 *          (else aborts); records and err may be NULL.
 * Owns:    nothing is kept; a and kr are only used during the call. */
DMVF_API int dmvf_review_approve(const char *spool, const char *id, const char *secret_key_path,
                                 const char *passphrase, const char *reviewer, const char *note,
                                 const char *out_path, dmvf_audit *a, const dmvf_keyring *kr,
                                 uint64_t *records, dmvf_error *err);

/* As dmvf_review_approve, with the release written in format fmt
 * (format.h): records (as held), JSON Lines, or CSV with the schema's
 * columns (every leaf, element groups from columns, NULL: the defaults;
 * the fields the rule redacted are empty cells). The held release is
 * converted before anything is written or logged: a record with more
 * elements than its columns (DMVF_ETOOBIG) leaves nothing and the item
 * pending. A held record of 0 bytes (every field redacted) is the empty
 * DriverRecord. A release of no record is empty in every format.
 * @return  as dmvf_review_approve; DMVF_EINVAL also for a bad fmt or
 *          columns->elements; DMVF_ETOOBIG (above). */
DMVF_API int dmvf_review_approve_as(const char *spool, const char *id, const char *secret_key_path,
                                    const char *passphrase, const char *reviewer, const char *note,
                                    const char *out_path, dmvf_format fmt,
                                    const dmvf_columns_options *columns, dmvf_audit *a,
                                    const dmvf_keyring *kr, uint64_t *records, dmvf_error *err);

/* Denies item id: nothing is released. Checks the item is the filter's
 * (signed, by pub: above), opens it with the reviewer secret key (only a
 * reviewer decides, and the .meta is checked against the body as for
 * approve), audits DMVF_AUDIT_REVIEW_DENY when a is not NULL (request,
 * rule, policy id, review id, reviewer, note, ref), then marks ID.denied.
 * No REVIEW_HOLD entry is needed (nothing leaves).
 * @return  the returns of dmvf_review_approve (without *records; no audit
 *          log is no error).
 * Threads: thread-safe, but a belongs to its thread (audit.h).
 * NULL:    spool, id, pub, secret_key_path and reviewer abort; passphrase
 *          NULL: an unsealed key file; note NULL: none; a NULL: not
 *          audited; err may be NULL.
 * Owns:    nothing is kept; a is only used during the call. */
DMVF_API int dmvf_review_deny(const char *spool, const char *id, const uint8_t pub[32],
                              const char *secret_key_path, const char *passphrase,
                              const char *reviewer, const char *note, dmvf_audit *a,
                              dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
