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
 * Many requests in one stream, signed: framed.h. Checking a signed
 * release: verify.h.
 *
 * Ownership and threads: a dmvf_filter belongs to one thread at a time.
 * The functions that take a `const dmvf_filter *` only read it: several
 * threads may call them on one filter at once, while no thread calls one
 * that takes a `dmvf_filter *`. A filter borrows the policy and keyring,
 * which must outlive it and may be shared by any number of filters on any
 * threads. The request struct is copied. The keyring and the policy count
 * their borrowers: dmvf_keyring_free or dmvf_policy_free while a filter or
 * framed stream created with it is alive aborts (misuse), so free filters
 * first. A NULL filter aborts, in every function but dmvf_filter_free.
 *
 * Errors are sticky, as common.h says for every handle: after a record or
 * stream error (any but DMVF_ESPACE and DMVF_EREFUSED) every further
 * dmvf_filter_record/stream call returns DMVF_ESTATE, and
 * dmvf_filter_finish too, until dmvf_filter_reset(); the first error stays
 * readable with dmvf_filter_last_error. DMVF_ESPACE is not an error: grow
 * or drain the output and call again with the same input.
 *
 * Canonical output: fields in field-number order, the last occurrence of a
 * singular scalar wins, default values (0, false, "") omitted, varints minimal,
 * unknown and redacted fields absent, so equal releases are equal bytes.
 * A singular sub-message that occurs more than once is merged as protobuf
 * merges it (its pieces read one after the other: scalars last wins,
 * repeated fields concatenated, sub-messages merged in turn) and written
 * once.
 *
 * The twin rule: whether a record is released, dropped or an error, and
 * what is released, never depends on the content of its marking (M) and
 * marking-correlated (C) fields, for every rule without marking: release.
 * So those fields, unknown field numbers and every sub-message the plan
 * redacts are stepped over by their framing alone (a valid key, varint or
 * length prefix within bounds, groups closed in order, at most 32 deep):
 * any wire type protobuf allows, groups included, nothing inside checked
 * or counted. Fields the plan releases or descends into, and the other
 * redacted scalars, are checked: a known field with another wire type
 * than the schema's is malformed, a repeated field holds at most 10,000
 * elements. The record-size limit, below, is judged the same way.
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

/* The requester check made before any rule is judged. A request that fails
 * it is a DENY in the policy's default refusal form, with a reason
 * (dmvf_filter_reason) for the DMV; nothing is derived for it (no keys). */
typedef enum dmvf_precheck {
    DMVF_PRECHECK_PASSED = 0,           /* the directory says who the requester is;
                                           the rules judged the request */
    DMVF_PRECHECK_BAD_REQUEST = 1,      /* dmvf_request_validate refuses its attributes
                                           (no ORI included), or its date is set and
                                           is not the day it is judged on:
                                           "bad request: ..." */
    DMVF_PRECHECK_NOT_IN_DIRECTORY = 2, /* "ORI X is not in the requester directory" */
    DMVF_PRECHECK_CONTRADICTS = 3       /* it says an agency kind, jurisdiction or tag
                                           set that differs from the directory's: "the
                                           request says agency kind internal; the
                                           directory says federal" */
} dmvf_precheck;

