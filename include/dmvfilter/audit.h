/*
 * dmvfilter/audit.h - the tamper-evident audit log: write-ahead entries for
 * every request, verification, queries and the transparency report.
 *
 * A log is a directory (schema/dmv/v1/audit.proto has the format): segment
 * files of length-delimited items, each chained to the one before by a
 * BLAKE2b-256 MAC under the keyring's audit key; signed checkpoints
 * (Ed25519, the keyring's signing key) close every writer session and every
 * segment; HEAD holds a copy of the newest checkpoint.
 *
 * Writing, per request:
 *
 *   a = dmvf_audit_open(dir, keyring, &opts, &err);       once per process
 *   dmvf_audit_request(a, f, &seq, &err);    the decision: before any output
 *   ... rewrite records ...
 *   dmvf_audit_release(a, f, &counts, seq, &err);   before the output is
 *                                    committed (renamed, trailer written)
 *   dmvf_audit_close(a, &err);       signed checkpoint, HEAD; frees a
 *
 * Each entry is written and fsync'd before the call returns (entries that
 * several threads append at once share one write() and one fsync: group
 * commit, below), but for a handle opened with defer_request_sync, whose
 * REQUEST entries are made durable later (dmvf_audit_options); when a call
 * fails nothing may be released (fail closed).
 * Several
 * processes may append to one log at once: appends take an exclusive lock
 * (flock on DIR/LOCK) and continue the chain from the file, not from memory.
 * The writing calls return DMVF_OK, DMVF_EIO (cannot write or fsync; after
 * an fsync failure, or a partial write that could not be undone, the handle
 * fails every later call: open a new one), DMVF_ETAMPER (bytes another
 * writer appended do not verify, or the segment shrank: nothing more is
 * appended), DMVF_ETOOBIG (an entry past 1 GiB), DMVF_ENOMEM, DMVF_EINVAL
 * (a NULL tag or field string in the request). A handle failed so (fsync,
 * undone partial write, DMVF_ETAMPER) returns DMVF_EIO "an earlier append
 * failed" from every later writing call and from dmvf_audit_close, which
 * then writes no checkpoint. This failed state is the audit handle's own,
 * not common.h's sticky-error rule: the call that failed said why.
 *
 * Rotation: at an append, a segment rotate_bytes long or rotate_seconds old
 * gets a closing checkpoint (and HEAD), the next segment is started and,
 * with compress, the closed one is rewritten as .log.z by a thread of the
 * handle's own, while appends go on (close waits for it). Entries after the
 * newest checkpoint are vouched for by their chain alone: cutting them off
 * cannot be told from a writer that never wrote them, so a long-running
 * writer should rotate often (rotate_seconds) or close and reopen.
 *
 * Threads: the writing calls (dmvf_audit_request, _release, _event_write)
 * are thread-safe on one handle, and appends made at the same time share
 * their I/O (group commit): the calls queue their entries; the first
 * thread to find no batch being written leads the next one: it takes every
 * entry queued so far, in queue order, appends them under the lock with one
 * write() and one fsync, and wakes the others. Every call returns only when
 * its own entry is durable, or with the error that kept it from being so.
 * An entry's bytes (its seq, chain MAC, checkpoints around it) are the same
 * whether it was written alone or in a batch, and the entries of a batch
 * have consecutive seqs. A failed write or fsync fails every call of the
 * batch (DMVF_EIO each, and after an fsync failure every later call, as
 * above); an entry past the size limit fails alone (DMVF_ETOOBIG). A single
 * thread leads a batch of its one entry every time: one write(), one fsync
 * per entry. The order in which concurrent calls' entries land is the
 * order they queued in; a caller that needs one entry after another (a
 * RELEASE after its REQUEST) makes the calls one after the other, as one
 * thread does. dmvf_audit_close is called once, from any thread, after
 * every append has returned (it aborts when one is in flight). A handle
 * belongs to the process that opened it (after fork, open a new handle in
 * the child: a shared one would share its lock). The reading functions
 * (verify, query, report) are thread-safe; they take DIR/LOCK shared only
 * for a moment, to snapshot HEAD and the segments' sizes, and then read
 * without blocking writers. Misuse (a NULL handle) aborts.
 */
#ifndef DMVFILTER_AUDIT_H
#define DMVFILTER_AUDIT_H

#include <stdio.h>
#include "common.h"
#include "filter.h"
#include "keyring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmvf_audit dmvf_audit;

