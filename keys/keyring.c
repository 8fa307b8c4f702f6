/*
 * keyring.c - keyring files: load, create, rotate, seal; seeded test keyrings.
 *
 * File layout (schema/dmv/v1/keyring.proto), at most 1 MiB:
 *
 *   0            8      9
 *   +------------+------+------------------------------------------+
 *   | "DMVFKR1\n" | seal | seal 0: Keyring | seal 1: SealedKeyring  |
 *   +------------+------+------------------------------------------+
 *
 *   SealedKeyring { opslimit, memlimit, salt[16], nonce[24], ciphertext }
 *     key        = Argon2id v1.3 (passphrase, salt, opslimit, memlimit), 32 bytes
 *     ciphertext = crypto_secretbox_easy(packed Keyring, nonce, key)
 *
 * Secrets in memory: the file is read into sodium_malloc memory, the sealed
 * payload is decrypted into sodium_malloc memory, the Keyring message is
 * unpacked with an allocator backed by sodium_malloc (so every copy
 * protobuf-c makes is guarded and wiped on free), then copied into one
 * sodium_malloc block (keyring_int.h) that is made read-only. Stack
 * temporaries holding keys are wiped with sodium_memzero before returning.
 *
 * Writing is atomic (dmvf__file_create, core/fileio.h): a 0600 temporary
 * file beside the target, written, fsync'd, then linked (create: fails if
 * the target exists) or renamed (rotate) into place, and the directory
 * fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "dmv/v1/keyring.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/pballoc.h"
#include "keys/keys.h"
#include "keys/keyring_int.h"

#define KR_MAGIC "DMVFKR1\n"
#define KR_MAGIC_LEN 8u
#define KR_HEADER_LEN 9u
#define KR_UNSEALED 0u
#define KR_SEALED 1u
#define KR_FILE_MAX ((size_t)1 << 20)
/* Bounds on the Argon2id costs a sealed file may ask for, so that a damaged
 * or hostile header cannot make a load run for hours or exhaust memory. */
#define KR_OPSLIMIT_MAX 16u
#define KR_MEMLIMIT_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

/* ---- secure memory ---- */

static dmvf_keyring *keyring_alloc(size_t nepochs)
{
    dmvf_keyring *k;
    size_t size;

    if (nepochs > (SIZE_MAX - sizeof *k) / sizeof(dmvf__kr_epoch))
        return NULL;
    size = sizeof *k + nepochs * sizeof(dmvf__kr_epoch);
    k = dmvf__secure_alloc(size);
    if (!k)
        return NULL;
    memset(k, 0, size);
    k->nepochs = nepochs;
    return k;
}

static int sodium_ready(dmvf_error *err)
{
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_EKEYRING, "libsodium failed to initialize");
    return DMVF_OK;
}

/* ---- accessors ---- */

const dmvf__kr_epoch *dmvf__keyring_find(const dmvf_keyring *k, uint32_t epoch)
{
    size_t lo = 0, hi = k->nepochs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->epochs[mid].epoch == epoch)
            return &k->epochs[mid];
        if (k->epochs[mid].epoch < epoch)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint32_t dmvf_keyring_epoch(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->epochs[k->nepochs - 1].epoch;
}

size_t dmvf_keyring_epoch_count(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->nepochs;
}

int dmvf_keyring_epoch_info(const dmvf_keyring *k, size_t i, uint32_t *epoch, uint64_t *created)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    if (i >= k->nepochs)
        return DMVF_EINVAL;
    if (epoch)
        *epoch = k->epochs[i].epoch;
    if (created)
        *created = k->epochs[i].created;
    return DMVF_OK;
}

int dmvf_keyring_is_sealed(const dmvf_keyring *k)
{
    DMVF_REQUIRE(k, "keyring is NULL");
    return k->sealed;
}

void dmvf__keyring_acquire(const dmvf_keyring *k)
{
    if (k && k->users)
        atomic_fetch_add_explicit(k->users, 1, memory_order_relaxed);
}

void dmvf__keyring_release(const dmvf_keyring *k)
{
    if (k && k->users) {
        size_t was = atomic_fetch_sub_explicit(k->users, 1, memory_order_release);
        DMVF_REQUIRE(was > 0, "keyring released more often than it was acquired");
    }
}