/* Limits on input (each a clear error when passed, never a crash or an
 * unbounded allocation):
 *   record size         max_record_bytes; DMVF_ETOOBIG. Under a rule
 *                       without marking: release it limits the size the
 *                       record has without its M and C fields (every one
 *                       removed, at every depth, each other sub-message
 *                       counted with a minimal length prefix), so that a
 *                       record and its twin are judged alike; under the
 *                       DMV's internal rule the whole size.
 *   stream buffering    a stream holds at most dmvf_stream_record_limit()
 *                       bytes of one record (16 x max_record_bytes, at least
 *                       256 MiB; a frame 16 bytes more); a longer length
 *                       prefix is DMVF_ETOOBIG before anything is buffered.
 *                       It is the one bound that looks at a record's whole
 *                       length, M and C fields included, so it could tell a
 *                       record from its twin: it is set far above any real
 *                       record (a few KiB; with a photo some tens of KiB),
 *                       where only memory is at stake
 *   repeated elements   at most 10,000 in one repeated field of one message
 *                       (not counted in the fields the twin rule above
 *                       steps over); DMVF_ETOOBIG
 *   nesting             bounded by the schema (3 levels): a deeper message
 *                       cannot be well-formed
 *   frames per request  framed streams (framed.h): at most
 *                       DMVF_DEFAULT_MAX_REQUEST_FRAMES record frames in one
 *                       request (settable per handle with
 *                       dmvf_framed_set_max_request_frames); DMVF_ETOOBIG, and
 *                       the request gets no trailer
 *   policy size         1 MiB (dmvf_policy_load_*); DMVF_EPOLICY
 * Options are read at create time. */
typedef struct dmvf_filter_options {
    size_t max_record_bytes;    /* 0 = default, 16 MiB; judged as above */
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
                                   records (dmvf_framed_held reads them) */
    uint32_t as_of;             /* YYYYMMDD: the day the request is judged on,
                                   for the DMV's own replays and tests; 0 =
                                   today (UTC), the DMV's clock. It is the
                                   day a request's date must be, the day
                                   certifications are judged on and the day
                                   its notices are dated from; the audit's
                                   REQUEST entry records it (judged_as_of).
                                   Never take it from a request */
    const char *client;         /* the program that asked for the request
                                   (the policy's clients section, for
                                   `dmvfilter serve`), recorded in its audit
                                   entries; NULL: none. Borrowed: it must
                                   outlive the filter */
} dmvf_filter_options;

#define DMVF_DEFAULT_MAX_RECORD_BYTES ((size_t)16 << 20)
#define DMVF_STREAM_RECORD_LIMIT_FACTOR 16u
#define DMVF_STREAM_RECORD_LIMIT_MIN ((size_t)256 << 20)

/* The most bytes a stream (dmvf_filter_stream; dmvf_framed_stream adds 16
 * for a frame's framing) holds of one record for a given max_record_bytes
 * (0: the default): DMVF_STREAM_RECORD_LIMIT_FACTOR times it, at least
 * DMVF_STREAM_RECORD_LIMIT_MIN. A caller that cuts a stream into pieces
 * (dmvf_stream_prefix) holds records up to this length too.
 * @return  the limit in bytes.
 * Threads: thread-safe.
 * NULL:    nothing is a pointer.
 * Owns:    nothing (a value). */
DMVF_API size_t dmvf_stream_record_limit(size_t max_record_bytes);

/* Decides the request and prepares its plan and keys. The request is
 * checked first (dmvf_request_validate, its date, the requester directory:
 * dmvf_precheck); the rules are judged on the directory's entry for its
 * ORI. A filter is returned even when the request is refused, a bad
 * request included, so that the caller can audit it: read its decision.
 * Pseudonyms and encryption are scoped by the entry's scope, else the
 * request's ORI.
 * @return  the filter, or NULL with *err filled: DMVF_EINVAL (a requested
 *          field path that is not in the schema, checked when records are
 *          to be rewritten; opts->as_of neither 0 nor a valid date),
 *          DMVF_EKEYRING (the rule pseudonymizes or encrypts and keyring is
 *          NULL), DMVF_ENOMEM.
 * Threads: thread-safe (policy and keyring are only read; their borrower
 *          counts are atomic).
 * NULL:    policy and req abort; keyring NULL: no keys (see DMVF_EKEYRING);
 *          opts NULL: all options 0 (the defaults); err may be NULL.
 * Owns:    the caller owns the filter: dmvf_filter_free. It borrows policy
 *          and keyring (counted, see above) and copies req deeply. */
DMVF_API dmvf_filter *dmvf_filter_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                         const dmvf_request *req, const dmvf_filter_options *opts,
                                         dmvf_error *err);

