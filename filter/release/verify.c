/*
 * release_verify.c - checks a signed framed release with the public key
 * alone (the writer is framed.c; the contract is in verify.h).
 *
 *   release := frame* seal-frame            nothing after the seal
 *   frame   := varint(L) key varint(B) body   L = 1 + size(varint(B)) + B,
 *                                             both varints minimal
 *   key     := 0x12 record  | 0x1a trailer | 0x22 seal
 *              (0x0a, a request frame, never belongs to a release)
 *
 *   byte:   0                                                    len
 *           [L|12|B|record][L|1a|B|trailer ....][L|22|B|seal ....]
 *           \________________/ = trailer.digest (BLAKE2b-256)
 *           \__________________________________/ = seal.digest
 *
 * The verifier keeps the running BLAKE2b-256 state over every byte, as the
 * writer did. When a trailer or seal frame's header (L, key, B) is complete,
 * the state's copy is finalized: the digest of everything before the frame.
 * The frame's body is gathered (at most DMVF_RELEASE_MAX_META bytes), must
 * be in protobuf-c's canonical encoding (unpack, pack again, compare: so a
 * re-encoded trailer or seal cannot verify), and is checked:
 *   trailer: digest == H, records_out == the record frames since the last
 *            trailer, signature verifies ("dmvf-trailer-v1", the Trailer
 *            packed with signature empty) under pub
 *   seal:    public_key == pub, digest == H, requests == trailers seen, no
 *            record frames since the last trailer, signature verifies
 *            ("dmvf-seal-v1")
 * A record frame's body is only hashed (the digests cover it). Memory is
 * bounded: the header (at most 21 bytes) and one trailer or seal body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/pballoc.h"
#include "filter/core/text.h"
#include "filter/core/varint.h"
#include "keys/keys.h"
#include "dmv/v1/request.pb-c.h"

#define KEY_REQUEST 0x0au
#define KEY_RECORD 0x12u
#define KEY_TRAILER 0x1au
#define KEY_SEAL 0x22u
#define DIGEST_LEN 32u
#define HEAD_MAX 21u     /* varint(L) 10 + key 1 + varint(B) 10 */

enum { PH_HEAD, PH_BODY, PH_SEALED };

struct dmvf_release_verifier {
    uint8_t pub[DMVF_PUBLIC_KEY_LEN];
    crypto_generichash_state hs;    /* every byte so far */
    uint64_t offset;                /* bytes taken */
    uint64_t frame;                 /* index of the current frame */
    uint64_t frame_at;              /* its first byte's offset */
    int phase;
    uint8_t head[HEAD_MAX];
    size_t head_len;
    uint8_t key;                    /* the current frame's body key */
    uint64_t left;                  /* body bytes still to come */
    uint8_t *meta;                  /* a trailer or seal body being gathered */
    size_t meta_len, meta_cap;
    uint8_t before[DIGEST_LEN];     /* digest of everything before the frame */
    uint64_t trailers;              /* trailers verified */
    uint64_t records;               /* record frames since the last trailer */
    int sticky;                     /* the first error's code, 0 if none */
    dmvf_error first;               /* and its error */
};

/* Fails the verifier at the current frame: "frame N at byte offset X: why". */
static int vfail(dmvf_release_verifier *v, dmvf_error *err, int code, const char *fmt, ...)
    DMVF_PRINTF(4, 5);
static int vfail(dmvf_release_verifier *v, dmvf_error *err, int code, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dmvf__seterr(&v->first, code, "frame %llu at byte offset %llu: %s", (unsigned long long)v->frame,
                 (unsigned long long)v->frame_at, why);
    v->first.offset = v->frame_at;
    v->first.record = v->frame;
    v->sticky = code;
    if (err)
        *err = v->first;
    return code;
}

static int again(const dmvf_release_verifier *v, dmvf_error *err)
{
    if (err)
        *err = v->first;
    return v->sticky;
}

dmvf_release_verifier *dmvf_release_verifier_create(const uint8_t pub[32], dmvf_error *err)
{
    DMVF_REQUIRE(pub != NULL, "public key is NULL");
    if (sodium_init() < 0) {
        dmvf__seterr(err, DMVF_ENOMEM, "libsodium failed to initialize");
        return NULL;
    }
    dmvf_release_verifier *v = calloc(1, sizeof *v);
    if (!v) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a release verifier");
        return NULL;
    }
    memcpy(v->pub, pub, sizeof v->pub);
    crypto_generichash_init(&v->hs, NULL, 0, DIGEST_LEN);
    v->phase = PH_HEAD;
    return v;
}

