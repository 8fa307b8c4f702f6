/*
 * keys.h - internal: the only interface through which the rest of dmvfilter
 * uses key material. Raw key bytes never leave keys/.
 *
 * A dmvf_keyctx holds the keys derived for one request: per scope (the
 * requester ORI) and the keyring's current epoch,
 *   K_p(scope, epoch, path) = BLAKE2b-128(key = pseudonym_key[epoch],
 *                                          "dmvf-pseud\0" || scope || "\0" || path)
 * for each pseudonymized path (index pidx as in the plan), and
 *   K_mac, K_enc(scope, epoch) = BLAKE2b-256(key = encryption_key[epoch],
 *                                          "dmvf-siv\0" / "dmvf-enc\0" || scope)
 * It lives in read-only sodium_malloc memory. A loaded keyring keeps the
 * contexts it derived (keyctx_cache.c, 64 of them, least recently used
 * first out): a context is the same for the same scope and paths, so the
 * next request of that requester and plan takes it without a derivation;
 * contexts are wiped when evicted and with the keyring.
 */
#ifndef DMVF_KEYS_H
#define DMVF_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/keyring.h"

typedef struct dmvf_keyctx dmvf_keyctx;

/* The context for scope (NULL: empty) and paths[0..npaths) under kr's
 * current epoch, held until dmvf__keyctx_free; thread-safe (the cache has
 * its own mutex). NULL on allocation failure. The context is read-only and
 * may be the one another holder has. */
dmvf_keyctx *dmvf__keyctx_create(const dmvf_keyring *kr, const char *scope,
                                 const char *const *paths, size_t npaths);
/* Releases a context (back to the cache, or wiped and freed). NULL: no-op. */
void dmvf__keyctx_free(dmvf_keyctx *kc);
uint32_t dmvf__keyctx_epoch(const dmvf_keyctx *kc);

/* Pseudonym of value v under path index pidx: writes exactly
 * DMVF_PSEUDONYM_LEN bytes: 'P', 4 lowercase hex digits of the epoch, '.',
 * 26 characters of base32 (a-z2-7) of SipHash-2-4-128(K_p, v). */
void dmvf__pseudonym(const dmvf_keyctx *kc, size_t pidx, const uint8_t *v, size_t n, uint8_t *out);

/* Deterministic encryption token length for an n-byte value. */
size_t dmvf__encrypt_len(size_t n);
/* Writes dmvf__encrypt_len(n) bytes: 'E', 4 hex epoch, '.', base64url (no
 * padding) of siv(24) || XChaCha20(K_enc, siv, v); siv = BLAKE2b-192(K_mac, v). */
void dmvf__encrypt(const dmvf_keyctx *kc, const uint8_t *v, size_t n, uint8_t *out);

/* sign.c: the keyring's long-term keys.
 * Audit chain: out = BLAKE2b-256(key = audit_key, "dmvf-audit-v1\0" || prev || item). */
void dmvf__audit_chain(const dmvf_keyring *kr, const uint8_t prev[32], const uint8_t *item,
                       size_t n, uint8_t out[32]);
/* Ed25519 signature with the keyring's signing key over the BLAKE2b-512
 * digest of ctx (with its NUL) || msg. ctx names the purpose, e.g.
 * "dmvf-checkpoint-v1", "dmvf-trailer-v1", "dmvf-seal-v1",
 * "dmvf-review-item-v1" (a review spool item's meta). */
void dmvf__sign(const dmvf_keyring *kr, const char *ctx, const uint8_t *msg, size_t n, uint8_t sig[64]);
/* 0 when sig is pub's signature of (ctx, msg) as dmvf__sign makes it, else -1. */
int dmvf__sign_verify(const uint8_t pub[32], const char *ctx, const uint8_t *msg, size_t n,
                      const uint8_t sig[64]);

/* Use counting, for the filter and framed-stream handles that borrow a
 * keyring: dmvf_keyring_free aborts (misuse) while any is alive. Both accept
 * NULL; thread-safe. */
void dmvf__keyring_acquire(const dmvf_keyring *k);
void dmvf__keyring_release(const dmvf_keyring *k);

/* Tests, golden files and the bundled example only: writes an unsealed
 * keyring (mode 0600) whose keys all derive from `seed` (BLAKE2b), with
 * nepochs epochs created at unix time 0, so outputs are reproducible.
 * Fails with DMVF_EIO if the file exists. */
int dmvf__keyring_create_seeded(const char *path, const uint8_t seed[32], uint32_t nepochs,
                                dmvf_error *err);

/* review_keys.c: the review queue's reviewer keys (X25519, crypto_box_seal).
 * dmvf_review_keygen (dmvfilter/review.h) is defined there too. A loaded
 * secret key lives in sodium_malloc memory (read-only) and is wiped by
 * dmvf__review_key_free. */
#define DMVF__REVIEW_KEY_LEN 32u
#define DMVF__REVIEW_SEAL_OVERHEAD 48u   /* crypto_box_SEALBYTES */
typedef struct dmvf__review_key dmvf__review_key;
/* Reads a "dmvfilter-x25519-public <64 hex>\n" file: DMVF_OK, DMVF_EIO,
 * DMVF_EINVAL (not such a file). */
int dmvf__review_public_read(const char *path, uint8_t pk[32], dmvf_error *err);
/* Loads a reviewer secret key file; NULL with *err: DMVF_EKEYRING (missing,
 * not a regular file, group/other bits set, corrupt), DMVF_EPASSPHRASE
 * (sealed and no or a wrong passphrase), DMVF_ENOMEM. */
dmvf__review_key *dmvf__review_key_load(const char *path, const char *passphrase,
                                        dmvf_error *err);
void dmvf__review_key_free(dmvf__review_key *k);   /* NULL accepted */
void dmvf__review_key_public(const dmvf__review_key *k, uint8_t pk[32]);
/* crypto_box_seal of m[0..n) to pk into out[0..n + DMVF__REVIEW_SEAL_OVERHEAD).
 * 0, or -1 (pk is not a usable public key). */
int dmvf__review_seal(const uint8_t pk[32], const uint8_t *m, size_t n, uint8_t *out);
/* crypto_box_seal_open of c[0..n) into out[0..n - DMVF__REVIEW_SEAL_OVERHEAD).
 * 0, or -1 when c does not open under k (altered, truncated, or sealed to
 * another key). */
int dmvf__review_open(const dmvf__review_key *k, const uint8_t *c, size_t n, uint8_t *out);

#endif
