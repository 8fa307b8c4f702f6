/*
 * crypto.c - per-request key derivation, pseudonyms, deterministic
 * encryption tokens and their reveal.
 *
 * Derivation (BLAKE2b keyed with the epoch's keys, keys.h):
 *   K_p[i]  = BLAKE2b-128(pseudonym_key,  "dmvf-pseud" 0x00 || scope || 0x00 || path[i])
 *   K_mac   = BLAKE2b-256(encryption_key, "dmvf-siv" 0x00 || scope)
 *   K_enc   = BLAKE2b-256(encryption_key, "dmvf-enc" 0x00 || scope)
 *
 * Pseudonym, exactly 32 bytes:
 *
 *   0   1      5   6                                   32
 *   +---+------+---+-----------------------------------+
 *   | P | eeee | . | base32(SipHash-2-4-128(K_p, v))   |   26 chars, a-z2-7
 *   +---+------+---+-----------------------------------+
 *
 * Encryption token, 6 + 32 + ceil(4n/3) bytes for an n-byte value:
 *
 *   0   1      5   6                38
 *   +---+------+---+----------------+------------------------------+
 *   | E | eeee | . | b64url(siv)    | b64url(XChaCha20(K_enc,siv)^v) |
 *   +---+------+---+----------------+------------------------------+
 *   siv = BLAKE2b-192(K_mac, v); base64url without padding. Since 24 is a
 *   multiple of 3, b64(siv || ct) = b64(siv) || b64(ct), and ct is produced
 *   and encoded in 192-byte chunks (3 | 192 and 64 | 192, so each chunk
 *   starts on a whole base64 group and a whole ChaCha block: counter off/64).
 *
 * eeee is the epoch in 4 lowercase hex digits. The pseudonym and encrypt
 * functions are the hot path: no allocation, no formatted output.
 */
#include <string.h>
#include <sodium.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "keys/keys.h"
#include "keys/keyring_int.h"

#define PSEUD_KEY_BYTES crypto_shorthash_siphashx24_KEYBYTES  /* 16 */
#define SIV_BYTES crypto_stream_xchacha20_NONCEBYTES          /* 24 */
#define SIV_CHARS 32u                                         /* base64 of 24 bytes */
#define TOKEN_HEAD 6u                                         /* 'E' eeee '.' */
#define CHUNK 192u

struct dmvf_keyctx {
    dmvf__kc_cache *cache;      /* the keyring's, which takes it back; NULL: freed here */
    size_t npaths;
    uint32_t epoch;
    uint8_t k_mac[crypto_generichash_KEYBYTES];
    uint8_t k_enc[crypto_stream_xchacha20_KEYBYTES];
    uint8_t k_p[][PSEUD_KEY_BYTES];
};

static const uint8_t empty_value[1];
static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- derivation ---- */

/* out = BLAKE2b-outlen(key, label 0x00 || scope [|| 0x00 || path]). */
static void kdf(uint8_t *out, size_t outlen, const uint8_t key[DMVF__KEY_BYTES], const char *label,
                const char *scope, const char *path)
{
    static const uint8_t zero = 0;
    crypto_generichash_state st;

    crypto_generichash_init(&st, key, DMVF__KEY_BYTES, outlen);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const uint8_t *)scope, strlen(scope));
    if (path) {
        crypto_generichash_update(&st, &zero, 1);
        crypto_generichash_update(&st, (const uint8_t *)path, strlen(path));
    }
    crypto_generichash_final(&st, out, outlen);
    sodium_memzero(&st, sizeof st);
}

static void derive_enc(const dmvf__kr_epoch *e, const char *scope, uint8_t k_mac[32],
                       uint8_t k_enc[32])
{
    kdf(k_mac, 32, e->encryption_key, "dmvf-siv", scope, NULL);
    kdf(k_enc, 32, e->encryption_key, "dmvf-enc", scope, NULL);
}

/* A new context for scope and paths in read-only secure memory, that
 * remembers kr->cache (dmvf__keyctx_free gives it back there). */
