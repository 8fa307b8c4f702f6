/*
 * dmvfilter/filter.h - one request's release: decide, then rewrite records.
 *
 * Life of a request:
 *
 *   f = dmvf_filter_create(policy, keyring, &request, NULL, &err);
 *   switch (dmvf_filter_decision(f)) { ... }      decided here, before any record
 *   dmvf_filter_record(f, in, n, out, cap, &len, &err)   one bare DriverRecord, or
 *   dmvf_filter_stream(f, &out, &in, end, &err)          a delimited stream
 *   dmvf_filter_finish(f, &trailer)                        the figures
 *   dmvf_filter_free(f)
 *
 * Ownership and threads: a dmvf_filter belongs to one thread at a time. It
 * borrows the policy and keyring, which must outlive it and may be shared by
 * any number of filters on any threads. The request struct is copied. The
 * keyring and the policy count their borrowers: dmvf_keyring_free or
 * dmvf_policy_free while a filter or framed stream created with it is alive
 * aborts (misuse), so free filters first.
 *
 * Errors are sticky (as in BearSSL): after a record or stream error every
 * further dmvf_filter_record/stream call returns DMVF_ESTATE until
 * dmvf_filter_reset(). DMVF_ESPACE is not an error: grow or drain the output
 * and call again with the same input. A NULL filter aborts.
 *
 * Canonical output: fields in field-number order, the last occurrence of a
 * singular scalar wins, default values (0, false, "") omitted, varints minimal,
 * unknown and redacted fields absent, so equal releases are equal bytes.
 * A singular sub-message occurring twice is malformed (refused, not merged).
 */
#ifndef DMVFILTER_FILTER_H
#define DMVFILTER_FILTER_H

#include "common.h"
#include "request.h"
#include "policy.h"
#include "keyring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmvf_filter dmvf_filter;

typedef enum dmvf_decision {
    DMVF_DECISION_RELEASE = 1,  /* records are rewritten and released */
    DMVF_DECISION_DENY = 2,     /* nothing is released */
    DMVF_DECISION_REVIEW = 3    /* held for a reviewer; nothing is released */
} dmvf_decision;

typedef enum dmvf_refusal {
    DMVF_REFUSAL_REFUSED = 1,   /* the reply says refused */
    DMVF_REFUSAL_NOT_FOUND = 2  /* the reply is exactly a genuine miss */
} dmvf_refusal;

/* Limits on input (each a clear error when passed, never a crash or an
 * unbounded allocation):
 *   record size         max_record_bytes; DMVF_ETOOBIG
 *   repeated elements   at most 10,000 in one repeated field of one message;
 *                       DMVF_ETOOBIG
 *   nesting             bounded by the schema (3 levels): a deeper message
 *                       cannot be well-formed
 *   frames per request  framed streams: at most DMVF_DEFAULT_MAX_REQUEST_FRAMES
 *                       record frames in one request (settable per handle with
 *                       dmvf_framed_set_max_request_frames); DMVF_ETOOBIG, and
 *                       the request gets no trailer
 *   policy size         1 MiB (dmvf_policy_load_*); DMVF_EPOLICY
 * Options are read at create time. */
typedef struct dmvf_filter_options {
    size_t max_record_bytes;    /* 0 = default, 16 MiB */
    int drop_malformed;         /* 1: a malformed record is dropped and counted */
    int count_fields;           /* 1: count per field path the values seen and
                                   what became of them (for the audit log;
                                   costs a second walk over each record);
                                   see dmvf_filter_field_counts */
    int collect_subjects;       /* 1: keep each record's record_id: of released
                                   records, and, for a request that is not
                                   released, of the records it would have
                                   read (dmvf_filter_stream then consumes the
                                   input, writes nothing and returns DMVF_OK;
                                   dmvf_filter_record returns DMVF_OK with
                                   *out_len 0), so that subjects can be
                                   notified. Such records are checked as a
                                   release checks them: a malformed one is an
                                   error, or dropped with drop_malformed */
    int hold_for_review;        /* 1: a REVIEW decision rewrites records as a
                                   release would (the would-be release, for
                                   the review spool) with the rule's profile,
                                   requested fields, record limit and keys
                                   (so a keyring may be required, as for a
                                   release); the caller must not release
                                   them. dmvf_filter_decision still says
                                   REVIEW. A review rule without a profile
                                   holds an empty release: records are read
                                   (and their subjects kept), none is
                                   written. Framed streams never write held
                                   records */
} dmvf_filter_options;

