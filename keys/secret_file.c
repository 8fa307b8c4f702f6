/*
 * secret_file.c - the owner-only secret files of keys/ (keyfile_int.h): a
 * keyring and a reviewer secret key. Reading one whole into secure memory
 * after checking what it is (a regular file, private to its owner, of a
 * plausible size, with its magic); opening a sealed one (Argon2id, then
 * crypto_secretbox_open_easy); building the bytes of one, sealed or not.
 *
 * Secrets in memory: the file is read into dmvf__secure_alloc memory and
 * unsealed into dmvf__secure_alloc memory; the derived key is wiped before
 * returning. The ciphertext being written is not secret (plain malloc).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include "dmv/v1/keyring.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/pballoc.h"
#include "keys/keyfile_int.h"

#define MAGIC_LEN 8u
#define SEAL_NONE 0u
#define SEAL_PASSPHRASE 1u
#define OPSLIMIT_MAX 16u
#define MEMLIMIT_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

static const struct secret_kind {
    char magic[MAGIC_LEN + 1];
    size_t max;             /* bytes a file may have */
    size_t secret_len;      /* bytes the secret has; 0: any */
    const char *reading;    /* the file, in messages about loading it */
    const char *writing;    /* the file, in messages about writing it */
} kinds[] = {
    [DMVF__SECRET_KEYRING] = {"DMVFKR1\n", DMVF__KEYRING_FILE_MAX, 0, "keyring", "keyring"},
    [DMVF__SECRET_REVIEW_KEY] = {"DMVFRK1\n", DMVF__REVIEW_KEY_FILE_MAX, 32, "reviewer secret key",
                                 "reviewer key"},
};

#define IS_KEYRING(kind) ((kind) == DMVF__SECRET_KEYRING)

static const struct secret_kind *kind_of(int kind)
{
    DMVF_REQUIRE(kind == DMVF__SECRET_KEYRING || kind == DMVF__SECRET_REVIEW_KEY, "unknown secret file kind");
    return &kinds[kind];
}

/* ---- reading ---- */

/* The whole file in secure memory, at least its header long. */
static int read_file(int kind, const char *path, uint8_t **out, size_t *out_len, dmvf_error *err)
{
    const struct secret_kind *k = kind_of(kind);
    const char *what = k->reading;
    struct stat st;
    int rs = dmvf__file_read(path, k->max, out, out_len, DMVF__READ_SECURE | DMVF__READ_PRIVATE, &st);
    switch (rs) {
    case DMVF__READ_OK:
        break;
    case DMVF__READ_OPEN:
        if (errno == ENOENT)
            return dmvf__seterr(err, DMVF_EKEYRING, "%s %s: no such file", what, path);
        return dmvf__seterr(err, DMVF_EKEYRING, "%s %s cannot be opened: %s", what, path, strerror(errno));
    case DMVF__READ_STAT:
        return dmvf__seterr(err, DMVF_EKEYRING, "%s %s cannot be examined: %s", what, path, strerror(errno));
    case DMVF__READ_NOTREG:
        return dmvf__seterr(err, DMVF_EKEYRING, "%s %s is not a regular file", what, path);
    case DMVF__READ_MODE:
        return dmvf__seterr(err, DMVF_EKEYRING, "%s %s is accessible by group/others (mode %04o); chmod 600",
                            what, path, (unsigned)(st.st_mode & 07777));
    case DMVF__READ_TOOBIG:
        if (IS_KEYRING(kind))
            return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s is too large (%jd bytes; the limit is %zu)",
                                path, (intmax_t)st.st_size, k->max);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "reviewer secret key %s is corrupt: %jd bytes (a key file has %u to %zu)", path,
                            (intmax_t)st.st_size, DMVF__SECRET_HEADER_LEN, k->max);
    case DMVF__READ_NOMEM:
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading %s %s", what, path);
    default:
        return dmvf__seterr(err, DMVF_EKEYRING, "%s %s cannot be read: %s", what, path, strerror(errno));
    }
    size_t size = (size_t)st.st_size, got = *out_len;
    int rc = DMVF_OK;
    if (got < size && IS_KEYRING(kind))
        rc = dmvf__seterr(err, DMVF_EKEYRING, "keyring %s shrank while being read (%zu of %zu bytes)", path,
                          got, size);
    else if (got < size)
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "reviewer secret key %s cannot be read: it shrank while being read", path);
    else if (size < DMVF__SECRET_HEADER_LEN && IS_KEYRING(kind))
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is truncated (%zu bytes; a keyring starts with a %u-byte header)", path,
                          size, DMVF__SECRET_HEADER_LEN);
    else if (size < DMVF__SECRET_HEADER_LEN)
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "reviewer secret key %s is corrupt: %jd bytes (a key file has %u to %zu)", path,
                          (intmax_t)st.st_size, DMVF__SECRET_HEADER_LEN, k->max);
    if (rc != DMVF_OK) {
        sodium_free(*out);
        *out = NULL;
        *out_len = 0;
    }
    return rc;
}

