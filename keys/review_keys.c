/*
 * review_keys.c - the review queue's reviewer keys: key pair generation,
 * the secret key file (optionally sealed with a passphrase, as a keyring
 * is), and crypto_box_seal / crypto_box_seal_open. The only code that
 * touches reviewer key bytes.
 *
 * Public key file (public_file.c): one line, "dmvfilter-x25519-public " +
 * 64 lowercase hex digits + "\n" (mode 0644).
 *
 * Secret key file (secret_file.c, kind DMVF__SECRET_REVIEW_KEY; mode 0600,
 * refused on load when group or others have any permission bit), at most
 * 4 KiB: "DMVFRK1\n", the seal byte, then the X25519 secret key (32 bytes)
 * or a SealedKeyring holding it.
 *
 * The public key is not stored: it is crypto_scalarmult_base(secret key).
 *
 * Secrets in memory: the file is read and unsealed into secure memory, and
 * the key pair kept in one sodium_malloc block made read-only.
 *
 * Files are created atomically (dmvf__file_create, core/fileio.h): a
 * temporary file beside the target, written, fsync'd, then link()ed into
 * place (never replacing an existing file), and the directory fsync'd.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "keys/keyfile_int.h"
#include "keys/keys.h"

#define PUB_PREFIX "dmvfilter-x25519-public "

_Static_assert(crypto_box_SEALBYTES == DMVF__REVIEW_SEAL_OVERHEAD, "seal overhead");
_Static_assert(crypto_box_PUBLICKEYBYTES == DMVF__REVIEW_KEY_LEN, "public key size");
_Static_assert(crypto_box_SECRETKEYBYTES == DMVF__REVIEW_KEY_LEN, "secret key size");

struct dmvf__review_key {
    uint8_t sk[DMVF__REVIEW_KEY_LEN];
    uint8_t pk[DMVF__REVIEW_KEY_LEN];
};

/* ---- writing files ---- */

/* Creates path whole (core/fileio.h) with exactly data[0..len) and the
 * given mode; fails with DMVF_EIO if path exists. `what` names the file in
 * messages. */
static int create_file(const char *path, const uint8_t *data, size_t len, mode_t mode,
                       const char *what, dmvf_error *err)
{
    int st = dmvf__file_create(path, data, len, mode, DMVF__FILE_NEW);
    return st ? dmvf__file_error(err, st, what, path) : DMVF_OK;
}

int dmvf_review_keygen(const char *secret_path, const char *public_path, const char *passphrase,
                       dmvf_error *err)
{
    struct stat st;
    int rc;

    DMVF_REQUIRE(secret_path && public_path, "a key path is NULL");
    if ((rc = dmvf__sodium_ready(err)) != DMVF_OK)
        return rc;
    if (passphrase && !*passphrase)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "empty passphrase for reviewer key %s (give none to write it unsealed)",
                            secret_path);
    if (strcmp(secret_path, public_path) == 0)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "the secret and the public reviewer key cannot both be %s", secret_path);
    if (lstat(secret_path, &st) == 0)
        return dmvf__seterr(err, DMVF_EIO, "reviewer secret key %s already exists", secret_path);
    if (lstat(public_path, &st) == 0)
        return dmvf__seterr(err, DMVF_EIO, "reviewer public key %s already exists", public_path);

    dmvf__review_key *k = sodium_malloc(sizeof *k);
    if (!k)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating a reviewer key");
    crypto_box_keypair(k->pk, k->sk);

    uint8_t *file = NULL;
    size_t len = 0;
    rc = dmvf__secret_build(DMVF__SECRET_REVIEW_KEY, secret_path, k->sk, DMVF__REVIEW_KEY_LEN, passphrase,
                            &file, &len, err);
    if (rc == DMVF_OK)
        rc = create_file(secret_path, file, len, 0600, "reviewer secret key", err);
    if (file)
        sodium_free(file);
    if (rc == DMVF_OK) {
        char line[DMVF__PUBLIC_LINE_MAX];
        size_t n = dmvf__public_line(line, PUB_PREFIX, k->pk);
        rc = create_file(public_path, (const uint8_t *)line, n, 0644, "reviewer public key", err);
        if (rc != DMVF_OK) {
            /* no half pair: the secret key written above goes again */
            unlink(secret_path);
            (void)dmvf__fsync_parent(secret_path);
        }
    }
    sodium_free(k);
    return rc;
}

