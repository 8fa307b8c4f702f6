/*
 * mkseeds.c - writes the parts of the fuzz seed corpora and dictionaries
 * that need the library: keyring files and the schema's field keys.
 * Run by tests/fuzz/make_corpus.sh; its output is committed.
 *
 *   fuzz_mkseeds keyrings DIR     keyring seeds into DIR (must exist)
 *   fuzz_mkseeds record-dict      dictionary entries for the record schema
 *                                 (every field key at every position, with
 *                                 its own wire type and the other ones,
 *                                 group start and end included)
 *
 * Keyring seeds: seeded unsealed keyrings of 1, 2 and 3 epochs; one sealed
 * with the cheapest Argon2id costs under the passphrase the fuzz target uses
 * (so the fuzzer reaches the decryption and the Keyring parser behind it);
 * sealed ones with costs the target declines to pay or the loader refuses;
 * and damaged variants of each kind (bad magic, seal byte, truncation,
 * epochs out of order or zero, key lengths, a signing key pair that does
 * not match, no epochs). All are deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/wire/schema.h"
#include "keys/keys.h"
#include "dmv/v1/keyring.pb-c.h"

#define PASSPHRASE "fuzz passphrase"   /* as in checks.c */

static int g_status;

static void put_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_mkseeds: cannot write %s\n", path);
        g_status = 1;
    }
}

/* A seeded keyring's file bytes; *n set. */
static uint8_t *seeded(uint32_t nepochs, uint8_t tag, size_t *n)
{
    char dir[] = "/tmp/dmvf-mkseeds-XXXXXX", path[64];
    uint8_t seed[32];
    dmvf_error err;
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/kr", dir);
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(tag + i);
    if (dmvf__keyring_create_seeded(path, seed, nepochs, &err) != DMVF_OK) {
        fprintf(stderr, "fuzz_mkseeds: %s\n", err.msg);
        exit(1);
    }
    FILE *f = fopen(path, "rb");
    uint8_t *b = malloc(1 << 20);
    if (!f || !b)
        abort();
    *n = fread(b, 1, 1 << 20, f);
    fclose(f);
    unlink(path);
    rmdir(dir);
    return b;
}

/* Header + packed message. */
static void put_keyring(const char *dir, const char *name, uint8_t seal, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n + 9);
    if (!b)
        abort();
    memcpy(b, "DMVFKR1\n", 8);
    b[8] = seal;
    protobuf_c_message_pack(m, b + 9);
    put_file(dir, name, b, n + 9);
    free(b);
}

