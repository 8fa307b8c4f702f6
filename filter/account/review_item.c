/*
 * review_item.c - one item of the review spool: sealed and written when a
 * request is held, opened and checked when a reviewer shows or decides it.
 *
 *   ID.sealed  crypto_box_seal(packed ReviewBody) to the reviewer public
 *              key (keys/review_keys.c: ephemeral pk (32) || box (len + 16))
 *   ID.meta    packed ReviewMeta, in clear: review id, time, request, rule,
 *              policy id, REQUEST seq, records, reviewer public key
 *
 * Written: the body packed and sealed, ID.sealed created, then ID.meta
 * (review_spool.c creates each whole); a failure after ID.sealed removes
 * it. Opened: ID.meta first (an item without one does not exist), naming
 * its own id; ID.sealed opened (and flock'd, for a decision), the decision
 * marker read; the secret key must be the one the meta names; the body
 * must unseal, decode, name the same id and carry the same request
 * (packed alike) and record count as the meta, else DMVF_ETAMPER.
 *
 * The opened body (records of real people) is kept in memory wiped on free
 * (a protobuf-c allocator that zeroes every block it frees), as is the
 * plain body while it is sealed or opened. Key bytes are handled in
 * keys/review_keys.c only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "filter/core/pballoc.h"
#include "filter/core/text.h"
#include "filter/account/review_int.h"
#include "keys/keys.h"

static void free_wiped(void *p, size_t n)
{
    if (p) {
        sodium_memzero(p, n);
        free(p);
    }
}

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

int dmvf__review_item_write(const char *spool, const char *id, const uint8_t *pk,
                            const char *pk_path, const Dmv__V1__ReviewBody *body,
                            Dmv__V1__ReviewMeta *meta, dmvf_error *err)
{
    uint8_t *plain = NULL, *sealed = NULL, *metabuf = NULL;
    size_t plain_len = 0, sealed_len = 0;
    char spath[DMVF__REVIEW_PATH_CAP], mpath[DMVF__REVIEW_PATH_CAP];
    int rc, exists = 0, sealed_written = 0;

    plain_len = dmv__v1__review_body__get_packed_size(body);
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
    dmv__v1__review_body__pack(body, plain);
    if (dmvf__review_seal(pk, plain, plain_len, sealed) != 0) {
        rc = dmvf__seterr(err, DMVF_EINVAL, "reviewer public key %s is not a usable X25519 key",
                          pk_path);
        goto done;
    }
    free_wiped(plain, plain_len);
    plain = NULL;

    if ((rc = dmvf__review_path(spath, spool, id, "sealed", err)) != DMVF_OK ||
        (rc = dmvf__review_path(mpath, spool, id, "meta", err)) != DMVF_OK)
        goto done;
    rc = dmvf__review_file_create(spath, sealed, sealed_len, "review item", &exists, err);
    if (rc != DMVF_OK)
        goto done;
    sealed_written = 1;

    meta->time_ns = dmvf__now_ns();
    size_t mlen = dmv__v1__review_meta__get_packed_size(meta);
    metabuf = malloc(mlen ? mlen : 1);
    if (!metabuf) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory holding a request for review");
        goto done;
    }
    dmv__v1__review_meta__pack(meta, metabuf);
    rc = dmvf__review_file_create(mpath, metabuf, mlen, "review item", &exists, err);
    if (rc != DMVF_OK)
        goto done;
    rc = DMVF_OK;
done:
    if (rc != DMVF_OK && sealed_written) {
        unlink(spath);
        (void)dmvf__fsync_parent(spath);
    }
    free_wiped(plain, plain_len);
    free(sealed);
    free(metabuf);
    return rc;
}

void dmvf__review_item_close(dmvf__review_item *it)
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

int dmvf__review_item_open(const char *spool, const char *id, const char *sk_path,
                           const char *pass, int flags, dmvf__review_item *it, dmvf_error *err)
{
    char spath[DMVF__REVIEW_PATH_CAP], mpath[DMVF__REVIEW_PATH_CAP];
    uint8_t *mbuf = NULL, *sbuf = NULL, *plain = NULL;
    size_t mlen = 0, slen = 0, plain_len = 0;
    dmvf__review_key *k = NULL;
    int rc, missing = 0;

    memset(it, 0, sizeof *it);
    it->fd = -1;
    if (!dmvf__review_id_valid(id))
        return dmvf__review_id_bad(id, err);
    memcpy(it->id, id, DMVF_REVIEW_ID_LEN + 1);
    if ((rc = dmvf__review_path(spath, spool, id, "sealed", err)) != DMVF_OK ||
        (rc = dmvf__review_path(mpath, spool, id, "meta", err)) != DMVF_OK)
        return rc;

    /* the .meta first: an item without one does not exist */
    rc = dmvf__review_file_read(mpath, DMVF__REVIEW_META_MAX, &mbuf, &mlen, &missing, err);
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
    if (flags & DMVF__REVIEW_OPEN_LOCK) {
        while (flock(it->fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rc = dmvf__seterr(err, DMVF_EIO, "cannot lock %s: %s", spath, strerror(errno));
                goto fail;
            }
        }
    }
    if ((rc = dmvf__review_state_read(spool, id, &it->state, it->mark, err)) != DMVF_OK)
        goto fail;
    if ((flags & DMVF__REVIEW_OPEN_PENDING) && it->state != DMVF__REVIEW_PENDING) {
        char line[300];
        dmvf__escape_copy(line, sizeof line, it->mark);
        rc = dmvf__seterr(err, DMVF_EINVAL, "review item %s was already %s (%s)", id,
                          dmvf__review_state_names[it->state], line);
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
    rc = dmvf__review_fd_read(it->fd, spath, DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD,
                              &sbuf, &slen, err);
    if (rc != DMVF_OK)
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
    dmvf__review_item_close(it);
    return rc;
}
