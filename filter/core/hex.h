/*
 * core/hex.h - hexadecimal digits: the one encoder (lowercase) and the one
 * decoder every file, id, key and token spelled in hex goes through.
 *
 * Not for secrets: the encoder looks digits up in a table (its timing
 * depends on the bytes); the library spells only public values in hex
 * (public keys, digests, keyed hashes, random ids, epochs).
 */
#ifndef DMVF_CORE_HEX_H
#define DMVF_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 2n lowercase hex digits of p[0..n) to out and a NUL after
 * them (out holds 2n + 1 bytes). Returns out. */
char *dmvf__hex_encode(char *out, const void *p, size_t n);

/* Decoding flags. */
#define DMVF__HEX_LOWER 1u  /* only 0-9 and a-f (the spelling the encoder writes) */

/* The value (0..15) of the hex digit c (0-9, a-f, A-F unless
 * DMVF__HEX_LOWER), or -1 when c is not one. */
int dmvf__hex_digit(int c, unsigned flags);
/* Decodes the hex digits s[0..len) into out[0..n): 0, or -1 (out then
 * undefined) when len is not 2n or one is not a hex digit. */
int dmvf__hex_decode(uint8_t *out, size_t n, const char *s, size_t len, unsigned flags);
/* The number the n hex digits s[0..n) spell (1 <= n <= 16), most
 * significant first, into *v: 0, or -1 (*v untouched) when n is out of
 * range or one is not a hex digit. */
int dmvf__hex_u64(const char *s, size_t n, unsigned flags, uint64_t *v);

#endif
