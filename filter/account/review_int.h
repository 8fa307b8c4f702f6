/*
 * review_int.h - the review spool as the review queue's files share it:
 * its files (review_spool.c, which draws the spool), an item sealed,
 * signed and written or opened and checked (review_item.c), an item
 * checked against its REVIEW_HOLD audit entry (review_audit.c), and the
 * record dump of `show --records` (review_dump.c). The decisions are
 * review_hold.c, review_list.c, review_show.c and review_decide.c.
 */
#ifndef DMVF_REVIEW_INT_H
#define DMVF_REVIEW_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "dmv/v1/audit.pb-c.h"
#include "keys/keys.h"

#define DMVF__REVIEW_PATH_CAP 4096
#define DMVF__REVIEW_META_MAX ((size_t)1 << 20)
#define DMVF__REVIEW_MARK_MAX 4096

/* s, or "" for NULL. */
static inline const char *dmvf__review_nz(const char *s)
{
    return s ? s : "";
}

/* ns as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static inline char *dmvf__review_time(uint64_t ns, char buf[DMVF__TIME_CAP])
{
    return dmvf__time_format(ns / 1000000000u, 0, DMVF__TIME_WHOLE, buf);
}

/* ---- the spool's files (review_spool.c) ---- */

/* An item's state, by its decision marker; "damaged": listed only. */
enum { DMVF__REVIEW_PENDING = 0, DMVF__REVIEW_APPROVED, DMVF__REVIEW_DENIED,
       DMVF__REVIEW_DAMAGED };
extern const char *const dmvf__review_state_names[4];

/* 1 when id is DMVF_REVIEW_ID_LEN lowercase hex digits. */
int dmvf__review_id_valid(const char *id);
/* DMVF_EINVAL, naming id (escaped). */
int dmvf__review_id_bad(const char *id, dmvf_error *err);
/* buf (DMVF__REVIEW_PATH_CAP bytes) := SPOOL/ID.EXT; DMVF_EINVAL when too
 * long. */
int dmvf__review_path(char *buf, const char *spool, const char *id, const char *ext,
                      dmvf_error *err);
/* Creates the spool directory (0700) unless it is there. */
int dmvf__review_spool_ensure(const char *spool, dmvf_error *err);
/* Creates target whole (core/fileio.h), mode 0600, never replacing a
 * file: *exists is set when target was there already. */
int dmvf__review_file_create(const char *target, const void *data, size_t len, const char *what,
                             int *exists, dmvf_error *err);
/* Reads a whole small file of the spool (at most max bytes; more is
 * DMVF_ETAMPER, the spool never holds such a file; so is one that is not
 * a regular file): malloc'd into *out. *missing is set (and DMVF_EIO
 * returned) when it does not exist. */
int dmvf__review_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len,
                           int *missing, dmvf_error *err);
/* The same for the file open at fd (named path). */
int dmvf__review_fd_read(int fd, const char *path, size_t max, uint8_t **out, size_t *out_len,
                         dmvf_error *err);
/* The decision marker of item id, if any: *state, and its line (without
 * its end) in mark; "" while pending. */
int dmvf__review_state_read(const char *spool, const char *id, int *state,
                            char mark[DMVF__REVIEW_MARK_MAX], dmvf_error *err);
/* Writes the decision marker (state APPROVED or DENIED), never replacing
 * one: a second decision is DMVF_EINVAL. */
int dmvf__review_mark(const char *spool, const char *id, int state, const char *reviewer,
                      const char *note, dmvf_error *err);

/* ---- an item (review_item.c) ---- */

/* What the filter signs an item's meta under (keys/sign.c's dmvf__sign),
 * and the sizes of what the meta carries for it. */
#define DMVF__REVIEW_ITEM_CTX "dmvf-review-item-v1"
#define DMVF__REVIEW_DIGEST_LEN 32u   /* BLAKE2b-256 of ID.sealed */
#define DMVF__REVIEW_SIG_LEN 64u      /* Ed25519 */
#define DMVF__REVIEW_PUB_LEN 32u      /* the keyring's Ed25519 public key */

/* Seals body to the reviewer key pk (named pk_path in messages) and writes
 * SPOOL/ID.sealed, then, its time_ns, sealed_digest, signer_public_key and
 * signature set (signed with kr), meta as SPOOL/ID.meta; on a failure
 * after the first no file is left. */
