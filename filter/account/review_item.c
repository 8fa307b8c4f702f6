/*
 * review_item.c - one item of the review spool: sealed, signed and written
 * when a request is held, opened and checked when a reviewer lists, shows
 * or decides it.
 *
 *   ID.sealed  crypto_box_seal(packed ReviewBody) to the reviewer public
 *              key (keys/review_keys.c: ephemeral pk (32) || box (len + 16))
 *   ID.meta    packed ReviewMeta, in clear: review id, time, request, rule,
 *              policy id, REQUEST seq, records, reviewer public key, and
 *              what makes it the filter's own:
 *                sealed_digest      BLAKE2b-256(ID.sealed's bytes)
 *                signer_public_key  the keyring's Ed25519 public key
 *                signature          dmvf__sign(keyring, "dmvf-review-item-v1",
 *                                     ReviewMeta packed with signature empty)
 *
 * crypto_box_seal is anonymous: anyone with the reviewers' public key can
 * seal a body. The signature is what only the filter (the keyring's
 * holder) can make, so an item is the filter's when its meta verifies
 * under the DMV's public key and ID.sealed hashes to the digest it signs:
 * a planted item (unsigned or signed with another key), a meta edited in
 * any field and a body swapped or re-sealed are each refused (DMVF_ETAMPER,
 * naming the check), before the reviewer key is even loaded.
 *
 * Written: the body packed and sealed, ID.sealed created, then ID.meta
 * signed and created (review_spool.c creates each whole); a failure after
 * ID.sealed removes it. Opened: ID.meta first (an item without one does
 * not exist), naming its own id, its signature checked; ID.sealed opened
 * (and flock'd, for a decision), the decision marker read; the secret key
 * must be the one the meta names; ID.sealed must hash to the signed
 * digest, unseal, decode, name the same id and carry the same request
 * (packed alike) and record count as the meta, else DMVF_ETAMPER.
 *
 * The opened body (records of real people) is kept in memory wiped on free
 * (a protobuf-c allocator that zeroes every block it frees), as is the
 * plain body while it is sealed or opened. Key bytes are handled in
 * keys/ only (review_keys.c, sign.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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

int dmvf__review_same_request(const Dmv__V1__Request *a, const Dmv__V1__Request *b)
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

/* m packed with its signature empty: what the signature covers. malloc'd
 * into *out; -1 on no memory. */
static int signed_bytes(const Dmv__V1__ReviewMeta *m, uint8_t **out, size_t *n)
{
    Dmv__V1__ReviewMeta c = *m;
    c.signature.data = NULL;
    c.signature.len = 0;
    *n = dmv__v1__review_meta__get_packed_size(&c);
    *out = malloc(*n ? *n : 1);
    if (!*out)
        return -1;
    dmv__v1__review_meta__pack(&c, *out);
    return 0;
}

/* Sets meta's digest of sealed[0..n), signer and signature (kr). */
static int sign_meta(const dmvf_keyring *kr, Dmv__V1__ReviewMeta *meta, const uint8_t *sealed,
                     size_t n, uint8_t digest[DMVF__REVIEW_DIGEST_LEN],
                     uint8_t signer[DMVF__REVIEW_PUB_LEN], uint8_t sig[DMVF__REVIEW_SIG_LEN])
{
    crypto_generichash(digest, DMVF__REVIEW_DIGEST_LEN, sealed, n, NULL, 0);
    dmvf_keyring_public_key(kr, signer);
    meta->sealed_digest.data = digest;
    meta->sealed_digest.len = DMVF__REVIEW_DIGEST_LEN;
    meta->signer_public_key.data = signer;
    meta->signer_public_key.len = DMVF__REVIEW_PUB_LEN;
    meta->signature.data = NULL;
    meta->signature.len = 0;
    uint8_t *msg;
    size_t mlen;
    if (signed_bytes(meta, &msg, &mlen) != 0)
        return -1;
    dmvf__sign(kr, DMVF__REVIEW_ITEM_CTX, msg, mlen, sig);
    free(msg);
    meta->signature.data = sig;
    meta->signature.len = DMVF__REVIEW_SIG_LEN;
    return 0;
}