#define DMVF_DEFAULT_MAX_RECORD_BYTES ((size_t)16 << 20)
#define DMVF_DEFAULT_MAX_REQUEST_FRAMES ((uint64_t)10000000)

/* Decides the request and prepares its plan and keys. Returns a filter even
 * when the request is refused (read the decision); NULL only on DMVF_ENOMEM,
 * DMVF_EINVAL (a requested field path that is not in the schema) or
 * DMVF_EKEYRING, with *err filled. opts and err may be NULL. */
DMVF_API dmvf_filter *dmvf_filter_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                         const dmvf_request *req, const dmvf_filter_options *opts,
                                         dmvf_error *err);
/* Frees; NULL accepted. Wipes the per-request keys. */
DMVF_API void dmvf_filter_free(dmvf_filter *f);

DMVF_API dmvf_decision dmvf_filter_decision(const dmvf_filter *f);
DMVF_API dmvf_refusal dmvf_filter_refusal(const dmvf_filter *f);
/* The matched rule's name, or NULL when no rule matched. Owned by the policy. */
DMVF_API const char *dmvf_filter_rule(const dmvf_filter *f);
/* One line saying why the decision was made (for the DMV's own logs, never
 * for the requester). Owned by the filter. */
DMVF_API const char *dmvf_filter_reason(const dmvf_filter *f);
/* The rule's record limit, 0 = none. Beyond it the request is refused. */
DMVF_API uint64_t dmvf_filter_max_records(const dmvf_filter *f);
/* Whether the rule asks that subjects be notified. */
DMVF_API int dmvf_filter_notify_subject(const dmvf_filter *f);

/* Rewrites one DriverRecord (bare message bytes, no length prefix) into
 * out[0..cap). On DMVF_OK *out_len is the released length (possibly 0).
 * Returns DMVF_EREFUSED if the decision is not RELEASE (nor a REVIEW held
 * with hold_for_review) or the record limit is passed (the request is then
 * refused: discard earlier output; the decision becomes DENY, a held REVIEW
 * stays REVIEW), DMVF_ESPACE if cap is too small (nothing counted; retry),
 * DMVF_EMALFORMED/DMVF_ETOOBIG for bad input (sticky), or, with
 * drop_malformed, DMVF_OK with *out_len 0 and *dropped set to 1. dropped
 * may be NULL. With collect_subjects, a record of a request that is not
 * released (refused, or past the record limit) is checked, counted as
 * received and its record_id kept: DMVF_OK with *out_len 0 instead of
 * DMVF_EREFUSED (the call that passes the limit still says DMVF_EREFUSED).
 * No allocation, except for the subjects kept (DMVF_ENOMEM, sticky). */
DMVF_API int dmvf_filter_record(dmvf_filter *f, const void *in, size_t in_len,
                                void *out, size_t cap, size_t *out_len, int *dropped,
                                dmvf_error *err);

/* Streaming: a varint-length-delimited stream of DriverRecords in, the
 * released records, delimited, out. Consumes as much input as it can; a
 * record split across calls is kept internally (up to max_record_bytes).
 * When the rule has a record limit, output is held until end so that a
 * refused request releases nothing. Returns DMVF_OK when all given input is
 * consumed and all output flushed (with end != 0: the request is complete),
 * DMVF_ESPACE when out filled first (drain it and call again), or an error:
 * DMVF_EREFUSED as dmvf_filter_record says (input is consumed up to and
 * including the record that passed the limit; with collect_subjects a
 * further call reads the rest for its subjects and returns DMVF_OK).
 * A request that is not released with collect_subjects: all input is
 * consumed, nothing is written, DMVF_OK.
 * A stream that ends inside a record is DMVF_EMALFORMED. */
typedef struct dmvf_in_buffer { const void *src; size_t size; size_t pos; } dmvf_in_buffer;
typedef struct dmvf_out_buffer { void *dst; size_t size; size_t pos; } dmvf_out_buffer;
DMVF_API int dmvf_filter_stream(dmvf_filter *f, dmvf_out_buffer *out, dmvf_in_buffer *in,
                                int end, dmvf_error *err);

