/*
 * core/request.h - the syntax of the attributes that say who a requester
 * is, shared by the check of every request (dmvf_request_validate,
 * request.h) and the policy's requester directory and rules, so that a
 * value the directory holds is always one a request can carry.
 *
 *   ORI           exactly 9 characters A-Z 0-9          "NY0010000"
 *   ORI prefix    1..8 characters A-Z 0-9                "DCICE"
 *   tag           1..64 characters [a-z0-9][a-z0-9-]*    "immigration-enforcement"
 *   jurisdiction  two letters A-Z                        "NY"
 *
 * s[0..n) need not be NUL-terminated. Each returns 1 when it is one, 0
 * when not. Thread-safe.
 */
#ifndef DMVF_CORE_REQUEST_H
#define DMVF_CORE_REQUEST_H

#include <stddef.h>

#define DMVF__ORI_LEN 9u
#define DMVF__TAG_MAX 64u

int dmvf__ori_valid(const char *s, size_t n);
int dmvf__ori_prefix_valid(const char *s, size_t n);
int dmvf__tag_valid(const char *s, size_t n);
int dmvf__jurisdiction_valid(const char *s, size_t n);

/* What each of them says a value must be, for messages. */
#define DMVF__ORI_RULE "an ORI is exactly 9 characters A-Z or 0-9"
#define DMVF__ORI_PREFIX_RULE "an ORI prefix is 1 to 8 characters A-Z or 0-9"
#define DMVF__TAG_RULE "a tag is 1 to 64 characters a-z, 0-9 or '-', starting with a letter or digit"
#define DMVF__JURISDICTION_RULE "a jurisdiction is two letters A-Z"

#endif
