/*
 * dmvfilter/keyring.h - the DMV's keyring: epochs of pseudonym and
 * encryption keys, a signing key pair and an audit key.
 *
 * On disk a keyring is sealed with a passphrase (Argon2id at libsodium's
 * MODERATE costs -> XSalsa20-Poly1305 secretbox; a file opens with the costs
 * it records, INTERACTIVE included) or unsealed, and either way must be a regular file of mode 0600
 * or stricter: a keyring file with any permission bit for group or others
 * is refused (DMVF_EKEYRING). Files are written with mode 0600.
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

/* Creates a new keyring file with one epoch, a signing key pair and an
 * audit key, written atomically (a temporary file beside it, fsync'd,
 * linked into place).
 * @return  DMVF_OK; DMVF_EINVAL for an empty passphrase; DMVF_EIO when path
 *          exists or cannot be written; DMVF_EKEYRING when libsodium does
 *          not initialize; DMVF_ENOMEM.
 * Threads: thread-safe, but not with another create or rotate of the same
 *          path.
 * NULL:    path aborts; passphrase NULL: unsealed; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_keyring_create(const char *path, const char *passphrase, dmvf_error *err);

/* Adds a new epoch, which becomes current; older epochs stay for reveal.
 * The file is replaced atomically (sealed again with the same passphrase).
 * @return  DMVF_OK; the errors of dmvf_keyring_load (DMVF_EKEYRING,
 *          DMVF_EPASSPHRASE, DMVF_ENOMEM); DMVF_EKEYRING at the last epoch
 *          (65535); DMVF_EIO when the file cannot be replaced.
 * Threads: thread-safe, but not with another create or rotate of the same
 *          path; a keyring loaded before keeps its epochs (load it again).
 * NULL:    path aborts; passphrase NULL for an unsealed keyring (ignored
 *          for one); err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_keyring_rotate(const char *path, const char *passphrase, dmvf_error *err);

/* Loads a keyring into wiped-on-free, read-only memory.
 * @return  the keyring, or NULL with *err filled: DMVF_EKEYRING (no such
 *          file, not a regular file, mode open to group or others, over
 *          1 MiB, not a keyring, corrupt), DMVF_EPASSPHRASE (a sealed
 *          keyring without a passphrase, or with a wrong one), DMVF_ENOMEM.
 * Threads: thread-safe.
 * NULL:    path aborts; passphrase NULL for an unsealed keyring (ignored
 *          for one); err may be NULL.
 * Owns:    the caller owns the keyring: dmvf_keyring_free. */
DMVF_API dmvf_keyring *dmvf_keyring_load(const char *path, const char *passphrase, dmvf_error *err);

/* Frees and wipes the keys.
 * @return  nothing. Aborts (misuse) while a filter, framed stream or audit
 *          handle created with k is still alive: free those first.
 * Threads: must not race with any other use of k.
 * NULL:    k NULL is accepted (does nothing).
 * Owns:    everything obtained from k becomes invalid. */
DMVF_API void dmvf_keyring_free(dmvf_keyring *k);

/* The current (newest) epoch: pseudonyms and tokens are made under it.
 * @return  the epoch number, >= 1.
 * Threads: thread-safe.
 * NULL:    k aborts.
 * Owns:    nothing (a value). */
DMVF_API uint32_t dmvf_keyring_epoch(const dmvf_keyring *k);

/* The number of epochs the keyring holds (oldest first).
 * @return  the count, >= 1.
 * Threads: thread-safe.
 * NULL:    k aborts.
 * Owns:    nothing (a value). */
DMVF_API size_t dmvf_keyring_epoch_count(const dmvf_keyring *k);

/* The number and creation time (unix seconds) of the i-th epoch, oldest
 * first (i < dmvf_keyring_epoch_count).
 * @return  DMVF_OK with *epoch and *created set; DMVF_EINVAL when i is out
 *          of range (nothing written).
 * Threads: thread-safe.
 * NULL:    k aborts; epoch and created may be NULL (not written).
 * Owns:    the caller owns *epoch and *created. */