int dmvf_release_verifier_last_error(const dmvf_release_verifier *v, dmvf_error *out)
{
    DMVF_REQUIRE(v != NULL, "release verifier is NULL");
    return dmvf__error_get(v->sticky, &v->first, out);
}

void dmvf_release_verifier_free(dmvf_release_verifier *v)
{
    if (!v)
        return;
    free(v->meta);
    free(v);
}

static int check_trailer(dmvf_release_verifier *v, dmvf_error *err)
{
    dmvf__pballoc pa;
    Dmv__V1__Trailer *m =
        dmv__v1__trailer__unpack(dmvf__pballoc_init(&pa, DMVF__PB_PLAIN), v->meta_len, v->meta);
    if (!m)
        return vfail(v, err, pa.oom ? DMVF_ENOMEM : DMVF_EMALFORMED,
                     pa.oom ? "out of memory decoding a trailer" : "trailer does not decode as dmv.v1.Trailer");
    int rc = DMVF_OK;
    char id[128]; /* the request id, for messages: escaped, cut */
    dmvf__escape_copy(id, sizeof id, m->request_id ? m->request_id : "");
    uint8_t *packed = malloc(v->meta_len ? v->meta_len : 1);
    if (!packed) {
        rc = vfail(v, err, DMVF_ENOMEM, "out of memory checking a trailer");
        goto out;
    }
    if (dmv__v1__trailer__get_packed_size(m) != v->meta_len ||
        dmv__v1__trailer__pack(m, packed) != v->meta_len || memcmp(packed, v->meta, v->meta_len) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "trailer is not in its canonical encoding (its bytes were changed)");
        goto out;
    }
    if (m->digest.len != DIGEST_LEN || m->signature.len != DMVF_SIGNATURE_LEN) {
        rc = vfail(v, err, DMVF_ETAMPER, "trailer of request '%s' is not signed (digest %zu bytes, "
                   "signature %zu bytes)", id, m->digest.len, m->signature.len);
        goto out;
    }
    if (sodium_memcmp(m->digest.data, v->before, DIGEST_LEN) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "trailer of request '%s': the digest does not match the "
                   "bytes before it (bytes changed, missing, inserted or reordered)", id);
        goto out;
    }
    if (m->records_out != v->records) {
        rc = vfail(v, err, DMVF_ETAMPER, "trailer of request '%s' counts %llu records out, but %llu "
                   "record frames precede it", id, (unsigned long long)m->records_out,
                   (unsigned long long)v->records);
        goto out;
    }
    uint8_t sig[DMVF_SIGNATURE_LEN];
    memcpy(sig, m->signature.data, sizeof sig);
    m->signature.len = 0;
    size_t n = dmv__v1__trailer__pack(m, packed);
    if (dmvf__sign_verify(v->pub, "dmvf-trailer-v1", packed, n, sig) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "trailer of request '%s': the signature does not verify "
                   "under the given public key", id);
        goto out;
    }
    v->trailers++;
    v->records = 0;
out:
    free(packed);
    dmv__v1__trailer__free_unpacked(m, &pa.pb);
    return rc;
}

