/*
 * core/text.h - text the library writes for people and programs to read:
 * JSON strings, one-line escaped text and the UTF-8 check both rely on,
 * written through one sink type into a growing buffer, a fixed buffer or a
 * stdio stream.
 *
 * A sink (dmvf__text) is one of
 *   growing   dmvf__text_mem():          malloc'd, grows as needed; on no
 *             memory `failed` is set and nothing more is kept; free it
 *             with dmvf__text_free
 *   fixed     dmvf__text_buf(buf, cap):  the caller's buf[cap], always
 *             NUL-terminated (when cap > 0); a piece that does not fit
 *             whole with its NUL sets `failed` and is dropped, as is
 *             every piece after it, so that the text is cut cleanly
 *   stream    dmvf__text_file(f):        written through with fwrite; errors
 *             are f's to report (ferror)
 * A sink belongs to one thread.
 */
#ifndef DMVF_CORE_TEXT_H
#define DMVF_CORE_TEXT_H

#include <stddef.h>
#include <stdio.h>

typedef struct dmvf__text {
    char *p;          /* growing, fixed: the text so far */
    size_t len, cap;
    FILE *f;          /* stream: where it goes */
    int fixed;        /* p is the caller's */
    int failed;       /* sticky: no memory (growing) or cut (fixed) */
} dmvf__text;

/* The three kinds of sink. buf may be NULL when cap is 0; f must not be NULL. */
dmvf__text dmvf__text_mem(void);
dmvf__text dmvf__text_buf(char *buf, size_t cap);
dmvf__text dmvf__text_file(FILE *f);
/* Frees a growing sink's memory (no-op for the others); it is empty after. */
void dmvf__text_free(dmvf__text *t);

/* Appends s[0..n) (s may be NULL when n is 0). */
void dmvf__text_put(dmvf__text *t, const void *s, size_t n);
/* Appends the NUL-terminated s. */
void dmvf__text_puts(dmvf__text *t, const char *s);
/* For writers that fill a growing sink in place: room for n more bytes at
 * the end, to be written there and then counted (t->len += what was
 * written); NULL when there is no memory (failed set) or t is not a
 * growing sink. */
char *dmvf__text_grow_room(dmvf__text *t, size_t n);
static inline char *dmvf__text_room(dmvf__text *t, size_t n)
{
    if (t->cap - t->len >= n && !t->f && !t->fixed && !t->failed)
        return t->p + t->len;
    return dmvf__text_grow_room(t, n);
}

/* Appends s[0..n) as a JSON string (RFC 8259), quotes included: '"' and
 * '\' backslashed; \n \r \t \b \f by name; the other bytes below 0x20 and
 * 0x7f as \u00XX; well-formed UTF-8 (dmvf__utf8_seq) as it is; every other
 * byte as \ufffd. The output is valid JSON and valid UTF-8 whatever s is. */
void dmvf__text_json(dmvf__text *t, const char *s, size_t n);
/* The same for the NUL-terminated s; NULL is written as "". */
void dmvf__text_json_c(dmvf__text *t, const char *s);
/* A JSON array of the strings v[0..n) (each as dmvf__text_json_c). */
void dmvf__text_json_strs(dmvf__text *t, const char *const *v, size_t n);
/* dmvf__text_json_c and dmvf__text_json_strs into a stream. */
void dmvf__json_fput(FILE *f, const char *s);
void dmvf__json_fput_strs(FILE *f, const char *const *v, size_t n);

/* One-line escaping for people: bytes below 0x20 and 0x7f always as \xNN
 * (two lowercase hex digits), so that the text stays on one line and shows
 * what it holds; with the flags, more bytes as \xNN: */
#define DMVF__ESC_BACKSLASH 1u  /* '\': every '\' of the output starts an escape */
#define DMVF__ESC_QUOTE     2u  /* '"': the text can stand between quotes */
#define DMVF__ESC_ASCII     4u  /* 0x80..0xff: the output is printable ASCII */
/* Appends s[0..n) escaped so. */
void dmvf__text_escaped(dmvf__text *t, const char *s, size_t n, unsigned flags);
/* Copies the NUL-terminated src into dst[cap], escaped with no flags, cut
 * (never inside an escape) to fit with its NUL: for messages that quote
 * text from requests and policies. cap 0 writes nothing. */
void dmvf__escape_copy(char *dst, size_t cap, const char *src);
/* Copies s[0..n) between double quotes into dst[cap] (cap > 5), escaped
 * with flags, cut (never inside an escape) to fit with the closing quote
 * and its NUL, "..." before the closing quote when it is cut: a value
 * quoted in a message or an explanation. */
void dmvf__quote_copy(char *dst, size_t cap, const char *s, size_t n, unsigned flags);

/* Appends s[0..n) as one RFC 4180 CSV field: as it is, or quoted (quotes
 * doubled) when it holds a comma, a quote, CR or LF. A field a spreadsheet
 * would run as a formula, one that starts with '=', '+', '-', '@', TAB or
 * CR, is guarded: an apostrophe is put before it and it is quoted; so is
 * one that starts with an apostrophe followed by one of those or by another
 * apostrophe, so that dmvf__csv_unguard gives every value back exactly. */
void dmvf__text_csv(dmvf__text *t, const char *s, size_t n);
/* 1 when dmvf__text_csv writes s[0..n) as it is (no quotes, no guard). */
int dmvf__csv_plain(const char *s, size_t n);
/* The guard dmvf__text_csv put before a field read back: 1 when s[0..n)
 * starts with an apostrophe followed by '=', '+', '-', '@', TAB, CR or an
 * apostrophe (skip that one byte), else 0. */
size_t dmvf__csv_unguard(const char *s, size_t n);

/* The length (1..4) of the well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF) that starts p[0..n),
 * or 0 when none does (n 0 included). */
size_t dmvf__utf8_seq(const unsigned char *p, size_t n);

#endif
