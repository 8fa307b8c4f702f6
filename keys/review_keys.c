/*
 * review_keys.c - the review queue's reviewer keys: key pair generation,
 * the secret key file (optionally sealed with a passphrase, as a keyring
 * is), and crypto_box_seal / crypto_box_seal_open. The only code that
 * touches reviewer key bytes.
 *
 * Public key file: one line, "dmvfilter-x25519-public " + 64 lowercase hex
 * digits + "\n" (mode 0644).
 *
 * Secret key file (mode 0600; refused on load when group or others have any
 * permission bit), at most 4 KiB:
 *
 *   0             8      9
 *   +-------------+------+----------------------------------------------+
 *   | "DMVFRK1\n"  | seal | seal 0: the X25519 secret key (32 bytes)     |
 *   |  (8 bytes)  |      | seal 1: SealedKeyring (keyring.proto)        |
 *   +-------------+------+----------------------------------------------+
 *
 *   SealedKeyring { opslimit, memlimit, salt[16], nonce[24], ciphertext }
 *     key        = Argon2id v1.3 (passphrase, salt, opslimit, memlimit)
 *     ciphertext = crypto_secretbox_easy(secret key (32 bytes), nonce, key)
 *   with the keyring's parameters (OPSLIMIT/MEMLIMIT_INTERACTIVE) and the
 *   same bounds on what a file may ask for.
 *
 * The public key is not stored: it is crypto_scalarmult_base(secret key).
 *
 * Secrets in memory: the file is read into sodium_malloc memory, unsealed
 * into sodium_malloc memory, and the key pair kept in one sodium_malloc
 * block made read-only; stack temporaries are wiped with sodium_memzero.
 *
 * Files are created atomically (dmvf__file_create, core/fileio.h): a
 * temporary file beside the target, written, fsync'd, then link()ed into
 * place (never replacing an existing file), and the directory fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmv/v1/keyring.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "keys/keys.h"

#define RK_MAGIC "DMVFRK1\n"
#define RK_MAGIC_LEN 8u
#define RK_HEADER_LEN 9u
#define RK_UNSEALED 0u
#define RK_SEALED 1u
#define RK_FILE_MAX 4096u
#define RK_OPSLIMIT_MAX 16u
#define RK_MEMLIMIT_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)
#define PUB_PREFIX "dmvfilter-x25519-public "

_Static_assert(crypto_box_SEALBYTES == DMVF__REVIEW_SEAL_OVERHEAD, "seal overhead");
_Static_assert(crypto_box_PUBLICKEYBYTES == DMVF__REVIEW_KEY_LEN, "public key size");
_Static_assert(crypto_box_SECRETKEYBYTES == DMVF__REVIEW_KEY_LEN, "secret key size");

struct dmvf__review_key {
    uint8_t sk[DMVF__REVIEW_KEY_LEN];
    uint8_t pk[DMVF__REVIEW_KEY_LEN];
};

static int sodium_ready(dmvf_error *err)
{
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_EKEYRING, "libsodium failed to initialize");
    return DMVF_OK;
}

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

/* The secret key file's bytes, in sodium_malloc memory. */
static int build_secret_file(const uint8_t sk[32], const char *passphrase, const char *path,
                             uint8_t **out, size_t *out_len, dmvf_error *err)
{
    uint8_t *file;
    size_t len;

    *out = NULL;
    *out_len = 0;
    if (!passphrase) {
        len = RK_HEADER_LEN + DMVF__REVIEW_KEY_LEN;
        file = sodium_malloc(len);
        if (!file)
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing reviewer key %s", path);
        memcpy(file, RK_MAGIC, RK_MAGIC_LEN);
        file[RK_MAGIC_LEN] = RK_UNSEALED;
        memcpy(file + RK_HEADER_LEN, sk, DMVF__REVIEW_KEY_LEN);
    } else {
        Dmv__V1__SealedKeyring s = DMV__V1__SEALED_KEYRING__INIT;
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t nonce[crypto_secretbox_NONCEBYTES];
        uint8_t key[crypto_secretbox_KEYBYTES];
        uint8_t ct[crypto_secretbox_MACBYTES + DMVF__REVIEW_KEY_LEN];

        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), salt,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            sodium_memzero(key, sizeof key);
            return dmvf__seterr(err, DMVF_ENOMEM,
                                "out of memory deriving the sealing key for reviewer key %s", path);
        }
        crypto_secretbox_easy(ct, sk, DMVF__REVIEW_KEY_LEN, nonce, key);
        sodium_memzero(key, sizeof key);
        s.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        s.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        s.salt.len = sizeof salt;
        s.salt.data = salt;
        s.nonce.len = sizeof nonce;
        s.nonce.data = nonce;
        s.ciphertext.len = sizeof ct;
        s.ciphertext.data = ct;
        len = RK_HEADER_LEN + dmv__v1__sealed_keyring__get_packed_size(&s);
        file = sodium_malloc(len);
        if (!file)
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing reviewer key %s", path);
        memcpy(file, RK_MAGIC, RK_MAGIC_LEN);
        file[RK_MAGIC_LEN] = RK_SEALED;
        dmv__v1__sealed_keyring__pack(&s, file + RK_HEADER_LEN);
    }
    *out = file;
    *out_len = len;
    return DMVF_OK;
}

