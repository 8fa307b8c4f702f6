/*
 * test_core.c - the shared helpers of filter/core/ that the other tests
 * reach only through their callers:
 *   - text.h: JSON strings (named escapes, \u00XX, \ufffd for every byte
 *     that is not well-formed UTF-8: overlongs, surrogates, past U+10FFFF,
 *     cut sequences, stray continuation bytes), one-line escaping with each
 *     flag, the fixed sink cutting cleanly, dmvf__escape_copy, the UTF-8
 *     check against a naive decoder over every 1- and 2-byte input;
 *   - hex.h: encode, decode (case, length, bad digits), numbers;
 *   - date.h: the one year range 0001..9999, parse and format, days both
 *     ways against libc, weekdays, business days, RFC 3339 times;
 *   - enums.h: names, parsing with '-' and '_' alike, the public names;
 *   - reqmap.h: a request to a message and back, NULL strings as "";
 *   - pballoc.h: each kind unpacks and frees a message;
 *   - fileio.h: create new (never replacing), replace, no temp left; read
 *     whole (plain and secure memory, the size limit, private files only,
 *     regular files only, a missing file, from an open descriptor's offset).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "dmv/v1/request.pb-c.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/fileio.h"
#include "filter/core/hex.h"
#include "filter/core/pballoc.h"
#include "filter/core/reqmap.h"
#include "filter/core/text.h"

/* s[0..n) as JSON through a growing sink, NUL-terminated (static buffer). */
static const char *json(const char *s, size_t n)
{
    static char out[256];
    dmvf__text t = dmvf__text_mem();
    dmvf__text_json(&t, s, n);
    size_t k = t.len < sizeof out - 1 ? t.len : sizeof out - 1;
    memcpy(out, t.p, k);
    out[k] = '\0';
    dmvf__text_free(&t);
    return out;
}

/* A naive UTF-8 decoder: the length of the sequence at p, 0 if none. */
static size_t naive_utf8(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp, min;
    size_t k;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) k = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) k = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) k = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return k;
}

/* The one JSON string writer (dmvf__text_json), every case once: input
 * bytes -> the JSON it must write. Every JSON the library writes (audit
 * query, report, notice queue, review list) goes through it. */