/* For callers that cut a delimited stream into pieces (a parallel pipeline):
 * reads the length prefix at p[0..n) exactly as dmvf_filter_stream does.
 * Returns 1 with *len (the record's length) and *pre (the prefix's bytes),
 * 0 when p[0..n) ends inside the prefix, -1 when the prefix is malformed
 * (more than 10 bytes). Whether *len is acceptable (not 0, not over the
 * record limit) is the caller's to check. Thread-safe. */
DMVF_API int dmvf_stream_prefix(const void *p, size_t n, uint64_t *len, size_t *pre);

typedef struct dmvf_trailer {
    const char *request_id;     /* owned by the filter; "" if none */
    uint64_t records_in;
    uint64_t records_out;
    uint64_t records_dropped;
    dmvf_decision decision;     /* for a not-found refusal: RELEASE, as a miss */
    uint32_t key_epoch;
    const char *policy_id;      /* owned by the policy */
} dmvf_trailer;

/* The figures of the request as the requester may see them: a refusal in the
 * not-found form reports what a genuine miss reports (released, 0 records).
 * dmvf_filter_counts gives the true counts for the DMV's own use. */
DMVF_API int dmvf_filter_finish(dmvf_filter *f, dmvf_trailer *t);
DMVF_API void dmvf_filter_counts(const dmvf_filter *f, uint64_t *in, uint64_t *out, uint64_t *dropped);

/* Clears a sticky error and the record counters; the decision stays (a
 * refusal for passing the record limit is undone), and field counts and
 * subjects keep accumulating for the request. */
DMVF_API void dmvf_filter_reset(dmvf_filter *f);

/* The sticky error f holds, as later calls say only DMVF_ESTATE: its code
 * (DMVF_OK when none, or after a reset) and, into *out (may be NULL), its
 * record as the failing call gave it (also when that call had no err). */
DMVF_API int dmvf_filter_last_error(const dmvf_filter *f, dmvf_error *out);

/* Field counts (options.count_fields): per field path of the schema and
 * action, the number of values the request's records held there. A value
 * is what protobuf-c would hold: a singular scalar once (its last
 * occurrence) unless it has the default value (0, false, ""), every element
 * of a repeated field; a sub-message is not a value, its leaves are. A value
 * inside a redacted sub-message counts as redacted at its own path, and so
 * does one that normalization drops (or empties, for a singular field).
 * Fields the schema does not know are not counted. Only records that are
 * rewritten count (released, or held with hold_for_review; not dropped
 * ones): a refused request counts nothing, and passing the record limit
 * clears the counts (nothing was released). So for every path, the values
 * counted under an action other than REDACT are the values at that path in
 * the output. The action is the plan's (after any requested fields). */
typedef enum dmvf_field_action {
    DMVF_FIELD_REDACT = 0,
    DMVF_FIELD_RELEASE = 1,
    DMVF_FIELD_MASK = 2,
    DMVF_FIELD_GENERALIZE = 3,
    DMVF_FIELD_PSEUDONYMIZE = 4,
    DMVF_FIELD_ENCRYPT = 5,
    DMVF_FIELD_CONSTANT = 6
} dmvf_field_action;
#define DMVF_FIELD_CLASS_M 1u   /* marking-bearing */
#define DMVF_FIELD_CLASS_C 2u   /* marking-correlated */
#define DMVF_FIELD_CLASS_P 4u   /* highly restricted personal data */
typedef struct dmvf_field_count {
    const char *path;           /* static storage */
    dmvf_field_action action;
    unsigned klass;             /* DMVF_FIELD_CLASS_* bits, 0 = ordinary */
    uint64_t values;
} dmvf_field_count;
/* Writes up to cap entries (paths in schema order, only values > 0) and
 * returns how many there are in all; out may be NULL with cap 0. */
DMVF_API size_t dmvf_filter_field_counts(const dmvf_filter *f, dmvf_field_count *out,
                                         size_t cap);