typedef struct dmvf_audit_options {
    uint64_t rotate_bytes;    /* start a new segment past this size; 0 = 64 MiB */
    uint64_t rotate_seconds;  /* ... or when the segment is older; 0 = 1 day */
    int compress;             /* rotated segments are zlib-compressed (.log.z) */
    int subjects;             /* RELEASE entries list keyed hashes of the
                                 released records' record_ids (needs a filter
                                 created with collect_subjects) */
    int defer_request_sync;   /* dmvf_audit_request returns once its entry is
                                 written (in the log, in order, readable by
                                 every reader and kept if this process dies)
                                 and leaves its fsync to the next entry that is
                                 not a REQUEST (the RELEASE entry), to
                                 dmvf_audit_sync or to close: for a caller that
                                 sends nothing before the RELEASE entry or a
                                 dmvf_audit_sync (`dmvfilter serve`), one fsync
                                 a request instead of two. Only a crash of the
                                 machine can lose such an entry, and then
                                 nothing was released for it. */
} dmvf_audit_options;

/* Opens the log in dir, creating dir (mode 0700) and the first segment when
 * missing. Checks the active segment's tail: its chain must verify under the
 * keyring's audit key, else DMVF_ETAMPER (nothing is appended to a log that
 * does not verify). Returns NULL with *err on failure (DMVF_EIO, DMVF_ETAMPER,
 * DMVF_ENOMEM). opts may be NULL. The keyring must outlive the handle (it
 * counts the handle as a borrower, as filters do).
 * What the open reads: the newest segment whole (every chain MAC, seq
 * order) and HEAD (a checkpoint signed by this keyring that must lie in that
 * segment or an older one). DMVF_ETAMPER, naming the file and byte offset,
 * for: a segment that ends inside an item (a crash mid-write or a cut: the
 * log must be verified and inspected by a person), an item whose chain does
 * not match, a segment written with another keyring, HEAD missing while
 * checkpoints exist, HEAD's checkpoint not in the log, the newest segment
 * only compressed. When a writer stopped between a checkpoint and HEAD
 * (HEAD older than the segment's newest checkpoint, or missing when that
 * checkpoint is the log's first and last item) HEAD is written now.
 * @return  the handle, or NULL with *err filled: DMVF_EIO (cannot create
 *          or open dir, LOCK or a segment, cannot lock, cannot write HEAD),
 *          DMVF_ETAMPER (above), DMVF_ENOMEM.
 * Threads: thread-safe (each call opens its own handle; several processes
 *          may hold one on the same log).
 * NULL:    dir and kr abort; opts NULL: the defaults; err may be NULL.
 * Owns:    the caller owns the handle: dmvf_audit_close. It borrows kr
 *          (counted) and copies dir and opts. */
DMVF_API dmvf_audit *dmvf_audit_open(const char *dir, const dmvf_keyring *kr,
                                     const dmvf_audit_options *opts, dmvf_error *err);

/* Writes a signed checkpoint and HEAD (unless nothing was appended since
 * the newest checkpoint), waits for the compression of the segments the
 * handle rotated (with compress), closes and frees.
 * @return  DMVF_OK; DMVF_EIO (an earlier append failed, so no checkpoint
 *          is written; or the checkpoint or HEAD cannot be written);
 *          DMVF_ETAMPER (bytes another writer appended do not verify).
 * Threads: any one thread, after every append on a has returned.
 * NULL:    a NULL is accepted (returns DMVF_OK); err may be NULL.
 * Owns:    a is freed, also on failure; its borrow of the keyring ends. */
DMVF_API int dmvf_audit_close(dmvf_audit *a, dmvf_error *err);

/* REQUEST entry for filter f: time, the request as the DMV records it
 * (dmvf_filter_request: the requester named as the requester directory
 * names it; purpose, legal process and reference, query kind, fields; the
 * day judged on), what the request claimed of its requester when it
 * claimed anything (dmvf_filter_request_received: ori, agency name, kind,
 * jurisdiction, tags, date), the as_of day when one was given, the client
 * that asked (dmvf_filter_client, `dmvfilter serve`), rule, policy
 * id, key epoch, the true decision and reply form, the reason (a refusal
 * before any rule included), whether subjects are to be notified. The
 * RELEASE entry (dmvf_audit_release) holds the same. fsync'd, or with
 * options.defer_request_sync written, its fsync left to the next entry that
 * is not a REQUEST, to dmvf_audit_sync or to close.
 * @return  DMVF_OK with *seq its sequence number; the writing calls'
 *          errors (above): DMVF_EIO, DMVF_ETAMPER, DMVF_ETOOBIG,
 *          DMVF_ENOMEM, DMVF_EINVAL.
 * Threads: thread-safe on one a (group commit, above); f is only read.
 * NULL:    a and f abort; seq and err may be NULL.
 * Owns:    nothing is kept of f. */
