/*
 * dmvfilter/framed.h - framed streams: many requests and their records in
 * one stream, released as one signed release.
 *
 * Input: Frame{request | record | trailer} messages, delimited. Each
 * request frame starts a request (decided then, by a dmvf_filter made for
 * it: filter.h), its record frames follow, an optional trailer frame or the
 * next request or the end closes it. Output: for each request its released
 * record frames, then a signed trailer frame; after the last request a seal
 * frame (signed releases, below). A request whose output must be withheld
 * (record limit) is buffered. A request that is not released gets its
 * trailer and no record frames; its records are counted, not checked.
 * With options.hold_for_review, a request decided REVIEW (whose rule has a
 * profile) has its records rewritten as a release would be, kept apart and
 * never written: the audit hook reads that would-be release
 * (dmvf_framed_held) to seal it for the reviewers; its output is its
 * trailer alone, as for any refusal. Such a request is decided with
 * count_fields and collect_subjects set, whatever opts say.
 *
 *   fr = dmvf_framed_create(policy, keyring, &opts, &err);
 *   dmvf_framed_set_audit(fr, hook, ud);                   optional
 *   dmvf_framed_stream(fr, &out, &in, end, &err)           until end, drained
 *   dmvf_framed_stats_get(fr, &stats);
 *   dmvf_framed_free(fr);
 *
 * The handle belongs to one thread and borrows the policy and keyring as a
 * filter does (counted: they must outlive it). Same return convention as
 * dmvf_filter_stream. Errors are sticky, as common.h says for every handle:
 * after an error every later dmvf_framed_stream call returns DMVF_ESTATE,
 * for good (there is no reset: create a new handle); the first error stays
 * readable with dmvf_framed_last_error. A stream that fails leaves the open
 * request without a trailer frame: only requests whose trailer was written
 * are complete. A NULL handle aborts, in every function but
 * dmvf_framed_free.
 *
 * Signed releases: every framed output is signed with the keyring's Ed25519
 * key. Each trailer carries the BLAKE2b-256 digest of all output bytes before
 * it (length prefixes included) and a signature ("dmvf-trailer-v1" over the
 * Trailer packed with signature empty); after the last request (end given
 * and all input consumed) a Seal frame carries the number of trailers, the
 * digest of everything before it, the public key and a signature
 * ("dmvf-seal-v1"), so that a missing, changed, reordered or appended byte
 * fails dmvf_release_verify (verify.h). Nothing is emitted for an empty
 * input but the Seal. A stream that fails emits no seal. Signatures are
 * deterministic: equal input, policy and keyring give equal bytes (a
 * not-found refusal's trailer is still exactly a genuine miss's). After the
 * seal, a call with more input returns DMVF_ESTATE (not sticky; the release
 * stays complete); a call without input flushes what is left. A Seal frame
 * in the input is DMVF_EMALFORMED.
 * Records-format output (dmvf_filter_stream) is not signed.
 */
#ifndef DMVFILTER_FRAMED_H
#define DMVFILTER_FRAMED_H

#include "common.h"
#include "policy.h"
#include "keyring.h"
#include "filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most record frames one request may carry, unless set otherwise with
 * dmvf_framed_set_max_request_frames. */
#define DMVF_DEFAULT_MAX_REQUEST_FRAMES ((uint64_t)10000000)

typedef struct dmvf_framed dmvf_framed;

/* Totals over the requests finished so far (a request that failed is not
 * counted in released/refused/reviewed nor in the records). */
typedef struct dmvf_framed_stats {
    uint64_t requests, released, refused, reviewed;
    uint64_t records_in, records_out, records_dropped;
} dmvf_framed_stats;

/* Called once per finished request, before its trailer frame is written
 * (after the audit hook's second call). f (the request's filter) and t are
 * valid only during the call; the callback must not call
 * dmvf_framed_stream on the same handle. */
typedef void (*dmvf_framed_cb)(void *ud, const dmvf_filter *f, const dmvf_trailer *t);