/* Frees the filter and wipes its per-request keys; returns its borrows of
 * the policy and keyring.
 * @return  nothing.
 * Threads: f's thread.
 * NULL:    f NULL is accepted (does nothing).
 * Owns:    every string and subject obtained from f becomes invalid. */
DMVF_API void dmvf_filter_free(dmvf_filter *f);

/* The decision, made at create. Passing the record limit turns a RELEASE
 * into a DENY (a held REVIEW stays REVIEW); dmvf_filter_reset undoes that.
 * @return  DMVF_DECISION_RELEASE, _DENY or _REVIEW.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API dmvf_decision dmvf_filter_decision(const dmvf_filter *f);

/* How a refusal looks to the requester (the trailer, dmvf_filter_finish):
 * the matched rule's form, or the policy's default when no rule matched.
 * It matters only when the decision is not RELEASE.
 * @return  DMVF_REFUSAL_REFUSED or DMVF_REFUSAL_NOT_FOUND.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API dmvf_refusal dmvf_filter_refusal(const dmvf_filter *f);

/* The matched rule's name (also when its requirements are not met and
 * the decision is DENY).
 * @return  the name, or NULL when no rule matched.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    the policy owns the string (valid while the policy is). */
DMVF_API const char *dmvf_filter_rule(const dmvf_filter *f);

/* One line saying why the decision was made (for the DMV's own logs, never
 * for the requester).
 * @return  the line; never NULL.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    f owns the string, valid until dmvf_filter_free; its text
 *          changes when the record limit is passed and on reset. */
DMVF_API const char *dmvf_filter_reason(const dmvf_filter *f);

/* The matched rule's record limit. Beyond it the request is refused. It
 * counts released records: a record dropped as malformed (drop_malformed)
 * does not count, and the record that would pass the limit is checked
 * first (so a malformed one is dropped, or an error, before the limit is
 * judged).
 * @return  the most records one request may release; 0 = no limit.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API uint64_t dmvf_filter_max_records(const dmvf_filter *f);

/* Whether the matched rule asks that subjects be notified (notices.h;
 * create the filter with collect_subjects to have them). Under such a rule
 * a record that would be released (or held for review) must have a
 * non-empty record_id: one without is DMVF_ENOSUBJECT (dmvf_filter_record),
 * since its subject could not be told.
 * @return  1 yes, 0 no (also when no rule matched).
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API int dmvf_filter_notify_subject(const dmvf_filter *f);

/* Rewrites one DriverRecord (bare message bytes, no length prefix) into
 * out[0..cap). No allocation, except for the subjects kept.
 * @return  DMVF_OK with *out_len the released length (possibly 0);
 *            with drop_malformed, also for a malformed record: *out_len 0,
 *            *dropped 1, counted as received and dropped, and *err (when
 *            given) says what was wrong with it;
 *            with collect_subjects, also for a record of a request that is
 *            not released (refused, or past the record limit): checked as
 *            a release would check it, counted as received, its record_id
 *            kept, *out_len 0.
 *          DMVF_EREFUSED when the decision is not RELEASE (nor a REVIEW
 *            held with hold_for_review) and there is no collect_subjects,
 *            or when this record passes the record limit (collect_subjects
 *            or not): the request is then refused: discard earlier output;
 *            the decision becomes DENY, a held REVIEW stays REVIEW.
 *          DMVF_ESPACE when cap is too small (nothing counted; grow out and
 *            call again with the same record).
 *          DMVF_EMALFORMED (bad input), DMVF_ETOOBIG (the record over
 *            max_record_bytes as the limits above judge it, or a repeated
 *            field too long in a record malformed nowhere), DMVF_ENOMEM
 *            (keeping a subject), DMVF_ENOSUBJECT (the rule notifies
 *            subjects and the record, which would be released, has no or an
 *            empty record_id; never dropped, also with drop_malformed):
 *            sticky (common.h); err->record is the record's 0-based index
 *            in the request.
 *          DMVF_ESTATE while f holds a sticky error.
 * Threads: f's thread.
 * NULL:    f and out_len abort; in may be NULL only with in_len 0 (else
 *          aborts); out must point at cap bytes (not checked); dropped and
 *          err may be NULL.
 * Owns:    the caller owns in and out; a kept record_id is copied. */