void dmvf_keyring_free(dmvf_keyring *k)
{
    if (!k)
        return;
    if (k->users) {
        size_t n = atomic_load_explicit(k->users, memory_order_acquire);
        if (n) {
            char what[120];
            snprintf(what, sizeof what,
                     "keyring is still used by %zu filter or framed stream handle%s: "
                     "free them first", n, n == 1 ? "" : "s");
            dmvf__misuse(__func__, what);
        }
        free(k->users);
    }
    sodium_free(k); /* wipes, read-only or not */
}

/* ---- reading ---- */

/* Reads the whole file into sodium_malloc memory after checking that it is a
 * regular file, private to its owner, and of a plausible size. */
static int read_keyring_file(const char *path, uint8_t **out, size_t *out_len, dmvf_error *err)
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
            return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s: no such file", path);
        return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s cannot be opened: %s", path,
                            strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s cannot be examined: %s", path,
                            strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s is accessible by group/others (mode %04o); chmod 600",
                            path, (unsigned)(st.st_mode & 07777));
    }
    if ((uintmax_t)st.st_size > KR_FILE_MAX) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s is too large (%jd bytes; the limit is %zu)", path,
                            (intmax_t)st.st_size, KR_FILE_MAX);
    }
    size = (size_t)st.st_size;
    if (size < KR_HEADER_LEN) {
        close(fd);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s is truncated (%zu bytes; a keyring starts with a %u-byte header)",
                            path, size, KR_HEADER_LEN);
    }
    buf = dmvf__secure_alloc(size);
    if (!buf) {
        close(fd);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory reading keyring %s", path);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            sodium_free(buf);
            return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s cannot be read: %s", path,
                                strerror(e));
        }
        if (r == 0) {
            close(fd);
            sodium_free(buf);
            return dmvf__seterr(err, DMVF_EKEYRING,
                                "keyring %s shrank while being read (%zu of %zu bytes)", path,
                                got, size);
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *out_len = size;
    return DMVF_OK;
}

static int check_len(const char *path, const char *what, size_t epoch_index,
                     const ProtobufCBinaryData *b, size_t want, dmvf_error *err)
{
    if (b->len == want && b->data)
        return DMVF_OK;
    if (epoch_index == SIZE_MAX)
        return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s is corrupt: %s is %zu bytes, not %zu",
                            path, what, b->len, want);
    return dmvf__seterr(err, DMVF_EKEYRING,
                        "keyring %s is corrupt: epoch entry %zu: %s is %zu bytes, not %zu", path,
                        epoch_index + 1, what, b->len, want);
}

/* Unpacks and validates a Keyring message, copying it into a new keyring
 * block. The unpacked message lives in sodium_malloc memory and is wiped. */
static int parse_keyring(const char *path, const uint8_t *data, size_t len, int sealed,
                         dmvf_keyring **out, dmvf_error *err)
{
    Dmv__V1__Keyring *m;
    dmvf_keyring *k;
    uint8_t derived_pk[DMVF__SIGN_PK_BYTES];
    int rc;
    size_t i;

    *out = NULL;
    dmvf__pballoc pa;
    m = dmv__v1__keyring__unpack(dmvf__pballoc_init(&pa, DMVF__PB_SECURE), len, data);
    if (!m && pa.oom)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading keyring %s", path);
    if (!m)
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s is corrupt: its contents are not a valid Keyring message",
                            path);
    if (m->n_epochs == 0) {
        rc = dmvf__seterr(err, DMVF_EKEYRING, "keyring %s has no epochs", path);
        goto done;
    }
    for (i = 0; i < m->n_epochs; i++) {
        const Dmv__V1__KeyEpoch *e = m->epochs[i];
        if (e->epoch < 1 || e->epoch > DMVF__EPOCH_MAX) {
            rc = dmvf__seterr(err, DMVF_EKEYRING,
                              "keyring %s is corrupt: epoch entry %zu has number %u (must be 1..%u)",
                              path, i + 1, e->epoch, DMVF__EPOCH_MAX);
            goto done;
        }
        if (i > 0 && e->epoch <= m->epochs[i - 1]->epoch) {
            rc = dmvf__seterr(err, DMVF_EKEYRING,
                              "keyring %s is corrupt: epoch %u follows epoch %u (epochs must increase)",
                              path, e->epoch, m->epochs[i - 1]->epoch);
            goto done;
        }
        if ((rc = check_len(path, "pseudonym_key", i, &e->pseudonym_key, DMVF__KEY_BYTES, err)) ||
            (rc = check_len(path, "encryption_key", i, &e->encryption_key, DMVF__KEY_BYTES, err)))
            goto done;
    }
    if ((rc = check_len(path, "sign_public_key", SIZE_MAX, &m->sign_public_key,
                        DMVF__SIGN_PK_BYTES, err)) ||
        (rc = check_len(path, "sign_secret_key", SIZE_MAX, &m->sign_secret_key,
                        DMVF__SIGN_SK_BYTES, err)) ||
        (rc = check_len(path, "audit_key", SIZE_MAX, &m->audit_key, DMVF__KEY_BYTES, err)))
        goto done;
    crypto_sign_ed25519_sk_to_pk(derived_pk, m->sign_secret_key.data);
    if (sodium_memcmp(derived_pk, m->sign_public_key.data, DMVF__SIGN_PK_BYTES) != 0) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is corrupt: the signing public key does not match the secret key",
                          path);
        goto done;
    }
    k = keyring_alloc(m->n_epochs);
    if (!k) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading keyring %s", path);
        goto done;
    }
    k->users = malloc(sizeof *k->users);
    if (!k->users) {
        sodium_free(k);
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading keyring %s", path);
        goto done;
    }
    atomic_init(k->users, 0);
    k->sealed = sealed;
    memcpy(k->sign_pk, m->sign_public_key.data, DMVF__SIGN_PK_BYTES);
    memcpy(k->sign_sk, m->sign_secret_key.data, DMVF__SIGN_SK_BYTES);
    memcpy(k->audit_key, m->audit_key.data, DMVF__KEY_BYTES);
    for (i = 0; i < m->n_epochs; i++) {
        const Dmv__V1__KeyEpoch *e = m->epochs[i];
        k->epochs[i].epoch = e->epoch;
        k->epochs[i].created = e->created;
        memcpy(k->epochs[i].pseudonym_key, e->pseudonym_key.data, DMVF__KEY_BYTES);
        memcpy(k->epochs[i].encryption_key, e->encryption_key.data, DMVF__KEY_BYTES);
    }
    sodium_mprotect_readonly(k);
    *out = k;
    rc = DMVF_OK;