/* Opens the SealedKeyring data[0..len): derives the key from the
 * passphrase and decrypts the secret into secure memory (*plain). */
static int unseal(int kind, const char *path, const char *passphrase, const uint8_t *data, size_t len,
                  uint8_t **plain, size_t *plain_len, dmvf_error *err)
{
    const struct secret_kind *k = kind_of(kind);
    Dmv__V1__SealedKeyring *s;
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *pt = NULL;
    size_t pt_len;
    int rc;

    *plain = NULL;
    *plain_len = 0;
    if (!passphrase)
        return IS_KEYRING(kind)
                   ? dmvf__seterr(err, DMVF_EPASSPHRASE,
                                  "keyring %s is sealed: give its passphrase with --passphrase-file or "
                                  "DMVFILTER_PASSPHRASE", path)
                   : dmvf__seterr(err, DMVF_EPASSPHRASE,
                                  "reviewer secret key %s is sealed: give its passphrase "
                                  "(--passphrase-file or DMVFILTER_REVIEW_PASSPHRASE)", path);
    s = dmv__v1__sealed_keyring__unpack(NULL, len, data);
    if (!s)
        return IS_KEYRING(kind)
                   ? dmvf__seterr(err, DMVF_EKEYRING,
                                  "keyring %s is corrupt: its contents are not a valid SealedKeyring message",
                                  path)
                   : dmvf__seterr(err, DMVF_EKEYRING,
                                  "reviewer secret key %s is corrupt: its sealed part does not decode", path);
    if (!IS_KEYRING(kind) &&
        (s->salt.len != crypto_pwhash_SALTBYTES || s->nonce.len != crypto_secretbox_NONCEBYTES ||
         s->ciphertext.len != crypto_secretbox_MACBYTES + k->secret_len)) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "reviewer secret key %s is corrupt: salt %zu, nonce %zu, sealed key %zu "
                          "bytes (want %u, %u, %u)", path, s->salt.len, s->nonce.len,
                          s->ciphertext.len, (unsigned)crypto_pwhash_SALTBYTES,
                          (unsigned)crypto_secretbox_NONCEBYTES,
                          (unsigned)(crypto_secretbox_MACBYTES + k->secret_len));
        goto done;
    }
    if (s->salt.len != crypto_pwhash_SALTBYTES || s->nonce.len != crypto_secretbox_NONCEBYTES) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is corrupt: salt is %zu bytes (want %u), nonce %zu (want %u)",
                          path, s->salt.len, (unsigned)crypto_pwhash_SALTBYTES, s->nonce.len,
                          (unsigned)crypto_secretbox_NONCEBYTES);
        goto done;
    }
    if (s->ciphertext.len < crypto_secretbox_MACBYTES) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is corrupt: the sealed payload is %zu bytes, shorter than its MAC",
                          path, s->ciphertext.len);
        goto done;
    }
    if (s->opslimit < crypto_pwhash_OPSLIMIT_MIN || s->opslimit > OPSLIMIT_MAX ||
        s->memlimit < crypto_pwhash_MEMLIMIT_MIN || s->memlimit > MEMLIMIT_MAX) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "%s %s is corrupt: Argon2id costs opslimit %llu, memlimit %llu are out of range",
                          k->reading, path, (unsigned long long)s->opslimit, (unsigned long long)s->memlimit);
        goto done;
    }
    if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), s->salt.data,
                      s->opslimit, (size_t)s->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = IS_KEYRING(kind)
                 ? dmvf__seterr(err, DMVF_ENOMEM,
                                "out of memory deriving the key of keyring %s (Argon2id, %llu bytes)",
                                path, (unsigned long long)s->memlimit)
                 : dmvf__seterr(err, DMVF_ENOMEM,
                                "out of memory deriving the key that seals reviewer secret key %s", path);
        goto done;
    }
    pt_len = s->ciphertext.len - crypto_secretbox_MACBYTES;
    pt = dmvf__secure_alloc(pt_len);
    if (!pt) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading %s %s", k->reading, path);
        goto done;
    }
    if (crypto_secretbox_open_easy(pt, s->ciphertext.data, s->ciphertext.len, s->nonce.data,
                                   key) != 0) {
        sodium_free(pt);
        pt = NULL;
        rc = IS_KEYRING(kind)
                 ? dmvf__seterr(err, DMVF_EPASSPHRASE,
                                "wrong passphrase for keyring %s (or the sealed keyring is damaged)", path)
                 : dmvf__seterr(err, DMVF_EPASSPHRASE,
                                "reviewer secret key %s: wrong passphrase (or the file is damaged)", path);
        goto done;
    }
    *plain = pt;
    *plain_len = pt_len;
    rc = DMVF_OK;