int dmvf__review_item_write(const char *spool, const char *id, const dmvf_keyring *kr,
                            const uint8_t *pk, const char *pk_path,
                            const Dmv__V1__ReviewBody *body, Dmv__V1__ReviewMeta *meta,
                            dmvf_error *err)
{
    uint8_t *plain = NULL, *sealed = NULL, *metabuf = NULL;
    uint8_t digest[DMVF__REVIEW_DIGEST_LEN], signer[DMVF__REVIEW_PUB_LEN];
    uint8_t sig[DMVF__REVIEW_SIG_LEN];
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
    if (sign_meta(kr, meta, sealed, sealed_len, digest, signer, sig) != 0) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory signing a request for review");
        goto done;
    }
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

/* A short hex prefix of key k, for messages. */
static void key_prefix(char out[17], const uint8_t *k)
{
    dmvf__hex_encode(out, k, 8);
}

int dmvf__review_meta_load(const char *spool, const char *id, const uint8_t pub[32],
                           Dmv__V1__ReviewMeta **meta, char *mpath, int *missing,
                           dmvf_error *err)
{
    uint8_t *mbuf = NULL, *msg = NULL;
    size_t mlen = 0;
    int rc;
    *meta = NULL;
    *missing = 0;
    if ((rc = dmvf__review_path(mpath, spool, id, "meta", err)) != DMVF_OK)
        return rc;
    rc = dmvf__review_file_read(mpath, DMVF__REVIEW_META_MAX, &mbuf, &mlen, missing, err);
    if (rc != DMVF_OK)
        return rc;
    Dmv__V1__ReviewMeta *m = dmv__v1__review_meta__unpack(NULL, mlen, mbuf);
    free(mbuf);
    if (!m)
        return dmvf__seterr(err, DMVF_ETAMPER, "%s does not decode as a ReviewMeta (damaged)",
                            mpath);
    if (strcmp(m->review_id, id) != 0) {
        char shown[80];
        dmvf__escape_copy(shown, sizeof shown, m->review_id);
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s names review id '%s', not its own: the spool was altered", mpath,
                          shown);
        goto fail;
    }
    if (m->signature.len == 0 && m->signer_public_key.len == 0 && m->sealed_digest.len == 0) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s is not signed: the filter signs every item it holds, so this one "
                          "was not written by it (planted in the spool?)", mpath);
        goto fail;
    }
    if (m->signature.len != DMVF__REVIEW_SIG_LEN || m->signer_public_key.len != DMVF__REVIEW_PUB_LEN ||
        m->sealed_digest.len != DMVF__REVIEW_DIGEST_LEN) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s: its signature, signer key or body digest is %zu, %zu, %zu bytes, "
                          "not %u, %u, %u: the spool was altered", mpath, m->signature.len,
                          m->signer_public_key.len, m->sealed_digest.len, DMVF__REVIEW_SIG_LEN,
                          DMVF__REVIEW_PUB_LEN, DMVF__REVIEW_DIGEST_LEN);
        goto fail;
    }
    if (memcmp(m->signer_public_key.data, pub, DMVF__REVIEW_PUB_LEN) != 0) {
        char have[17], want[17];
        key_prefix(have, m->signer_public_key.data);
        key_prefix(want, pub);
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s is signed with key %s..., not with the DMV's key %s...: it was made "
                          "with another keyring", mpath, have, want);
        goto fail;
    }
    if (signed_bytes(m, &msg, &mlen) != 0) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory checking %s", mpath);
        goto fail;
    }
    int bad = dmvf__sign_verify(pub, DMVF__REVIEW_ITEM_CTX, msg, mlen, m->signature.data);
    free(msg);
    if (bad) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s: its signature does not verify under the DMV's key: the meta (the "
                          "request, rule, policy id, REQUEST seq, records or body digest) was "
                          "altered after the filter signed it, or forged", mpath);
        goto fail;
    }
    *meta = m;
    return DMVF_OK;
fail:
    dmv__v1__review_meta__free_unpacked(m, NULL);
    return rc;
}

static int digest_differs(const Dmv__V1__ReviewMeta *m, const char *spath,
                          const uint8_t got[DMVF__REVIEW_DIGEST_LEN], dmvf_error *err)
{
    if (sodium_memcmp(got, m->sealed_digest.data, DMVF__REVIEW_DIGEST_LEN) == 0)
        return DMVF_OK;
    return dmvf__seterr(err, DMVF_ETAMPER,
                        "%s is not the body of review item %s that the filter sealed (its "
                        "BLAKE2b digest is not the signed one): it was replaced or altered",
                        spath, m->review_id);
}

