/*
 * dmvfilter/keyring.h - the DMV's keyring: epochs of pseudonym and
 * encryption keys, a signing key pair and an audit key.
 *
 * On disk a keyring is sealed with a passphrase (Argon2id -> XSalsa20-Poly1305
 * secretbox) or, when created unsealed, must have mode 0600 or stricter: a
 * keyring readable or writable by group or others is refused (DMVF_EKEYRING).
 * Loaded keys live in sodium_malloc memory and are wiped when freed.
 *
 * Pseudonyms: "P" + 4 hex digits of epoch + "." + 26 base32 characters (32 in
 * all): SipHash-2-4-128 keyed per (scope, epoch) over field path and value.
 * Encryption tokens: "E" + 4 hex epoch + "." + base64url(siv || ciphertext),
 * deterministic, reversible only with the keyring (dmvf_keyring_reveal).
 *
 * Threads: a loaded dmvf_keyring is immutable and shareable; it must outlive
 * every filter created with it. Create/rotate are not thread-safe with respect
 * to the same file.
 *
 * Misuse: every dmvf_filter and dmvf_framed created with a keyring holds a
 * use of it until freed; dmvf_keyring_free with uses held prints the count
 * and aborts (a filter would otherwise read freed key memory). A NULL keyring
 * where one is required aborts too.
 */
#ifndef DMVFILTER_KEYRING_H
#define DMVFILTER_KEYRING_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmvf_keyring dmvf_keyring;

#define DMVF_PSEUDONYM_LEN 32u

/* Creates a new keyring file with one epoch. passphrase NULL = unsealed
 * (written with mode 0600). Fails with DMVF_EIO if the file exists. */
DMVF_API int dmvf_keyring_create(const char *path, const char *passphrase, dmvf_error *err);

/* Adds a new epoch, which becomes current; older epochs stay for reveal.
 * The file is replaced atomically. */
DMVF_API int dmvf_keyring_rotate(const char *path, const char *passphrase, dmvf_error *err);

/* Loads a keyring. passphrase NULL for an unsealed keyring; a sealed one
 * without a passphrase fails with DMVF_EPASSPHRASE, a wrong passphrase too.
 * Returns NULL with *err on failure. */
DMVF_API dmvf_keyring *dmvf_keyring_load(const char *path, const char *passphrase, dmvf_error *err);

/* Frees and wipes; NULL accepted. Aborts while a filter or framed stream
 * created with k is still alive (free those first). */
DMVF_API void dmvf_keyring_free(dmvf_keyring *k);

/* The current (newest) epoch number, >= 1. */
DMVF_API uint32_t dmvf_keyring_epoch(const dmvf_keyring *k);

/* Number of epochs, and the number and creation time (unix s) of the i-th. */
DMVF_API size_t dmvf_keyring_epoch_count(const dmvf_keyring *k);
DMVF_API int dmvf_keyring_epoch_info(const dmvf_keyring *k, size_t i, uint32_t *epoch, uint64_t *created);

/* Whether the file was sealed. */
DMVF_API int dmvf_keyring_is_sealed(const dmvf_keyring *k);

/* Decrypts an "encrypt" token produced for requester `scope` (ORI).
 * Writes at most cap bytes to out and the plaintext length to *out_len.
 * Returns DMVF_OK, DMVF_ETOKEN (not a token, wrong scope, tampered, unknown
 * epoch) or DMVF_ESPACE. */
DMVF_API int dmvf_keyring_reveal(const dmvf_keyring *k, const char *scope,
                                 const char *token, size_t token_len,
                                 uint8_t *out, size_t cap, size_t *out_len, dmvf_error *err);

/* The keyring's Ed25519 public key (signed releases, audit checkpoints). */
#define DMVF_PUBLIC_KEY_LEN 32u
#define DMVF_SIGNATURE_LEN 64u
DMVF_API void dmvf_keyring_public_key(const dmvf_keyring *k, uint8_t out[32]);

/* Public key files: one line "dmvfilter-ed25519 " + 64 hex digits + "\n".
 * dmvf_public_key_write creates path (fails if it exists; "-" = stdout),
 * dmvf_public_key_read parses one (DMVF_EINVAL when malformed, DMVF_EIO). */
DMVF_API int dmvf_public_key_write(const char *path, const uint8_t pub[32], dmvf_error *err);
DMVF_API int dmvf_public_key_read(const char *path, uint8_t pub[32], dmvf_error *err);

/* Subject hashes for the audit log: BLAKE2b-128 keyed with a key derived
 * from the audit key, over the record_id. Equal ids give equal hashes under
 * one keyring; the log never holds the ids in clear. */
#define DMVF_SUBJECT_HASH_LEN 16u
DMVF_API void dmvf_keyring_subject_hash(const dmvf_keyring *k, const void *id, size_t len,
                                        uint8_t out[16]);

#ifdef __cplusplus
}
#endif
#endif