/* ---- reading ---- */

int dmvf__review_public_read(const char *path, uint8_t pk[32], dmvf_error *err)
{
    DMVF_REQUIRE(path != NULL, "path is NULL");
    switch (dmvf__public_read(path, PUB_PREFIX, pk)) {
    case DMVF__PUBLIC_OK:
        return DMVF_OK;
    case DMVF__PUBLIC_OPEN:
        return dmvf__seterr(err, DMVF_EIO, "reviewer public key %s: cannot open: %s", path,
                            strerror(errno));
    case DMVF__PUBLIC_READ:
        return dmvf__seterr(err, DMVF_EIO, "reviewer public key %s: read failed", path);
    case DMVF__PUBLIC_NOTKEY:
        return dmvf__seterr(err, DMVF_EINVAL,
                            "%s is not a reviewer public key (expected one line '" PUB_PREFIX
                            "<64 hex digits>')", path);
    default:
        return dmvf__seterr(err, DMVF_EINVAL,
                            "reviewer public key %s: the key must be 64 hex digits", path);
    }
}

dmvf__review_key *dmvf__review_key_load(const char *path, const char *passphrase,
                                        dmvf_error *err)
{
    uint8_t *buf = NULL;
    const uint8_t *sk;
    size_t len = 0;
    int sealed;
    dmvf__review_key *k = NULL;

    DMVF_REQUIRE(path != NULL, "path is NULL");
    if (dmvf__sodium_ready(err) != DMVF_OK)
        return NULL;
    if (dmvf__secret_load(DMVF__SECRET_REVIEW_KEY, path, passphrase, &buf, &sk, &len, &sealed, err) != DMVF_OK)
        return NULL;
    if (!sealed && len != DMVF__REVIEW_KEY_LEN) {
        dmvf__seterr(err, DMVF_EKEYRING,
                     "reviewer secret key %s is corrupt: %zu bytes (an unsealed key file has %u)",
                     path, DMVF__SECRET_HEADER_LEN + len, DMVF__SECRET_HEADER_LEN + DMVF__REVIEW_KEY_LEN);
        goto done;
    }
    k = sodium_malloc(sizeof *k);
    if (!k) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading reviewer secret key %s", path);
        goto done;
    }
    memcpy(k->sk, sk, DMVF__REVIEW_KEY_LEN);
    crypto_scalarmult_base(k->pk, k->sk);
    sodium_mprotect_readonly(k);
done:
    sodium_free(buf);
    return k;
}

void dmvf__review_key_free(dmvf__review_key *k)
{
    if (k)
        sodium_free(k); /* wipes, read-only or not */
}

void dmvf__review_key_public(const dmvf__review_key *k, uint8_t pk[32])
{
    DMVF_REQUIRE(k != NULL, "reviewer key is NULL");
    memcpy(pk, k->pk, DMVF__REVIEW_KEY_LEN);
}

/* ---- sealing ---- */

int dmvf__review_seal(const uint8_t pk[32], const uint8_t *m, size_t n, uint8_t *out)
{
    if (sodium_init() < 0)
        return -1;
    return crypto_box_seal(out, m, n, pk) == 0 ? 0 : -1;
}

int dmvf__review_open(const dmvf__review_key *k, const uint8_t *c, size_t n, uint8_t *out)
{
    DMVF_REQUIRE(k != NULL, "reviewer key is NULL");
    if (n < DMVF__REVIEW_SEAL_OVERHEAD)
        return -1;
    return crypto_box_seal_open(out, c, n, k->pk, k->sk) == 0 ? 0 : -1;
}
