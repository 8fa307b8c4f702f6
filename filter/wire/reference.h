/*
 * reference.h - the slow, obviously-right path: protobuf-c unpack, transform
 * the message objects by the plan, pack. Used by the tests to check the wire
 * rewriter byte for byte; never on the hot path.
 */
#ifndef DMVF_REFERENCE_H
#define DMVF_REFERENCE_H

#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/wire/plan.h"
#include "keys/keys.h"

/* Same contract as dmvf__rewrite, except that the output is allocated with
 * malloc into *out (free it). Opaque fields (plan.h) are dropped unread; a
 * singular sub-message that occurs more than once is merged as protobuf
 * merges it; a kept field with the wrong wire type is DMVF_EMALFORMED
 * (protobuf-c reads a bool of any wire type; the rewriter refuses). A
 * string the plan uses that holds a NUL byte is DMVF_EINVAL: protobuf-c's
 * C strings cannot represent it, so the differential test skips such
 * inputs. */
int dmvf__reference_record(const dmvf_plan *plan, const dmvf_keyctx *kc,
                           const uint8_t *in, size_t n, uint8_t **out, size_t *out_len,
                           dmvf_error *err);

#endif