static void put_sealed(const char *dir, const char *name, const uint8_t *plain, size_t plen, uint64_t ops,
                       uint64_t mem, size_t salt_len, size_t nonce_len)
{
    uint8_t salt[crypto_pwhash_SALTBYTES + 1], nonce[crypto_secretbox_NONCEBYTES + 1];
    uint8_t key[crypto_secretbox_KEYBYTES];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(0x30 + i);
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)(0x60 + i);
    uint8_t *ct = malloc(plen + crypto_secretbox_MACBYTES);
    if (!ct)
        abort();
    /* only cheap costs are derived here; the others get a key of zeros */
    memset(key, 0, sizeof key);
    if (ops <= 2 && mem <= (64u << 10) && ops >= crypto_pwhash_OPSLIMIT_MIN && mem >= crypto_pwhash_MEMLIMIT_MIN &&
        crypto_pwhash(key, sizeof key, PASSPHRASE, strlen(PASSPHRASE), salt, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        abort();
    crypto_secretbox_easy(ct, plain, plen, nonce, key);
    Dmv__V1__SealedKeyring s = DMV__V1__SEALED_KEYRING__INIT;
    s.opslimit = ops;
    s.memlimit = mem;
    s.salt.data = salt;
    s.salt.len = salt_len;
    s.nonce.data = nonce;
    s.nonce.len = nonce_len;
    s.ciphertext.data = ct;
    s.ciphertext.len = plen + crypto_secretbox_MACBYTES;
    put_keyring(dir, name, 1, &s.base);
    free(ct);
}

static int keyrings(const char *dir)
{
    size_t n1, n2, n3;
    uint8_t *k1 = seeded(1, 0x11, &n1), *k2 = seeded(2, 0x22, &n2), *k3 = seeded(3, 0x33, &n3);
    put_file(dir, "unsealed-1-epoch", k1, n1);
    put_file(dir, "unsealed-2-epochs", k2, n2);
    put_file(dir, "unsealed-3-epochs", k3, n3);

    /* header damage */
    uint8_t *b = malloc(n2);
    if (!b)
        abort();
    memcpy(b, k2, n2);
    b[0] = 'X';
    put_file(dir, "bad-magic", b, n2);
    memcpy(b, k2, n2);
    b[8] = 2;
    put_file(dir, "bad-seal-byte", b, n2);
    put_file(dir, "header-only", k2, 9);
    put_file(dir, "truncated-header", k2, 5);
    put_file(dir, "truncated-body", k2, n2 / 2);
    memcpy(b, k2, n2);
    b[n2 / 2] ^= 0x40;
    put_file(dir, "flipped-body-byte", b, n2);
    free(b);

    /* message-level damage */
    Dmv__V1__Keyring *m = dmv__v1__keyring__unpack(NULL, n3 - 9, k3 + 9);
    if (!m || m->n_epochs != 3)
        abort();
    Dmv__V1__KeyEpoch *e0 = m->epochs[0];
    m->epochs[0] = m->epochs[1];
    m->epochs[1] = e0;
    put_keyring(dir, "epochs-out-of-order", 0, &m->base);
    m->epochs[1] = m->epochs[0];
    m->epochs[0] = e0;
    uint32_t ep = e0->epoch;
    e0->epoch = 0;
    put_keyring(dir, "epoch-zero", 0, &m->base);
    e0->epoch = ep;
    size_t len = e0->pseudonym_key.len;
    e0->pseudonym_key.len = len - 1;
    put_keyring(dir, "short-pseudonym-key", 0, &m->base);
    e0->pseudonym_key.len = len;
    m->sign_public_key.data[0] ^= 1;
    put_keyring(dir, "sign-key-mismatch", 0, &m->base);
    m->sign_public_key.data[0] ^= 1;
    size_t ne = m->n_epochs;
    m->n_epochs = 0;
    put_keyring(dir, "no-epochs", 0, &m->base);
    m->n_epochs = ne;
    len = m->audit_key.len;
    m->audit_key.len = 0;
    put_keyring(dir, "no-audit-key", 0, &m->base);
    m->audit_key.len = len;
    dmv__v1__keyring__free_unpacked(m, NULL);

    /* sealed: cheap (decrypts under the target's passphrase), declined, refused */
    put_sealed(dir, "sealed-cheap", k2 + 9, n2 - 9, 1, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_SALTBYTES,
               crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-cheap-1-epoch", k1 + 9, n1 - 9, 2, 64u << 10, crypto_pwhash_SALTBYTES,
               crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-interactive-costs", k2 + 9, n2 - 9, crypto_pwhash_OPSLIMIT_INTERACTIVE,
               crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_SALTBYTES, crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-opslimit-out-of-range", k2 + 9, n2 - 9, 1000, crypto_pwhash_MEMLIMIT_MIN,
               crypto_pwhash_SALTBYTES, crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-memlimit-out-of-range", k2 + 9, n2 - 9, 1, (uint64_t)1 << 40, crypto_pwhash_SALTBYTES,
               crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-short-salt", k2 + 9, n2 - 9, 1, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_SALTBYTES - 1,
               crypto_secretbox_NONCEBYTES);
    put_sealed(dir, "sealed-long-nonce", k2 + 9, n2 - 9, 1, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_SALTBYTES,
               crypto_secretbox_NONCEBYTES + 1);
    /* a sealed payload that is not a Keyring */
    static const uint8_t junk[] = "not a keyring message \xff\xff\xff";
    put_sealed(dir, "sealed-junk-payload", junk, sizeof junk - 1, 1, crypto_pwhash_MEMLIMIT_MIN,
               crypto_pwhash_SALTBYTES, crypto_secretbox_NONCEBYTES);
    free(k1);
    free(k2);
    free(k3);
    return g_status;
}

static void dict_key(uint32_t num, unsigned wt, const char *what)
{
    uint64_t key = (uint64_t)num << 3 | wt;
    uint8_t b[8];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(key & 0x7f);
        key >>= 7;
        if (key)
            b[n] |= 0x80;
        n++;
    } while (key);
    printf("# %s\n\"", what);
    for (size_t i = 0; i < n; i++)
        printf("\\x%02x", b[i]);
    printf("\"\n");
}

static int record_dict(void)
{
    /* one entry per distinct key: the schema's wire type first */
    static uint8_t seen[64][8];
    for (size_t i = 0; i < dmvf__schema_npaths(); i++) {
        const dmvf_sfield *sf = dmvf__schema_field(i);
        unsigned wt = (sf->type == DMVF_T_STRING || sf->type == DMVF_T_BYTES || sf->type == DMVF_T_MESSAGE) ? 2 : 0;
        if (sf->number < 64 && !seen[sf->number][wt]) {
            seen[sf->number][wt] = 1;
            dict_key(sf->number, wt, sf->path);
        }
    }
    /* the same numbers with the other wire types (groups: start and end),
     * and unknown numbers */
    static const unsigned wts[] = {0, 1, 2, 5, 3, 4};
    for (uint32_t num = 1; num <= 24; num++)
        for (size_t k = 0; k < 6; k++)
            if (!seen[num][wts[k]]) {
                seen[num][wts[k]] = 1;
                char what[48];
                snprintf(what, sizeof what, "field %u, wire type %u", num, wts[k]);
                dict_key(num, wts[k], what);
            }
    dict_key(1998, 0, "unknown field 1998, varint");
    dict_key(1999, 2, "unknown field 1999, bytes");
    dict_key(536870911, 2, "the largest field number");
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "keyrings") == 0)
        return keyrings(argv[2]);
    if (argc == 2 && strcmp(argv[1], "record-dict") == 0)
        return record_dict();
    fprintf(stderr, "usage: fuzz_mkseeds keyrings DIR | record-dict\n");
    return 64;
}