done:
    sodium_memzero(key, sizeof key);
    dmv__v1__sealed_keyring__free_unpacked(s, NULL);
    return rc;
}

int dmvf__secret_load(int kind, const char *path, const char *passphrase, uint8_t **buf,
                      const uint8_t **data, size_t *len, int *sealed, dmvf_error *err)
{
    const struct secret_kind *k = kind_of(kind);
    uint8_t *file = NULL, *plain = NULL;
    size_t file_len = 0, plain_len = 0;
    int rc;

    *buf = NULL;
    *data = NULL;
    *len = 0;
    *sealed = 0;
    if ((rc = read_file(kind, path, &file, &file_len, err)) != DMVF_OK)
        return rc;
    if (memcmp(file, k->magic, MAGIC_LEN) != 0) {
        rc = IS_KEYRING(kind)
                 ? dmvf__seterr(err, DMVF_EKEYRING,
                                "%s is not a dmvfilter keyring (it does not start with \"DMVFKR1\")", path)
                 : dmvf__seterr(err, DMVF_EKEYRING,
                                "%s is not a reviewer secret key (it does not start with DMVFRK1)", path);
    } else if (file[MAGIC_LEN] == SEAL_NONE) {
        *buf = file;
        *data = file + DMVF__SECRET_HEADER_LEN;
        *len = file_len - DMVF__SECRET_HEADER_LEN;
        return DMVF_OK;
    } else if (file[MAGIC_LEN] == SEAL_PASSPHRASE) {
        rc = unseal(kind, path, passphrase, file + DMVF__SECRET_HEADER_LEN, file_len - DMVF__SECRET_HEADER_LEN,
                    &plain, &plain_len, err);
        if (rc == DMVF_OK) {
            *buf = plain;
            *data = plain;
            *len = plain_len;
            *sealed = 1;
        }
    } else {
        rc = dmvf__seterr(err, DMVF_EKEYRING, "%s %s is corrupt: byte 8 is %u (0 = unsealed, 1 = sealed)",
                          k->reading, path, (unsigned)file[MAGIC_LEN]);
    }
    sodium_free(file);
    return rc;
}

/* ---- writing ---- */

int dmvf__secret_build(int kind, const char *path, const uint8_t *secret, size_t n, const char *passphrase,
                       uint8_t **out, size_t *out_len, dmvf_error *err)
{
    const struct secret_kind *k = kind_of(kind);
    const char *what = k->writing;
    uint8_t *file = NULL, *ct = NULL;
    size_t file_len;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (!passphrase) {
        file_len = DMVF__SECRET_HEADER_LEN + n;
        file = dmvf__secure_alloc(file_len);
        if (!file)
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing %s %s", what, path);
        memcpy(file, k->magic, MAGIC_LEN);
        file[MAGIC_LEN] = SEAL_NONE;
        memcpy(file + DMVF__SECRET_HEADER_LEN, secret, n);
    } else {
        Dmv__V1__SealedKeyring s = DMV__V1__SEALED_KEYRING__INIT;
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t nonce[crypto_secretbox_NONCEBYTES];
        uint8_t key[crypto_secretbox_KEYBYTES];
        size_t ct_len = crypto_secretbox_MACBYTES + n;

        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), salt,
                          crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE,
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            sodium_memzero(key, sizeof key);
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory deriving the sealing key for %s %s", what,
                                path);
        }
        ct = malloc(ct_len);
        if (!ct) {
            sodium_memzero(key, sizeof key);
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing %s %s", what, path);
        }
        crypto_secretbox_easy(ct, secret, n, nonce, key);
        sodium_memzero(key, sizeof key);
        s.opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        s.memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
        s.salt.len = sizeof salt;
        s.salt.data = salt;
        s.nonce.len = sizeof nonce;
        s.nonce.data = nonce;
        s.ciphertext.len = ct_len;
        s.ciphertext.data = ct;
        file_len = DMVF__SECRET_HEADER_LEN + dmv__v1__sealed_keyring__get_packed_size(&s);
        file = dmvf__secure_alloc(file_len);
        if (!file) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing %s %s", what, path);
            free(ct);
            return rc;
        }
        memcpy(file, k->magic, MAGIC_LEN);
        file[MAGIC_LEN] = SEAL_PASSPHRASE;
        dmv__v1__sealed_keyring__pack(&s, file + DMVF__SECRET_HEADER_LEN);
        free(ct);
    }
    *out = file;
    *out_len = file_len;
    return DMVF_OK;
}
