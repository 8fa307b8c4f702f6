/*
 * dmvfilter/common.h - export macro, status codes, the error record.
 *
 * Every function that can fail returns an int status: DMVF_OK (0) on success,
 * a positive DMVF_E* code on failure. Codes only ever grow; they are never
 * renumbered. dmvf_strerror() names a code; the optional dmvf_error filled by
 * the failing call says what, where (file line/column, byte offset, record
 * index) and why. Programmer misuse (a NULL handle where one is required)
 * aborts with a message on stderr instead of returning.
 *
 * Thread safety: everything here is thread-safe.
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
    DMVF_ETAMPER = 14     /* an audit log or signed release does not verify */
};

/* Filled by failing calls when the caller passes one. All fields are valid
 * after any failure; those that do not apply are 0 (line/column/offset) or
 * UINT64_MAX (record). */
typedef struct dmvf_error {
    int code;             /* the DMVF_E* code, also returned */
    char msg[512];        /* one line, no trailing newline */
    unsigned line;        /* policy errors: 1-based line, 0 if none */
    unsigned column;      /* policy errors: 1-based column, 0 if none */
    uint64_t offset;      /* stream errors: byte offset of the failing item */
    uint64_t record;      /* stream errors: 0-based record index, UINT64_MAX if none */
} dmvf_error;

/* A static, human-readable name for a status code; never NULL. */
DMVF_API const char *dmvf_strerror(int code);

/* The library version, "MAJOR.MINOR.PATCH". */
DMVF_API const char *dmvf_version(void);

#ifdef __cplusplus
}
#endif
#endif