#define IN(lit) lit, sizeof lit - 1
static const struct json_case {
    const char *in;
    size_t n;
    const char *want;
    const char *what;
} json_cases[] = {
    {IN(""), "\"\"", "empty"},
    {IN("plain text"), "\"plain text\"", "plain ASCII"},
    {IN("q\" b\\ /"), "\"q\\\" b\\\\ /\"", "quote and backslash escaped, '/' not"},
    {IN("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"", "the named escapes"},
    {IN("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"", "other control bytes and DEL"},
    {IN("a\0b"), "\"a\\u0000b\"", "a NUL byte inside"},
    /* well-formed UTF-8 as it is: 2, 3 and 4 bytes, the edges */
    {IN("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf"),
     "\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\"", "2- and 3-byte edges"},
    {IN("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"), "\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"", "4-byte edges"},
    {IN("caf\xc3\xa9"), "\"caf\xc3\xa9\"", "Latin-1 letter in UTF-8"},
    /* everything else: one \ufffd per byte, never \u00XX or the raw byte */
    {IN("\xc0\x80"), "\"\\ufffd\\ufffd\"", "overlong NUL"},
    {IN("\xc1\xbf"), "\"\\ufffd\\ufffd\"", "overlong 2-byte"},
    {IN("\xe0\x9f\xbf"), "\"\\ufffd\\ufffd\\ufffd\"", "overlong 3-byte"},
    {IN("\xf0\x8f\xbf\xbf"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "overlong 4-byte"},
    {IN("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"", "high surrogate"},
    {IN("\xed\xbf\xbf"), "\"\\ufffd\\ufffd\\ufffd\"", "low surrogate"},
    {IN("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "past U+10FFFF"},
    {IN("\xf5\x80\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "lead byte 0xf5"},
    {IN("\xff\xfe"), "\"\\ufffd\\ufffd\"", "0xff 0xfe"},
    {IN("\x80x"), "\"\\ufffdx\"", "stray continuation byte"},
    {IN("\xe2\x82"), "\"\\ufffd\\ufffd\"", "sequence cut at the end"},
    {IN("\xe2\x82x"), "\"\\ufffd\\ufffdx\"", "sequence cut in the middle"},
    {IN("caf\xc3\xa9 \xc3"), "\"caf\xc3\xa9 \\ufffd\"", "good, then a cut lead byte"},
    {IN("caf\xe9"), "\"caf\\ufffd\"", "a Latin-1 byte (not \\u00e9)"},
    {IN("R\xff" "1"), "\"R\\ufffd1\"", "a request id with a 0xff byte"},
    {IN("\xff\n\""), "\"\\ufffd\\n\\\"\"", "bad byte next to escapes"},
};
#undef IN

static void test_json(void)
{
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        const struct json_case *c = &json_cases[i];
        const char *got = json(c->in, c->n);
        CHECK_MSG(strcmp(got, c->want) == 0, "json case %zu (%s): got %s, want %s", i, c->what,
                  got, c->want);
    }

    /* NULL as "", arrays, and the stream sink writing the same bytes */
    dmvf__text t = dmvf__text_mem();
    dmvf__text_json_c(&t, NULL);
    const char *const v[] = {"a", NULL, "\n"};
    dmvf__text_json_strs(&t, v, 3);
    dmvf__text_json_strs(&t, NULL, 0);
    dmvf__text_put(&t, "", 1);
    CHECK_EQ_STR(t.p, "\"\"[\"a\",\"\",\"\\n\"][]");
    dmvf__text_free(&t);
    char *mem = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&mem, &mlen);
    if (f) {
        dmvf__json_fput(f, "x\xff\"");
        dmvf__json_fput_strs(f, v, 2);
        fclose(f);
        CHECK_EQ_STR(mem, "\"x\\ufffd\\\"\"[\"a\",\"\"]");
    }
    free(mem);

    /* the UTF-8 check against the naive decoder, every 1..3-byte prefix */
    unsigned bad = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            unsigned char p[4] = {(unsigned char)a, (unsigned char)b, 0x80, 0x80};
            for (size_t n = 1; n <= 4; n++)
                bad += dmvf__utf8_seq(p, n) != naive_utf8(p, n);
        }
    CHECK_MSG(bad == 0, "%u inputs where dmvf__utf8_seq and the naive decoder differ", bad);
    CHECK_EQ_INT(dmvf__utf8_seq((const unsigned char *)"", 0), 0);
}

static void test_escaping(void)
{
    char buf[64];
    dmvf__escape_copy(buf, sizeof buf, "a\nb\\c\"d\x7f\xc3\xa9");
    CHECK_EQ_STR(buf, "a\\x0ab\\c\"d\\x7f\xc3\xa9");
    /* cut, never inside an escape */
    dmvf__escape_copy(buf, 6, "abc\ndef");
    CHECK_EQ_STR(buf, "abc");
    dmvf__escape_copy(buf, 8, "abc\ndef");
    CHECK_EQ_STR(buf, "abc\\x0a");
    dmvf__escape_copy(buf, 1, "abc");
    CHECK_EQ_STR(buf, "");
    dmvf__escape_copy(buf, 0, "abc");   /* writes nothing */

    dmvf__text t = dmvf__text_buf(buf, sizeof buf);
    dmvf__text_escaped(&t, "\\ \"", 3, DMVF__ESC_BACKSLASH);
    CHECK_EQ_STR(buf, "\\x5c \"");
    t = dmvf__text_buf(buf, sizeof buf);
    dmvf__text_escaped(&t, "\\ \"", 3, DMVF__ESC_QUOTE);
    CHECK_EQ_STR(buf, "\\ \\x22");
    t = dmvf__text_buf(buf, sizeof buf);
    dmvf__text_escaped(&t, "\xc3\xa9~", 3, DMVF__ESC_ASCII);
    CHECK_EQ_STR(buf, "\\xc3\\xa9~");
    CHECK(!t.failed);
    t = dmvf__text_buf(buf, 5);
    dmvf__text_escaped(&t, "abcdef", 6, 0);
    CHECK_EQ_STR(buf, "abcd");
    CHECK(t.failed);
}

static void test_hex(void)
{
    char out[17];
    const uint8_t b[8] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    CHECK_EQ_STR(dmvf__hex_encode(out, b, 8), "00017f80abcdefff");
    CHECK_EQ_STR(dmvf__hex_encode(out, b, 0), "");
    uint8_t d[8];
    CHECK_EQ_INT(dmvf__hex_decode(d, 8, "00017F80abCDefff", 16, 0), 0);
    CHECK(memcmp(d, b, 8) == 0);
    CHECK_EQ_INT(dmvf__hex_decode(d, 8, "00017F80abCDefff", 16, DMVF__HEX_LOWER), -1);
    CHECK_EQ_INT(dmvf__hex_decode(d, 8, "00017f80abcdeff", 15, 0), -1);
    CHECK_EQ_INT(dmvf__hex_decode(d, 8, "00017f80abcdefff0", 17, 0), -1);
    CHECK_EQ_INT(dmvf__hex_decode(d, 2, "0g01", 4, 0), -1);
    CHECK_EQ_INT(dmvf__hex_decode(d, 0, "", 0, 0), 0);
    uint64_t v = 7;
    CHECK_EQ_INT(dmvf__hex_u64("ffffffffffffffff", 16, 0, &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_EQ_INT(dmvf__hex_u64("00A3", 4, 0, &v), 0);
    CHECK_EQ_INT(v, 0xa3);
    CHECK_EQ_INT(dmvf__hex_u64("00A3", 4, DMVF__HEX_LOWER, &v), -1);
    CHECK_EQ_INT(v, 0xa3);
    CHECK_EQ_INT(dmvf__hex_u64("0", 0, 0, &v), -1);
    CHECK_EQ_INT(dmvf__hex_u64("00000000000000000", 17, 0, &v), -1);
    CHECK_EQ_INT(dmvf__hex_digit('F', 0), 15);
    CHECK_EQ_INT(dmvf__hex_digit('F', DMVF__HEX_LOWER), -1);
    CHECK_EQ_INT(dmvf__hex_digit('/', 0), -1);
}

static void test_dates(void)
{
    /* the one range: 0001-01-01 .. 9999-12-31 */
    CHECK_EQ_INT(dmvf__date_parse("0001-01-01", 10), 10101);
    CHECK_EQ_INT(dmvf__date_parse("9999-12-31", 10), 99991231);
    CHECK_EQ_INT(dmvf__date_parse("1899-12-31", 10), 18991231);
    CHECK_EQ_INT(dmvf__date_parse("0000-12-31", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-02-29", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2028-02-29", 10), 20280229);
    CHECK_EQ_INT(dmvf__date_parse("2100-02-29", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2000-02-29", 10), 20000229);
    CHECK_EQ_INT(dmvf__date_parse("2026-13-01", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-00-01", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-04-31", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-4-30", 9), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026/04/30", 10), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-04-30x", 11), 0);
    CHECK_EQ_INT(dmvf__date_parse("2026-04-30x", 10), 20260430);   /* n bytes, no NUL needed */
    CHECK_EQ_INT(dmvf__date_parse("+026-04-30", 10), 0);
    CHECK(!dmvf__date_valid(0));
    CHECK(!dmvf__date_valid(100000101));
    char s[DMVF__DATE_CAP];
    CHECK_EQ_STR(dmvf__date_format(20261120, s), "2026-11-20");
    CHECK_EQ_STR(dmvf__date_format(10101, s), "0001-01-01");
    CHECK_EQ_STR(dmvf__date_format(0, s), "0000-00-00");
    CHECK_EQ_STR(dmvf__date_format(UINT32_MAX, s), "429496-72-95");

    /* days both ways against libc, and weekdays */
    unsigned bad = 0;
    for (int64_t z = -800000; z < 2932897; z += 997) {
        uint32_t date = dmvf__days_date(z);
        int64_t y;
        unsigned m, d;
        dmvf__civil_from_days(z, &y, &m, &d);
        if (dmvf__days_from_civil(y, m, d) != z)
            bad++;
        if (date && dmvf__date_days(date) != z)
            bad++;
        time_t t = (time_t)z * 86400;
        struct tm tm;
        if (gmtime_r(&t, &tm) && (tm.tm_year + 1900 != y || (unsigned)tm.tm_mon + 1 != m ||
                                  (unsigned)tm.tm_mday != d || (unsigned)tm.tm_wday != dmvf__weekday(z)))
            bad++;
    }
    CHECK_MSG(bad == 0, "%u days disagree", bad);
    CHECK_EQ_INT(dmvf__days_date(dmvf__days_from_civil(1, 1, 1) - 1), 0);
    CHECK_EQ_INT(dmvf__days_date(dmvf__days_from_civil(10000, 1, 1)), 0);
    CHECK_EQ_INT(dmvf__days_in_month(2024, 2), 29);
    CHECK_EQ_INT(dmvf__days_in_month(1900, 2), 28);
    CHECK_EQ_INT(dmvf__weekday(0), 4);   /* 1970-01-01, a Thursday */

    /* adding days */
    const uint32_t hol[] = {20261126};
    CHECK_EQ_INT(dmvf__date_add(20261120, 3, 0, NULL, 0), 20261123);
    CHECK_EQ_INT(dmvf__date_add(20261120, 1, 1, NULL, 0), 20261123);   /* Fri + 1: Mon */
    CHECK_EQ_INT(dmvf__date_add(20261124, 3, 1, hol, 1), 20261130);
    CHECK_EQ_INT(dmvf__date_add(20261120, 0, 1, NULL, 0), 20261120);
    CHECK_EQ_INT(dmvf__date_add(99991231, 1, 0, NULL, 0), 0);
    CHECK_EQ_INT(dmvf__date_add(20261301, 1, 0, NULL, 0), 0);

    /* RFC 3339 */
    char tm[DMVF__TIME_CAP];
    CHECK_EQ_STR(dmvf__time_format(0, 0, DMVF__TIME_WHOLE, tm), "1970-01-01T00:00:00Z");
    CHECK_EQ_STR(dmvf__time_format(1795000000, 500, DMVF__TIME_WHOLE, tm), "2026-11-18T11:06:40Z");
    CHECK_EQ_STR(dmvf__time_format(1795000000, 500, DMVF__TIME_NANOS, tm),
                 "2026-11-18T11:06:40.000000500Z");
    CHECK_EQ_STR(dmvf__time_format(1795000000, 0, DMVF__TIME_NANOS, tm),
                 "2026-11-18T11:06:40.000000000Z");
    CHECK_EQ_STR(dmvf__time_format(1795000000, 0, DMVF__TIME_NANOS_IF, tm), "2026-11-18T11:06:40Z");
    CHECK_EQ_STR(dmvf__time_format(1795000000, 999999999, DMVF__TIME_NANOS_IF, tm),
                 "2026-11-18T11:06:40.999999999Z");
    CHECK_EQ_STR(dmvf__time_format(253402300799u, 0, DMVF__TIME_WHOLE, tm), "9999-12-31T23:59:59Z");
    CHECK_EQ_STR(dmvf__time_format(253402300800u, 0, DMVF__TIME_WHOLE, tm), "?");
    CHECK_EQ_STR(dmvf__time_format(UINT64_MAX, 0, DMVF__TIME_NANOS, tm), "?");
    uint32_t today = dmvf__today();
    CHECK(dmvf__date_valid(today) && today >= 20250101);
    CHECK(dmvf__now_ns() / 1000000000u / 86400 == (uint64_t)dmvf__date_days(today) ||
          dmvf__now_ns() / 1000000000u / 86400 == (uint64_t)dmvf__date_days(today) + 1);
}

static void test_enums(void)
{
    CHECK_EQ_STR(dmvf_agency_kind_name(DMVF_AGENCY_FEDERAL), "federal");
    CHECK_EQ_STR(dmvf_agency_kind_name((dmvf_agency_kind)99), "?");
    CHECK_EQ_STR(dmvf_legal_process_name(DMVF_LEGAL_COURT_ORDER), "court_order");
    CHECK_EQ_STR(dmvf_query_kind_name(DMVF_QUERY_UNSPECIFIED), "unspecified");
    dmvf_query_kind q = DMVF_QUERY_LIST;
    CHECK_EQ_INT(dmvf_query_kind_parse("by-name-dob", &q), DMVF_OK);
    CHECK_EQ_INT(q, DMVF_QUERY_BY_NAME_DOB);
    CHECK_EQ_INT(dmvf_query_kind_parse("unspecified", &q), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_query_kind_parse(NULL, &q), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_query_kind_parse("by_license ", &q), DMVF_EINVAL);
    CHECK_EQ_INT(q, DMVF_QUERY_BY_NAME_DOB);
    dmvf_legal_process l;
    CHECK_EQ_INT(dmvf_legal_process_parse("judicial-warrant", &l), DMVF_OK);
    CHECK_EQ_INT(l, DMVF_LEGAL_JUDICIAL_WARRANT);

    CHECK_EQ_INT(dmvf__name_parse(&dmvf__audit_kinds, "review_hold", 1), DMVF_AUDIT_REVIEW_HOLD);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__audit_kinds, "review-hold", 1), DMVF_AUDIT_REVIEW_HOLD);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__audit_kinds, "unspecified", 1), -1);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__refusals, "not_found", 1), DMVF_REFUSAL_NOT_FOUND);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__generalizations, "zip3", 1), 4);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__generalizations, "", 0), -1);
    CHECK_EQ_INT(dmvf__name_parse(&dmvf__decisions, "Deny", 1), -1);
    CHECK_EQ_STR(dmvf__name(&dmvf__audit_kinds, 7, "unknown"), "unknown");
    CHECK(dmvf__name(&dmvf__generalizations, 0, NULL) == NULL);
    CHECK_EQ_STR(dmvf__action_name(DMVF_FIELD_PSEUDONYMIZE), "pseudonymize");
    CHECK_EQ_STR(dmvf__action_name(7), "descend");
    CHECK_EQ_STR(dmvf__action_name(8), "?");
    CHECK_EQ_STR(dmvf__decision_name(DMVF_DECISION_REVIEW), "review");
    CHECK_EQ_STR(dmvf__refusal_name(DMVF_REFUSAL_NOT_FOUND), "not-found");
    CHECK_EQ_STR(dmvf__refusal_name(0), "refused");
    CHECK_EQ_STR(dmvf__name(&dmvf__purposes, 14, "?"), "14");
    char c[DMVF__CLASS_LETTERS_CAP];
    CHECK_EQ_STR(dmvf__field_class_letters(DMVF_FIELD_CLASS_P | DMVF_FIELD_CLASS_M, c), "MP");
    CHECK_EQ_STR(dmvf__field_class_letters(DMVF_FIELD_CLASS_N, c), "N");
    CHECK_EQ_STR(dmvf__field_class_letters(DMVF_FIELD_CLASS_M | DMVF_FIELD_CLASS_C | DMVF_FIELD_CLASS_P |
                                           DMVF_FIELD_CLASS_N, c), "MCPN");
    CHECK_EQ_STR(dmvf__field_class_letters(0, c), "");
}

static void test_reqmap(void)
{
    const char *const tags[] = {"t1", "t2"};
    dmvf_request r;
    memset(&r, 0, sizeof r);
    r.ori = "NY0300000";
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.tags = tags;
    r.ntags = 2;
    r.purpose = 3;
    r.legal_process = DMVF_LEGAL_NONE;
    r.query_kind = DMVF_QUERY_BY_PLATE;
    r.date = 20261120;
    Dmv__V1__Request m;
    dmvf__request_to_pb(&r, &m);
    CHECK_EQ_STR(m.ori, "NY0300000");
    CHECK_EQ_STR(m.request_id, "");
    CHECK_EQ_STR(m.channel, "");
    CHECK_EQ_INT(m.n_tags, 2);
    size_t n = dmv__v1__request__get_packed_size(&m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    dmv__v1__request__pack(&m, buf);
    dmvf__pballoc a;
    Dmv__V1__Request *u = dmv__v1__request__unpack(dmvf__pballoc_init(&a, DMVF__PB_PLAIN), n, buf);
    CHECK(u != NULL && !a.oom);
    if (u) {
        dmvf_request back;
        dmvf__request_from_pb(u, &back);
        CHECK_EQ_STR(back.ori, "NY0300000");
        CHECK_EQ_STR(back.request_id, "");
        CHECK_EQ_INT(back.agency_kind, DMVF_AGENCY_LOCAL);
        CHECK_EQ_INT(back.ntags, 2);
        CHECK(back.ntags == 2 && strcmp(back.tags[1], "t2") == 0);
        CHECK_EQ_INT(back.purpose, 3);
        CHECK_EQ_INT(back.query_kind, DMVF_QUERY_BY_PLATE);
        CHECK_EQ_INT(back.date, 20261120);
        dmv__v1__request__free_unpacked(u, &a.pb);
    }
    /* the other kinds unpack and free too (ASan would see a mismatch) */
    for (int kind = DMVF__PB_WIPED; kind <= DMVF__PB_SECURE; kind++) {
        u = dmv__v1__request__unpack(dmvf__pballoc_init(&a, kind), n, buf);
        CHECK(u != NULL && !a.oom);
        if (u) {
            CHECK_EQ_STR(u->ori, "NY0300000");
            dmv__v1__request__free_unpacked(u, dmvf__pballoc_init(&a, kind));
        }
    }
    free(buf);
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void test_fileio(void)
{
    char dir[] = "/tmp/dmvf-core-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    CHECK_EQ_INT(dmvf__file_create(path, "one", 3, 0640, DMVF__FILE_NEW), DMVF__FILE_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 3 && (st.st_mode & 0777) == 0640);
    CHECK_EQ_INT(dmvf__file_create(path, "two", 3, 0600, DMVF__FILE_NEW), DMVF__FILE_EXISTS);
    dmvf_error err;
    CHECK_EQ_INT(dmvf__file_error(&err, DMVF__FILE_EXISTS, "thing", path), DMVF_EIO);
    CHECK(strstr(err.msg, "already exists") != NULL);
    CHECK(stat(path, &st) == 0 && st.st_size == 3);
    CHECK_EQ_INT(dmvf__file_create(path, "three", 5, 0600, DMVF__FILE_REPLACE), DMVF__FILE_OK);
    CHECK(stat(path, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(count_entries(dir), 1);   /* no temporary file left */
    char *tmp = NULL;
    CHECK_EQ_INT(dmvf__file_aside(path, "x", 1, 0600, &tmp), DMVF__FILE_OK);
    CHECK(tmp && strstr(tmp, "/.f.tmp.") != NULL);
    CHECK_EQ_INT(count_entries(dir), 2);
    if (tmp)
        CHECK_EQ_INT(dmvf__file_place(tmp, path, DMVF__FILE_NEW), DMVF__FILE_EXISTS);
    free(tmp);
    CHECK_EQ_INT(count_entries(dir), 1);
    char missing[80];
    snprintf(missing, sizeof missing, "%s/no/such/dir/f", dir);
    CHECK_EQ_INT(dmvf__file_create(missing, "x", 1, 0600, DMVF__FILE_NEW), DMVF__FILE_TEMP);
    CHECK_EQ_INT(errno, ENOENT);

    /* reading whole: path holds "three", mode 0600 */
    uint8_t *buf;
    size_t len;
    CHECK_EQ_INT(dmvf__file_read(path, 5, &buf, &len, 0, &st), DMVF__READ_OK);
    CHECK(buf && len == 5 && memcmp(buf, "three", 5) == 0 && st.st_size == 5);
    free(buf);
    CHECK_EQ_INT(dmvf__file_read(path, 5, &buf, &len, DMVF__READ_SECURE | DMVF__READ_PRIVATE, NULL),
                 DMVF__READ_OK);
    CHECK(buf && len == 5 && memcmp(buf, "three", 5) == 0);
    if (buf)
        sodium_free(buf);
    CHECK_EQ_INT(dmvf__file_read(path, 4, &buf, &len, 0, &st), DMVF__READ_TOOBIG);
    CHECK(buf == NULL && len == 5 && st.st_size == 5);
    CHECK(chmod(path, 0640) == 0);
    CHECK_EQ_INT(dmvf__file_read(path, 5, &buf, &len, DMVF__READ_PRIVATE, &st), DMVF__READ_MODE);
    CHECK((st.st_mode & 0777) == 0640 && buf == NULL);
    CHECK_EQ_INT(dmvf__file_read(path, 5, &buf, &len, 0, NULL), DMVF__READ_OK);
    free(buf);
    CHECK_EQ_INT(dmvf__file_read(dir, 1 << 20, &buf, &len, 0, NULL), DMVF__READ_NOTREG);
    CHECK_EQ_INT(dmvf__file_read(missing, 1 << 20, &buf, &len, 0, NULL), DMVF__READ_OPEN);
    CHECK_EQ_INT(errno, ENOENT);
    CHECK_EQ_INT(dmvf__file_create(path, "", 0, 0600, DMVF__FILE_REPLACE), DMVF__FILE_OK);
    CHECK_EQ_INT(dmvf__file_read(path, 0, &buf, &len, 0, NULL), DMVF__READ_OK);
    CHECK(buf != NULL && len == 0);
    free(buf);
    CHECK_EQ_INT(dmvf__file_create(path, "three", 5, 0600, DMVF__FILE_REPLACE), DMVF__FILE_OK);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    if (fd >= 0) {
        char two[2];
        size_t got = 9;
        CHECK(dmvf__read_full(fd, two, 2, &got) == 0 && got == 2 && memcmp(two, "th", 2) == 0);
        CHECK_EQ_INT(dmvf__file_read_fd(fd, 100, &buf, &len, 0, NULL), DMVF__READ_OK);
        CHECK(buf && len == 3 && memcmp(buf, "ree", 3) == 0);   /* from the offset to the end */
        free(buf);
        CHECK(dmvf__pread_full(fd, two, 2, 1, &got) == 0 && got == 2 && memcmp(two, "hr", 2) == 0);
        CHECK(dmvf__pread_full(fd, two, 2, 4, &got) == 0 && got == 1 && two[0] == 'e');
        close(fd);
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium did not initialize\n");
        return 1;
    }
    test_json();
    test_escaping();
    test_hex();
    test_dates();
    test_enums();
    test_reqmap();
    test_fileio();
    CHECK_DONE();
}