/* The audit hook: called when a request has been decided, before any of its
 * output is written (t == NULL), and when it is finished, before its trailer
 * frame is written (t set; before the dmvf_framed_cb callback, which is not
 * called when the hook fails). A non-zero return fails the stream with
 * DMVF_EIO (sticky): nothing more of that request is written (held output
 * is dropped), it gets no trailer and the release gets no seal. A request
 * with a record limit holds its output until its trailer; one without
 * streams its record frames as they come, all after the first call: that
 * call is the write-ahead point. f and t are valid only during the call;
 * the hook must not call dmvf_framed_stream on the same handle. */
typedef int (*dmvf_framed_audit_cb)(void *ud, dmvf_filter *f, const dmvf_trailer *t);

/* Creates a framed stream processor. Each request's filter is created with
 * opts (each record is judged by max_record_bytes as filter.h says; a
 * frame is at most dmvf_stream_record_limit(max_record_bytes) + 16 bytes).
 * @return  the handle, or NULL with *err filled: DMVF_ENOMEM.
 * Threads: thread-safe (policy and keyring are only read; their borrower
 *          counts are atomic).
 * NULL:    policy and keyring abort (the output is signed with the
 *          keyring); opts NULL: all options 0; err may be NULL.
 * Owns:    the caller owns the handle: dmvf_framed_free. It borrows policy
 *          and keyring (counted) and copies opts. */
DMVF_API dmvf_framed *dmvf_framed_create(const dmvf_policy *policy, const dmvf_keyring *keyring,
                                         const dmvf_filter_options *opts, dmvf_error *err);

/* Frees the handle, the open request's filter and any output not yet
 * flushed (an unfinished release stays unsigned).
 * @return  nothing.
 * Threads: fr's thread.
 * NULL:    fr NULL is accepted (does nothing).
 * Owns:    returns the borrows of the policy and keyring. */
DMVF_API void dmvf_framed_free(dmvf_framed *fr);

/* Sets (cb NULL: clears) the per-request callback.
 * @return  nothing.
 * Threads: fr's thread; cb is called on the thread that calls
 *          dmvf_framed_stream, from inside it.
 * NULL:    fr aborts; cb NULL: no callback; ud is passed through as is.
 * Owns:    ud stays the caller's; fr keeps the pointer until changed. */
DMVF_API void dmvf_framed_set_callback(dmvf_framed *fr, dmvf_framed_cb cb, void *ud);

/* Sets (cb NULL: clears) the audit hook; set it before the first
 * dmvf_framed_stream call (not checked).
 * @return  nothing.
 * Threads: fr's thread; cb is called on the thread that calls
 *          dmvf_framed_stream, from inside it.
 * NULL:    fr aborts; cb NULL: no hook; ud is passed through as is.
 * Owns:    ud stays the caller's; fr keeps the pointer until changed. */
DMVF_API void dmvf_framed_set_audit(dmvf_framed *fr, dmvf_framed_audit_cb cb, void *ud);

/* Whether the release ends with its seal frame (default 1). With 0 the end
 * completes the release without one: for a caller that hands out each
 * request's records and signed trailer alone (`dmvfilter serve`'s
 * ReleaseResponse), to which the seal, a second signature, never goes. The
 * trailers are signed either way. Set it before the end is given.
 * @return  nothing.
 * Threads: fr's thread.
 * NULL:    fr aborts.
 * Owns:    nothing (a value). */
DMVF_API void dmvf_framed_set_seal(dmvf_framed *fr, int seal);

/* The most record frames one request may carry; 0 restores the default
 * (DMVF_DEFAULT_MAX_REQUEST_FRAMES). Applies from the next record frame.
 * @return  nothing.
 * Threads: fr's thread.
 * NULL:    fr aborts.
 * Owns:    nothing (a value). */
DMVF_API void dmvf_framed_set_max_request_frames(dmvf_framed *fr, uint64_t n);