DMVF_API int dmvf_keyring_epoch_info(const dmvf_keyring *k, size_t i, uint32_t *epoch, uint64_t *created);

/* Whether the file was sealed with a passphrase.
 * @return  1 sealed, 0 unsealed.
 * Threads: thread-safe.
 * NULL:    k aborts.
 * Owns:    nothing (a value). */
DMVF_API int dmvf_keyring_is_sealed(const dmvf_keyring *k);

/* Decrypts an "encrypt" token produced for requester `scope` (ORI) into
 * out[0..cap).
 * @return  DMVF_OK with *out_len the plaintext length; DMVF_ETOKEN (not a
 *          token, wrong scope, tampered, truncated, unknown epoch; *out_len
 *          0, and whatever was written to out is wiped); DMVF_ESPACE when
 *          cap is smaller than the plaintext (*out_len is the length
 *          needed, nothing is written).
 * Threads: thread-safe.
 * NULL:    k and out_len abort; scope NULL: ""; token may be NULL only with
 *          token_len 0, out only with cap 0 (else abort); err may be NULL.
 * Owns:    the caller owns out; nothing is kept. */
DMVF_API int dmvf_keyring_reveal(const dmvf_keyring *k, const char *scope,
                                 const char *token, size_t token_len,
                                 uint8_t *out, size_t cap, size_t *out_len, dmvf_error *err);

/* The keyring's Ed25519 public key (signed releases, audit checkpoints).
 * @return  nothing; out receives the 32 bytes.
 * Threads: thread-safe.
 * NULL:    k aborts; out must not be NULL (not checked).
 * Owns:    the caller owns out. */
#define DMVF_PUBLIC_KEY_LEN 32u
#define DMVF_SIGNATURE_LEN 64u
DMVF_API void dmvf_keyring_public_key(const dmvf_keyring *k, uint8_t out[32]);

/* Public key files: one line "dmvfilter-ed25519 " + 64 hex digits + "\n". */

/* Writes pub as a public key file: path is created with mode 0644 and
 * fsync'd, or, for "-", the line goes to standard output.
 * @return  DMVF_OK; DMVF_EIO when path exists or cannot be written (a
 *          partly written file is removed).
 * Threads: thread-safe.
 * NULL:    path aborts; pub must not be NULL (not checked); err may be
 *          NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_public_key_write(const char *path, const uint8_t pub[32], dmvf_error *err);

/* Reads a public key file written by dmvf_public_key_write.
 * @return  DMVF_OK with pub set; DMVF_EIO (cannot open or read);
 *          DMVF_EINVAL (not such a line, or not 64 hex digits). pub is
 *          zeroed on every failure.
 * Threads: thread-safe.
 * NULL:    path aborts; pub must not be NULL (not checked); err may be
 *          NULL.
 * Owns:    the caller owns pub. */
DMVF_API int dmvf_public_key_read(const char *path, uint8_t pub[32], dmvf_error *err);

/* Subject hashes for the audit log: BLAKE2b-128 keyed with a key derived
 * from the audit key, over the record_id. Equal ids give equal hashes under
 * one keyring; the log never holds the ids in clear.
 * @return  nothing; out receives DMVF_SUBJECT_HASH_LEN bytes.
 * Threads: thread-safe.
 * NULL:    k aborts; id may be NULL only with len 0, out must not be NULL
 *          (neither checked).
 * Owns:    the caller owns out; nothing is kept of id. */
#define DMVF_SUBJECT_HASH_LEN 16u
DMVF_API void dmvf_keyring_subject_hash(const dmvf_keyring *k, const void *id, size_t len,
                                        uint8_t out[16]);

#ifdef __cplusplus
}
#endif
#endif
