/*
 * dmvfilter/common.h - export macro, status codes, the error record, and
 * the rule for sticky errors.
 *
 * Every function that can fail returns an int status: DMVF_OK (0) on success,
 * a positive DMVF_E* code on failure. Codes only ever grow; they are never
 * renumbered. dmvf_strerror() names a code; the optional dmvf_error filled by
 * the failing call says what, where (file line/column, byte offset, record
 * index) and why. Programmer misuse (a NULL handle where one is required)
 * aborts with a message on stderr instead of returning.
 *
 * How each function is described, in every header: what it does, then
 *   @return  what it returns, and each error code with when it is returned
 *   Threads: when it may be called from several threads at once
 *   NULL:    for each pointer argument, whether NULL is accepted (and what
 *            it means) or aborts as misuse; "not checked" means NULL is
 *            undefined behaviour
 *   Owns:    who owns what it returns, and what it keeps of its arguments
 * An `err` argument is always optional (NULL: no details) and is written
 * only when the call fails, unless the function says otherwise.
 *
 * Sticky errors: one rule for a dmvf_filter (filter.h), a dmvf_framed
 * (framed.h), a dmvf_codec (format.h) and a dmvf_release_verifier
 * (verify.h). Some errors stop the handle: every error of
 * dmvf_filter_record and dmvf_filter_stream but DMVF_ESPACE and
 * DMVF_EREFUSED, every error of dmvf_framed_stream but DMVF_ESPACE and the
 * DMVF_ESTATE for input after the seal, every error of dmvf_codec_stream
 * but DMVF_ESPACE and DMVF_EREFUSED, and every error of the verifier's
 * update and final. The handle keeps the first such error, code and whole
 * dmvf_error (message, offset, record), whether or not the failing call
 * was given an err; the handle's later calls:
 *
 *   filter     dmvf_filter_record and dmvf_filter_stream return DMVF_ESTATE
 *              (err->msg names the kept code) and dmvf_filter_finish
 *              DMVF_ESTATE (with a zeroed trailer), reading no input and
 *              writing no output, until dmvf_filter_reset clears the error
 *   framed     dmvf_framed_stream returns DMVF_ESTATE likewise, for good:
 *              a framed stream has no reset (free it, create another)
 *   codec      dmvf_codec_stream returns DMVF_ESTATE likewise until
 *              dmvf_codec_reset
 *   verifier   dmvf_release_verifier_update and _final return the kept code
 *              again, with *err a copy of the kept record, for good
 *
 * The kept error is the first and stays the first: a later failing call
 * never replaces it. dmvf_filter_last_error, dmvf_framed_last_error,
 * dmvf_codec_last_error and dmvf_release_verifier_last_error return its
 * code (DMVF_OK while the handle has none) and copy it out. Not sticky, and never kept: DMVF_ESPACE
 * (drain or grow the output, then call again), a filter's DMVF_EREFUSED
 * (the decision; filter.h), a filter's DMVF_ENOMEM from dmvf_filter_merge
 * (dst is unchanged), and the DMVF_ESTATE a sealed framed stream returns
 * for more input (the release stays complete; framed.h). The audit log
 * handle has a failed state of its own (audit.h).
 *
 * Thread safety: everything in this header is thread-safe.
 */
#ifndef DMVFILTER_COMMON_H
#define DMVFILTER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(DMVF_BUILDING) && defined(__GNUC__)
#  define DMVF_API __attribute__((visibility("default")))
#else
#  define DMVF_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DMVF_OK = 0,
    DMVF_EINVAL = 1,      /* an argument is invalid (bad flag value, bad request) */
    DMVF_ENOMEM = 2,      /* an allocation failed */
    DMVF_EMALFORMED = 3,  /* input bytes are not a valid record or stream */
    DMVF_ETOOBIG = 4,     /* a record is larger than the configured limit */
    DMVF_EPOLICY = 5,     /* the policy does not load or compile */
    DMVF_EKEYRING = 6,    /* the keyring is missing, unreadable, too open or corrupt */
    DMVF_EPASSPHRASE = 7, /* the keyring passphrase is wrong */
    DMVF_EIO = 8,         /* reading or writing failed */
    DMVF_EREFUSED = 9,    /* the request is not released (deny, review, limit) */
    DMVF_ESPACE = 10,     /* the caller's output buffer is too small: grow it, retry */
    DMVF_ESTATE = 11,     /* the handle is in an error state: reset it first */
    DMVF_ETOKEN = 12,     /* a token does not decrypt under this keyring and scope */
    DMVF_EGZIP = 13,      /* gzip input is corrupt or inflates past its limit */
    DMVF_ETAMPER = 14,    /* an audit log or signed release does not verify */
    DMVF_ENOSUBJECT = 15  /* a record has no record_id and its rule notifies subjects */
};

/* Filled by failing calls when the caller passes one. All fields are valid
 * after any failure; those that do not apply are 0 (line/column/offset) or
 * UINT64_MAX (record). A *_last_error function with no error to report
 * fills code DMVF_OK, msg "", 0s and record UINT64_MAX. */
typedef struct dmvf_error {
    int code;             /* the DMVF_E* code, also returned */
    char msg[512];        /* one line, no trailing newline */
    unsigned line;        /* policy and text record errors (format.h): 1-based line, 0 if none */
    unsigned column;      /* the same: 1-based (byte) column, 0 if none */
    uint64_t offset;      /* stream errors: byte offset of the failing item */
    uint64_t record;      /* stream errors: 0-based record index, UINT64_MAX if none */
} dmvf_error;

/* A human-readable name for a status code ("ok", "malformed input", ...).
 * @return  a static string; "unknown error" for a code that is not one of
 *          the above; never NULL.
 * Threads: thread-safe.
 * NULL:    (no pointer arguments)
 * Owns:    static storage: never free it. */
DMVF_API const char *dmvf_strerror(int code);

/* The library's version, "MAJOR.MINOR.PATCH".
 * @return  the DMVF_VERSION_STRING (dmvfilter/version.h) of the headers the
 *          library was built with; never NULL. Compare it with the one the
 *          caller was compiled with to detect a mismatched library.
 * Threads: thread-safe.
 * NULL:    (no pointer arguments)
 * Owns:    static storage: never free it. */
DMVF_API const char *dmvf_version(void);

#ifdef __cplusplus
}
#endif
#endif
