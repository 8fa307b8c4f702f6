/*
 * dmvfilter.h - the umbrella header: includes every public header.
 *
 * dmvfilter stands between a state DMV's records and everyone who asks for
 * them. Load a policy (policy.h) and a keyring (keyring.h) once; per request
 * describe the requester (request.h), create a filter (filter.h), read its
 * decision, then feed records one at a time or as a stream. Every byte that
 * leaves has been rewritten by the policy's compiled plan, with license
 * marking suppressed. Many requests in one signed stream: framed.h;
 * checking a signed release: verify.h. Accountability: the audit log
 * (audit.h), subject notices (notices.h), the review queue (review.h).
 *
 * Every header compiles on its own; each function's contract (what it
 * returns, its errors, threads, NULL arguments, ownership) is written above
 * it in the layout common.h describes, and common.h also holds the one rule
 * for sticky errors. The version macros are in dmvfilter/version.h,
 * generated at build time and installed with the others.
 */
#ifndef DMVFILTER_H
#define DMVFILTER_H

#include "dmvfilter/version.h"
#include "common.h"
#include "request.h"
#include "policy.h"
#include "keyring.h"
#include "filter.h"
#include "framed.h"
#include "format.h"
#include "verify.h"
#include "audit.h"
#include "notices.h"
#include "review.h"

#endif