static int check_seal(dmvf_release_verifier *v, dmvf_error *err)
{
    dmvf__pballoc pa;
    Dmv__V1__Seal *m =
        dmv__v1__seal__unpack(dmvf__pballoc_init(&pa, DMVF__PB_PLAIN), v->meta_len, v->meta);
    if (!m)
        return vfail(v, err, pa.oom ? DMVF_ENOMEM : DMVF_EMALFORMED,
                     pa.oom ? "out of memory decoding the seal" : "seal does not decode as dmv.v1.Seal");
    int rc = DMVF_OK;
    uint8_t packed[256];
    if (v->meta_len > sizeof packed || dmv__v1__seal__get_packed_size(m) != v->meta_len ||
        dmv__v1__seal__pack(m, packed) != v->meta_len || memcmp(packed, v->meta, v->meta_len) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "seal is not in its canonical encoding (its bytes were changed)");
        goto out;
    }
    if (m->public_key.len != DMVF_PUBLIC_KEY_LEN || m->digest.len != DIGEST_LEN ||
        m->signature.len != DMVF_SIGNATURE_LEN) {
        rc = vfail(v, err, DMVF_ETAMPER, "seal is incomplete (public key %zu, digest %zu, signature "
                   "%zu bytes)", m->public_key.len, m->digest.len, m->signature.len);
        goto out;
    }
    if (sodium_memcmp(m->public_key.data, v->pub, DMVF_PUBLIC_KEY_LEN) != 0) {
        char got[17], want[17];
        dmvf__hex_encode(got, m->public_key.data, 8);
        dmvf__hex_encode(want, v->pub, 8);
        rc = vfail(v, err, DMVF_ETAMPER, "the seal names public key %s..., not the given %s...",
                   got, want);
        goto out;
    }
    if (sodium_memcmp(m->digest.data, v->before, DIGEST_LEN) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "seal: the digest does not match the bytes before it (bytes "
                   "changed, missing, inserted or reordered)");
        goto out;
    }
    if (v->records) {
        rc = vfail(v, err, DMVF_ETAMPER, "%llu record frames follow the last trailer",
                   (unsigned long long)v->records);
        goto out;
    }
    if (m->requests != v->trailers) {
        rc = vfail(v, err, DMVF_ETAMPER, "the seal counts %llu requests, the release has %llu trailers",
                   (unsigned long long)m->requests, (unsigned long long)v->trailers);
        goto out;
    }
    uint8_t sig[DMVF_SIGNATURE_LEN];
    memcpy(sig, m->signature.data, sizeof sig);
    m->signature.len = 0;
    size_t n = dmv__v1__seal__pack(m, packed);
    if (dmvf__sign_verify(v->pub, "dmvf-seal-v1", packed, n, sig) != 0) {
        rc = vfail(v, err, DMVF_ETAMPER, "seal: the signature does not verify under the given public key");
        goto out;
    }
    v->phase = PH_SEALED;
out:
    dmv__v1__seal__free_unpacked(m, &pa.pb);
    return rc;
}

/* One more header byte is in head[]: 1 when the header is complete (key,
 * left set), 0 when more bytes are needed, or an error code (negative is
 * never returned: errors are > 1 here, DMVF_EMALFORMED and DMVF_ETAMPER). */
static int parse_head(dmvf_release_verifier *v, dmvf_error *err)
{
    uint64_t flen, blen;
    size_t pre, pre2;
    int r = dmvf__varint_prefix(v->head, v->head_len, &flen, &pre);
    if (r < 0)
        return vfail(v, err, DMVF_EMALFORMED, "the length prefix runs past 10 bytes");
    if (r == 0)
        return 0;
    if (pre != dmvf__varint_size(flen))
        return vfail(v, err, DMVF_ETAMPER, "the length prefix is not minimal (re-encoded)");
    if (flen < 2)
        return vfail(v, err, DMVF_EMALFORMED, "a frame of %llu bytes cannot hold a body",
                     (unsigned long long)flen);
    if (v->head_len == pre)
        return 0;
    uint8_t key = v->head[pre];
    if (key == KEY_REQUEST)
        return vfail(v, err, DMVF_ETAMPER, "a request frame (field key 0x0a): requests are input, never "
                     "part of a signed release (records-format output, which is not signed, "
                     "looks like this too)");
    if (key != KEY_RECORD && key != KEY_TRAILER && key != KEY_SEAL)
        return vfail(v, err, DMVF_EMALFORMED, "not a release frame (field key 0x%02x; expected a "
                     "record 0x12, trailer 0x1a or seal 0x22)", key);
    size_t have = v->head_len - pre - 1;
    if (have > flen - 1)
        return vfail(v, err, DMVF_EMALFORMED, "the body's length prefix runs past the frame");
    r = dmvf__varint_prefix(v->head + pre + 1, have, &blen, &pre2);
    if (r < 0)
        return vfail(v, err, DMVF_EMALFORMED, "the body's length prefix runs past 10 bytes");
    if (r == 0)
        return have == flen - 1 ? vfail(v, err, DMVF_EMALFORMED, "the body's length prefix runs past "
                                        "the frame") : 0;
    if (pre2 != dmvf__varint_size(blen))
        return vfail(v, err, DMVF_ETAMPER, "the body's length prefix is not minimal (re-encoded)");
    if (1 + pre2 + blen != flen)
        return vfail(v, err, DMVF_EMALFORMED, "the frame is not exactly one body field (%llu bytes, "
                     "body %llu)", (unsigned long long)flen, (unsigned long long)blen);
    if (key != KEY_RECORD) {
        if (blen > DMVF_RELEASE_MAX_META)
            return vfail(v, err, DMVF_EMALFORMED, "a %s frame of %llu bytes (at most %zu)",
                         key == KEY_SEAL ? "seal" : "trailer", (unsigned long long)blen,
                         DMVF_RELEASE_MAX_META);
        if (!v->meta || blen > v->meta_cap) {
            size_t cap = v->meta_cap ? v->meta_cap : 256;
            while (cap < blen)
                cap *= 2;
            uint8_t *nb = realloc(v->meta, cap);
            if (!nb)
                return vfail(v, err, DMVF_ENOMEM, "out of memory for a %llu-byte frame",
                             (unsigned long long)blen);
            v->meta = nb;
            v->meta_cap = cap;
        }
        v->meta_len = 0;
        crypto_generichash_state copy = v->hs;
        crypto_generichash_final(&copy, v->before, DIGEST_LEN);
    } else {
        v->records++;
    }
    v->key = key;
    v->left = blen;
    return 1;
}

