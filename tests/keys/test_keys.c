/*
 * test_keys.c - keyring files (create, seal, load, refuse, rotate, seeded),
 * key derivation, pseudonyms and encryption tokens, with known answers that
 * are also recomputed here from the primitives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "dmv/v1/keyring.pb-c.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static unsigned slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    if (len && write(fd, data, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    fchmod(fd, mode);
    return close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1024];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int matches(const char *re, const uint8_t *s, size_t n)
{
    regex_t r;
    char buf[4096];
    int ok;
    if (n >= sizeof buf || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    ok = regexec(&r, buf, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static int file_mode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* Base32 (RFC 4648, lowercase, no padding) one bit at a time: an encoder
 * written differently from the library's, to check it. */
static void b32_bitwise(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
    size_t bits = n * 8, i, o = 0;
    for (i = 0; i < bits; i += 5) {
        unsigned v = 0, j;
        for (j = 0; j < 5; j++) {
            size_t b = i + j;
            unsigned bit = b < bits ? (in[b / 8] >> (7 - b % 8)) & 1u : 0u;
            v = v << 1 | bit;
        }
        out[o++] = a[v];
    }
    out[o] = '\0';
}

static void blake2b_parts(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                          const void *msg, size_t msglen)
{
    crypto_generichash(out, outlen, msg, msglen, key, keylen);
}

/* ---- keyring files ---- */

/* The Argon2id costs a sealed secret file (magic, seal byte 1, then a
 * SealedKeyring) records: libsodium's MODERATE opslimit and memlimit. */
static void check_costs(const char *p, const char *what)
{
    size_t n = 0;
    uint8_t *b = read_file(p, &n);
    Dmv__V1__SealedKeyring *s = b && n > 9 && b[8] == 1
                                    ? dmv__v1__sealed_keyring__unpack(NULL, n - 9, b + 9) : NULL;
    CHECK_MSG(s != NULL, "%s: %s holds a SealedKeyring", what, p);
    if (s) {
        CHECK_MSG(s->opslimit == crypto_pwhash_OPSLIMIT_MODERATE,
                  "%s: opslimit %llu, want MODERATE %llu", what, (unsigned long long)s->opslimit,
                  (unsigned long long)crypto_pwhash_OPSLIMIT_MODERATE);
        CHECK_MSG(s->memlimit == crypto_pwhash_MEMLIMIT_MODERATE,
                  "%s: memlimit %llu, want MODERATE %llu", what, (unsigned long long)s->memlimit,
                  (unsigned long long)crypto_pwhash_MEMLIMIT_MODERATE);
        CHECK_EQ_INT(s->salt.len, crypto_pwhash_SALTBYTES);
        dmv__v1__sealed_keyring__free_unpacked(s, NULL);
    }
    free(b);
}

static void test_sealed(void)
{
    const char *p = tpath("sealed.kr");
    dmvf_error err;
    dmvf_keyring *k;
    uint32_t ep = 0;
    uint64_t created = 0;
    time_t now = time(NULL);
    uint8_t *before, *after;
    size_t blen = 0, alen = 0;

    CHECK_EQ_INT(dmvf_keyring_create(p, "correct horse battery staple", &err), DMVF_OK);
    CHECK_EQ_INT(file_mode(p), 0600);

    k = dmvf_keyring_load(p, "correct horse battery staple", &err);
    CHECK(k != NULL);
    if (k) {
        CHECK_EQ_INT(dmvf_keyring_is_sealed(k), 1);
        CHECK_EQ_INT(dmvf_keyring_epoch(k), 1);
        CHECK_EQ_INT(dmvf_keyring_epoch_count(k), 1);
        CHECK_EQ_INT(dmvf_keyring_epoch_info(k, 0, &ep, &created), DMVF_OK);
        CHECK_EQ_INT(ep, 1);
        CHECK((int64_t)created >= (int64_t)now - 5 && (int64_t)created <= (int64_t)now + 5);
        dmvf_keyring_free(k);
    }

    memset(&err, 0, sizeof err);
    k = dmvf_keyring_load(p, "wrong horse", &err);
    CHECK(k == NULL);
    CHECK_EQ_INT(err.code, DMVF_EPASSPHRASE);
    CHECK(strstr(err.msg, p) != NULL);

    memset(&err, 0, sizeof err);
    k = dmvf_keyring_load(p, NULL, &err);
    CHECK(k == NULL);
    CHECK_EQ_INT(err.code, DMVF_EPASSPHRASE);
    CHECK_MSG(strstr(err.msg, "--passphrase-file") && strstr(err.msg, "DMVFILTER_PASSPHRASE"),
              "%s", err.msg);

    /* sealed at the MODERATE Argon2id costs, recorded in the file */
    check_costs(p, "a new keyring");

    /* rotate re-seals with a new salt and nonce */
    before = read_file(p, &blen);
    CHECK_EQ_INT(dmvf_keyring_rotate(p, "correct horse battery staple", &err), DMVF_OK);
    after = read_file(p, &alen);
    CHECK(before && after && alen > blen && after[8] == 1);
    CHECK_EQ_INT(file_mode(p), 0600);
    k = dmvf_keyring_load(p, "correct horse battery staple", &err);
    CHECK(k != NULL);
    if (k) {
        CHECK_EQ_INT(dmvf_keyring_is_sealed(k), 1);
        CHECK_EQ_INT(dmvf_keyring_epoch(k), 2);
        CHECK_EQ_INT(dmvf_keyring_epoch_count(k), 2);
        dmvf_keyring_free(k);
    }
    check_costs(p, "a rotated keyring");
    free(before);
    free(after);

    /* an empty passphrase is refused rather than sealing with nothing */
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(dmvf_keyring_create(tpath("empty-pass.kr"), "", &err), DMVF_EINVAL);
    CHECK(access(tpath("empty-pass.kr"), F_OK) != 0);
}

