/*
 * dmvfilter/verify.h - checking a signed framed release (framed.h) with
 * the public key alone: at once over bytes in memory, or piecewise over a
 * release that arrives in pieces, in bounded memory.
 *
 *   rc = dmvf_release_verify(data, len, pub, &requests, &err);   all at once
 *
 *   v = dmvf_release_verifier_create(pub, &err);      NULL: DMVF_ENOMEM
 *   dmvf_release_verifier_update(v, p, n, &err);       per piece, any sizes
 *   dmvf_release_verifier_final(v, &requests, &err);   the verdict
 *   dmvf_release_verifier_free(v);                     NULL accepted
 *
 * What fails verification (DMVF_ETAMPER; err says which frame, at which
 * byte offset, and why): a digest or signature that does not match, a seal
 * that is missing, not last, made with another key or counting other
 * requests, a request frame, record frames after the last trailer, a
 * trailer whose records_out is not the number of record frames before it,
 * a trailer or seal not in the canonical encoding, a length prefix that is
 * not minimal, bytes after the seal, a release cut inside a frame. Bytes
 * that are not a release frame at all (a bad length prefix or body field,
 * a frame that is not exactly one body) are DMVF_EMALFORMED. In both,
 * err->offset is the failing frame's byte offset and err->record its
 * 0-based index.
 *
 * A verifier's errors are sticky, as common.h says for every handle: after
 * one, every later update and final return the same code and message, for
 * good; dmvf_release_verifier_last_error reads it. Only final's DMVF_OK
 * says the release verifies. A verifier belongs to one thread; a NULL
 * verifier or pub aborts.
 */
#ifndef DMVFILTER_VERIFY_H
#define DMVFILTER_VERIFY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest trailer or seal frame body a verifier holds; a larger one is
 * DMVF_EMALFORMED. Record frames are hashed as they pass, never held. */
#define DMVF_RELEASE_MAX_META ((size_t)16 << 20)

typedef struct dmvf_release_verifier dmvf_release_verifier;

/* Checks the framed release data[0..len) under the Ed25519 public key pub.
 * @return  DMVF_OK when it verifies, with *requests the number of requests
 *          (trailers) it holds; DMVF_ETAMPER or DMVF_EMALFORMED (above);
 *          DMVF_ENOMEM. *requests is 0 unless DMVF_OK.
 * Threads: thread-safe; data is only read.
 * NULL:    pub aborts; data may be NULL only with len 0 (else aborts);
 *          requests and err may be NULL.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_release_verify(const void *data, size_t len, const uint8_t pub[32],
                                 uint64_t *requests, dmvf_error *err);

/* Creates a piecewise verifier for releases signed with pub.
 * @return  the verifier, or NULL with *err filled: DMVF_ENOMEM (also when
 *          libsodium does not initialize).
 * Threads: thread-safe.
 * NULL:    pub aborts; err may be NULL.
 * Owns:    the caller owns the verifier: dmvf_release_verifier_free. pub
 *          is copied. */
DMVF_API dmvf_release_verifier *dmvf_release_verifier_create(const uint8_t pub[32], dmvf_error *err);

/* Takes the next piece of the release, of any size (0 included).
 * @return  DMVF_OK while the bytes so far are a good beginning of a
 *          release; else DMVF_ETAMPER, DMVF_EMALFORMED or DMVF_ENOMEM as
 *          dmvf_release_verify gives them, sticky (common.h): the same code
 *          and message again on every later call.
 * Threads: v's thread.
 * NULL:    v aborts; data may be NULL only with len 0 (else aborts); err
 *          may be NULL.
 * Owns:    the caller owns data; v copies at most one trailer or seal body
 *          (DMVF_RELEASE_MAX_META). */
DMVF_API int dmvf_release_verifier_update(dmvf_release_verifier *v, const void *data, size_t len,
                                          dmvf_error *err);

/* The verdict over every byte given to update.
 * @return  DMVF_OK when the release verifies, with *requests the number of
 *          requests; DMVF_ETAMPER when it ends without a seal or inside a
 *          frame (truncated); or the sticky error update returned (the same
 *          code and message). A failing final is sticky too. *requests is 0
 *          unless DMVF_OK. final may be called again (the same answer).
 * Threads: v's thread.
 * NULL:    v aborts; requests and err may be NULL.
 * Owns:    the caller owns *requests. */
DMVF_API int dmvf_release_verifier_final(dmvf_release_verifier *v, uint64_t *requests,
                                         dmvf_error *err);

/* The first error v holds (common.h): the one every later update and final
 * repeat.
 * @return  its code, DMVF_OK when v holds none; *out receives its record
 *          (cleared when there is none).
 * Threads: v's thread, or any thread while no thread calls update or
 *          final on v.
 * NULL:    v aborts; out may be NULL (only the code is returned).
 * Owns:    the caller owns *out (a copy). */
DMVF_API int dmvf_release_verifier_last_error(const dmvf_release_verifier *v, dmvf_error *out);

/* Frees the verifier.
 * @return  nothing.
 * Threads: v's thread.
 * NULL:    v NULL is accepted (does nothing).
 * Owns:    nothing of v remains. */
DMVF_API void dmvf_release_verifier_free(dmvf_release_verifier *v);

#ifdef __cplusplus
}
#endif
#endif
