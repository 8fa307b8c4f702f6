/*
 * keyfile_int.h - internal to keys/: the files key material is kept in,
 * whatever the key.
 *
 *   secret_file.c   the owner-only secret files (a keyring, a reviewer
 *                   secret key): read whole, their header, sealed with a
 *                   passphrase or not
 *   public_file.c   the one-line public key files
 *
 * A secret file, of one of the kinds below:
 *
 *   0             8      9
 *   +-------------+------+------------------------------------------+
 *   | magic       | seal | seal 0: the secret                       |
 *   |  (8 bytes)  |      | seal 1: SealedKeyring (keyring.proto)    |
 *   +-------------+------+------------------------------------------+
 *
 *   SealedKeyring { opslimit, memlimit, salt[16], nonce[24], ciphertext }
 *     key        = Argon2id v1.3 (passphrase, salt, opslimit, memlimit), 32 bytes
 *     ciphertext = crypto_secretbox_easy(the secret, nonce, key)
 *   written with OPSLIMIT/MEMLIMIT_MODERATE (3 passes, 256 MiB: about
 *   0.7 s a derivation); read with whatever costs the file records, from
 *   the minimum up to the limits below (older files: INTERACTIVE). A file
 *   that asks for more than opslimit 16 or MEMLIMIT_SENSITIVE is refused
 *   as corrupt, so that a damaged or hostile header cannot make a load run
 *   for hours or exhaust memory.
 *
 * Messages name the file by its kind ("keyring /k: no such file",
 * "reviewer secret key /k is sealed: ..."); every secret passes only
 * through dmvf__secure_alloc memory and wiped stack temporaries.
 */
#ifndef DMVF_KEYFILE_INT_H
#define DMVF_KEYFILE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include "dmvfilter/common.h"
#include "filter/core/error.h"

/* libsodium initialized: DMVF_OK, or DMVF_EKEYRING. */
static inline int dmvf__sodium_ready(dmvf_error *err)
{
    if (sodium_init() < 0)
        return dmvf__seterr(err, DMVF_EKEYRING, "libsodium failed to initialize");
    return DMVF_OK;
}

/* ---- secret files ---- */

enum {
    DMVF__SECRET_KEYRING,      /* "DMVFKR1\n"; the secret a packed Keyring */
    DMVF__SECRET_REVIEW_KEY    /* "DMVFRK1\n"; the secret an X25519 key (32 bytes) */
};
#define DMVF__SECRET_HEADER_LEN 9u                    /* magic and seal byte */
#define DMVF__KEYRING_FILE_MAX ((size_t)1 << 20)      /* the most bytes a file of each kind has */
#define DMVF__REVIEW_KEY_FILE_MAX ((size_t)4096)

/* Loads the secret file of `kind` at path: a regular file that group and
 * others have no permission on, of a size the kind allows, with its magic,
 * opened with passphrase when sealed. DMVF_OK with *buf the block to
 * sodium_free, data[0..*len) the secret inside it and *sealed whether the
 * file was sealed; else *buf NULL and an error: DMVF_EKEYRING (missing,
 * unreadable, not private, corrupt), DMVF_EPASSPHRASE (sealed, and no or a
 * wrong passphrase), DMVF_ENOMEM. */
int dmvf__secret_load(int kind, const char *path, const char *passphrase, uint8_t **buf,
                      const uint8_t **data, size_t *len, int *sealed, dmvf_error *err);

/* The bytes of a secret file of `kind` holding secret[0..n), in
 * dmvf__secure_alloc memory (*file, *file_len): unsealed when passphrase is
 * NULL, else sealed with a fresh salt and nonce. DMVF_OK or DMVF_ENOMEM. */
int dmvf__secret_build(int kind, const char *path, const uint8_t *secret, size_t n, const char *passphrase,
                       uint8_t **file, size_t *file_len, dmvf_error *err);

/* ---- public key files: one line, prefix + 64 lowercase hex digits + "\n" ---- */

#define DMVF__PUBLIC_LINE_MAX 100u   /* the longest line dmvf__public_line writes, NUL included */

/* Writes the line for key into line[DMVF__PUBLIC_LINE_MAX]; returns its length. */
size_t dmvf__public_line(char *line, const char *prefix, const uint8_t key[32]);

/* Where reading a public key file failed; errno says why for OPEN. */
enum { DMVF__PUBLIC_OK, DMVF__PUBLIC_OPEN, DMVF__PUBLIC_READ, DMVF__PUBLIC_NOTKEY, DMVF__PUBLIC_HEX };
/* Reads the key of the line `prefix` + hex at the start of path (a "\r\n"
 * or "\n" after it is allowed). DMVF__PUBLIC_OK with key set, else a
 * failure with key zeroed: OPEN (cannot be opened), READ, NOTKEY (the file
 * does not start with prefix), HEX (not 64 hex digits after it). */
int dmvf__public_read(const char *path, const char *prefix, uint8_t key[32]);

#endif