static dmvf_keyctx *derive(const dmvf_keyring *kr, const char *scope, const char *const *paths, size_t npaths)
{
    const dmvf__kr_epoch *e;
    dmvf_keyctx *kc;
    size_t i;

    if (npaths > (SIZE_MAX - sizeof *kc) / PSEUD_KEY_BYTES)
        return NULL;
    size_t bytes = sizeof *kc + npaths * PSEUD_KEY_BYTES, had = 0;
    /* an evicted context's block when one is big enough: two mprotects
       instead of a new guarded allocation and the old one's release */
    kc = kr->cache ? dmvf__kc_cache_take(kr->cache, bytes, &had) : NULL;
    if (kc) {
        sodium_mprotect_readwrite(kc);
        sodium_memzero(kc, had);
    } else if (!(kc = dmvf__secure_alloc(bytes))) {
        return NULL;
    }
    e = &kr->epochs[kr->nepochs - 1];
    kc->cache = kr->cache;
    kc->npaths = npaths;
    kc->epoch = e->epoch;
    derive_enc(e, scope, kc->k_mac, kc->k_enc);
    for (i = 0; i < npaths; i++)
        kdf(kc->k_p[i], PSEUD_KEY_BYTES, e->pseudonym_key, "dmvf-pseud", scope, paths[i]);
    sodium_mprotect_readonly(kc);
    return kc;
}

dmvf_keyctx *dmvf__keyctx_create(const dmvf_keyring *kr, const char *scope,
                                 const char *const *paths, size_t npaths)
{
    DMVF_REQUIRE(kr, "keyring is NULL");
    DMVF_REQUIRE(npaths == 0 || paths, "paths is NULL");
    for (size_t i = 0; i < npaths; i++)
        DMVF_REQUIRE(paths[i], "a path is NULL");
    if (sodium_init() < 0)
        return NULL;
    if (!scope)
        scope = "";
    dmvf_keyctx *kc = kr->cache ? dmvf__kc_cache_find(kr->cache, scope, paths, npaths) : NULL;
    if (kc)
        return kc;
    kc = derive(kr, scope, paths, npaths);
    if (kc && kr->cache) {
        dmvf_keyctx *drop;
        kc = dmvf__kc_cache_insert(kr->cache, scope, paths, npaths, kc,
                                   sizeof *kc + npaths * PSEUD_KEY_BYTES, &drop);
        sodium_free(drop); /* wipes */
    }
    return kc;
}

void dmvf__keyctx_free(dmvf_keyctx *kc)
{
    if (kc && (!kc->cache || dmvf__kc_cache_put(kc->cache, kc) != 0))
        sodium_free(kc); /* wipes */
}

uint32_t dmvf__keyctx_epoch(const dmvf_keyctx *kc)
{
    DMVF_REQUIRE(kc, "keyctx is NULL");
    return kc->epoch;
}

/* ---- encoding ---- */

static inline void put_head(uint8_t *out, uint8_t tag, uint32_t epoch)
{
    const uint8_t be[2] = {(uint8_t)(epoch >> 8), (uint8_t)epoch};
    out[0] = tag;
    dmvf__hex_encode((char *)out + 1, be, 2);   /* its NUL goes at out[5] */
    out[5] = '.';
}