/* Subjects (options.collect_subjects): the record_ids (field 1 of each
 * DriverRecord, its last occurrence), in the order read (a merge appends):
 * of the records released (or held), not of dropped ones; for a request
 * that is not released, of every record read, including the one that
 * passed the record limit. Duplicates are kept. Returns the count;
 * dmvf_filter_subject gives the i-th (owned by f, valid until it is freed,
 * even while more are added; not NUL-terminated; i >= the count aborts).
 * Empty record_ids are skipped. */
DMVF_API size_t dmvf_filter_subject_count(const dmvf_filter *f);
DMVF_API const char *dmvf_filter_subject(const dmvf_filter *f, size_t i, size_t *len);

/* Adds src's field counts and subjects (appended) to dst: a pipeline's
 * workers are gathered into the filter that is audited. Both must have
 * been created for the same request with the same options. Record counters
 * are not merged; src is unchanged (src == dst doubles dst). DMVF_OK, or
 * DMVF_ENOMEM with dst's subjects unchanged. */
DMVF_API int dmvf_filter_merge(dmvf_filter *dst, const dmvf_filter *src, dmvf_error *err);

/* The request the filter was created for (a deep copy, owned by f: its
 * strings, tags and fields stay valid until f is freed; NULL strings stay
 * NULL). */
DMVF_API const dmvf_request *dmvf_filter_request(const dmvf_filter *f);
/* The policy id of the filter's policy and its keyring's current epoch (the
 * trailer's key_epoch; 0 when the filter has no keyring). */
DMVF_API const char *dmvf_filter_policy_id(const dmvf_filter *f);
DMVF_API uint32_t dmvf_filter_key_epoch(const dmvf_filter *f);

/*
 * Framed streams: Frame{request | record | trailer} messages, delimited. Each
 * request frame starts a request (decided then), its record frames follow,
 * an optional trailer frame or the next request or the end closes it. Output:
 * for each request its released record frames, then a signed trailer frame;
 * after the last request a seal frame (signed releases, below). A
 * request whose output must be withheld (record limit) is buffered.
 * The handle belongs to one thread and borrows the policy and keyring as a
 * filter does. Same return convention as dmvf_filter_stream; errors are
 * sticky (DMVF_ESTATE afterwards; create a new handle). A stream that fails
 * leaves the open request without a trailer frame: only requests whose
 * trailer was written are complete.
 */
typedef struct dmvf_framed dmvf_framed;
typedef struct dmvf_framed_stats {
    uint64_t requests, released, refused, reviewed;
    uint64_t records_in, records_out, records_dropped;
} dmvf_framed_stats;
/* Called once per finished request, before its trailer frame is written
 * (after the audit hook's second call). */
typedef void (*dmvf_framed_cb)(void *ud, const dmvf_filter *f, const dmvf_trailer *t);
/* The audit hook: called when a request has been decided, before any of its
 * output is written (t == NULL), and when it is finished, before its trailer
 * frame is written (t set; before the dmvf_framed_cb callback, which is not
 * called when the hook fails). A non-zero return fails the stream with
 * DMVF_EIO (sticky): nothing more of that request is written (held output
 * is dropped), it gets no trailer and the release gets no seal. A request
 * with a record limit holds its output until its trailer; one without
 * streams its record frames as they come, all after the first call: that
 * call is the write-ahead point. */
typedef int (*dmvf_framed_audit_cb)(void *ud, dmvf_filter *f, const dmvf_trailer *t);

/* keyring is required (NULL aborts): the output is signed with it. */
DMVF_API dmvf_framed *dmvf_framed_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                         const dmvf_filter_options *opts, dmvf_error *err);
DMVF_API void dmvf_framed_free(dmvf_framed *fr);
DMVF_API void dmvf_framed_set_callback(dmvf_framed *fr, dmvf_framed_cb cb, void *ud);
/* Sets (cb NULL: clears) the audit hook; set it before the first
 * dmvf_framed_stream call. */