int dmvf_review_keygen(const char *secret_path, const char *public_path, const char *passphrase,
                       dmvf_error *err)
{
    struct stat st;
    int rc;

    DMVF_REQUIRE(secret_path && public_path, "a key path is NULL");
    if ((rc = sodium_ready(err)) != DMVF_OK)
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
    rc = build_secret_file(k->sk, passphrase, secret_path, &file, &len, err);
    if (rc == DMVF_OK)
        rc = create_file(secret_path, file, len, 0600, "reviewer secret key", err);
    if (file)
        sodium_free(file);
    if (rc == DMVF_OK) {
        char line[sizeof PUB_PREFIX + 2 * DMVF__REVIEW_KEY_LEN + 1];
        char hex[2 * DMVF__REVIEW_KEY_LEN + 1];
        dmvf__hex_encode(hex, k->pk, DMVF__REVIEW_KEY_LEN);
        int n = snprintf(line, sizeof line, PUB_PREFIX "%s\n", hex);
        rc = create_file(public_path, (const uint8_t *)line, (size_t)n, 0644,
                         "reviewer public key", err);
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
    memset(pk, 0, 32);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return dmvf__seterr(err, DMVF_EIO, "reviewer public key %s: cannot open: %s", path,
                            strerror(errno));
    char line[256];
    char *got = fgets(line, sizeof line, fp);
    int rd_err = ferror(fp);
    fclose(fp);
    if (rd_err)
        return dmvf__seterr(err, DMVF_EIO, "reviewer public key %s: read failed", path);
    size_t plen = strlen(PUB_PREFIX);
    if (!got || strncmp(line, PUB_PREFIX, plen) != 0)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "%s is not a reviewer public key (expected one line '" PUB_PREFIX
                            "<64 hex digits>')", path);
    const char *hex = line + plen;
    size_t hl = strcspn(hex, "\r\n");
    if (dmvf__hex_decode(pk, 32, hex, hl, 0) != 0) {
        memset(pk, 0, 32);
        return dmvf__seterr(err, DMVF_EINVAL,
                            "reviewer public key %s: the key must be 64 hex digits", path);
    }
    return DMVF_OK;
}

/* Reads the whole secret key file into sodium_malloc memory after checking
 * that it is a regular file, private to its owner, of a plausible size. */
static int read_secret_file(const char *path, uint8_t **out, size_t *out_len, dmvf_error *err)
{
    struct stat st;
    uint8_t *buf;
    size_t size, got = 0;
    int fd;

    *out = NULL;
    *out_len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return dmvf__seterr(err, DMVF_EKEYRING, "reviewer secret key %s: no such file", path);
        return dmvf__seterr(err, DMVF_EKEYRING, "reviewer secret key %s cannot be opened: %s",
                            path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING, "reviewer secret key %s cannot be examined: %s",
                            path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING, "reviewer secret key %s is not a regular file",
                            path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "reviewer secret key %s is accessible by group/others (mode %04o); "
                            "chmod 600", path, (unsigned)(st.st_mode & 07777));
    }
    if ((uintmax_t)st.st_size > RK_FILE_MAX || (size_t)st.st_size < RK_HEADER_LEN) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "reviewer secret key %s is corrupt: %jd bytes (a key file has %u to %u)",
                            path, (intmax_t)st.st_size, RK_HEADER_LEN, RK_FILE_MAX);
    }
    size = (size_t)st.st_size;
    buf = sodium_malloc(size);
    if (!buf) {
        close(fd);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading reviewer secret key %s", path);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            sodium_free(buf);
            return dmvf__seterr(err, DMVF_EKEYRING, "reviewer secret key %s cannot be read: %s",
                                path, e ? strerror(e) : "it shrank while being read");
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *out_len = size;
    return DMVF_OK;
}