int dmvf__review_item_write(const char *spool, const char *id, const dmvf_keyring *kr,
                            const uint8_t *pk, const char *pk_path,
                            const Dmv__V1__ReviewBody *body, Dmv__V1__ReviewMeta *meta,
                            dmvf_error *err);

/* 1 when the two requests pack to the same bytes (both NULL included), 0
 * when not, -1 on no memory. */
int dmvf__review_same_request(const Dmv__V1__Request *a, const Dmv__V1__Request *b);

/* Reads SPOOL/ID.meta (its path into mpath, DMVF__REVIEW_PATH_CAP bytes),
 * decodes it into *meta and checks it is the filter's: it names id, and it
 * carries a signature by pub (the DMV's public key) over its contents.
 * DMVF_OK; DMVF_EIO with *missing set when there is no such file; else
 * DMVF_ETAMPER saying which check failed (does not decode, names another
 * item, not signed, signed with another key, the signature does not
 * verify), DMVF_EIO, DMVF_ENOMEM, with *meta NULL. */
int dmvf__review_meta_load(const char *spool, const char *id, const uint8_t pub[32],
                           Dmv__V1__ReviewMeta **meta, char *mpath, int *missing,
                           dmvf_error *err);
/* Whether sealed[0..n) (ID.sealed, at spath) is the body the signed meta m
 * names: DMVF_OK, or DMVF_ETAMPER. */
int dmvf__review_sealed_check(const Dmv__V1__ReviewMeta *m, const uint8_t *sealed, size_t n,
                              const char *spath, dmvf_error *err);
/* The same, reading SPOOL/ID.sealed in bounded steps (list: no key, the
 * body is never held whole). DMVF_ETAMPER also when it is missing, not a
 * regular file or larger than any hold writes. */
int dmvf__review_sealed_check_file(const Dmv__V1__ReviewMeta *m, const char *spool,
                                   const char *id, dmvf_error *err);

typedef struct dmvf__review_item {
    char id[DMVF_REVIEW_ID_LEN + 1];
    Dmv__V1__ReviewMeta *meta;
    Dmv__V1__ReviewBody *body;  /* wiping allocator */
    int state;
    char mark[DMVF__REVIEW_MARK_MAX];   /* the decision line, "" while pending */
    int fd;                     /* ID.sealed, flocked when asked; -1 */
} dmvf__review_item;

#define DMVF__REVIEW_OPEN_LOCK 1      /* flock ID.sealed (approve, deny) */
#define DMVF__REVIEW_OPEN_PENDING 2   /* refuse a decided item */

/* Opens item id: its meta (dmvf__review_meta_load: signed by pub), its
 * state, its ID.sealed (the one the meta's digest names), its body
 * unsealed with the reviewer's secret key and checked against the meta.
 * Close it with _item_close (also after a failure). */
int dmvf__review_item_open(const char *spool, const char *id, const uint8_t pub[32],
                           const char *sk_path, const char *pass, int flags,
                           dmvf__review_item *it, dmvf_error *err);
void dmvf__review_item_close(dmvf__review_item *it);

/* ---- the item against the audit log (review_audit.c) ---- */

/* Before an approval: the log a (whole, verified with kr) holds exactly
 * one REVIEW_HOLD entry for it->id, and it says what the item says (the
 * request, rule, policy id, records, the REQUEST entry's seq), that
 * REQUEST entry exists with the same request, and no decision on the item
 * is logged yet. DMVF_OK; DMVF_ETAMPER saying what differs; the log's
 * errors (DMVF_EIO, DMVF_EMALFORMED, DMVF_ENOMEM). */
int dmvf__review_hold_check(dmvf_audit *a, const dmvf_keyring *kr, const dmvf__review_item *it,
                            dmvf_error *err);

/* ---- show --records (review_dump.c) ---- */

/* Every record of a held release, one "record N:" block of path: value
 * lines each. DMVF_ETAMPER (the stream is cut; spath names it),
 * DMVF_ENOMEM. */
int dmvf__review_dump_records(FILE *out, const ProtobufCBinaryData *rel, const char *spath,
                              dmvf_error *err);

#endif