DMVF_API int dmvf_audit_request(dmvf_audit *a, const dmvf_filter *f, uint64_t *seq,
                                dmvf_error *err);

/* Makes every entry written on a so far durable: returns at once when none
 * waits for an fsync (always, without defer_request_sync); else one fsync,
 * shared with the appends of other threads (group commit). A caller that
 * deferred a REQUEST entry calls it before anything of that request, a
 * refusal or an error included, leaves without a RELEASE entry.
 * @return  DMVF_OK; DMVF_EIO (the fsync failed: the handle fails every
 *          later call, as above).
 * Threads: thread-safe on one a.
 * NULL:    a aborts; err may be NULL. */
DMVF_API int dmvf_audit_sync(dmvf_audit *a, dmvf_error *err);

/* What a request released. counts: the records in/out/dropped of the whole
 * request (a pipeline sums its workers'); field counts and subjects come
 * from f (dmvf_filter_merge gathers a pipeline's workers into one filter).
 * notices: how many subject notices were queued for it. ref: the REQUEST
 * entry's seq. The entry repeats the request and the verdict (rule, policy
 * id, key epoch, decision), so that it reads on its own (a query by
 * subject shows who received the record). Subjects are written (as keyed
 * hashes) only when the handle was opened with options.subjects. fsync'd.
 * @return  DMVF_OK; the writing calls' errors (above): DMVF_EIO,
 *          DMVF_ETAMPER, DMVF_ETOOBIG, DMVF_ENOMEM, DMVF_EINVAL.
 * Threads: thread-safe on one a (group commit, above); f and c are only
 *          read.
 * NULL:    a, f and c abort; err may be NULL.
 * Owns:    nothing is kept of f or c. */
typedef struct dmvf_audit_counts {
    uint64_t records_in, records_out, records_dropped;
    uint32_t notices;
} dmvf_audit_counts;
DMVF_API int dmvf_audit_release(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c,
                                uint64_t ref, dmvf_error *err);
/* As dmvf_audit_release, with a note (NULL: none): what else the entry
 * must say of the release, e.g. the unknown JSON keys or CSV columns the
 * input named, dropped and never released ("2 unknown keys dropped, never
 * released: person.favorite_color, vehicles.1.paint"). */
DMVF_API int dmvf_audit_release_note(dmvf_audit *a, const dmvf_filter *f, const dmvf_audit_counts *c,
                                     uint64_t ref, const char *note, dmvf_error *err);

/* Review steps and notice bookkeeping. kind: DMVF_AUDIT_REVIEW_HOLD,
 * _REVIEW_APPROVE, _REVIEW_DENY, _NOTICE_SENT. The event carries the
 * request (may be NULL), the review id, who acted, a note, counts (approve:
 * what was released) and, for approve, the field counts of the release.
 * decision: DMVF_DECISION_*, or 0 for the kind's own (hold: review,
 * approve: release, deny: deny, others: none). Subjects are sorted and
 * de-duplicated before they are written. */
typedef enum dmvf_audit_kind {
    DMVF_AUDIT_REQUEST = 1,
    DMVF_AUDIT_RELEASE = 2,
    DMVF_AUDIT_REVIEW_HOLD = 3,
    DMVF_AUDIT_REVIEW_APPROVE = 4,
    DMVF_AUDIT_REVIEW_DENY = 5,
    DMVF_AUDIT_NOTICE_SENT = 6
} dmvf_audit_kind;