DMVF_API int dmvf_filter_record(dmvf_filter *f, const void *in, size_t in_len,
                                void *out, size_t cap, size_t *out_len, int *dropped,
                                dmvf_error *err);

/* Caller-owned cursors for streaming (as zstd's): the call reads
 * src[pos..size) and writes dst[pos..size), advancing pos. */
typedef struct dmvf_in_buffer { const void *src; size_t size; size_t pos; } dmvf_in_buffer;
typedef struct dmvf_out_buffer { void *dst; size_t size; size_t pos; } dmvf_out_buffer;

/* Streaming: a varint-length-delimited stream of DriverRecords in, the
 * released records, delimited, out. Consumes as much input as it can; a
 * record split across calls is kept internally (up to
 * dmvf_stream_record_limit(max_record_bytes) bytes).
 * When the rule has a record limit, output is held until end so that a
 * refused request releases nothing. end != 0 says in holds the last of the
 * stream.
 * @return  DMVF_OK when all given input is consumed and all output flushed
 *            (with end != 0: the request is complete). A request that is
 *            not released, with collect_subjects: all input is consumed,
 *            nothing is written, DMVF_OK.
 *          DMVF_ESPACE when out filled first: drain it and call again.
 *          DMVF_EREFUSED as dmvf_filter_record says: a request that is not
 *            released (without collect_subjects) at once, consuming
 *            nothing; passing the record limit after consuming input up to
 *            and including that record (with collect_subjects a further
 *            call reads the rest for its subjects and returns DMVF_OK).
 *          DMVF_EMALFORMED (a bad length prefix, an empty record, a bad
 *            record, a stream that ends inside a record when end is
 *            given), DMVF_ETOOBIG (a length prefix over
 *            dmvf_stream_record_limit, at the prefix; a record over
 *            max_record_bytes as judged above, at the record's first byte),
 *            DMVF_ENOMEM, DMVF_ENOSUBJECT (as dmvf_filter_record says):
 *            sticky (common.h); err->offset is the byte
 *            offset in the stream, err->record the record's 0-based index.
 *          DMVF_ESTATE while f holds a sticky error.
 * Threads: f's thread.
 * NULL:    f, out and in abort; in->src must point at in->size bytes and
 *          out->dst at out->size bytes (not checked); err may be NULL.
 * Owns:    the caller owns both buffers; f keeps a copy of a partial record
 *          and the output not yet flushed. */
DMVF_API int dmvf_filter_stream(dmvf_filter *f, dmvf_out_buffer *out, dmvf_in_buffer *in,
                                int end, dmvf_error *err);

/* For callers that cut a delimited stream into pieces (a parallel pipeline):
 * reads the length prefix at p[0..n) exactly as dmvf_filter_stream does.
 * Whether *len is acceptable (not 0, not over dmvf_stream_record_limit) is
 * the caller's to check.
 * @return  1 with *len (the record's length) and *pre (the prefix's bytes);
 *          0 when p[0..n) ends inside the prefix; -1 when the prefix is
 *          malformed (more than 10 bytes).
 * Threads: thread-safe.
 * NULL:    p may be NULL only with n 0; len and pre abort.
 * Owns:    nothing is kept. */
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
 * dmvf_filter_counts gives the true counts for the DMV's own use. finish
 * changes nothing in f (it may be called again) and does not end a stream:
 * dmvf_filter_stream with end does.
 * @return  DMVF_OK with *t filled: a RELEASE with its record counts; a
 *            DENY in the not-found form (a refusal for passing the record
 *            limit included) as decision RELEASE with 0 records; any other
 *            refusal or a REVIEW as its decision with 0 records. key_epoch
 *            is the keyring's current epoch, 0 without a keyring.
 *          DMVF_ESTATE while f holds a sticky error: *t is all zeros (its
 *            strings NULL); dmvf_filter_last_error says which error.
 * Threads: f's thread (finish only reads f).
 * NULL:    f and t abort.
 * Owns:    t->request_id is owned by f (valid until dmvf_filter_free),
 *          t->policy_id by the policy. */