done:
    sodium_memzero(derived_pk, sizeof derived_pk);
    dmv__v1__keyring__free_unpacked(m, &pa.pb);
    return rc;
}

/* Opens a SealedKeyring: derives the key from the passphrase and decrypts
 * the Keyring bytes into sodium_malloc memory. */
static int unseal(const char *path, const char *passphrase, const uint8_t *data, size_t len,
                  uint8_t **plain, size_t *plain_len, dmvf_error *err)
{
    Dmv__V1__SealedKeyring *s;
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *pt = NULL;
    size_t pt_len;
    int rc;

    *plain = NULL;
    *plain_len = 0;
    if (!passphrase)
        return dmvf__seterr(err, DMVF_EPASSPHRASE,
                            "keyring %s is sealed: give its passphrase with --passphrase-file or DMVFILTER_PASSPHRASE",
                            path);
    s = dmv__v1__sealed_keyring__unpack(NULL, len, data);
    if (!s)
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s is corrupt: its contents are not a valid SealedKeyring message",
                            path);
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
    if (s->opslimit < crypto_pwhash_OPSLIMIT_MIN || s->opslimit > KR_OPSLIMIT_MAX ||
        s->memlimit < crypto_pwhash_MEMLIMIT_MIN || s->memlimit > KR_MEMLIMIT_MAX) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is corrupt: Argon2id costs opslimit %llu, memlimit %llu are out of range",
                          path, (unsigned long long)s->opslimit, (unsigned long long)s->memlimit);
        goto done;
    }
    if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), s->salt.data,
                      s->opslimit, (size_t)s->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = dmvf__seterr(err, DMVF_ENOMEM,
                          "out of memory deriving the key of keyring %s (Argon2id, %llu bytes)",
                          path, (unsigned long long)s->memlimit);
        goto done;
    }
    pt_len = s->ciphertext.len - crypto_secretbox_MACBYTES;
    pt = dmvf__secure_alloc(pt_len);
    if (!pt) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading keyring %s", path);
        goto done;
    }
    if (crypto_secretbox_open_easy(pt, s->ciphertext.data, s->ciphertext.len, s->nonce.data,
                                   key) != 0) {
        sodium_free(pt);
        pt = NULL;
        rc = dmvf__seterr(err, DMVF_EPASSPHRASE,
                          "wrong passphrase for keyring %s (or the sealed keyring is damaged)", path);
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

static int load_keyring(const char *path, const char *passphrase, dmvf_keyring **out,
                        dmvf_error *err)
{
    uint8_t *file = NULL, *plain = NULL;
    size_t file_len = 0, plain_len = 0;
    int rc;

    *out = NULL;
    if ((rc = sodium_ready(err)) != DMVF_OK)
        return rc;
    if ((rc = read_keyring_file(path, &file, &file_len, err)) != DMVF_OK)
        return rc;
    if (memcmp(file, KR_MAGIC, KR_MAGIC_LEN) != 0) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "%s is not a dmvfilter keyring (it does not start with \"DMVFKR1\")", path);
    } else if (file[KR_MAGIC_LEN] == KR_UNSEALED) {
        rc = parse_keyring(path, file + KR_HEADER_LEN, file_len - KR_HEADER_LEN, 0, out, err);
    } else if (file[KR_MAGIC_LEN] == KR_SEALED) {
        rc = unseal(path, passphrase, file + KR_HEADER_LEN, file_len - KR_HEADER_LEN, &plain,
                    &plain_len, err);
        if (rc == DMVF_OK)
            rc = parse_keyring(path, plain, plain_len, 1, out, err);
    } else {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s is corrupt: byte 8 is %u (0 = unsealed, 1 = sealed)", path,
                          (unsigned)file[KR_MAGIC_LEN]);
    }
    if (plain)
        sodium_free(plain);
    sodium_free(file);
    return rc;
}

