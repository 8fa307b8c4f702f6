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
 * Every policy holds a requester directory (the required `requesters` list,
 * and an optional `requesters_file` CSV): who each ORI is (dmvf_requester,
 * request.h). Rules match agency kind, tags and jurisdiction on the
 * directory's entry for the request's ORI, never on what the request says;
 * an ORI the directory does not hold is denied. A loaded directory of
 * 100,000 entries costs a request a few binary searches (bench/README.md).
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

/* Loads and compiles the policy in file `path` (at most 1 MiB; its
 * requesters_file at most 64 MiB). Relative paths in it (the
 * requesters_file, the accountability sections) are resolved against the
 * file's directory.
 * @return  the policy, or NULL with *err filled: DMVF_EIO (cannot open or
 *          read path), DMVF_EPOLICY (larger than 1 MiB, not YAML, or wrong
 *          in any way: err->msg is "path:line:column: why" with err->line
 *          and err->column set when a place is known, else "path: why"),
 *          DMVF_ENOMEM.
 * Threads: thread-safe (each call loads its own policy).
 * NULL:    path aborts; err may be NULL.
 * Owns:    the caller owns the policy: dmvf_policy_free. Nothing is kept
 *          of path but a copy for messages. */
DMVF_API dmvf_policy *dmvf_policy_load_file(const char *path, dmvf_error *err);

/* The same from memory: `name` is used in messages (e.g. "<stdin>"), and
 * relative paths in the policy are returned as written.
 * @return  the policy, or NULL with *err filled: DMVF_EPOLICY (len over
 *          1 MiB, or as for dmvf_policy_load_file), DMVF_ENOMEM.
 * Threads: thread-safe.
 * NULL:    yaml may be NULL only with len 0 (else aborts); name NULL:
 *          "<policy>"; err may be NULL.
 * Owns:    the caller owns the policy: dmvf_policy_free. yaml and name
 *          are copied as needed, not kept. */
DMVF_API dmvf_policy *dmvf_policy_load_buffer(const char *yaml, size_t len,
                                               const char *name, dmvf_error *err);

/* Frees a policy and everything it owns (ids, settings strings, plans).
 * @return  nothing. Aborts (misuse) while a filter or framed stream
 *          created with p is alive: free those first.
 * Threads: must not race with any other use of p.
 * NULL:    p NULL is accepted (does nothing).
 * Owns:    every string and plan obtained from p becomes invalid. */
DMVF_API void dmvf_policy_free(dmvf_policy *p);

/* The policy id: lowercase hex BLAKE2b-256 of the policy file's bytes,
 * followed by its requesters_file's bytes when it names one (so the id
 * names the directory too: `cat policy.yaml orion.csv | b2sum -l 256`).
 * @return  64 hex characters, NUL-terminated; never NULL.
 * Threads: thread-safe.
 * NULL:    p aborts.
 * Owns:    p owns the string (valid until dmvf_policy_free). */
DMVF_API const char *dmvf_policy_id(const dmvf_policy *p);

/* Writes, for the request, the day it is judged on, what the requester
 * directory says of its ORI (or why the request is refused before any
 * rule: a bad request, an ORI not in the directory, a claim the directory
 * contradicts), the rule that matches (or "no rule: deny"), every
 * requirement and whether it is met, and what every field path of the
 * schema becomes: the table a privacy officer signs off; for a release, the
 * normalization tables too (map, drop, allow list). An ORI alone is a
 * request (the directory says the rest). A request naming a field path the
 * schema does not have, and an allocation failure for the table, are said
 * in the output, not returned. dmvf_policy_explain judges the request
 * today (UTC); dmvf_policy_explain_as_of on the day as_of (YYYYMMDD; 0:
 * today), as dmvf_filter_options.as_of does, and says so.
 * @return  DMVF_OK; DMVF_EIO when writing to out failed.
 * Threads: thread-safe (p is only read); out is the caller's to serialize.
 * NULL:    p, req and out abort; an as_of that is neither 0 nor a valid
 *          date aborts (misuse).
 * Owns:    nothing is kept of req or out. */
DMVF_API int dmvf_policy_explain(const dmvf_policy *p, const dmvf_request *req, FILE *out);
DMVF_API int dmvf_policy_explain_as_of(const dmvf_policy *p, const dmvf_request *req, uint32_t as_of,
                                       FILE *out);