static void test_unsealed_and_refusals(void)
{
    const char *p = tpath("plain.kr");
    dmvf_error err;
    dmvf_keyring *k;
    uint8_t *orig, *now;
    size_t olen = 0, nlen = 0;

    CHECK_EQ_INT(dmvf_keyring_create(p, NULL, &err), DMVF_OK);
    CHECK_EQ_INT(file_mode(p), 0600);
    k = dmvf_keyring_load(p, NULL, &err);
    CHECK(k != NULL);
    if (k) {
        CHECK_EQ_INT(dmvf_keyring_is_sealed(k), 0);
        CHECK_EQ_INT(dmvf_keyring_epoch(k), 1);
        dmvf_keyring_free(k);
    }

    /* too open */
    chmod(p, 0644);
    memset(&err, 0, sizeof err);
    k = dmvf_keyring_load(p, NULL, &err);
    CHECK(k == NULL);
    CHECK_EQ_INT(err.code, DMVF_EKEYRING);
    CHECK_MSG(strstr(err.msg, "mode 0644") && strstr(err.msg, "chmod 600") && strstr(err.msg, p),
              "%s", err.msg);
    chmod(p, 0640);
    CHECK(dmvf_keyring_load(p, NULL, &err) == NULL && err.code == DMVF_EKEYRING);
    chmod(p, 0601);
    CHECK(dmvf_keyring_load(p, NULL, &err) == NULL && err.code == DMVF_EKEYRING);
    chmod(p, 0400);
    k = dmvf_keyring_load(p, NULL, &err);
    CHECK(k != NULL);
    dmvf_keyring_free(k);
    chmod(p, 0600);

    /* create over an existing file fails and leaves it alone */
    orig = read_file(p, &olen);
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(dmvf_keyring_create(p, NULL, &err), DMVF_EIO);
    CHECK(strstr(err.msg, "exists") != NULL);
    now = read_file(p, &nlen);
    CHECK(orig && now && olen == nlen && memcmp(orig, now, olen) == 0);
    free(orig);
    free(now);

    /* missing file */
    memset(&err, 0, sizeof err);
    k = dmvf_keyring_load(tpath("nope.kr"), NULL, &err);
    CHECK(k == NULL);
    CHECK_EQ_INT(err.code, DMVF_EKEYRING);
    CHECK(strstr(err.msg, "nope.kr") != NULL);

    /* not a regular file */
    CHECK(mkdir(tpath("adir"), 0700) == 0);
    memset(&err, 0, sizeof err);
    CHECK(dmvf_keyring_load(tpath("adir"), NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, DMVF_EKEYRING);
    CHECK(strstr(err.msg, "regular") != NULL);
}

static void expect_corrupt(const char *name, const void *data, size_t len, const char *why)
{
    const char *p = tpath(name);
    dmvf_error err;
    dmvf_keyring *k;

    memset(&err, 0, sizeof err);
    CHECK(write_file(p, data, len, 0600) == 0);
    k = dmvf_keyring_load(p, NULL, &err);
    CHECK_MSG(k == NULL, "%s loaded", name);
    dmvf_keyring_free(k);
    CHECK_MSG(err.code == DMVF_EKEYRING, "%s: code %d (%s)", name, err.code, err.msg);
    CHECK_MSG(strstr(err.msg, name) != NULL, "%s: message does not name the file: %s", name,
              err.msg);
    if (why)
        CHECK_MSG(strstr(err.msg, why) != NULL, "%s: expected \"%s\" in: %s", name, why, err.msg);
}

/* A packed Keyring with one epoch whose pseudonym key is klen bytes. */
static size_t pack_test_keyring(uint8_t *out, size_t klen, size_t nepochs)
{
    static uint8_t key[64], spk[32], ssk[64];
    Dmv__V1__Keyring m = DMV__V1__KEYRING__INIT;
    Dmv__V1__KeyEpoch e = DMV__V1__KEY_EPOCH__INIT;
    Dmv__V1__KeyEpoch *ep[1] = { &e };
    uint8_t seed[32] = { 0 };

    crypto_sign_seed_keypair(spk, ssk, seed);
    e.epoch = 1;
    e.pseudonym_key.len = klen;
    e.pseudonym_key.data = key;
    e.encryption_key.len = 32;
    e.encryption_key.data = key;
    m.n_epochs = nepochs;
    m.epochs = ep;
    m.sign_public_key.len = 32;
    m.sign_public_key.data = spk;
    m.sign_secret_key.len = 64;
    m.sign_secret_key.data = ssk;
    m.audit_key.len = 32;
    m.audit_key.data = key;
    memcpy(out, "DMVFKR1\n\0", 9);
    return 9 + dmv__v1__keyring__pack(&m, out + 9);
}

static void test_corrupt(void)
{
    uint8_t *good, buf[1024];
    size_t glen = 0, n;
    uint8_t *big;

    CHECK_EQ_INT(dmvf_keyring_create(tpath("good.kr"), NULL, NULL), DMVF_OK);
    good = read_file(tpath("good.kr"), &glen);
    CHECK(good && glen > 100);
    if (!good)
        return;
    expect_corrupt("empty.kr", "", 0, "truncated");
    expect_corrupt("short.kr", good, 5, "truncated");
    expect_corrupt("half.kr", good, glen / 2, "corrupt");
    expect_corrupt("header-only.kr", good, 9, "no epochs");
    memcpy(buf, good, glen);
    buf[3] = 'X';
    expect_corrupt("badmagic.kr", buf, glen, "not a dmvfilter keyring");
    memcpy(buf, good, glen);
    buf[8] = 7;
    expect_corrupt("badseal.kr", buf, glen, "byte 8");
    /* sealed flag on unsealed contents: not a valid SealedKeyring */
    memcpy(buf, good, glen);
    buf[8] = 1;
    {
        const char *p = tpath("fakeseal.kr");
        dmvf_error err;
        memset(&err, 0, sizeof err);
        CHECK(write_file(p, buf, glen, 0600) == 0);
        CHECK(dmvf_keyring_load(p, "pw", &err) == NULL);
        CHECK_MSG(err.code == DMVF_EKEYRING, "%d %s", err.code, err.msg);
    }
    n = pack_test_keyring(buf, 31, 1);
    expect_corrupt("shortkey.kr", buf, n, "31 bytes");
    n = pack_test_keyring(buf, 32, 0);
    expect_corrupt("noepochs.kr", buf, n, "no epochs");
    /* the crafted keyring with proper lengths does load */
    n = pack_test_keyring(buf, 32, 1);
    CHECK(write_file(tpath("crafted.kr"), buf, n, 0600) == 0);
    {
        dmvf_keyring *k = dmvf_keyring_load(tpath("crafted.kr"), NULL, NULL);
        CHECK(k != NULL);
        dmvf_keyring_free(k);
    }
    big = calloc(1, ((size_t)1 << 20) + 1);
    if (big) {
        memcpy(big, good, glen);
        expect_corrupt("big.kr", big, ((size_t)1 << 20) + 1, "too large");
        free(big);
    }
    free(good);
}

static void test_rotate(void)
{
    const char *p = tpath("rot.kr");
    const char *paths[1] = { "person.family_name" };
    dmvf_keyring *k1, *k2;
    dmvf_keyctx *c1, *c2;
    dmvf_error err;
    uint32_t ep;
    uint64_t cr;
    uint8_t a[32], b[32], tok[64], plain[8];
    size_t plen = 0;

    CHECK_EQ_INT(dmvf_keyring_create(p, NULL, &err), DMVF_OK);
    k1 = dmvf_keyring_load(p, NULL, &err);
    CHECK_EQ_INT(dmvf_keyring_rotate(p, NULL, &err), DMVF_OK);
    CHECK_EQ_INT(file_mode(p), 0600);
    k2 = dmvf_keyring_load(p, NULL, &err);
    CHECK(k1 && k2);
    if (!k1 || !k2) {
        dmvf_keyring_free(k1);
        dmvf_keyring_free(k2);
        return;
    }
    CHECK_EQ_INT(dmvf_keyring_epoch_count(k2), 2);
    CHECK_EQ_INT(dmvf_keyring_epoch(k2), 2);
    CHECK_EQ_INT(dmvf_keyring_epoch_info(k2, 0, &ep, &cr), DMVF_OK);
    CHECK_EQ_INT(ep, 1);
    CHECK_EQ_INT(dmvf_keyring_epoch_info(k2, 1, &ep, &cr), DMVF_OK);
    CHECK_EQ_INT(ep, 2);
    CHECK_EQ_INT(dmvf_keyring_epoch_info(k2, 2, &ep, &cr), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_keyring_is_sealed(k2), 0);

    /* unlinkable across a rotation */
    c1 = dmvf__keyctx_create(k1, "CA0123456", paths, 1);
    c2 = dmvf__keyctx_create(k2, "CA0123456", paths, 1);
    CHECK(c1 && c2);
    if (c1 && c2) {
        CHECK_EQ_INT(dmvf__keyctx_epoch(c1), 1);
        CHECK_EQ_INT(dmvf__keyctx_epoch(c2), 2);
        dmvf__pseudonym(c1, 0, (const uint8_t *)"GARCIA", 6, a);
        dmvf__pseudonym(c2, 0, (const uint8_t *)"GARCIA", 6, b);
        CHECK(memcmp(a, "P0001.", 6) == 0);
        CHECK(memcmp(b, "P0002.", 6) == 0);
        CHECK(memcmp(a + 6, b + 6, 26) != 0);
        /* an epoch-1 token still reveals with the rotated keyring */
        dmvf__encrypt(c1, (const uint8_t *)"GARCIA", 6, tok);
        CHECK_EQ_INT(dmvf_keyring_reveal(k2, "CA0123456", (const char *)tok, dmvf__encrypt_len(6),
                                         plain, sizeof plain, &plen, &err),
                     DMVF_OK);
        CHECK(plen == 6 && memcmp(plain, "GARCIA", 6) == 0);
        /* and an epoch-2 token is unknown to the old keyring */
        dmvf__encrypt(c2, (const uint8_t *)"GARCIA", 6, tok);
        CHECK_EQ_INT(dmvf_keyring_reveal(k1, "CA0123456", (const char *)tok, dmvf__encrypt_len(6),
                                         plain, sizeof plain, &plen, &err),
                     DMVF_ETOKEN);
    }
    dmvf__keyctx_free(c1);
    dmvf__keyctx_free(c2);
    dmvf_keyring_free(k1);
    dmvf_keyring_free(k2);
}

/* ---- seeded keyrings and known answers ---- */

/*
 * Known answers for the seeded keyring with seed = bytes 0x00..0x1f, one
 * epoch, scope "CA0123456", path "person.family_name", value "GARCIA".
 * They were produced once by this library, confirmed by an independent Python
 * computation (hashlib.blake2b, a pure-Python SipHash-2-4-128 and XChaCha20,
 * base64.b32encode/urlsafe_b64encode), and are recomputed below, step by
 * step, from crypto_generichash, crypto_shorthash_siphashx24,
 * crypto_stream_xchacha20_xor and sodium_bin2base64:
 *   pk    = BLAKE2b-256(key = seed, "dmvf-seed\0" "pseudonym" 00 00 00 01)
 *   K_p   = BLAKE2b-128(key = pk, "dmvf-pseud\0" "CA0123456" "\0" "person.family_name")
 *   P     = "P0001." base32(SipHash-2-4-128(K_p, "GARCIA"))
 *   ek    = BLAKE2b-256(key = seed, "dmvf-seed\0" "encryption" 00 00 00 01)
 *   K_mac = BLAKE2b-256(key = ek, "dmvf-siv\0" "CA0123456")
 *   K_enc = BLAKE2b-256(key = ek, "dmvf-enc\0" "CA0123456")
 *   siv   = BLAKE2b-192(key = K_mac, "GARCIA")
 *   E     = "E0001." base64url(siv || XChaCha20(K_enc, siv) ^ "GARCIA")
 */
#define GOLDEN_PSEUDONYM "P0001.eakoqcxlw6ym2bqg3qo243ycdy"
#define GOLDEN_TOKEN "E0001.mbT-j3HNIibdrquLUJgouu9AVe5wWqPcZ3Bz5rVC"

static void seed_key(uint8_t out[32], const uint8_t seed[32], const char *label, uint32_t epoch)
{
    uint8_t msg[64];
    size_t n = 0, l = strlen(label);
    memcpy(msg, "dmvf-seed", 10);
    n = 10;
    memcpy(msg + n, label, l);
    n += l;
    msg[n++] = (uint8_t)(epoch >> 24);
    msg[n++] = (uint8_t)(epoch >> 16);
    msg[n++] = (uint8_t)(epoch >> 8);
    msg[n++] = (uint8_t)epoch;
    blake2b_parts(out, 32, seed, 32, msg, n);
}

static void scope_key(uint8_t *out, size_t outlen, const uint8_t key[32], const char *label,
                      const char *scope, const char *path)
{
    uint8_t msg[256];
    size_t n = 0;
    memcpy(msg, label, strlen(label) + 1);
    n = strlen(label) + 1;
    memcpy(msg + n, scope, strlen(scope));
    n += strlen(scope);
    if (path) {
        msg[n++] = 0;
        memcpy(msg + n, path, strlen(path));
        n += strlen(path);
    }
    blake2b_parts(out, outlen, key, 32, msg, n);
}

/* The token for v recomputed in one piece (no chunks). */
static size_t token_by_hand(char *out, size_t cap, const uint8_t ek[32], const char *scope,
                            uint32_t epoch, const uint8_t *v, size_t n)
{
    uint8_t kmac[32], kenc[32], *sc = malloc(24 + n + 1);
    size_t len;
    scope_key(kmac, 32, ek, "dmvf-siv", scope, NULL);
    scope_key(kenc, 32, ek, "dmvf-enc", scope, NULL);
    crypto_generichash(sc, 24, v, n, kmac, 32);
    crypto_stream_xchacha20_xor(sc + 24, v, n, sc, kenc);
    snprintf(out, cap, "E%04x.", (unsigned)epoch);
    sodium_bin2base64(out + 6, cap - 6, sc, 24 + n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    len = strlen(out);
    free(sc);
    return len;
}

static void test_seeded(void)
{
    uint8_t seed[32], seed2[32], pk[32], ek[32], kp[16], h[16];
    const char *paths[1] = { "person.family_name" };
    char b32[32], expect[64], hand[2048];
    uint8_t *a, *b, *c, pseud[33], tok[2048], val[1000];
    size_t alen = 0, blen = 0, clen = 0, i;
    dmvf_keyring *k;
    dmvf_keyctx *kc;
    uint32_t ep;
    uint64_t cr;
    dmvf_error err;

    for (i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
        seed2[i] = (uint8_t)(i + 1);
    }
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-a.kr"), seed, 3, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-b.kr"), seed, 3, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-c.kr"), seed2, 3, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-a.kr"), seed, 3, &err), DMVF_EIO);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-z.kr"), seed, 0, &err), DMVF_EINVAL);
    CHECK_EQ_INT(file_mode(tpath("seed-a.kr")), 0600);
    a = read_file(tpath("seed-a.kr"), &alen);
    b = read_file(tpath("seed-b.kr"), &blen);
    c = read_file(tpath("seed-c.kr"), &clen);
    CHECK(a && b && c);
    CHECK(a && b && alen == blen && memcmp(a, b, alen) == 0);
    CHECK(a && c && alen == clen && memcmp(a, c, alen) != 0);
    CHECK(a && a[8] == 0);
    free(a);
    free(b);
    free(c);

    k = dmvf_keyring_load(tpath("seed-a.kr"), NULL, &err);
    CHECK(k != NULL);
    if (k) {
        CHECK_EQ_INT(dmvf_keyring_epoch_count(k), 3);
        CHECK_EQ_INT(dmvf_keyring_epoch(k), 3);
        for (i = 0; i < 3; i++) {
            CHECK_EQ_INT(dmvf_keyring_epoch_info(k, i, &ep, &cr), DMVF_OK);
            CHECK_EQ_INT(ep, i + 1);
            CHECK_EQ_INT(cr, 0);
        }
        dmvf_keyring_free(k);
    }

    /* the known answer, on a one-epoch seeded keyring */
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("seed-1.kr"), seed, 1, &err), DMVF_OK);
    k = dmvf_keyring_load(tpath("seed-1.kr"), NULL, &err);
    CHECK(k != NULL);
    if (!k)
        return;
    kc = dmvf__keyctx_create(k, "CA0123456", paths, 1);
    CHECK(kc != NULL);
    if (kc) {
        memset(pseud, 0, sizeof pseud);
        dmvf__pseudonym(kc, 0, (const uint8_t *)"GARCIA", 6, pseud);

        seed_key(pk, seed, "pseudonym", 1);
        scope_key(kp, 16, pk, "dmvf-pseud", "CA0123456", "person.family_name");
        crypto_shorthash_siphashx24(h, (const uint8_t *)"GARCIA", 6, kp);
        b32_bitwise(h, 16, b32);
        snprintf(expect, sizeof expect, "P0001.%s", b32);
        CHECK_EQ_STR((char *)pseud, expect);
        CHECK_EQ_STR((char *)pseud, GOLDEN_PSEUDONYM);

        memset(tok, 0, sizeof tok);
        dmvf__encrypt(kc, (const uint8_t *)"GARCIA", 6, tok);
        seed_key(ek, seed, "encryption", 1);
        token_by_hand(hand, sizeof hand, ek, "CA0123456", 1, (const uint8_t *)"GARCIA", 6);
        CHECK_EQ_STR((char *)tok, hand);
        CHECK_EQ_STR((char *)tok, GOLDEN_TOKEN);

        /* chunked encryption equals one-piece encryption across chunk edges */
        for (i = 0; i < sizeof val; i++)
            val[i] = (uint8_t)(i * 7 + 3);
        {
            static const size_t lens[] = { 0, 1, 2, 3, 63, 64, 65, 191, 192, 193, 384, 385, 1000 };
            size_t j;
            for (j = 0; j < sizeof lens / sizeof lens[0]; j++) {
                size_t n = lens[j], tl = dmvf__encrypt_len(n);
                memset(tok, 0, sizeof tok);
                dmvf__encrypt(kc, val, n, tok);
                CHECK_EQ_INT(token_by_hand(hand, sizeof hand, ek, "CA0123456", 1, val, n), tl);
                CHECK_MSG(strlen((char *)tok) == tl && memcmp(tok, hand, tl) == 0,
                          "length %zu", n);
            }
        }
        dmvf__keyctx_free(kc);
    }
    dmvf_keyring_free(k);
}