dmvf_keyring *dmvf_keyring_load(const char *path, const char *passphrase, dmvf_error *err)
{
    dmvf_keyring *k;

    DMVF_REQUIRE(path, "path is NULL");
    if (load_keyring(path, passphrase, &k, err) != DMVF_OK)
        return NULL;
    return k;
}

/* ---- writing ---- */

/* Packs k as a Keyring message into sodium_malloc memory. */
static int pack_keyring(const dmvf_keyring *k, const char *path, uint8_t **out, size_t *out_len,
                        dmvf_error *err)
{
    Dmv__V1__Keyring m = DMV__V1__KEYRING__INIT;
    Dmv__V1__KeyEpoch *ev;
    Dmv__V1__KeyEpoch **ep;
    uint8_t *buf;
    size_t i, size;

    *out = NULL;
    *out_len = 0;
    ev = calloc(k->nepochs, sizeof *ev);
    ep = calloc(k->nepochs, sizeof *ep);
    if (!ev || !ep) {
        free(ev);
        free(ep);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing keyring %s", path);
    }
    for (i = 0; i < k->nepochs; i++) {
        dmv__v1__key_epoch__init(&ev[i]);
        ev[i].epoch = k->epochs[i].epoch;
        ev[i].created = k->epochs[i].created;
        ev[i].pseudonym_key.len = DMVF__KEY_BYTES;
        ev[i].pseudonym_key.data = (uint8_t *)k->epochs[i].pseudonym_key;
        ev[i].encryption_key.len = DMVF__KEY_BYTES;
        ev[i].encryption_key.data = (uint8_t *)k->epochs[i].encryption_key;
        ep[i] = &ev[i];
    }
    m.n_epochs = k->nepochs;
    m.epochs = ep;
    m.sign_public_key.len = DMVF__SIGN_PK_BYTES;
    m.sign_public_key.data = (uint8_t *)k->sign_pk;
    m.sign_secret_key.len = DMVF__SIGN_SK_BYTES;
    m.sign_secret_key.data = (uint8_t *)k->sign_sk;
    m.audit_key.len = DMVF__KEY_BYTES;
    m.audit_key.data = (uint8_t *)k->audit_key;
    size = dmv__v1__keyring__get_packed_size(&m);
    buf = dmvf__secure_alloc(size);
    if (buf)
        dmv__v1__keyring__pack(&m, buf);
    free(ev);
    free(ep);
    if (!buf)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing keyring %s", path);
    *out = buf;
    *out_len = size;
    return DMVF_OK;
}

/* The file bytes for k, in sodium_malloc memory: unsealed when passphrase is
 * NULL, otherwise sealed with a fresh salt and nonce. */
