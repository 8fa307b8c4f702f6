/*
 * dmvfilter.h - the umbrella header.
 *
 * dmvfilter stands between a state DMV's records and everyone who asks for
 * them. Load a policy (policy.h) and a keyring (keyring.h) once; per request
 * describe the requester (request.h), create a filter (filter.h), read its
 * decision, then feed records one at a time or as a stream. Every byte that
 * leaves has been rewritten by the policy's compiled plan, with license
 * marking suppressed.
 */
#ifndef DMVFILTER_H
#define DMVFILTER_H

#include "dmvfilter/version.h"
#include "common.h"
#include "request.h"
#include "policy.h"
#include "keyring.h"
#include "filter.h"
#include "audit.h"
#include "notices.h"
#include "review.h"

#endif
