/*
 * notices_json_int.h - one line of the notice queue parsed
 * (notices_json.c, which says what JSON it accepts): the string values it
 * keeps, decoded into a scratch buffer.
 */
#ifndef DMVF_NOTICES_JSON_INT_H
#define DMVF_NOTICES_JSON_INT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dmvf__jstr {
    const char *p;    /* decoded, NUL-terminated (may hold NULs: use n) */
    size_t n;
    int set;
} dmvf__jstr;

/* The keys of a queue line the library reads; others are skipped. */
typedef struct dmvf__nfields {
    dmvf__jstr type, id, subject, request_id, ori, agency, agency_kind, legal_process,
        legal_reference, decision, date, due, actor;
    int have_tags, have_purpose;
} dmvf__nfields;

/* A line s[0..n) (without its '\n'), read from i; decoded strings go to
 * out from olen on (out as long as the line, plus one, always suffices). */
typedef struct dmvf__jparser {
    const unsigned char *s;
    size_t n, i;
    char *out;        /* scratch: decoded strings go here */
    size_t olen;
    const char *why;  /* static message on error */
} dmvf__jparser;

/* Parses one line into *nf. 0, or -1 with j->why and j->i (the byte). */
int dmvf__notice_line_parse(dmvf__jparser *j, dmvf__nfields *nf);
/* 16 hex digits (either case) into *v; -1 if s[0..n) is not that. */
int dmvf__notice_id_parse(const char *s, size_t n, uint64_t *v);

#endif
