/*
 * measure.h - the size a record is judged by.
 *
 * The record-size limit (filter.h, max_record_bytes) must not tell a
 * record from its twin: for a plan without marking: release it limits the
 * size the record has without its marking (M) and marking-correlated (C)
 * fields. That size is the length of the record with every M and C field
 * removed, at every depth, and every other known sub-message counted with
 * a minimal length prefix (the one bytes of the record's M and C fields
 * can change):
 *
 *   size(message) = sum over its fields, in order, as far as they step:
 *       0                                       an M or C field
 *       key + varint_size(s) + s,               a known sub-message (wire
 *         s = size(its body)                    type 2)
 *       the field's bytes                       anything else
 *     + the bytes from the first field that does not step to the end
 *
 * Fields are stepped over as fields_int.h says (groups included), the
 * schema is not recursive: the walk is as deep as the schema. A record
 * and its twin (the same record with M and C fields replaced, split into
 * pieces, given other wire types or other contents) have the same size.
 * It is never more than the record's length. Thread-safe, no allocation.
 */
#ifndef DMVF_WIRE_MEASURE_H
#define DMVF_WIRE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

size_t dmvf__size_without_marking(const uint8_t *rec, size_t n);

#endif