/* Writes a summary of the compiled policy (the requester directory: its
 * entries, prefixes, kinds, tags and scopes, and the entries themselves
 * when there are at most 64; rules, profiles, normalization tables with
 * their map, drop and allow lists, accountability sections) for
 * `policy check`.
 * @return  DMVF_OK; DMVF_EIO when writing to out failed.
 * Threads: thread-safe (p is only read); out is the caller's to serialize.
 * NULL:    p and out abort.
 * Owns:    nothing is kept of out. */
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

/* Copies the audit section into *out; without one every field is 0/NULL.
 * @return  nothing; *out is always written.
 * Threads: thread-safe (p is only read).
 * NULL:    p and out abort.
 * Owns:    p owns out->dir (valid until dmvf_policy_free). */
DMVF_API void dmvf_policy_audit_settings(const dmvf_policy *p, dmvf_policy_audit *out);

/* Copies the notices section into *out; without one queue is NULL,
 * due_days 3, business_days 0 and no holidays (what dmvf_notice_due takes
 * for 3 calendar days).
 * @return  nothing; *out is always written.
 * Threads: thread-safe (p is only read).
 * NULL:    p and out abort.
 * Owns:    p owns out->queue and out->holidays (valid until
 *          dmvf_policy_free). */
DMVF_API void dmvf_policy_notice_settings(const dmvf_policy *p, dmvf_policy_notices *out);

/* Copies the review section into *out; without one both strings are NULL.
 * @return  nothing; *out is always written.
 * Threads: thread-safe (p is only read).
 * NULL:    p and out abort.
 * Owns:    p owns out->spool and out->public_key (valid until
 *          dmvf_policy_free). */
DMVF_API void dmvf_policy_review_settings(const dmvf_policy *p, dmvf_policy_review *out);

/* ---- clients: who may call `dmvfilter serve`, and for which ORIs ----
 *
 *   clients:
 *     - name: message-switch
 *       unix_uid: 0                 a Unix-socket peer with this uid
 *       tls_fingerprint: "sha256:<64 hex digits of the client certificate's DER>"
 *       oris: [NY0010000]           the ORIs it may speak for ...
 *       ori_prefixes: [NY, DC]      ... or any ORI beginning so
 *
 * A client has a name (unique), unix_uid and/or tls_fingerprint (each
 * naming at most one client; hex digits are read in either case and kept
 * lowercase) and oris and/or ori_prefixes (as the requester directory
 * spells them). Any other key is an error. Without a clients section no
 * peer is a client: the service refuses every call. */
typedef struct dmvf_policy_client {
    const char *name;
    int has_uid;
    uint32_t unix_uid;
    const char *tls_fingerprint;     /* "sha256:" and 64 lowercase hex digits, or NULL */
    const char *const *oris;
    size_t noris;
    const char *const *ori_prefixes;
    size_t nprefixes;
} dmvf_policy_client;

/* The clients section: how many clients (0 without one), and the i-th
 * (i < count), in the policy's order.
 * Threads: thread-safe (p is only read).
 * NULL:    p aborts; an i out of range aborts.
 * Owns:    p owns the client and its strings (valid until dmvf_policy_free). */
DMVF_API size_t dmvf_policy_client_count(const dmvf_policy *p);
DMVF_API const dmvf_policy_client *dmvf_policy_client_at(const dmvf_policy *p, size_t i);

/* The client a peer is: by its Unix uid, or by its certificate's
 * fingerprint ("sha256:" and 64 hex digits, either case).
 * @return  the client, or NULL when none is so named.
 * Threads: thread-safe.
 * NULL:    p aborts; fingerprint NULL returns NULL.
 * Owns:    p owns the client. */
DMVF_API const dmvf_policy_client *dmvf_policy_client_by_uid(const dmvf_policy *p, uint32_t uid);
DMVF_API const dmvf_policy_client *dmvf_policy_client_by_fingerprint(const dmvf_policy *p,
                                                                    const char *fingerprint);

/* 1 when client c may speak for ori: it is one of c's oris or begins with
 * one of its ori_prefixes (exact bytes, no case folding); else 0.
 * NULL:    c aborts; ori NULL is 0. */
DMVF_API int dmvf_policy_client_may_speak_for(const dmvf_policy_client *c, const char *ori);

#ifdef __cplusplus
}
#endif
#endif