/* base64url without padding of n bytes; returns the end of the output. */
static inline uint8_t *b64_encode(const uint8_t *s, size_t n, uint8_t *d)
{
    while (n >= 3) {
        uint32_t x = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
        d[0] = (uint8_t)b64_alphabet[x >> 18];
        d[1] = (uint8_t)b64_alphabet[(x >> 12) & 63];
        d[2] = (uint8_t)b64_alphabet[(x >> 6) & 63];
        d[3] = (uint8_t)b64_alphabet[x & 63];
        s += 3;
        n -= 3;
        d += 4;
    }
    if (n == 1) {
        d[0] = (uint8_t)b64_alphabet[s[0] >> 2];
        d[1] = (uint8_t)b64_alphabet[(s[0] & 3) << 4];
        d += 2;
    } else if (n == 2) {
        uint32_t x = (uint32_t)s[0] << 8 | s[1];
        d[0] = (uint8_t)b64_alphabet[x >> 10];
        d[1] = (uint8_t)b64_alphabet[(x >> 4) & 63];
        d[2] = (uint8_t)b64_alphabet[(x & 15) << 2];
        d += 3;
    }
    return d;
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict base64url decoding (no padding; the unused low bits of a final
 * partial group must be zero, so every byte string has one encoding).
 * nchars % 4 != 1. Returns the number of bytes, or -1. */
static long b64_decode(const uint8_t *s, size_t nchars, uint8_t *d)
{
    size_t i, o = 0;
    int v[4];

    for (i = 0; i + 4 <= nchars; i += 4) {
        if ((v[0] = b64_value(s[i])) < 0 || (v[1] = b64_value(s[i + 1])) < 0 ||
            (v[2] = b64_value(s[i + 2])) < 0 || (v[3] = b64_value(s[i + 3])) < 0)
            return -1;
        d[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        d[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
        d[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
    }
    switch (nchars - i) {
    case 0:
        break;
    case 2:
        if ((v[0] = b64_value(s[i])) < 0 || (v[1] = b64_value(s[i + 1])) < 0 || (v[1] & 15))
            return -1;
        d[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        break;
    case 3:
        if ((v[0] = b64_value(s[i])) < 0 || (v[1] = b64_value(s[i + 1])) < 0 ||
            (v[2] = b64_value(s[i + 2])) < 0 || (v[2] & 3))
            return -1;
        d[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        d[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
        break;
    default:
        return -1;
    }
    return (long)o;
}

/* ---- pseudonyms ---- */

void dmvf__pseudonym(const dmvf_keyctx *kc, size_t pidx, const uint8_t *v, size_t n, uint8_t *out)
{
    uint8_t h[crypto_shorthash_siphashx24_BYTES];
    uint8_t *d = out + 6;
    int g;

    DMVF_REQUIRE(pidx < kc->npaths, "pseudonym path index out of range");
    crypto_shorthash_siphashx24(h, n ? v : empty_value, n, kc->k_p[pidx]);
    put_head(out, 'P', kc->epoch);
    /* 16 bytes = three 5-byte groups (8 characters each) + 1 byte (2 characters),
     * most significant bit first. */
    for (g = 0; g < 3; g++) {
        const uint8_t *s = h + 5 * g;
        uint64_t x = (uint64_t)s[0] << 32 | (uint64_t)s[1] << 24 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 8 | s[4];
        d[0] = (uint8_t)b32_alphabet[(x >> 35) & 31];
        d[1] = (uint8_t)b32_alphabet[(x >> 30) & 31];
        d[2] = (uint8_t)b32_alphabet[(x >> 25) & 31];
        d[3] = (uint8_t)b32_alphabet[(x >> 20) & 31];
        d[4] = (uint8_t)b32_alphabet[(x >> 15) & 31];
        d[5] = (uint8_t)b32_alphabet[(x >> 10) & 31];
        d[6] = (uint8_t)b32_alphabet[(x >> 5) & 31];
        d[7] = (uint8_t)b32_alphabet[x & 31];
        d += 8;
    }
    d[0] = (uint8_t)b32_alphabet[h[15] >> 3];
    d[1] = (uint8_t)b32_alphabet[(h[15] & 7) << 2];
}

/* ---- deterministic encryption ---- */

size_t dmvf__encrypt_len(size_t n)
{
    return TOKEN_HEAD + SIV_CHARS + n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void dmvf__encrypt(const dmvf_keyctx *kc, const uint8_t *v, size_t n, uint8_t *out)
{
    uint8_t siv[SIV_BYTES];
    uint8_t buf[CHUNK];
    uint8_t *d;
    size_t off;

    if (!n)
        v = empty_value;
    crypto_generichash(siv, sizeof siv, v, n, kc->k_mac, sizeof kc->k_mac);
    put_head(out, 'E', kc->epoch);
    d = b64_encode(siv, sizeof siv, out + TOKEN_HEAD);
    for (off = 0; off < n; off += CHUNK) {
        size_t len = n - off < CHUNK ? n - off : CHUNK;
        crypto_stream_xchacha20_xor_ic(buf, v + off, len, siv, (uint64_t)(off / 64), kc->k_enc);
        d = b64_encode(buf, len, d);
    }
    sodium_memzero(buf, sizeof buf);
}

/* ---- reveal ---- */

int dmvf_keyring_reveal(const dmvf_keyring *k, const char *scope, const char *token,
                        size_t token_len, uint8_t *out, size_t cap, size_t *out_len,
                        dmvf_error *err)
{
    const uint8_t *body;
    const dmvf__kr_epoch *e;
    crypto_generichash_state st;
    uint8_t k_mac[32], k_enc[32];
    uint8_t siv[SIV_BYTES], check[SIV_BYTES];
    uint8_t buf[CHUNK];
    size_t rest, m, off, pos;
    uint32_t epoch = 0;
    int i, rc;

    DMVF_REQUIRE(k, "keyring is NULL");
    DMVF_REQUIRE(token || token_len == 0, "token is NULL");
    DMVF_REQUIRE(out_len, "out_len is NULL");
    DMVF_REQUIRE(out || cap == 0, "out is NULL");
    *out_len = 0;
    if (!scope)
        scope = "";
    if (token_len < TOKEN_HEAD + SIV_CHARS || token[0] != 'E' || token[5] != '.')
        return dmvf__seterr(err, DMVF_ETOKEN,
                            "not an encryption token (expected E<4 hex digits>.<base64url>, at least %u bytes)",
                            TOKEN_HEAD + SIV_CHARS);
    for (i = 1; i <= 4; i++) {
        int h = dmvf__hex_digit((unsigned char)token[i], DMVF__HEX_LOWER);
        if (h < 0)
            return dmvf__seterr(err, DMVF_ETOKEN,
                                "not an encryption token: byte %d is not a lowercase hex digit", i);
        epoch = epoch << 4 | (uint32_t)h;
    }
    e = dmvf__keyring_find(k, epoch);
    if (!e)
        return dmvf__seterr(err, DMVF_ETOKEN, "token epoch %u is not in this keyring", epoch);
    body = (const uint8_t *)token + TOKEN_HEAD;
    rest = token_len - TOKEN_HEAD - SIV_CHARS;
    if (rest % 4 == 1)
        return dmvf__seterr(err, DMVF_ETOKEN, "token is truncated or malformed (%zu bytes)",
                            token_len);
    m = rest / 4 * 3 + (rest % 4 ? rest % 4 - 1 : 0);
    if (b64_decode(body, SIV_CHARS, siv) != (long)SIV_BYTES)
        return dmvf__seterr(err, DMVF_ETOKEN, "token is malformed: bad base64url in its first %u bytes",
                            TOKEN_HEAD + SIV_CHARS);

    derive_enc(e, scope, k_mac, k_enc);
    crypto_generichash_init(&st, k_mac, sizeof k_mac, sizeof check);
    rc = DMVF_OK;
    for (off = 0, pos = SIV_CHARS; off < m; off += CHUNK, pos += CHUNK / 3 * 4) {
        size_t len = m - off < CHUNK ? m - off : CHUNK;
        size_t chars = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
        if (b64_decode(body + pos, chars, buf) != (long)len) {
            rc = dmvf__seterr(err, DMVF_ETOKEN,
                              "token is malformed: bad base64url near byte %zu",
                              TOKEN_HEAD + pos);
            break;
        }
        crypto_stream_xchacha20_xor_ic(buf, buf, len, siv, (uint64_t)(off / 64), k_enc);
        crypto_generichash_update(&st, buf, len);
        if (m <= cap)
            memcpy(out + off, buf, len);
    }
    crypto_generichash_final(&st, check, sizeof check);
    if (rc == DMVF_OK && sodium_memcmp(siv, check, sizeof siv) != 0)
        rc = dmvf__seterr(err, DMVF_ETOKEN,
                          "token does not verify under this keyring and scope "
                          "(another requester's token, tampered or truncated)");
    if (rc == DMVF_OK && m > cap)
        rc = dmvf__seterr(err, DMVF_ESPACE,
                          "the plaintext is %zu bytes, more than the %zu-byte buffer", m, cap);
    if (rc == DMVF_OK || rc == DMVF_ESPACE)
        *out_len = m;
    if (rc != DMVF_OK && m <= cap && m > 0)
        sodium_memzero(out, m);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(k_mac, sizeof k_mac);
    sodium_memzero(k_enc, sizeof k_enc);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(check, sizeof check);
    return rc;
}