DMVF_API int dmvf_filter_finish(dmvf_filter *f, dmvf_trailer *t);

/* The true record counters, for the DMV's own use: *in the records taken
 * (released, dropped, collected, and the one that passed the record
 * limit), *out the records released (0 once the limit was passed),
 * *dropped those dropped as malformed.
 * @return  nothing.
 * Threads: reads f only.
 * NULL:    f aborts; in, out and dropped may be NULL (not written).
 * Owns:    the caller owns *in, *out and *dropped. */
DMVF_API void dmvf_filter_counts(const dmvf_filter *f, uint64_t *in, uint64_t *out, uint64_t *dropped);

/* Clears a sticky error (dmvf_filter_last_error says DMVF_OK again), the
 * record counters, a partial record and the output not yet flushed. The
 * decision stays (a refusal for passing the record limit is undone), and
 * field counts and subjects keep accumulating for the request.
 * @return  nothing.
 * Threads: f's thread.
 * NULL:    f aborts.
 * Owns:    subjects obtained before stay valid. */
DMVF_API void dmvf_filter_reset(dmvf_filter *f);

/* The first sticky error f holds (common.h), as later calls do not say it:
 * they return DMVF_ESTATE.
 * @return  its code, DMVF_OK when f holds none (never made one, or reset
 *          since); *out receives its record (cleared when there is none).
 * Threads: reads f only.
 * NULL:    f aborts; out may be NULL (only the code is returned).
 * Owns:    the caller owns *out (a copy). */
DMVF_API int dmvf_filter_last_error(const dmvf_filter *f, dmvf_error *out);

/* Field counts (options.count_fields): per field path of the schema and
 * action, the number of values the request's records held there. A value
 * is what protobuf would hold: a singular scalar once (its last
 * occurrence, a sub-message's pieces merged) unless it has the default
 * value (0, false, ""), every element of a repeated field; a sub-message is
 * not a value, its leaves are; a field with another wire type than its
 * schema's is none. A value
 * inside a redacted sub-message counts as redacted at its own path, and so
 * does one that normalization removes (dropped, or on no allow list of
 * marking.normalize) or empties (for a singular field).
 * Fields the schema does not know are not counted, nor what is past bytes
 * that do not step inside a redacted sub-message. Only records that are
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
#define DMVF_FIELD_CLASS_N 8u   /* a state's marking values may appear (class code,
                                   restrictions, endorsements): released only as
                                   a value the policy allows */
typedef struct dmvf_field_count {
    const char *path;           /* static storage */
    dmvf_field_action action;
    unsigned klass;             /* DMVF_FIELD_CLASS_* bits, 0 = ordinary */
    uint64_t values;
} dmvf_field_count;

/* Writes up to cap entries (paths in schema order, only values > 0).
 * @return  how many entries there are in all (more than cap: call again
 *          with room for them); 0 without count_fields.
 * Threads: reads f only.
 * NULL:    f aborts; out may be NULL only with cap 0 (else aborts).
 * Owns:    the caller owns out; the paths are static storage. */
DMVF_API size_t dmvf_filter_field_counts(const dmvf_filter *f, dmvf_field_count *out,
                                         size_t cap);

/* Subjects (options.collect_subjects): the record_ids (field 1 of each
 * DriverRecord, its last occurrence), in the order read (a merge appends):
 * of the records released (or held), not of dropped ones; for a request
 * that is not released, of every record read, including the one that
 * passed the record limit. Duplicates are kept; empty record_ids are
 * skipped. */