/* ---- pseudonyms ---- */

static void test_pseudonyms(void)
{
    const char *paths[3] = { "person.family_name", "person.given_name", "person.family_name" };
    const char *re = "^P[0-9a-f]{4}\\.[a-z2-7]{26}$";
    uint8_t seed[32];
    uint8_t p1[40], p2[40], p3[40];
    dmvf_keyring *k, *k2;
    dmvf_keyctx *ca, *ca2, *ny, *other;
    size_t i;

    memset(seed, 0x5a, sizeof seed);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("ps.kr"), seed, 2, NULL), DMVF_OK);
    memset(seed, 0xa5, sizeof seed);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("ps2.kr"), seed, 2, NULL), DMVF_OK);
    k = dmvf_keyring_load(tpath("ps.kr"), NULL, NULL);
    k2 = dmvf_keyring_load(tpath("ps2.kr"), NULL, NULL);
    CHECK(k && k2);
    if (!k || !k2) {
        dmvf_keyring_free(k);
        dmvf_keyring_free(k2);
        return;
    }
    ca = dmvf__keyctx_create(k, "CA0123456", paths, 3);
    ca2 = dmvf__keyctx_create(k, "CA0123456", paths, 3);
    ny = dmvf__keyctx_create(k, "NY0303000", paths, 3);
    other = dmvf__keyctx_create(k2, "CA0123456", paths, 3);
    CHECK(ca && ca2 && ny && other);
    if (ca && ca2 && ny && other) {
        /* exactly 32 bytes, the format, the epoch */
        memset(p1, 0xee, sizeof p1);
        dmvf__pseudonym(ca, 0, (const uint8_t *)"GARCIA", 6, p1);
        for (i = 32; i < sizeof p1; i++)
            CHECK(p1[i] == 0xee);
        CHECK(matches(re, p1, 32));
        CHECK(memcmp(p1, "P0002.", 6) == 0);
        /* 128 bits in 26 characters: the last holds 3 bits, low 2 bits zero */
        CHECK(strchr("aeimquy4", p1[31]) != NULL);

        /* stable for the same scope, epoch, path and value */
        dmvf__pseudonym(ca, 0, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1, p2, 32) == 0);
        dmvf__pseudonym(ca2, 0, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1, p2, 32) == 0);
        dmvf__pseudonym(ca, 2, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1, p2, 32) == 0);   /* same path at another index */

        /* different across scopes, paths, values and keyrings */
        dmvf__pseudonym(ny, 0, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1, p2, 6) == 0 && memcmp(p1 + 6, p2 + 6, 26) != 0);
        dmvf__pseudonym(ca, 1, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);
        dmvf__pseudonym(ca, 0, (const uint8_t *)"GARCIB", 6, p2);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);
        dmvf__pseudonym(ca, 0, (const uint8_t *)"GARCI", 5, p2);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);
        dmvf__pseudonym(other, 0, (const uint8_t *)"GARCIA", 6, p2);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);

        /* empty value and a NULL pointer with length 0 agree */
        dmvf__pseudonym(ca, 0, (const uint8_t *)"", 0, p2);
        dmvf__pseudonym(ca, 0, NULL, 0, p3);
        CHECK(matches(re, p2, 32));
        CHECK(memcmp(p2, p3, 32) == 0);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);
    }
    dmvf__keyctx_free(ca);
    dmvf__keyctx_free(ca2);
    dmvf__keyctx_free(ny);
    dmvf__keyctx_free(other);

    /* an empty or NULL scope is allowed and distinct from a named one */
    ca = dmvf__keyctx_create(k, "", paths, 1);
    ny = dmvf__keyctx_create(k, NULL, paths, 1);
    CHECK(ca && ny);
    if (ca && ny) {
        dmvf__pseudonym(ca, 0, (const uint8_t *)"GARCIA", 6, p2);
        dmvf__pseudonym(ny, 0, (const uint8_t *)"GARCIA", 6, p3);
        CHECK(memcmp(p2, p3, 32) == 0);
        CHECK(memcmp(p1 + 6, p2 + 6, 26) != 0);
    }
    dmvf__keyctx_free(ca);
    dmvf__keyctx_free(ny);
    dmvf_keyring_free(k);
    dmvf_keyring_free(k2);
}