DMVF_API void dmvf_framed_set_audit(dmvf_framed *fr, dmvf_framed_audit_cb cb, void *ud);
/* Signed releases: every framed output is signed with the keyring's Ed25519
 * key. Each trailer carries the BLAKE2b-256 digest of all output bytes before
 * it (length prefixes included) and a signature ("dmvf-trailer-v1" over the
 * Trailer packed with signature empty); after the last request (end given
 * and all input consumed) a Seal frame carries the number of trailers, the
 * digest of everything before it, the public key and a signature
 * ("dmvf-seal-v1"), so that a missing, changed, reordered or appended byte
 * fails dmvf_release_verify. Nothing is emitted for an empty input but the
 * Seal. A stream that fails emits no seal. Signatures are deterministic:
 * equal input, policy and keyring give equal bytes (a not-found refusal's
 * trailer is still exactly a genuine miss's). After the seal, a call with
 * more input returns DMVF_ESTATE (not sticky; the release stays complete);
 * a call without input flushes what is left. A Seal frame in the input is
 * DMVF_EMALFORMED.
 * Records-format output (dmvf_filter_stream) is not signed. */

/* Checks a framed release with the public key alone. Returns DMVF_OK,
 * DMVF_ETAMPER (err says which frame, at which byte offset, and why: a
 * digest or signature that does not match, a seal that is missing, not
 * last, made with another key or counting other requests, a request frame,
 * record frames after the last trailer, a trailer whose records_out is not
 * the number of record frames before it, a trailer or seal not in the
 * canonical encoding, bytes after the seal, a release cut inside a frame)
 * or DMVF_EMALFORMED (bytes that are not a release frame: a bad length
 * prefix or body field; err->offset is the frame's offset, err->record its
 * 0-based index), DMVF_ENOMEM. *requests (may be NULL) receives the number
 * of requests (0 unless DMVF_OK). Thread-safe; data is only read. */
DMVF_API int dmvf_release_verify(const void *data, size_t len, const uint8_t pub[32],
                                 uint64_t *requests, dmvf_error *err);

/* The same check over a release that arrives in pieces, in bounded memory:
 * record frames are hashed as they pass; only one trailer or seal frame is
 * held (at most DMVF_RELEASE_MAX_META bytes; a larger one is malformed).
 *
 *   v = dmvf_release_verifier_create(pub, &err);      NULL: DMVF_ENOMEM
 *   dmvf_release_verifier_update(v, p, n, &err);       per piece, any sizes
 *   dmvf_release_verifier_final(v, &requests, &err);   the verdict
 *   dmvf_release_verifier_free(v);                     NULL accepted
 *
 * update returns DMVF_OK while the bytes so far are a good beginning of a
 * release, else the error as dmvf_release_verify gives it; errors are
 * sticky (every later update and final return the same code and message).
 * Only final's DMVF_OK says the release verifies. A verifier belongs to one
 * thread; a NULL verifier or pub aborts. */
#define DMVF_RELEASE_MAX_META ((size_t)16 << 20)
typedef struct dmvf_release_verifier dmvf_release_verifier;
DMVF_API dmvf_release_verifier *dmvf_release_verifier_create(const uint8_t pub[32], dmvf_error *err);
DMVF_API int dmvf_release_verifier_update(dmvf_release_verifier *v, const void *data, size_t len,
                                          dmvf_error *err);
DMVF_API int dmvf_release_verifier_final(dmvf_release_verifier *v, uint64_t *requests,
                                         dmvf_error *err);
DMVF_API void dmvf_release_verifier_free(dmvf_release_verifier *v);
/* The first error v holds (the one update and final repeat): its code,
 * DMVF_OK when none, and its record into *out (may be NULL). */
DMVF_API int dmvf_release_verifier_last_error(const dmvf_release_verifier *v, dmvf_error *out);
/* The most record frames one request may carry; 0 restores the default
 * (DMVF_DEFAULT_MAX_REQUEST_FRAMES). Applies from the next record frame. */
DMVF_API void dmvf_framed_set_max_request_frames(dmvf_framed *fr, uint64_t n);
DMVF_API int dmvf_framed_stream(dmvf_framed *fr, dmvf_out_buffer *out, dmvf_in_buffer *in,
                                int end, dmvf_error *err);
DMVF_API void dmvf_framed_stats_get(const dmvf_framed *fr, dmvf_framed_stats *st);
/* The sticky error fr holds, as later calls say only DMVF_ESTATE: its code
 * (DMVF_OK when none) and its record into *out (may be NULL). */
DMVF_API int dmvf_framed_last_error(const dmvf_framed *fr, dmvf_error *out);

#ifdef __cplusplus
}
#endif
#endif