static int build_file(const dmvf_keyring *k, const char *path, const char *passphrase,
                      uint8_t **out, size_t *out_len, dmvf_error *err)
{
    uint8_t *plain = NULL, *file = NULL, *ct = NULL;
    size_t plain_len = 0, file_len;
    int rc;

    *out = NULL;
    *out_len = 0;
    if ((rc = pack_keyring(k, path, &plain, &plain_len, err)) != DMVF_OK)
        return rc;
    if (!passphrase) {
        file_len = KR_HEADER_LEN + plain_len;
        file = dmvf__secure_alloc(file_len);
        if (!file) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing keyring %s", path);
            goto done;
        }
        memcpy(file, KR_MAGIC, KR_MAGIC_LEN);
        file[KR_MAGIC_LEN] = KR_UNSEALED;
        memcpy(file + KR_HEADER_LEN, plain, plain_len);
    } else {
        Dmv__V1__SealedKeyring s = DMV__V1__SEALED_KEYRING__INIT;
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t nonce[crypto_secretbox_NONCEBYTES];
        uint8_t key[crypto_secretbox_KEYBYTES];
        size_t ct_len = crypto_secretbox_MACBYTES + plain_len;

        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        if (crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), salt,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            sodium_memzero(key, sizeof key);
            rc = dmvf__seterr(err, DMVF_ENOMEM,
                              "out of memory deriving the sealing key for keyring %s", path);
            goto done;
        }
        ct = malloc(ct_len);
        if (!ct) {
            sodium_memzero(key, sizeof key);
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing keyring %s", path);
            goto done;
        }
        crypto_secretbox_easy(ct, plain, plain_len, nonce, key);
        sodium_memzero(key, sizeof key);
        s.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        s.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        s.salt.len = sizeof salt;
        s.salt.data = salt;
        s.nonce.len = sizeof nonce;
        s.nonce.data = nonce;
        s.ciphertext.len = ct_len;
        s.ciphertext.data = ct;
        file_len = KR_HEADER_LEN + dmv__v1__sealed_keyring__get_packed_size(&s);
        file = dmvf__secure_alloc(file_len);
        if (!file) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory writing keyring %s", path);
            goto done;
        }
        memcpy(file, KR_MAGIC, KR_MAGIC_LEN);
        file[KR_MAGIC_LEN] = KR_SEALED;
        dmv__v1__sealed_keyring__pack(&s, file + KR_HEADER_LEN);
    }
    if (file_len > KR_FILE_MAX) {
        rc = dmvf__seterr(err, DMVF_EKEYRING,
                          "keyring %s would be %zu bytes, over the %zu-byte limit on keyring files",
                          path, file_len, KR_FILE_MAX);
        goto done;
    }
    *out = file;
    *out_len = file_len;
    file = NULL;
    rc = DMVF_OK;
done:
    free(ct);
    if (file)
        sodium_free(file);
    sodium_free(plain);
    return rc;
}

/* Writes data to path whole (core/fileio.h). exclusive: fail with DMVF_EIO
 * if path exists (create); otherwise replace it (rotate). */
static int write_atomic(const char *path, const uint8_t *data, size_t len, int exclusive,
                        dmvf_error *err)
{
    int st = dmvf__file_create(path, data, len, 0600,
                               exclusive ? DMVF__FILE_NEW : DMVF__FILE_REPLACE);
    return st ? dmvf__file_error(err, st, "keyring", path) : DMVF_OK;
}

static int refuse_existing(const char *path, dmvf_error *err)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return dmvf__seterr(err, DMVF_EIO, "keyring %s already exists", path);
    return DMVF_OK;
}

static int save(const dmvf_keyring *k, const char *path, const char *passphrase, int exclusive,
                dmvf_error *err)
{
    uint8_t *file;
    size_t len;
    int rc = build_file(k, path, passphrase, &file, &len, err);

    if (rc != DMVF_OK)
        return rc;
    rc = write_atomic(path, file, len, exclusive, err);
    sodium_free(file);
    return rc;
}

static void fresh_epoch(dmvf__kr_epoch *e, uint32_t epoch)
{
    time_t now = time(NULL);

    e->epoch = epoch;
    e->created = now > 0 ? (uint64_t)now : 0;
    randombytes_buf(e->pseudonym_key, sizeof e->pseudonym_key);
    randombytes_buf(e->encryption_key, sizeof e->encryption_key);
}

int dmvf_keyring_create(const char *path, const char *passphrase, dmvf_error *err)
{
    dmvf_keyring *k;
    int rc;

    DMVF_REQUIRE(path, "path is NULL");
    if ((rc = sodium_ready(err)) != DMVF_OK)
        return rc;
    if (passphrase && !*passphrase)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "empty passphrase for keyring %s (give none to create it unsealed)",
                            path);
    if ((rc = refuse_existing(path, err)) != DMVF_OK)
        return rc;
    k = keyring_alloc(1);
    if (!k)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating keyring %s", path);
    k->sealed = passphrase != NULL;
    fresh_epoch(&k->epochs[0], 1);
    crypto_sign_keypair(k->sign_pk, k->sign_sk);
    randombytes_buf(k->audit_key, sizeof k->audit_key);
    rc = save(k, path, passphrase, 1, err);
    sodium_free(k);
    return rc;
}