typedef struct dmvf_audit_event {
    dmvf_audit_kind kind;
    const dmvf_request *request;    /* may be NULL */
    const char *rule, *policy_id;   /* may be NULL */
    const char *review_id, *actor, *note;  /* may be NULL */
    uint64_t ref;                   /* the entry this one follows up */
    dmvf_audit_counts counts;
    const dmvf_field_count *fields; /* nfields entries, may be NULL */
    size_t nfields;
    const uint8_t *subjects;        /* nsubjects * DMVF_SUBJECT_HASH_LEN bytes, may be NULL */
    size_t nsubjects;
    int decision;                   /* DMVF_DECISION_*; 0: the kind's own (above) */
    const char *client;             /* the client that asked (dmvf_filter_client); may be NULL */
} dmvf_audit_event;
/* Writes the event as one entry, fsync'd. NULL strings are written as "";
 * the subjects sorted, without repeats (in any order, repeated, in ev).
 * @return  DMVF_OK with *seq its sequence number; the writing calls'
 *          errors (above): DMVF_EIO, DMVF_ETAMPER, DMVF_ETOOBIG,
 *          DMVF_ENOMEM, DMVF_EINVAL (a NULL tag or field in ev->request).
 * Threads: thread-safe on one a (group commit, above); ev is only read.
 * NULL:    a and ev abort, and so do an unknown ev->kind and fields or
 *          subjects NULL with a count > 0; ev->request and the strings may
 *          be NULL; seq and err may be NULL.
 * Owns:    nothing is kept of ev. */
DMVF_API int dmvf_audit_event_write(dmvf_audit *a, const dmvf_audit_event *ev, uint64_t *seq,
                                    dmvf_error *err);

/* ---- reading ---- */

/* Checks a whole log: every segment present and in order, every item's
 * chain (with kr: the audit key), every checkpoint's signature (with kr's
 * public key, or pub when kr is NULL: then the chain MACs cannot be checked
 * and only what checkpoints cover is verified), HEAD reached, sequence
 * numbers consecutive. Writes a summary (segments, entries, checkpoints,
 * what was checked) to out (may be NULL). Returns DMVF_OK only when intact;
 * DMVF_ETAMPER with err->msg naming the file, byte offset and entry seq of
 * the first fault (an edit, reordering, deletion, insertion or truncation),
 * DMVF_EIO, DMVF_ENOMEM. One of kr and pub must be given (both: pub checks
 * the signatures). Entries after the log's last checkpoint (a writer that
 * did not close) are reported, not a fault; without kr no signature covers
 * them yet, and the summary names them as unchecked. The states a killed
 * writer can leave verify too: a directory with LOCK and no segment yet (an
 * empty log), HEAD older than the newest checkpoint, and HEAD missing when
 * the log's only checkpoint is its last item (the writer stopped between
 * the two; the next writer's open writes HEAD). Known limit: a log cut back
 * to an older checkpoint *and* given that checkpoint's HEAD again verifies;
 * only a copy of HEAD kept elsewhere can tell. On failure the summary is
 * one "NOT intact" line (written when err is given: it quotes err->msg).
 * @return  DMVF_OK when intact; DMVF_ETAMPER, DMVF_EIO, DMVF_ENOMEM (above).
 * Threads: thread-safe.
 * NULL:    dir aborts; kr or pub may be NULL, not both (aborts); out NULL:
 *          no summary; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_audit_verify(const char *dir, const dmvf_keyring *kr, const uint8_t *pub,
                               FILE *out, dmvf_error *err);

/* Entries matching every given criterion, one JSON object per line, oldest
 * first. Fields left 0/NULL match everything. subject: a record_id in clear,
 * hashed with kr's audit key (kr required then, else DMVF_EINVAL) and
 * matched against the entries' subject lists. ori, agency, tag and
 * request_id match entries that carry a request (REQUEST, RELEASE, review
 * steps); agency ignores ASCII case. Parsing only: run dmvf_audit_verify
 * to know the entries are genuine. Output keys: seq, time (RFC 3339 UTC,
 * nanoseconds), time_ns, kind ("request", "release", "review-hold",
 * "review-approve", "review-deny", "notice-sent"), ref, decision
 * ("release", "deny", "review", "unspecified"), not_found_reply, request
 * {request_id, ori, agency_name, agency_kind, jurisdiction, tags,
 * operator_id, purpose, legal_process, legal_reference, query_kind, fields,
 * channel, date}, claimed {the same keys: what the request said of its
 * requester; only when it said anything}, judged_as_of (YYYY-MM-DD; only
 * when the day was chosen), rule, policy_id, key_epoch, reason, records_in/out/
 * dropped, fields [{path, action, class, values}], subjects (hex),
 * review_id, actor, note, notices, notify_subject, client (only when
 * set). Strings are escaped so
 * that every line is valid JSON whatever bytes the log holds. */