/* How many subjects f has kept.
 * @return  the count; 0 without collect_subjects.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API size_t dmvf_filter_subject_count(const dmvf_filter *f);

/* The i-th subject kept (i < dmvf_filter_subject_count).
 * @return  its bytes, not NUL-terminated, with *len their count.
 * Threads: reads f only.
 * NULL:    f and len abort; i out of range aborts.
 * Owns:    f owns the bytes, valid until dmvf_filter_free, even while more
 *          subjects are added. */
DMVF_API const char *dmvf_filter_subject(const dmvf_filter *f, size_t i, size_t *len);

/* Adds src's field counts and subjects (appended) to dst: a pipeline's
 * workers are gathered into the filter that is audited. Both must have
 * been created for the same request with the same options (not checked).
 * Record counters are not merged; src is unchanged (src == dst doubles
 * dst).
 * @return  DMVF_OK; DMVF_ENOMEM with dst unchanged (not sticky).
 * Threads: dst's thread; no thread may write src meanwhile.
 * NULL:    dst and src abort; err may be NULL.
 * Owns:    dst copies what it takes from src. */
DMVF_API int dmvf_filter_merge(dmvf_filter *dst, const dmvf_filter *src, dmvf_error *err);

/* The request as the DMV records it (the audit log, notices, the review
 * queue): the request as received, with the requester named as the
 * directory names it (agency name, kind, jurisdiction and tags from its
 * entry; none of them when no entry identified it) and `date` the day it
 * was judged on. NULL strings stay NULL; NULL tag and field strings are
 * left out.
 * @return  the request; never NULL.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    f owns it, its strings, tags and fields, until dmvf_filter_free
 *          (the directory's strings are the policy's). */
DMVF_API const dmvf_request *dmvf_filter_request(const dmvf_filter *f);

/* The request as it was received, with what it said of its requester
 * (a deep copy; NULL strings stay NULL; NULL tag and field strings are left
 * out).
 * @return  the request; never NULL.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    f owns it until dmvf_filter_free. */
DMVF_API const dmvf_request *dmvf_filter_request_received(const dmvf_filter *f);

/* The requester directory's entry for the request's ORI.
 * @return  the entry; NULL when none identified the requester (a bad
 *          request, an ORI not in the directory).
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    the policy owns it (valid while the policy is). */
DMVF_API const dmvf_requester *dmvf_filter_requester(const dmvf_filter *f);

/* Whether, and why, the request was refused before any rule was judged.
 * @return  a dmvf_precheck; DMVF_PRECHECK_PASSED when the rules judged it.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API dmvf_precheck dmvf_filter_precheck(const dmvf_filter *f);

/* The day the request was judged on, and the as_of option it came from.
 * @return  dmvf_filter_judged_date: YYYYMMDD, today (UTC) at create or
 *          options.as_of; dmvf_filter_as_of: options.as_of, 0 when the
 *          DMV's clock was used.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API uint32_t dmvf_filter_judged_date(const dmvf_filter *f);
DMVF_API uint32_t dmvf_filter_as_of(const dmvf_filter *f);

/* The client the request came from (options.client), or NULL.
 * Threads: any (f is only read). NULL: f aborts. Owns: the caller of
 * dmvf_filter_create owns the string. */
DMVF_API const char *dmvf_filter_client(const dmvf_filter *f);

/* The policy id of the filter's policy (dmvf_policy_id).
 * @return  64 hex characters; never NULL.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    the policy owns the string. */
DMVF_API const char *dmvf_filter_policy_id(const dmvf_filter *f);

/* The filter's keyring's current epoch (the trailer's key_epoch).
 * @return  the epoch; 0 when the filter has no keyring.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    nothing (a value). */
DMVF_API uint32_t dmvf_filter_key_epoch(const dmvf_filter *f);

/* The keyring the filter was created with (the review spool signs the
 * items it holds with its signing key).
 * @return  the keyring; NULL when the filter has none.
 * Threads: reads f only.
 * NULL:    f aborts.
 * Owns:    the caller owns the keyring (the filter borrows it). */
DMVF_API const dmvf_keyring *dmvf_filter_keyring(const dmvf_filter *f);

#ifdef __cplusplus
}
#endif
#endif