/* ---- encryption tokens ---- */

static void test_tokens(void)
{
    const char *re = "^E[0-9a-f]{4}\\.[A-Za-z0-9_-]+$";
    uint8_t seed[32], val[1000], tok[1400], tok2[1400], out[1000];
    static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 64, 191, 192, 193, 1000 };
    dmvf_keyring *k, *k2;
    dmvf_keyctx *kc;
    dmvf_error err;
    size_t i, j, olen, tl;

    for (i = 0; i < 2000; i++)
        CHECK_EQ_INT(dmvf__encrypt_len(i), 6 + 32 + (4 * i + 2) / 3);

    memset(seed, 0x33, sizeof seed);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("tok.kr"), seed, 1, NULL), DMVF_OK);
    memset(seed, 0x44, sizeof seed);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(tpath("tok2.kr"), seed, 1, NULL), DMVF_OK);
    k = dmvf_keyring_load(tpath("tok.kr"), NULL, NULL);
    k2 = dmvf_keyring_load(tpath("tok2.kr"), NULL, NULL);
    kc = k ? dmvf__keyctx_create(k, "CA0123456", NULL, 0) : NULL;
    CHECK(k && k2 && kc);
    if (!k || !k2 || !kc) {
        dmvf__keyctx_free(kc);
        dmvf_keyring_free(k);
        dmvf_keyring_free(k2);
        return;
    }
    for (i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 31 + 1);

    for (j = 0; j < sizeof lens / sizeof lens[0]; j++) {
        size_t n = lens[j];
        tl = dmvf__encrypt_len(n);
        memset(tok, 0xee, sizeof tok);
        dmvf__encrypt(kc, val, n, tok);
        CHECK_MSG(tok[tl] == 0xee && tok[tl - 1] != 0xee, "length %zu", n);
        CHECK(matches(re, tok, tl));
        dmvf__encrypt(kc, val, n, tok2);
        CHECK(memcmp(tok, tok2, tl) == 0);  /* deterministic */
        memset(out, 0, sizeof out);
        olen = 12345;
        CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl, out, n, &olen, &err),
                     DMVF_OK);
        CHECK_EQ_INT(olen, n);
        CHECK(memcmp(out, val, n) == 0);
        if (n > 0) {
            olen = 0;
            CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl, out, n - 1,
                                             &olen, &err),
                         DMVF_ESPACE);
            CHECK_EQ_INT(olen, n);
            CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl, NULL, 0,
                                             &olen, &err),
                         DMVF_ESPACE);
        }
        /* another requester's scope, another keyring */
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(dmvf_keyring_reveal(k, "NY0303000", (const char *)tok, tl, out, sizeof out,
                                         &olen, &err),
                     DMVF_ETOKEN);
        CHECK_EQ_INT(err.code, DMVF_ETOKEN);
        CHECK_EQ_INT(olen, 0);
        CHECK_EQ_INT(dmvf_keyring_reveal(k2, "CA0123456", (const char *)tok, tl, out, sizeof out,
                                         &olen, &err),
                     DMVF_ETOKEN);
        /* truncated by one and by four characters */
        CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl - 1, out, sizeof out,
                                         &olen, &err),
                     DMVF_ETOKEN);
        CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl - 4, out, sizeof out,
                                         &olen, &err),
                     DMVF_ETOKEN);
        /* tampered: in the siv, in the ciphertext */
        memcpy(tok2, tok, tl);
        tok2[10] = tok2[10] == 'A' ? 'B' : 'A';
        CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out, sizeof out,
                                         &olen, &err),
                     DMVF_ETOKEN);
        if (n > 0) {
            memcpy(tok2, tok, tl);
            tok2[38] = tok2[38] == 'A' ? 'B' : 'A';
            memset(out, 0, sizeof out);
            CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out,
                                             sizeof out, &olen, &err),
                         DMVF_ETOKEN);
            for (i = 0; i < n; i++)
                if (out[i] != 0)
                    break;
            CHECK_MSG(i == n, "plaintext of a failed reveal left in the buffer (length %zu)", n);
        }
    }

    /* different values give different tokens */
    dmvf__encrypt(kc, (const uint8_t *)"GARCIA", 6, tok);
    dmvf__encrypt(kc, (const uint8_t *)"GARCIB", 6, tok2);
    CHECK(memcmp(tok + 6, tok2 + 6, dmvf__encrypt_len(6) - 6) != 0);
    tl = dmvf__encrypt_len(6);

    /* not tokens at all */
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", "hello", 5, out, sizeof out, &olen, &err),
                 DMVF_ETOKEN);
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", "", 0, out, sizeof out, &olen, &err),
                 DMVF_ETOKEN);
    {
        uint8_t ps[32];
        const char *paths[1] = { "x" };
        dmvf_keyctx *pc = dmvf__keyctx_create(k, "CA0123456", paths, 1);
        CHECK(pc != NULL);
        if (pc) {
            dmvf__pseudonym(pc, 0, (const uint8_t *)"GARCIA", 6, ps);
            CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)ps, 32, out, sizeof out,
                                             &olen, &err),
                         DMVF_ETOKEN);
            dmvf__keyctx_free(pc);
        }
    }
    /* unknown epoch, uppercase hex, a padding character, a non-canonical last char */
    memcpy(tok2, tok, tl);
    memcpy(tok2, "E0009", 5);
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out, sizeof out,
                                     &olen, &err),
                 DMVF_ETOKEN);
    CHECK(strstr(err.msg, "epoch") != NULL);
    memcpy(tok2, tok, tl);
    tok2[0] = 'e';
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out, sizeof out,
                                     &olen, &err),
                 DMVF_ETOKEN);
    memcpy(tok2, tok, tl);
    tok2[tl - 1] = '=';
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out, sizeof out,
                                     &olen, &err),
                 DMVF_ETOKEN);
    /* 6 bytes = 8 characters, no partial group: use a 7-byte value */
    dmvf__encrypt(kc, (const uint8_t *)"GARCIAS", 7, tok);
    tl = dmvf__encrypt_len(7);
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok, tl, out, sizeof out,
                                     &olen, &err),
                 DMVF_OK);
    memcpy(tok2, tok, tl);
    tok2[tl - 1] = (uint8_t)(tok2[tl - 1] == 'A' ? 'B' : tok2[tl - 1] + 1); /* low bits set */
    CHECK_EQ_INT(dmvf_keyring_reveal(k, "CA0123456", (const char *)tok2, tl, out, sizeof out,
                                     &olen, &err),
                 DMVF_ETOKEN);

    dmvf__keyctx_free(kc);
    dmvf_keyring_free(k);
    dmvf_keyring_free(k2);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/dmvf-keys-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    test_unsealed_and_refusals();
    test_corrupt();
    test_rotate();
    test_seeded();
    test_pseudonyms();
    test_tokens();
    test_sealed();
    rm_tree(tmpdir);
    CHECK_DONE();
}
