/*
 * core/error.h - the error record every layer fills, and programmer misuse.
 *
 * Bad input returns a DMVF_E* code with a message in a dmvf_error (common.h);
 * misuse (a NULL handle, a call out of order) aborts with a message.
 * Messages are one line: the text they quote is escaped (dmvf__escape_copy,
 * core/text.h).
 */
#ifndef DMVF_CORE_ERROR_H
#define DMVF_CORE_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/common.h"

#if defined(__GNUC__)
#  define DMVF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define DMVF_LIKELY(x) __builtin_expect(!!(x), 1)
#  define DMVF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define DMVF_PRINTF(a, b)
#  define DMVF_LIKELY(x) (x)
#  define DMVF_UNLIKELY(x) (x)
#endif

/* Fills *err (if not NULL): code, message; line/column/offset 0, record
 * UINT64_MAX. Returns code. */
int dmvf__seterr(dmvf_error *err, int code, const char *fmt, ...) DMVF_PRINTF(3, 4);
/* Same with a policy location. */
int dmvf__seterr_at(dmvf_error *err, int code, unsigned line, unsigned column,
                    const char *fmt, ...) DMVF_PRINTF(5, 6);
/* Formats "name:line:col: msg" (or "name: msg" when line is 0) into *err as
 * DMVF_EPOLICY; returns DMVF_EPOLICY. */
int dmvf__perr(dmvf_error *err, const char *name, unsigned line, unsigned col,
               const char *fmt, ...) DMVF_PRINTF(5, 6);
/* Sticky errors (common.h): a handle whose error has just become sticky with
 * `code` keeps the record the failing call filled (e) as its `first`; when
 * e holds another code (a path that filled none), a record naming code. */
void dmvf__error_keep(dmvf_error *first, int code, const dmvf_error *e);
/* For a handle's *_last_error: copies `first`, the
 * error the handle keeps, into *out when code is not DMVF_OK, else clears
 * *out (code DMVF_OK, msg "", record UINT64_MAX). out may be NULL. Returns
 * code. */
int dmvf__error_get(int code, const dmvf_error *first, dmvf_error *out);
/* Programmer misuse: prints and aborts. */
void dmvf__misuse(const char *func, const char *what) __attribute__((noreturn));
#define DMVF_REQUIRE(cond, what) do { if (!(cond)) dmvf__misuse(__func__, what); } while (0)

#endif