int dmvf__review_sealed_check(const Dmv__V1__ReviewMeta *m, const uint8_t *sealed, size_t n,
                              const char *spath, dmvf_error *err)
{
    uint8_t got[DMVF__REVIEW_DIGEST_LEN];
    crypto_generichash(got, sizeof got, sealed, n, NULL, 0);
    return digest_differs(m, spath, got, err);
}

int dmvf__review_sealed_check_file(const Dmv__V1__ReviewMeta *m, const char *spool,
                                   const char *id, dmvf_error *err)
{
    char spath[DMVF__REVIEW_PATH_CAP];
    int rc = dmvf__review_path(spath, spool, id, "sealed", err);
    if (rc != DMVF_OK)
        return rc;
    int fd = open(spath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT
                   ? dmvf__seterr(err, DMVF_ETAMPER, "review item %s has a .meta but no %s", id,
                                  spath)
                   : dmvf__seterr(err, DMVF_EIO, "%s cannot be opened: %s", spath, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = dmvf__seterr(err, DMVF_EIO, "%s cannot be examined: %s", spath, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s is not a regular file", spath);
        goto done;
    }
    if ((uint64_t)st.st_size > DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD) {
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s is %jd bytes, more than the review spool ever writes (%zu)", spath,
                          (intmax_t)st.st_size, DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD);
        goto done;
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, DMVF__REVIEW_DIGEST_LEN);
    uint8_t buf[16384];
    uint64_t total = 0;
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = dmvf__seterr(err, DMVF_EIO, "%s cannot be read: %s", spath, strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        total += (uint64_t)got;
        if (total > DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD) {
            rc = dmvf__seterr(err, DMVF_ETAMPER, "%s grew past what the review spool ever writes",
                              spath);
            goto done;
        }
        crypto_generichash_update(&h, buf, (size_t)got);
    }
    uint8_t digest[DMVF__REVIEW_DIGEST_LEN];
    crypto_generichash_final(&h, digest, sizeof digest);
    rc = digest_differs(m, spath, digest, err);
done:
    close(fd);
    return rc;
}

int dmvf__review_item_open(const char *spool, const char *id, const uint8_t pub[32],
                           const char *sk_path, const char *pass, int flags,
                           dmvf__review_item *it, dmvf_error *err)
{
    char spath[DMVF__REVIEW_PATH_CAP], mpath[DMVF__REVIEW_PATH_CAP];
    uint8_t *sbuf = NULL, *plain = NULL;
    size_t slen = 0, plain_len = 0;
    dmvf__review_key *k = NULL;
    int rc, missing = 0;

    memset(it, 0, sizeof *it);
    it->fd = -1;
    if (!dmvf__review_id_valid(id))
        return dmvf__review_id_bad(id, err);
    memcpy(it->id, id, DMVF_REVIEW_ID_LEN + 1);
    if ((rc = dmvf__review_path(spath, spool, id, "sealed", err)) != DMVF_OK)
        return rc;

    /* the .meta first: an item without one does not exist; one the filter
     * did not sign is refused before anything else is read */
    rc = dmvf__review_meta_load(spool, id, pub, &it->meta, mpath, &missing, err);
    if (rc != DMVF_OK && missing)
        return dmvf__seterr(err, DMVF_EINVAL, "no review item %s in spool %s", id, spool);
    if (rc != DMVF_OK)
        return rc;
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

    /* the sealed body: the one the filter signed? */
    rc = dmvf__review_fd_read(it->fd, spath, DMVF_REVIEW_MAX_BODY + DMVF__REVIEW_SEAL_OVERHEAD,
                              &sbuf, &slen, err);
    if (rc != DMVF_OK)
        goto fail;
    if ((rc = dmvf__review_sealed_check(it->meta, sbuf, slen, spath, err)) != DMVF_OK)
        goto fail;
    if (slen < DMVF__REVIEW_SEAL_OVERHEAD) {
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%s is truncated (%zu bytes)", spath, slen);
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

    /* the body */
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
    int same = dmvf__review_same_request(it->meta->request, it->body->request);
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
