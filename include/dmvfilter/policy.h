/*
 * dmvfilter/policy.h - load, compile and explain a release policy.
 *
 * A policy is a YAML file (see README "Policy format"). Loading parses it with
 * libyaml and compiles it into an immutable plan: one table per message
 * position, field number -> action. A policy that is wrong in any way is
 * refused as a whole with DMVF_EPOLICY and a message naming file:line:column
 * and the reason (unknown field path or action, a rule reading a marking or
 * marking-correlated field, a profile releasing a C field verbatim, an
 * unreachable rule, a missing profile, ...).
 *
 * Threads: a loaded dmvf_policy is immutable; any number of threads may use
 * one policy at once. dmvf_policy_free must not race with any other use, and
 * aborts (misuse) while a filter or framed stream created with the policy is
 * still alive.
 */
#ifndef DMVFILTER_POLICY_H
#define DMVFILTER_POLICY_H

#include <stdio.h>
#include "common.h"
#include "request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmvf_policy dmvf_policy;

/* Loads and compiles the policy in file `path`. Returns the policy, owned by
 * the caller (free with dmvf_policy_free), or NULL with *err filled
 * (DMVF_EPOLICY, DMVF_EIO, DMVF_ENOMEM). err may be NULL. */
DMVF_API dmvf_policy *dmvf_policy_load_file(const char *path, dmvf_error *err);

/* The same from memory; `name` is used in messages (e.g. "<stdin>"). */
DMVF_API dmvf_policy *dmvf_policy_load_buffer(const char *yaml, size_t len,
                                               const char *name, dmvf_error *err);

/* Frees a policy; NULL is accepted. */
DMVF_API void dmvf_policy_free(dmvf_policy *p);

/* The policy id: lowercase hex BLAKE2b-256 of the policy file's bytes
 * (64 characters). Owned by the policy. */
DMVF_API const char *dmvf_policy_id(const dmvf_policy *p);

/* Writes, for the request, the rule that matches (or "no rule: deny"), every
 * requirement and whether it is met, and what every field path of the
 * schema becomes: the table a privacy officer signs off. Returns DMVF_OK or
 * DMVF_EIO. */
DMVF_API int dmvf_policy_explain(const dmvf_policy *p, const dmvf_request *req, FILE *out);

/* Writes a summary of the compiled policy (rules, profiles, normalization)
 * for `policy check`. Returns DMVF_OK or DMVF_EIO. */
DMVF_API int dmvf_policy_describe(const dmvf_policy *p, FILE *out);

/* Accountability settings from the policy's top-level sections (README
 * "Policy format"). Relative paths are resolved against the directory of
 * the policy file (the working directory for a policy loaded from memory:
 * they are returned as written). Strings are owned by the policy; NULL when
 * not given. Every section and key is optional, except as said below.
 *
 *   audit:   {dir: D, required: true, subjects: true, rotate_bytes: 64M,
 *             rotate_seconds: 86400, compress: true}
 *   notices: {queue: F, due_days: 3, business_days: true,
 *             holidays: [2026-12-25, ...]}
 *   review:  {spool: D, public_key: F}
 *
 * Booleans are true or false (default false). rotate_bytes is a size of at
 * least 1 byte: digits with an optional K, M, G or T (binary multiples;
 * "MiB" and "MB" mean the same); rotate_seconds an integer >= 1; due_days
 * 1..60 (default 3); holidays YYYY-MM-DD dates, returned sorted (duplicates
 * kept). A notices section needs a queue, a review section a spool and a
 * public_key. A rule with notify_subject: true needs a notices section and
 * a rule with decision: review a review section: without them the policy
 * does not load (DMVF_EPOLICY), so nothing they require can be skipped.
 * The policy id stays the hash of the file's bytes.
 */
typedef struct dmvf_policy_audit {
    const char *dir;
    int required;               /* filtering without an audit log is refused */
    int subjects;               /* log keyed hashes of released record_ids */
    uint64_t rotate_bytes;      /* 0: the default */
    uint64_t rotate_seconds;    /* 0: the default */
    int compress;
} dmvf_policy_audit;
typedef struct dmvf_policy_notices {
    const char *queue;
    unsigned due_days;          /* default 3 */
    int business_days;          /* skip Saturdays, Sundays and holidays */
    const uint32_t *holidays;   /* YYYYMMDD, sorted */
    size_t nholidays;
} dmvf_policy_notices;
typedef struct dmvf_policy_review {
    const char *spool;
    const char *public_key;
} dmvf_policy_review;
DMVF_API void dmvf_policy_audit_settings(const dmvf_policy *p, dmvf_policy_audit *out);
DMVF_API void dmvf_policy_notice_settings(const dmvf_policy *p, dmvf_policy_notices *out);
DMVF_API void dmvf_policy_review_settings(const dmvf_policy *p, dmvf_policy_review *out);

#ifdef __cplusplus
}
#endif
#endif
