/*
 * sign.c - signatures and MACs under the keyring's long-term keys: the audit
 * chain (BLAKE2b-256 keyed with the audit key), subject hashes (BLAKE2b-128
 * keyed with a key derived from the audit key), Ed25519 signatures of
 * checkpoints, releases and review spool items, and the signing key's
 * public key file (public_file.c).
 *
 * Every signature is over a domain-separated message: the context string
 * with its NUL byte, then the message bytes, so that a signature made for
 * one purpose (a checkpoint) can never be presented as another (a release).
 * Ed25519 signs the BLAKE2b-512 digest of ctx || NUL || msg: messages can be
 * large (a release digest is small, but callers may pass anything) and are
 * never concatenated in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "keys/keyfile_int.h"
#include "keys/keyring_int.h"

#define PUB_PREFIX "dmvfilter-ed25519 "

static void prehash(const char *ctx, const uint8_t *msg, size_t n, uint8_t h[64])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 64);
    crypto_generichash_update(&st, (const uint8_t *)ctx, strlen(ctx) + 1);
    if (n)
        crypto_generichash_update(&st, msg, n);
    crypto_generichash_final(&st, h, 64);
}

void dmvf__audit_chain(const dmvf_keyring *kr, const uint8_t prev[32], const uint8_t *item,
                       size_t n, uint8_t out[32])
{
    DMVF_REQUIRE(kr != NULL, "keyring is NULL");
    static const char ctx[] = "dmvf-audit-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, kr->audit_key, sizeof kr->audit_key, 32);
    crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof ctx);
    crypto_generichash_update(&st, prev, 32);
    if (n)
        crypto_generichash_update(&st, item, n);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof st);
}

void dmvf_keyring_subject_hash(const dmvf_keyring *k, const void *id, size_t len, uint8_t out[16])
{
    DMVF_REQUIRE(k != NULL, "keyring is NULL");
    static const char ctx[] = "dmvf-subject-v1";
    uint8_t sk[32];
    crypto_generichash(sk, sizeof sk, (const uint8_t *)ctx, sizeof ctx, k->audit_key, sizeof k->audit_key);
    crypto_generichash(out, 16, id, len, sk, sizeof sk);
    sodium_memzero(sk, sizeof sk);
}

void dmvf__sign(const dmvf_keyring *kr, const char *ctx, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    DMVF_REQUIRE(kr != NULL, "keyring is NULL");
    uint8_t h[64];
    prehash(ctx, msg, n, h);
    crypto_sign_ed25519_detached(sig, NULL, h, sizeof h, kr->sign_sk);
}

int dmvf__sign_verify(const uint8_t pub[32], const char *ctx, const uint8_t *msg, size_t n,
                      const uint8_t sig[64])
{
    uint8_t h[64];
    prehash(ctx, msg, n, h);
    return crypto_sign_ed25519_verify_detached(sig, h, sizeof h, pub) == 0 ? 0 : -1;
}

void dmvf_keyring_public_key(const dmvf_keyring *k, uint8_t out[32])
{
    DMVF_REQUIRE(k != NULL, "keyring is NULL");
    memcpy(out, k->sign_pk, 32);
}

int dmvf_public_key_write(const char *path, const uint8_t pub[32], dmvf_error *err)
{
    DMVF_REQUIRE(path != NULL, "path is NULL");
    char line[DMVF__PUBLIC_LINE_MAX];
    size_t len = dmvf__public_line(line, PUB_PREFIX, pub);
    int fd = strcmp(path, "-") == 0 ? STDOUT_FILENO
                                    : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot create: %s", path, strerror(errno));
    if (dmvf__write_all(fd, line, len) != 0) {
        int e = errno;
        if (fd != STDOUT_FILENO) {
            close(fd);
            unlink(path);
        }
        return dmvf__seterr(err, DMVF_EIO, "%s: write failed: %s", path, strerror(e));
    }
    if (fd != STDOUT_FILENO && (fsync(fd) != 0 || close(fd) != 0)) {
        int e = errno;
        unlink(path);
        return dmvf__seterr(err, DMVF_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return DMVF_OK;
}

int dmvf_public_key_read(const char *path, uint8_t pub[32], dmvf_error *err)
{
    DMVF_REQUIRE(path != NULL, "path is NULL");
    switch (dmvf__public_read(path, PUB_PREFIX, pub)) {
    case DMVF__PUBLIC_OK:
        return DMVF_OK;
    case DMVF__PUBLIC_OPEN:
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open: %s", path, strerror(errno));
    case DMVF__PUBLIC_READ:
        return dmvf__seterr(err, DMVF_EIO, "%s: read failed", path);
    case DMVF__PUBLIC_NOTKEY:
        return dmvf__seterr(err, DMVF_EINVAL, "%s: not a dmvfilter public key (expected a line "
                            "'" PUB_PREFIX "<64 hex digits>')", path);
    default:
        return dmvf__seterr(err, DMVF_EINVAL, "%s: the public key must be 64 hex digits", path);
    }
}
