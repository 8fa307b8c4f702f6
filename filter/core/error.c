/* error.c - status names, error records, misuse. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/version.h"
#include "filter/core/error.h"
#include "filter/core/text.h"

const char *dmvf_strerror(int code)
{
    switch (code) {
    case DMVF_OK: return "ok";
    case DMVF_EINVAL: return "invalid argument";
    case DMVF_ENOMEM: return "out of memory";
    case DMVF_EMALFORMED: return "malformed input";
    case DMVF_ETOOBIG: return "record too large";
    case DMVF_EPOLICY: return "bad policy";
    case DMVF_EKEYRING: return "bad keyring";
    case DMVF_EPASSPHRASE: return "wrong passphrase";
    case DMVF_EIO: return "I/O error";
    case DMVF_EREFUSED: return "request refused";
    case DMVF_ESPACE: return "output buffer too small";
    case DMVF_ESTATE: return "handle in error state";
    case DMVF_ETOKEN: return "bad token";
    case DMVF_EGZIP: return "bad gzip input";
    case DMVF_ETAMPER: return "does not verify (tampered, truncated or reordered)";
    case DMVF_ENOSUBJECT: return "a record's subject cannot be notified (no record_id)";
    default: return "unknown error";
    }
}

const char *dmvf_version(void)
{
    return DMVF_VERSION_STRING;
}

static void fill(dmvf_error *err, int code, unsigned line, unsigned col, const char *fmt, va_list ap)
    DMVF_PRINTF(5, 0);
static void fill(dmvf_error *err, int code, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    char raw[sizeof err->msg];
    err->code = code;
    err->line = line;
    err->column = col;
    err->offset = 0;
    err->record = UINT64_MAX;
    /* messages are one line: whatever input text they quote is escaped */
    vsnprintf(raw, sizeof raw, fmt, ap);
    dmvf__escape_copy(err->msg, sizeof err->msg, raw);
}

int dmvf__seterr(dmvf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        fill(err, code, 0, 0, fmt, ap);
        va_end(ap);
    }
    return code;
}

int dmvf__seterr_at(dmvf_error *err, int code, unsigned line, unsigned column, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        fill(err, code, line, column, fmt, ap);
        va_end(ap);
    }
    return code;
}

void dmvf__error_keep(dmvf_error *first, int code, const dmvf_error *e)
{
    if (e->code == code)
        *first = *e;
    else
        dmvf__seterr(first, code, "%s", dmvf_strerror(code));
}

int dmvf__error_get(int code, const dmvf_error *first, dmvf_error *out)
{
    if (!out)
        return code;
    if (code) {
        *out = *first;
    } else {
        memset(out, 0, sizeof *out);
        out->record = UINT64_MAX;
    }
    return code;
}

void dmvf__misuse(const char *func, const char *what)
{
    fprintf(stderr, "dmvfilter: API misuse in %s: %s\n", func, what);
    abort();
}

int dmvf__perr(dmvf_error *err, const char *name, unsigned line, unsigned col, const char *fmt, ...)
{
    char buf[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (line)
        return dmvf__seterr_at(err, DMVF_EPOLICY, line, col, "%s:%u:%u: %s", name, line, col, buf);
    return dmvf__seterr_at(err, DMVF_EPOLICY, 0, 0, "%s: %s", name, buf);
}