typedef struct dmvf_audit_query {
    const char *ori;           /* exact requester ORI */
    const char *agency;        /* substring of the agency name */
    const char *tag;           /* the request carries this tag */
    uint64_t from_ns, to_ns;   /* time window [from, to); 0 = open */
    int decision;              /* DMVF_DECISION_*; 0 = any */
    int kind;                  /* DMVF_AUDIT_*; 0 = any */
    const char *subject;       /* record_id */
    const char *request_id;
    const char *client;        /* exact client name (`dmvfilter serve`) */
} dmvf_audit_query;
/* Runs query q over the log in dir, writing the matches to out.
 * @return  DMVF_OK; DMVF_EINVAL (a subject query without kr); DMVF_EIO (dir
 *          missing or unreadable, writing to out failed); DMVF_EMALFORMED
 *          (a segment does not parse: file, offset); DMVF_ENOMEM.
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    dir, q and out abort; kr may be NULL (needed only for a subject
 *          query); q's strings may be NULL (match everything); err may be
 *          NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_audit_query_run(const char *dir, const dmvf_audit_query *q,
                                  const dmvf_keyring *kr, FILE *out, dmvf_error *err);

/* Runs query q over several logs (one per instance of a service, say),
 * merging their matches by time: each log's entries in their own order,
 * equal times in the order of dirs. Every line then starts with
 * "log": the directory as given in dirs (with n == 1, as
 * dmvf_audit_query_run: no "log" key). krs: NULL, or n keyrings (each
 * log's own; a subject query needs all n, since each hashes the record_id
 * with its own audit key). A log that fails stops the query (lines already
 * written stay written).
 * @return  DMVF_OK; DMVF_EINVAL (a subject query without a log's keyring);
 *          DMVF_EIO; DMVF_EMALFORMED; DMVF_ENOMEM (as dmvf_audit_query_run).
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    dirs, any dirs[i], q and out abort, and so does n == 0; krs and
 *          its entries may be NULL (needed only for a subject query); err
 *          may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_audit_query_dirs(const char *const *dirs, const dmvf_keyring *const *krs,
                                   size_t n, const dmvf_audit_query *q, FILE *out,
                                   dmvf_error *err);

/* The transparency report over entries with from_ns <= time < to_ns
 * (to_ns 0: no end): totals, then per agency (ORI and name), per agency
 * kind, per tag, per purpose, per legal process: requests, releases,
 * refusals (and how many were shown as not found), reviews (held,
 * approved, denied), incomplete requests, records released, and field
 * values released by class (P, C, ordinary) and redacted. The counting
 * rules are printed in the report's footer (README "The transparency
 * report"). Formats: md (tables), csv (one RFC 4180 table with a
 * "breakdown" column, CRLF), json, html (one self-contained page: inline
 * CSS and SVG charts, no scripts, no links). Every string from the log is
 * escaped for its format. No clock is read: the same log and window give
 * the same bytes. title NULL or "": "Transparency report".
 * Parsing only (run dmvf_audit_verify to know the log is genuine); nothing
 * is written to out before the whole log has been read.
 * @return  DMVF_OK; DMVF_EINVAL (unknown fmt, or to_ns != 0 and to_ns <=
 *          from_ns); DMVF_EIO (dir missing, or holding no audit-*.log
 *          segment, or writing to out failed); DMVF_EMALFORMED (a segment
 *          does not parse: file, offset); DMVF_ENOMEM.
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    dir and out abort; title NULL: the default title; err may be
 *          NULL.
 * Owns:    nothing is kept. */
typedef enum dmvf_report_format {
    DMVF_REPORT_MD = 1,
    DMVF_REPORT_CSV,
    DMVF_REPORT_JSON,
    DMVF_REPORT_HTML
} dmvf_report_format;
DMVF_API int dmvf_audit_report(const char *dir, uint64_t from_ns, uint64_t to_ns,
                               dmvf_report_format fmt, const char *title, FILE *out,
                               dmvf_error *err);

/* The transparency report over several logs (one per instance of a
 * service): each log is read and counted on its own (a RELEASE belongs to
 * the REQUEST of its own log), into one report whose figures are the sums
 * of the logs' (the report of two logs counts what the two reports of one
 * log each count; "entries read" included). Every dirs[i] must hold a log.
 * @return  as dmvf_audit_report; the first log that fails stops it, and
 *          nothing is written to out then.
 * Threads: thread-safe; out is the caller's to serialize.
 * NULL:    dirs, any dirs[i] and out abort, and so does n == 0; title NULL:
 *          the default title; err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_audit_report_dirs(const char *const *dirs, size_t n, uint64_t from_ns,
                                    uint64_t to_ns, dmvf_report_format fmt, const char *title,
                                    FILE *out, dmvf_error *err);

#ifdef __cplusplus
}
#endif
#endif
