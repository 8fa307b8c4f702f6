/*
 * keyring_file.c - keyring files: load, create, rotate; seeded test keyrings.
 *
 * File layout (schema/dmv/v1/keyring.proto), at most 1 MiB:
 *
 *   0            8      9
 *   +------------+------+------------------------------------------+
 *   | "DMVFKR1\n" | seal | seal 0: Keyring | seal 1: SealedKeyring  |
 *   +------------+------+------------------------------------------+
 *
 * a secret file of kind DMVF__SECRET_KEYRING (keyfile_int.h): read, checked
 * and sealed by secret_file.c (Argon2id + crypto_secretbox).
 *
 * Secrets in memory: the file and the unsealed payload are in secure
 * memory; the Keyring message is unpacked with an allocator backed by
 * sodium_malloc (so every copy protobuf-c makes is guarded and wiped on
 * free), then copied into one sodium_malloc block (keyring_int.h) that is
 * made read-only. Stack temporaries holding keys are wiped with
 * sodium_memzero before returning.
 *
 * Writing is atomic (dmvf__file_create, core/fileio.h): a 0600 temporary
 * file beside the target, written, fsync'd, then linked (create: fails if
 * the target exists) or renamed (rotate) into place, and the directory
 * fsync'd.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>
#include "dmv/v1/keyring.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/pballoc.h"
#include "keys/keyfile_int.h"
#include "keys/keys.h"
#include "keys/keyring_int.h"

/* ---- reading ---- */

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
    k = dmvf__keyring_alloc(m->n_epochs);
    if (!k) {
        rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory loading keyring %s", path);
        goto done;
    }
    k->users = malloc(sizeof *k->users);
    k->cache = dmvf__kc_cache_new();
    if (!k->users || !k->cache) {
        free(k->users);
        dmvf__kc_cache_free(k->cache);
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

/* The keyring file at path, loaded into a new keyring block. */
static int load_keyring(const char *path, const char *passphrase, dmvf_keyring **out,
                        dmvf_error *err)
{
    uint8_t *buf;
    const uint8_t *data;
    size_t len;
    int sealed, rc;

    *out = NULL;
    if ((rc = dmvf__sodium_ready(err)) != DMVF_OK)
        return rc;
    rc = dmvf__secret_load(DMVF__SECRET_KEYRING, path, passphrase, &buf, &data, &len, &sealed, err);
    if (rc != DMVF_OK)
        return rc;
    rc = parse_keyring(path, data, len, sealed, out, err);
    sodium_free(buf);
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

/* The file bytes for k, in secure memory: unsealed when passphrase is
 * NULL, otherwise sealed with a fresh salt and nonce. */
static int build_file(const dmvf_keyring *k, const char *path, const char *passphrase,
                      uint8_t **out, size_t *out_len, dmvf_error *err)
{
    uint8_t *plain, *file;
    size_t plain_len, file_len;
    int rc;

    *out = NULL;
    *out_len = 0;
    if ((rc = pack_keyring(k, path, &plain, &plain_len, err)) != DMVF_OK)
        return rc;
    rc = dmvf__secret_build(DMVF__SECRET_KEYRING, path, plain, plain_len, passphrase, &file, &file_len, err);
    sodium_free(plain);
    if (rc != DMVF_OK)
        return rc;
    if (file_len > DMVF__KEYRING_FILE_MAX) {
        sodium_free(file);
        return dmvf__seterr(err, DMVF_EKEYRING,
                            "keyring %s would be %zu bytes, over the %zu-byte limit on keyring files",
                            path, file_len, DMVF__KEYRING_FILE_MAX);
    }
    *out = file;
    *out_len = file_len;
    return DMVF_OK;
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
    if ((rc = dmvf__sodium_ready(err)) != DMVF_OK)
        return rc;
    if (passphrase && !*passphrase)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "empty passphrase for keyring %s (give none to create it unsealed)",
                            path);
    if ((rc = refuse_existing(path, err)) != DMVF_OK)
        return rc;
    k = dmvf__keyring_alloc(1);
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
    k = dmvf__keyring_alloc(old->nepochs + 1);
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
    if ((rc = dmvf__sodium_ready(err)) != DMVF_OK)
        return rc;
    if (nepochs < 1 || nepochs > DMVF__EPOCH_MAX)
        return dmvf__seterr(err, DMVF_EINVAL, "seeded keyring %s: %u epochs (must be 1..%u)",
                            path, nepochs, DMVF__EPOCH_MAX);
    if ((rc = refuse_existing(path, err)) != DMVF_OK)
        return rc;
    k = dmvf__keyring_alloc(nepochs);
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
