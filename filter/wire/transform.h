/*
 * transform.h - value transforms shared by the wire rewriter and the
 * protobuf-c reference path, so that both compute the same values and the
 * differential test compares only how bytes are walked and written.
 * Semantics are stated in plan.h. None allocates; all are thread-safe.
 */
#ifndef DMVF_TRANSFORM_H
#define DMVF_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>
#include "filter/wire/plan.h"
#include "keys/keys.h"

/* Normalization of a string value by fp's table (a no-op when fp has
 * none), as plan.h states it: map/drop, then the allow list. Returns 1 when
 * the value is to be removed; otherwise 0, with v/n repointed at the
 * replacement (a map entry's `to`, or the table's `otherwise`) when one
 * applies. */
int dmvf__normalize(const dmvf_fplan *fp, const uint8_t **v, size_t *n);

/* Upper bound of dmvf__xf_string's output for an n-byte input. */
size_t dmvf__xf_string_bound(const dmvf_fplan *fp, size_t n);

/* Applies fp's action (RELEASE, MASK, GENERALIZE/ZIP3, PSEUDONYMIZE,
 * ENCRYPT, CONSTANT) to a string or bytes value already normalized; writes
 * to out (capacity >= dmvf__xf_string_bound) and returns the length. */
size_t dmvf__xf_string(const dmvf_fplan *fp, const dmvf_keyctx *kc,
                       const uint8_t *v, size_t n, uint8_t *out);

/* Applies fp's action (RELEASE, GENERALIZE date, CONSTANT) to a varint
 * value in canonical form: uint32 zero-extended, int32/enum sign-extended to
 * 64 bits, bool 0/1. Returns the canonical result. */
uint64_t dmvf__xf_varint(const dmvf_fplan *fp, uint64_t v);

#endif