/* Reads frames from in, writes the release to out (same cursors and
 * convention as dmvf_filter_stream); end != 0 says in holds the last of
 * the input.
 * @return  DMVF_OK when all given input is consumed and all output flushed
 *            (with end != 0: the last request has its trailer and the seal
 *            is written: the release is complete).
 *          DMVF_ESPACE when out filled first: drain it and call again.
 *          DMVF_ESTATE, not sticky, for more input after the seal.
 *          Sticky (common.h), with err->offset the byte offset in the input
 *          and err->record the frame's 0-based index:
 *            DMVF_EMALFORMED (a bad length prefix; not a Frame; no body or
 *              more than one; a seal frame; a record or trailer frame
 *              outside a request; a request frame that does not decode; a
 *              malformed record, unless dropped with drop_malformed),
 *            DMVF_ETOOBIG (a frame over dmvf_stream_record_limit + 16, a
 *              record over max_record_bytes as filter.h judges it; a
 *              request with more record frames than the limit),
 *            DMVF_EINVAL, DMVF_EKEYRING (a request no filter can be made
 *              for: dmvf_filter_create's errors),
 *            DMVF_EIO (the audit hook returned non-zero),
 *            DMVF_ESTATE (a request's filter failed: out of memory keeping
 *              the subjects of a request that is not released),
 *            DMVF_ENOSUBJECT (a released or held record without a
 *              record_id under a rule that notifies subjects: filter.h),
 *            DMVF_ENOMEM.
 *          DMVF_ESTATE while fr holds a sticky error.
 * Threads: fr's thread.
 * NULL:    fr, out and in abort; in->src must point at in->size bytes and
 *          out->dst at out->size bytes (not checked); err may be NULL.
 * Owns:    the caller owns both buffers; fr keeps a copy of a partial frame
 *          and the output not yet flushed. */
DMVF_API int dmvf_framed_stream(dmvf_framed *fr, dmvf_out_buffer *out, dmvf_in_buffer *in,
                                int end, dmvf_error *err);

/* The would-be release of the request being finished, when it was decided
 * REVIEW and opts had hold_for_review: its records as a release would
 * write them (varint-delimited DriverRecords, exactly the records
 * dmvf_filter_counts says are out), for dmvf_review_hold. Call it from the
 * audit hook's second call (t set); anywhere else it is empty.
 * @return  nothing; *release (NULL when empty) and *len are always written.
 * Threads: fr's thread.
 * NULL:    fr, release and len abort.
 * Owns:    fr owns the bytes, valid until the hook returns (then wiped). */
DMVF_API void dmvf_framed_held(const dmvf_framed *fr, const void **release, size_t *len);

/* The filter of the open request: decided, not yet finished. After
 * dmvf_framed_stream failed inside a request, that request's (to say in
 * the DMV's own log which request failed, and why).
 * @return  the filter, or NULL when no request is open.
 * Threads: fr's thread.
 * NULL:    fr aborts.
 * Owns:    fr owns the filter, valid until the next dmvf_framed_stream or
 *          dmvf_framed_free call on fr. */
DMVF_API const dmvf_filter *dmvf_framed_open_request(const dmvf_framed *fr);

/* Copies the totals so far into *st.
 * @return  nothing; *st is always written.
 * Threads: reads fr only: callable from several threads at once while no
 *          thread calls a function that takes a `dmvf_framed *`.
 * NULL:    fr and st abort.
 * Owns:    the caller owns *st. */
DMVF_API void dmvf_framed_stats_get(const dmvf_framed *fr, dmvf_framed_stats *st);

/* The first sticky error fr holds (common.h), as later calls do not say it:
 * they return DMVF_ESTATE.
 * @return  its code, DMVF_OK when fr holds none; *out receives its record
 *          (cleared when there is none).
 * Threads: reads fr only (as dmvf_framed_stats_get).
 * NULL:    fr aborts; out may be NULL (only the code is returned).
 * Owns:    the caller owns *out (a copy). */
DMVF_API int dmvf_framed_last_error(const dmvf_framed *fr, dmvf_error *out);

#ifdef __cplusplus
}
#endif
#endif