int dmvf_keyring_rotate(const char *path, const char *passphrase, dmvf_error *err)
{
    dmvf_keyring *old, *k;
    uint32_t last;
    int rc;

    DMVF_REQUIRE(path, "path is NULL");
    if ((rc = load_keyring(path, passphrase, &old, err)) != DMVF_OK)
        return rc;
    last = old->epochs[old->nepochs - 1].epoch;
    if (last >= DMVF__EPOCH_MAX) {
        dmvf_keyring_free(old);
        return dmvf__seterr(err, DMVF_EKEYRING, "keyring %s is at the last epoch (%u)", path,
                            DMVF__EPOCH_MAX);
    }
    k = keyring_alloc(old->nepochs + 1);
    if (!k) {
        dmvf_keyring_free(old);
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory rotating keyring %s", path);
    }
    k->sealed = old->sealed;
    memcpy(k->sign_pk, old->sign_pk, sizeof k->sign_pk);
    memcpy(k->sign_sk, old->sign_sk, sizeof k->sign_sk);
    memcpy(k->audit_key, old->audit_key, sizeof k->audit_key);
    memcpy(k->epochs, old->epochs, old->nepochs * sizeof old->epochs[0]);
    fresh_epoch(&k->epochs[old->nepochs], last + 1);
    rc = save(k, path, old->sealed ? passphrase : NULL, 0, err);
    dmvf_keyring_free(old);
    sodium_free(k);
    return rc;
}

/* ---- seeded keyrings (tests, golden files, examples) ----
 *
 * Every key is BLAKE2b(key = seed (32 bytes),
 *                      "dmvf-seed" 0x00 || label || epoch as 4 bytes big-endian)
 * with labels "pseudonym" and "encryption" (32 bytes, epoch 1..n), "audit"
 * (32 bytes, epoch 0) and "sign" (the 32-byte Ed25519 seed, epoch 0).
 */
static void seed_derive(uint8_t *out, size_t outlen, const uint8_t seed[32], const char *label,
                        uint32_t epoch)
{
    crypto_generichash_state st;
    uint8_t be[4];

    be[0] = (uint8_t)(epoch >> 24);
    be[1] = (uint8_t)(epoch >> 16);
    be[2] = (uint8_t)(epoch >> 8);
    be[3] = (uint8_t)epoch;
    crypto_generichash_init(&st, seed, 32, outlen);
    crypto_generichash_update(&st, (const uint8_t *)"dmvf-seed", 10); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_update(&st, be, sizeof be);
    crypto_generichash_final(&st, out, outlen);
    sodium_memzero(&st, sizeof st);
}

int dmvf__keyring_create_seeded(const char *path, const uint8_t seed[32], uint32_t nepochs,
                                dmvf_error *err)
{
    uint8_t sign_seed[crypto_sign_SEEDBYTES];
    dmvf_keyring *k;
    uint32_t i;
    int rc;

    DMVF_REQUIRE(path && seed, "path or seed is NULL");
    if ((rc = sodium_ready(err)) != DMVF_OK)
        return rc;
    if (nepochs < 1 || nepochs > DMVF__EPOCH_MAX)
        return dmvf__seterr(err, DMVF_EINVAL, "seeded keyring %s: %u epochs (must be 1..%u)",
                            path, nepochs, DMVF__EPOCH_MAX);
    if ((rc = refuse_existing(path, err)) != DMVF_OK)
        return rc;
    k = keyring_alloc(nepochs);
    if (!k)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory creating keyring %s", path);
    for (i = 0; i < nepochs; i++) {
        k->epochs[i].epoch = i + 1;
        k->epochs[i].created = 0;
        seed_derive(k->epochs[i].pseudonym_key, DMVF__KEY_BYTES, seed, "pseudonym", i + 1);
        seed_derive(k->epochs[i].encryption_key, DMVF__KEY_BYTES, seed, "encryption", i + 1);
    }
    seed_derive(k->audit_key, DMVF__KEY_BYTES, seed, "audit", 0);
    seed_derive(sign_seed, sizeof sign_seed, seed, "sign", 0);
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, sign_seed);
    sodium_memzero(sign_seed, sizeof sign_seed);
    rc = save(k, path, NULL, 1, err);
    sodium_free(k);
    return rc;
}
