/*
 * rewrite.h - the hot path: one DriverRecord's wire bytes in, the released
 * wire bytes out, driven by a compiled plan (plan.h). No allocation.
 */
#ifndef DMVF_REWRITE_H
#define DMVF_REWRITE_H

#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/wire/plan.h"
#include "keys/keys.h"

/* Rewrites the bare record in[0..n) into out[0..cap). Returns DMVF_OK with
 * *out_len set; DMVF_EMALFORMED with err->offset the byte offset within the
 * record of the failing item; DMVF_ETOOBIG (a repeated field of more than
 * DMVF_MAX_REPEATED elements) only when the record is malformed nowhere:
 * a record that is both is DMVF_EMALFORMED, whatever the walk meets first;
 * DMVF_ESPACE when cap is too small (the output is then garbage; retry
 * with more room). kc may be NULL when the plan neither pseudonymizes nor
 * encrypts. */
int dmvf__rewrite(const dmvf_plan *plan, const dmvf_keyctx *kc,
                  const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len, dmvf_error *err);

/* Steps over one protobuf field at p < end (same limits as the rewriter):
 * sets the number, wire type, value (after any length prefix) and its
 * length (a group, wire type 3, is stepped over whole, through its END_GROUP
 * key, with length 0); returns the bytes used, 0 if malformed. */
size_t dmvf__wire_field(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wt,
                        const uint8_t **val, uint32_t *vlen);

#endif