/* Unseals a sealed secret key file's payload into sk. */
static int unseal(const char *path, const char *passphrase, const uint8_t *data, size_t len,
                  uint8_t sk[32], dmvf_error *err)
{
    Dmv__V1__SealedKeyring *s;
    uint8_t key[crypto_secretbox_KEYBYTES];
    int rc;

    if (!passphrase)
        return dmvf__seterr(err, DMVF_EPASSPHRASE,
                            "reviewer secret key %s is sealed: give its passphrase "
                            "(--passphrase-file or DMVFILTER_REVIEW_PASSPHRASE)", path);
    s = dmv__v1__sealed_keyring__unpack(NULL, len, data);
    if (!s)
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "reviewer secret key %s is corrupt: its sealed part does not decode",
                            path);
    if (s->salt.len != crypto_pwhash_SALTBYTES || s->nonce.len != crypto_secretbox_NONCEBYTES ||
        s->ciphertext.len != crypto_secretbox_MACBYTES + DMVF__REVIEW_KEY_LEN) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "reviewer secret key %s is corrupt: salt %zu, nonce %zu, sealed key %zu "
                          "bytes (want %u, %u, %u)", path, s->salt.len, s->nonce.len,
                          s->ciphertext.len, (unsigned)crypto_pwhash_SALTBYTES,
                          (unsigned)crypto_secretbox_NONCEBYTES,
                          (unsigned)(crypto_secretbox_MACBYTES + DMVF__REVIEW_KEY_LEN));
        goto done;
    }
    if (s->opslimit < crypto_pwhash_OPSLIMIT_MIN || s->opslimit > RK_OPSLIMIT_MAX ||
        s->memlimit < crypto_pwhash_MEMLIMIT_MIN || s->memlimit > RK_MEMLIMIT_MAX) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "reviewer secret key %s is corrupt: Argon2id costs opslimit %llu, "
                          "memlimit %llu are out of range", path,
                          (unsigned long long)s->opslimit, (unsigned long long)s->memlimit);
        goto done;
    }
    if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), s->salt.data, s->opslimit,
                      (size_t)s->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = dmvf__seterr(err, DMVF_ENOMEM,
                          "out of memory deriving the key that seals reviewer secret key %s", path);
        goto done;
    }
    if (crypto_secretbox_open_easy(sk, s->ciphertext.data, s->ciphertext.len, s->nonce.data,
                                   key) != 0) {
        sodium_memzero(sk, 32);
        rc = dmvf__seterr(err, DMVF_EPASSPHRASE,
                          "reviewer secret key %s: wrong passphrase (or the file is damaged)",
                          path);
        goto done;
    }
    rc = DMVF_OK;
done:
    sodium_memzero(key, sizeof key);
    dmv__v1__sealed_keyring__free_unpacked(s, NULL);
    return rc;
}

dmvf__review_key *dmvf__review_key_load(const char *path, const char *passphrase,
                                        dmvf_error *err)
{
    uint8_t *file = NULL;
    size_t len = 0;
    dmvf__review_key *k = NULL;
    int rc;

    DMVF_REQUIRE(path != NULL, "path is NULL");
    if (sodium_ready(err) != DMVF_OK)
        return NULL;
    if (read_secret_file(path, &file, &len, err) != DMVF_OK)
        return NULL;
    if (memcmp(file, RK_MAGIC, RK_MAGIC_LEN) != 0) {
        dmvf__seterr(err, DMVF_EKEYRING,
                     "%s is not a reviewer secret key (it does not start with DMVFRK1)",
                     path);
        goto done;
    }
    k = sodium_malloc(sizeof *k);
    if (!k) {
        dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading reviewer secret key %s", path);
        goto done;
    }
    if (file[RK_MAGIC_LEN] == RK_UNSEALED) {
        if (len != RK_HEADER_LEN + DMVF__REVIEW_KEY_LEN) {
            dmvf__seterr(err, DMVF_EKEYRING,
                         "reviewer secret key %s is corrupt: %zu bytes (an unsealed key file has %u)",
                         path, len, RK_HEADER_LEN + DMVF__REVIEW_KEY_LEN);
            goto fail;
        }
        memcpy(k->sk, file + RK_HEADER_LEN, DMVF__REVIEW_KEY_LEN);
    } else if (file[RK_MAGIC_LEN] == RK_SEALED) {
        rc = unseal(path, passphrase, file + RK_HEADER_LEN, len - RK_HEADER_LEN, k->sk, err);
        if (rc != DMVF_OK)
            goto fail;
    } else {
        dmvf__seterr(err, DMVF_EKEYRING,
                     "reviewer secret key %s is corrupt: byte 8 is %u (0 = unsealed, 1 = sealed)",
                     path, (unsigned)file[RK_MAGIC_LEN]);
        goto fail;
    }
    crypto_scalarmult_base(k->pk, k->sk);
    sodium_mprotect_readonly(k);
    goto done;
fail:
    sodium_free(k);
    k = NULL;
done:
    sodium_free(file);
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
