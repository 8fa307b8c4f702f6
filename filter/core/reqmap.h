/*
 * core/reqmap.h - a request (dmvf_request, request.h) as the schema's
 * message (dmv.v1.Request, request.proto) and back: the one mapping the
 * audit log, the review queue and the framed format share.
 *
 * Neither direction copies a string: the result borrows every string and
 * the tags and fields arrays of its source, and lives no longer than it.
 * Strings: a NULL string of the request becomes "" in the message
 * (protobuf-c packs no NULL); the message's strings (never NULL once
 * unpacked or initialized) are taken as they are, so a request that went
 * to a message and back has "" where it had NULL, which every consumer
 * reads the same way. Thread-safe (no state).
 */
#ifndef DMVF_CORE_REQMAP_H
#define DMVF_CORE_REQMAP_H

#include "dmvfilter/request.h"
#include "dmv/v1/request.pb-c.h"

/* Initializes *m and fills it from *r. r's tags and fields must not hold
 * NULL strings (protobuf-c would crash packing them). */
void dmvf__request_to_pb(const dmvf_request *r, Dmv__V1__Request *m);
/* Fills *r from *m (every member of *r is set). */
void dmvf__request_from_pb(const Dmv__V1__Request *m, dmvf_request *r);

#endif