/* The current frame's body is complete. */
static int end_frame(dmvf_release_verifier *v, dmvf_error *err)
{
    int rc = DMVF_OK;
    if (v->key == KEY_TRAILER)
        rc = check_trailer(v, err);
    else if (v->key == KEY_SEAL)
        rc = check_seal(v, err);
    if (rc)
        return rc;
    v->frame++;
    v->frame_at = v->offset;
    v->head_len = 0;
    if (v->phase != PH_SEALED)
        v->phase = PH_HEAD;
    return DMVF_OK;
}

int dmvf_release_verifier_update(dmvf_release_verifier *v, const void *data, size_t len,
                                 dmvf_error *err)
{
    DMVF_REQUIRE(v != NULL, "release verifier is NULL");
    DMVF_REQUIRE(data != NULL || len == 0, "data is NULL");
    if (v->sticky)
        return again(v, err);
    const uint8_t *p = data, *e = p + len;
    while (p < e) {
        if (v->phase == PH_SEALED) {
            v->frame_at = v->offset;
            return vfail(v, err, DMVF_ETAMPER, "%zu bytes follow the seal (the seal must be last)",
                         (size_t)(e - p));
        }
        if (v->phase == PH_HEAD) {
            v->head[v->head_len++] = *p++;
            v->offset++;
            int r = parse_head(v, err);
            if (r > 1)
                return r;
            if (r == 1) {
                crypto_generichash_update(&v->hs, v->head, v->head_len);
                v->phase = PH_BODY;
                if (v->left == 0 && (r = end_frame(v, err)) != DMVF_OK)
                    return r;
            }
            continue;
        }
        size_t k = (size_t)(e - p) < v->left ? (size_t)(e - p) : (size_t)v->left;
        crypto_generichash_update(&v->hs, p, k);
        if (v->key != KEY_RECORD) {
            memcpy(v->meta + v->meta_len, p, k);
            v->meta_len += k;
        }
        p += k;
        v->offset += k;
        v->left -= k;
        if (v->left == 0) {
            int r = end_frame(v, err);
            if (r)
                return r;
        }
    }
    return DMVF_OK;
}

int dmvf_release_verifier_final(dmvf_release_verifier *v, uint64_t *requests, dmvf_error *err)
{
    DMVF_REQUIRE(v != NULL, "release verifier is NULL");
    if (requests)
        *requests = 0;
    if (v->sticky)
        return again(v, err);
    if (v->phase == PH_HEAD && v->head_len == 0)
        return vfail(v, err, DMVF_ETAMPER, "the release ends without a seal (truncated%s)",
                     v->offset ? "" : ": it is empty");
    if (v->phase != PH_SEALED)
        return vfail(v, err, DMVF_ETAMPER, "the release ends inside the frame, %llu bytes in "
                     "(truncated)", (unsigned long long)(v->offset - v->frame_at));
    if (requests)
        *requests = v->trailers;
    return DMVF_OK;
}

int dmvf_release_verify(const void *data, size_t len, const uint8_t pub[32], uint64_t *requests,
                        dmvf_error *err)
{
    DMVF_REQUIRE(pub != NULL, "public key is NULL");
    DMVF_REQUIRE(data != NULL || len == 0, "data is NULL");
    if (requests)
        *requests = 0;
    dmvf_release_verifier *v = dmvf_release_verifier_create(pub, err);
    if (!v)
        return err ? err->code : DMVF_ENOMEM;
    int rc = dmvf_release_verifier_update(v, data, len, err);
    if (rc == DMVF_OK)
        rc = dmvf_release_verifier_final(v, requests, err);
    dmvf_release_verifier_free(v);
    return rc;
}
