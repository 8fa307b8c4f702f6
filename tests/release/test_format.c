/*
 * test_format.c - JSON Lines and CSV in and out (dmvfilter/format.h).
 *
 *   units       base64, the CSV field guard, the JSON and CSV record codecs
 *               on hand-made records: names, types, defaults, presence,
 *               unknown keys and columns, the canonical output
 *   errors      every class of malformed record, with its line, column,
 *               offset and record index; drop_malformed; records too long
 *   stream      input in pieces and output in windows give the same bytes
 *               and errors as one call; the header; refusals write nothing
 *   round trip  dmvf-gen's JSON Lines and CSV become exactly its protobuf;
 *               releases through JSON and CSV and back are unchanged
 *   differential  protobuf, JSON and CSV input of the same records give
 *               the same released records, for every requester of
 *               examples/policy.yaml (and the JSON and CSV output of them
 *               agree)
 *   twins, canary  twins give identical lines and rows; no redacted canary
 *               value and no unknown key's or column's value is written
 *   protobuf's parser  the JSON output parses with python3-protobuf's
 *               json_format into exactly the released records
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/base64.h"
#include "filter/core/text.h"
#include "filter/release/filter_int.h"
#include "filter/release/format_int.h"
#include "filter/wire/plan.h"
#include "filter/wire/rewrite.h"
#include "keys/keys.h"
#include "check.h"
#include "fixture.h"

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const void *v, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, v, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_free(buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int same(const buf *a, const buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Streams in[0..n) through c in pieces of `piece` bytes (0: whole) into
 * windows of `win` bytes (0: 64 KiB); output appended to *out. */
static int run(dmvf_codec *c, const void *in, size_t n, size_t piece, size_t win, buf *out, dmvf_error *err)
{
    uint8_t *w = malloc(win ? win : 65536);
    size_t wcap = win ? win : 65536, pos = 0;
    int rc = DMVF_OK;
    do {
        size_t k = piece && n - pos > piece ? piece : n - pos;
        int end = pos + k == n;
        dmvf_in_buffer ib = {(const uint8_t *)in + pos, k, 0};
        for (;;) {
            dmvf_out_buffer ob = {w, wcap, 0};
            rc = dmvf_codec_stream(c, &ob, &ib, end, err);
            buf_put(out, w, ob.pos);
            if (rc != DMVF_ESPACE)
                break;
        }
        if (rc == DMVF_OK)
            CHECK_MSG(ib.pos == ib.size, "DMVF_OK with input left (%zu of %zu)", ib.pos, ib.size);
        pos += k;
    } while (rc == DMVF_OK && pos < n);
    free(w);
    return rc;
}

/* Converts (no filter) whole input of format a into format b. */
static int convert(dmvf_format a, dmvf_format b, const void *in, size_t n, buf *out, dmvf_error *err)
{
    dmvf_codec_options o;
    memset(&o, 0, sizeof o);
    o.in = a;
    o.out = b;
    o.column_options.elements = "4";
    dmvf_codec *c = dmvf_codec_create(NULL, &o, err);
    if (!c)
        return err->code;
    int rc = run(c, in, n, 0, 0, out, err);
    dmvf_codec_free(c);
    return rc;
}

/* ---- units ---- */

static void test_base64(void)
{
    static const struct { const char *in; const char *out; } good[] = {
        {"", ""}, {"QQ==", "A"}, {"QQ", "A"}, {"QQ=", "A"}, {"QUI=", "AB"}, {"QUI", "AB"},
        {"QUJD", "ABC"}, {"-_-_", "\xfb\xff\xbf"}, {"+/+/", "\xfb\xff\xbf"}, {"+_-/", "\xfb\xff\xbf"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint8_t out[16];
        size_t len = 99, bad = 99;
        int rc = dmvf__base64_decode(out, good[i].in, strlen(good[i].in), &len, &bad);
        CHECK_MSG(rc == 0 && len == strlen(good[i].out) && memcmp(out, good[i].out, len) == 0,
                  "base64 '%s'", good[i].in);
    }
    static const struct { const char *in; size_t bad; } bad[] = {
        {"Q", 0}, {"QQ===", 2}, {"QUJD=", 4}, {"QU=I", 2}, {"Q Q=", 1}, {"QUJDQ", 4}, {"QQ\n", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t len, at = 99;
        int rc = dmvf__base64_decode(out, bad[i].in, strlen(bad[i].in), &len, &at);
        CHECK_MSG(rc == -1 && at == bad[i].bad, "base64 '%s' refused at %zu (got rc %d at %zu)", bad[i].in,
                  bad[i].bad, rc, at);
    }
    /* encode then decode: every length and byte */
    uint8_t src[64], dec[64];
    char enc[100];
    for (size_t n = 0; n < sizeof src; n++) {
        for (size_t i = 0; i < n; i++)
            src[i] = (uint8_t)(i * 37 + n);
        char *e = dmvf__base64_encode(enc, src, n);
        size_t len, at;
        CHECK((size_t)(e - enc) == dmvf__base64_len(n));
        CHECK(dmvf__base64_decode(dec, enc, (size_t)(e - enc), &len, &at) == 0 && len == n &&
              memcmp(dec, src, n) == 0);
    }
}

static void test_csv_guard(void)
{
    static const struct { const char *v; const char *csv; } t[] = {
        {"plain", "plain"},           {"a,b", "\"a,b\""},       {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"=1+1", "\"'=1+1\""},        {"+1", "\"'+1\""},         {"-2", "\"'-2\""},
        {"@SUM(A1)", "\"'@SUM(A1)\""}, {"\tx", "\"'\tx\""},      {"\rx", "\"'\rx\""},
        {"'=x", "\"''=x\""},          {"''", "\"'''\""},         {"'x", "'x"},
        {"it's", "it's"},             {"a\nb", "\"a\nb\""},      {"", ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[64];
        dmvf__text s = dmvf__text_buf(out, sizeof out);
        dmvf__text_csv(&s, t[i].v, strlen(t[i].v));
        CHECK_MSG(strcmp(out, t[i].csv) == 0, "csv cell of '%s' is '%s', expected '%s'", t[i].v, out, t[i].csv);
        /* read back (quotes undone by hand): the guard comes off, the value is whole */
        char back[64];
        size_t k = 0, n = strlen(out);
        const char *q = out;
        if (n && q[0] == '"') {
            for (size_t j = 1; j + 1 < n; j++) {
                back[k++] = q[j];
                if (q[j] == '"')
                    j++;
            }
        } else {
            memcpy(back, q, n);
            k = n;
        }
        size_t g = dmvf__csv_unguard(back, k);
        CHECK_MSG(k - g == strlen(t[i].v) && memcmp(back + g, t[i].v, k - g) == 0, "csv guard of '%s' does not come off",
                  t[i].v);
    }
}

/* One JSON line through the decoder: its status, the wire bytes. */
static int jdec(const char *line, buf *wire, dmvf_error *err, uint64_t *unknown)
{
    dmvf__jdec d;
    memset(&d, 0, sizeof d);
    dmvf__wbuf w = {0};
    int rc = dmvf__json_decode(&d, (const uint8_t *)line, strlen(line), &w, err);
    wire->len = 0;
    buf_put(wire, w.p, w.len);
    if (unknown)
        *unknown = d.unknown_keys;
    dmvf__wbuf_free(&w);
    dmvf__jdec_free(&d);
    return rc;
}

/* One JSON object (canonical) for wire bytes. */
static int jenc(const buf *wire, char *out, size_t cap)
{
    dmvf__text t = dmvf__text_mem();
    dmvf_error err;
    int rc = dmvf__json_encode(wire->p ? wire->p : (const uint8_t *)"", wire->len, &t, &err);
    snprintf(out, cap, "%.*s", (int)t.len, t.p ? t.p : "");
    dmvf__text_free(&t);
    return rc;
}

static void test_json_units(void)
{
    buf w = {0}, w2 = {0};
    dmvf_error err;
    char out[2048];
    uint64_t unk;

    /* proto names and JSON names, any key order, defaults, enums, numbers as strings */
    CHECK_EQ_INT(jdec("{\"person\":{\"givenName\":\"Ada\",\"family_name\":\"Ng\",\"sex\":2,\"heightCm\":\"170\","
                      "\"weight_kg\":6.0e1,\"organDonor\":true,\"veteran\":false,\"ssnStatus\":\"SSN_STATUS_ITIN\","
                      "\"middle_name\":\"\",\"aliases\":[\"A\",\"\"]},\"record_id\":\"r1\","
                      "\"license\":{\"kind\":\"KIND_ID_CARD\",\"status\":\"3\",\"restrictions\":[]},"
                      "\"marking\":null,\"photo\":{\"image\":\"AAEC\",\"faceTemplate\":\"_-8\"},"
                      "\"history\":[{\"points\":-3,\"kind\":0},{}]}",
                      &w, &err, &unk),
                 DMVF_OK);
    CHECK_EQ_INT(unk, 0);
    CHECK_EQ_INT(jenc(&w, out, sizeof out), DMVF_OK);
    CHECK_EQ_STR(out, "{\"record_id\":\"r1\",\"person\":{\"family_name\":\"Ng\",\"given_name\":\"Ada\","
                      "\"aliases\":[\"A\",\"\"],\"sex\":\"SEX_FEMALE\",\"height_cm\":170,\"weight_kg\":60,"
                      "\"ssn_status\":\"SSN_STATUS_ITIN\",\"organ_donor\":true},\"license\":{\"kind\":\"KIND_ID_CARD\","
                      "\"status\":\"STATUS_SUSPENDED\"},\"photo\":{\"image\":\"AAEC\",\"face_template\":\"/+8=\"},"
                      "\"history\":[{\"points\":-3},{}]}");
    /* the output reads back to the same bytes, and is in field-number order */
    CHECK_EQ_INT(jdec(out, &w2, &err, NULL), DMVF_OK);
    CHECK(same(&w, &w2));

    /* an enum number the schema does not name stays a number; escapes in keys and values */
    CHECK_EQ_INT(jdec("{\"person\":{\"sex\":7,\"family\\u005fname\":\"O\\u2019Brien \\ud83d\\ude00\\n\"}}", &w, &err, NULL),
                 DMVF_OK);
    CHECK_EQ_INT(jenc(&w, out, sizeof out), DMVF_OK);
    CHECK_EQ_STR(out, "{\"person\":{\"family_name\":\"O\xe2\x80\x99" "Brien \xf0\x9f\x98\x80\\n\",\"sex\":7}}");
    /* {} is a present, empty message; null is absent */
    CHECK_EQ_INT(jdec("{\"person\":{},\"license\":null,\"vehicles\":[{}]}", &w, &err, NULL), DMVF_OK);
    CHECK_EQ_INT(jenc(&w, out, sizeof out), DMVF_OK);
    CHECK_EQ_STR(out, "{\"person\":{},\"vehicles\":[{}]}");
    CHECK(w.len == 4 && memcmp(w.p, "\x12\x00\x3a\x00", 4) == 0);

    /* unknown keys: dropped, counted, reported with their path */
    CHECK_EQ_INT(jdec("{\"favorite\":{\"a\":[1,{\"b\":null}]},\"person\":{\"favorite_color\":\"CANARY-J1\"},"
                      "\"vehicles\":[{\"plate\":\"P1\"},{\"paint\":\"CANARY-J2\",\"plate\":\"P2\"}],\"record_id\":\"x\"}",
                      &w, &err, &unk),
                 DMVF_OK);
    CHECK_EQ_INT(unk, 3);
    CHECK_EQ_INT(jenc(&w, out, sizeof out), DMVF_OK);
    CHECK_EQ_STR(out, "{\"record_id\":\"x\",\"person\":{},\"vehicles\":[{\"plate\":\"P1\"},{\"plate\":\"P2\"}]}");

    /* the encoder refuses what is not canonical */
    static const uint8_t order[] = {0x1a, 0x00, 0x0a, 0x01, 'x'};
    buf o = {0};
    buf_put(&o, order, sizeof order);
    CHECK_EQ_INT(jenc(&o, out, sizeof out), DMVF_EMALFORMED);
    static const uint8_t unknown[] = {0xf0, 0x01, 0x01};
    o.len = 0;
    buf_put(&o, unknown, sizeof unknown);
    CHECK_EQ_INT(jenc(&o, out, sizeof out), DMVF_EMALFORMED);
    /* bytes that are not UTF-8 in a string: written as \ufffd, valid JSON */
    static const uint8_t bad_utf8[] = {0x0a, 0x03, 'a', 0xff, 'b'};
    o.len = 0;
    buf_put(&o, bad_utf8, sizeof bad_utf8);
    CHECK_EQ_INT(jenc(&o, out, sizeof out), DMVF_OK);
    CHECK_EQ_STR(out, "{\"record_id\":\"a\\ufffdb\"}");
    buf_free(&o);
    buf_free(&w);
    buf_free(&w2);
}

/* The decoder's error for one line: code and 1-based column. */
static void json_error(const char *line, int code, unsigned col, const char *what)
{
    buf w = {0};
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int rc = jdec(line, &w, &err, NULL);
    CHECK_MSG(rc == code && err.offset + 1 == col, "%s: %s: code %d at column %llu (%s); expected %d at %u", what,
              line, rc, (unsigned long long)err.offset + 1, err.msg, code, col);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: message is not one line", what);
    buf_free(&w);
}

static void test_json_errors(void)
{
    json_error("{\"record_id\":5}", DMVF_EMALFORMED, 14, "wrong type: number for a string");
    json_error("{\"person\":\"x\"}", DMVF_EMALFORMED, 11, "wrong type: string for a message");
    json_error("{\"person\":{\"aliases\":\"x\"}}", DMVF_EMALFORMED, 22, "wrong type: string for an array");
    json_error("{\"person\":{\"organ_donor\":1}}", DMVF_EMALFORMED, 26, "wrong type: number for a bool");
    json_error("{\"person\":{\"residence\":{\"street\":{\"x\":1}}}}", DMVF_EMALFORMED, 34, "nesting past the schema");
    json_error("{\"record_id\":\"a\",\"record_id\":\"b\"}", DMVF_EMALFORMED, 18, "duplicate key");
    json_error("{\"person\":{\"family_name\":\"a\",\"familyName\":\"b\"}}", DMVF_EMALFORMED, 30, "a key under both names");
    json_error("{\"record_id\":\"a\xff\"}", DMVF_EMALFORMED, 16, "invalid UTF-8");
    json_error("{\"record_id\":\"\xc0\xaf\"}", DMVF_EMALFORMED, 15, "overlong UTF-8");
    json_error("{\"record_id\":\"\\udc00\"}", DMVF_EMALFORMED, 15, "a lone low surrogate");
    json_error("{\"record_id\":\"\\ud800x\"}", DMVF_EMALFORMED, 15, "a lone high surrogate");
    json_error("{\"record_id\":\"a\tb\"}", DMVF_EMALFORMED, 16, "a raw control character");
    json_error("{\"record_id\":\"\\q\"}", DMVF_EMALFORMED, 15, "a bad escape");
    json_error("{\"person\":{\"height_cm\":4294967296}}", DMVF_EMALFORMED, 24, "uint32 out of range");
    json_error("{\"person\":{\"height_cm\":-1}}", DMVF_EMALFORMED, 24, "uint32 negative");
    json_error("{\"history\":[{\"points\":2147483648}]}", DMVF_EMALFORMED, 23, "int32 out of range");
    json_error("{\"person\":{\"height_cm\":1.5}}", DMVF_EMALFORMED, 24, "not integral");
    json_error("{\"person\":{\"height_cm\":\"1.0\"}}", DMVF_EMALFORMED, 24, "a real in a string");
    json_error("{\"person\":{\"height_cm\":99999999999999999999}}", DMVF_EMALFORMED, 24, "past 64 bits");
    json_error("{\"person\":{\"height_cm\":01}}", DMVF_EMALFORMED, 24, "a leading zero");
    json_error("{\"person\":{\"sex\":\"SEX_OTHER\"}}", DMVF_EMALFORMED, 18, "an unknown enum name");
    json_error("{\"person\":{\"sex\":2147483648}}", DMVF_EMALFORMED, 18, "enum out of range");
    json_error("{\"photo\":{\"image\":\"A\"}}", DMVF_EMALFORMED, 19, "bad base64");
    json_error("{\"photo\":{\"image\":\"AA$A\"}}", DMVF_EMALFORMED, 19, "bad base64 character");
    json_error("{\"aliases\":[null]}", DMVF_OK, 1, "null inside an unknown key's array is only skipped");
    json_error("{\"person\":{\"aliases\":[\"a\",null]}}", DMVF_EMALFORMED, 27, "null as an array element");
    json_error("[1]", DMVF_EMALFORMED, 1, "not an object");
    json_error("\"x\"", DMVF_EMALFORMED, 1, "a string, not an object");
    json_error("{\"record_id\":\"a\"} x", DMVF_EMALFORMED, 19, "text after the object");
    json_error("{\"record_id\":\"a\"}{}", DMVF_EMALFORMED, 18, "two objects on a line");
    json_error("", DMVF_EMALFORMED, 1, "an empty line");
    json_error("   ", DMVF_EMALFORMED, 4, "a blank line");
    json_error("{\"record_id\":\"a\"", DMVF_EMALFORMED, 17, "a cut object");
    json_error("{\"record_id\":\"a", DMVF_EMALFORMED, 14, "a cut string");
    json_error("{\"record_id\" \"a\"}", DMVF_EMALFORMED, 14, "a missing colon");
    json_error("{\"record_id\":\"a\",}", DMVF_EMALFORMED, 18, "a trailing comma");
    json_error("{record_id:1}", DMVF_EMALFORMED, 2, "an unquoted key");
    json_error("{\"x\":tru}", DMVF_EMALFORMED, 6, "a bad literal");
    json_error("{\"x\":1.}", DMVF_EMALFORMED, 6, "a bad number in an unknown value");
    json_error("{\"x\":-}", DMVF_EMALFORMED, 6, "a lone minus");
    json_error("{\"x\":1e400}", DMVF_OK, 1, "any JSON number in an unknown value");
    {
        /* a line that ends inside a long key: nothing read past it (an
         * exact-size buffer, so AddressSanitizer sees any overrun) */
        static const char cut[] = "{\"license\":{\"document_discrimina";
        size_t n = sizeof cut - 1;
        uint8_t *exact = malloc(n);
        memcpy(exact, cut, n);
        dmvf__jdec d;
        memset(&d, 0, sizeof d);
        dmvf__wbuf w = {0};
        dmvf_error err;
        CHECK_EQ_INT(dmvf__json_decode(&d, exact, n, &w, &err), DMVF_EMALFORMED);
        dmvf__wbuf_free(&w);
        dmvf__jdec_free(&d);
        free(exact);
    }
    json_error(" {\"record_id\":\"a\"}\r", DMVF_OK, 1, "white space around the object, CR too");
    /* nesting: 64 levels in an unknown value pass, 65 do not */
    for (int levels = 64; levels <= 65; levels++) {
        char line[400];
        size_t k = (size_t)snprintf(line, sizeof line, "{\"x\":");
        memset(line + k, '[', (size_t)levels);
        memset(line + k + levels, ']', (size_t)levels);
        snprintf(line + k + 2 * levels, sizeof line - k - 2 * levels, "}");
        json_error(line, levels == 64 ? DMVF_OK : DMVF_EMALFORMED, levels == 64 ? 1 : 70, "nesting");
    }
    {
        /* more elements than a repeated field may have */
        size_t n = 10001 * 4 + 64;
        char *line = malloc(n);
        size_t k = (size_t)snprintf(line, n, "{\"person\":{\"aliases\":[");
        for (int i = 0; i < 10001; i++)
            k += (size_t)snprintf(line + k, n - k, "%s\"a\"", i ? "," : "");
        snprintf(line + k, n - k, "]}}");
        buf w = {0};
        dmvf_error err;
        CHECK_EQ_INT(jdec(line, &w, &err, NULL), DMVF_ETOOBIG);
        line[k - 4] = ']';           /* 10000: fine */
        line[k - 3] = '}';
        line[k - 2] = '}';
        line[k - 1] = 0;
        CHECK_EQ_INT(jdec(line, &w, &err, NULL), DMVF_OK);
        buf_free(&w);
        free(line);
    }
}

/* ---- CSV units ---- */

static dmvf_columns *cols(const char *header)
{
    dmvf_columns *c = NULL;
    dmvf_error err;
    int rc = dmvf_columns_parse(header, strlen(header), &c, &err);
    CHECK_MSG(rc == DMVF_OK, "header '%s': %s", header, rc ? err.msg : "");
    return c;
}

/* CSV text (header and rows) converted: status, output. */
static int csv_to(dmvf_format to, const char *csv, buf *out, dmvf_error *err)
{
    out->len = 0;
    return convert(DMVF_FORMAT_CSV, to, csv, strlen(csv), out, err);
}

static void test_csv_units(void)
{
    buf out = {0}, back = {0};
    dmvf_error err;

    /* names, order, unknown columns, quoting, presence */
    dmvf_columns *c = cols("\xef\xbb\xbfrecord_id,person.aliases.1,person.aliases.0,favorite,person.residence,"
                           "license.restrictions,vehicles.01.plate,vehicles.0.plate,vehicles.10000.plate,"
                           "person.family_name.x,\"person.given_name\"\r\n");
    if (c) {
        CHECK_EQ_INT(dmvf_columns_count(c), 5);
        CHECK_EQ_STR(dmvf_columns_name(c, 0), "record_id");
        CHECK_EQ_STR(dmvf_columns_name(c, 1), "person.aliases.1");
        CHECK_EQ_STR(dmvf_columns_name(c, 4), "person.given_name");
        CHECK_EQ_INT(dmvf_columns_unknown_count(c), 6);
        CHECK_EQ_STR(dmvf_columns_unknown(c, 0), "favorite");
        CHECK_EQ_STR(dmvf_columns_unknown(c, 5), "person.family_name.x");
        dmvf_columns_free(c);
    }
    dmvf_columns *bad = NULL;
    CHECK_EQ_INT(dmvf_columns_parse("a,record_id,record_id", 21, &bad, &err), DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_columns_parse("", 0, &bad, &err), DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_columns_parse("\n", 1, &bad, &err), DMVF_OK);   /* no column */
    CHECK(bad && dmvf_columns_count(bad) == 0 && dmvf_columns_unknown_count(bad) == 0);
    dmvf_columns_free(bad);
    bad = NULL;
    {
        buf o = {0};
        CHECK_EQ_INT(csv_to(DMVF_FORMAT_JSONL, "\n\n\n", &o, &err), DMVF_OK);
        CHECK_EQ_STR((char *)o.p, "{}\n{}\n");
        CHECK_EQ_INT(csv_to(DMVF_FORMAT_JSONL, "\nx\n", &o, &err), DMVF_EMALFORMED);
        buf_free(&o);
    }
    CHECK_EQ_INT(dmvf_columns_parse("a,\"b", 4, &bad, &err), DMVF_EMALFORMED);
    CHECK_EQ_INT(dmvf_columns_parse("a\nb\n", 4, &bad, &err), DMVF_EMALFORMED);
    CHECK(bad == NULL);

    /* cells: "" is present; gaps close; quoted line breaks; the guard comes off */
    CHECK_EQ_INT(csv_to(DMVF_FORMAT_JSONL,
                        "record_id,person.aliases.0,person.aliases.1,person.aliases.2,vehicles.0.plate,vehicles.1.plate,"
                        "person.mailing.city,person.residence.city,person.height_cm,person.sex,history.0.points,photo.image\n"
                        "r1,,A,\"\",,P2,\"\",\"two\nlines\",0170,SEX_X,'-2,'+/8=\n"
                        "r2,,,,,,,,,,,\n",
                        &out, &err),
                 DMVF_OK);
    CHECK_EQ_STR((char *)out.p,
                 "{\"record_id\":\"r1\",\"person\":{\"aliases\":[\"A\",\"\"],\"sex\":\"SEX_X\",\"height_cm\":170,"
                 "\"residence\":{\"city\":\"two\\nlines\"},\"mailing\":{}},\"photo\":{\"image\":\"+/8=\"},"
                 "\"vehicles\":[{\"plate\":\"P2\"}],\"history\":[{\"points\":-2}]}\n{\"record_id\":\"r2\"}\n");
    /* and back: a present, empty message is marked with "" in its first column */
    CHECK_EQ_INT(convert(DMVF_FORMAT_JSONL, DMVF_FORMAT_CSV, out.p, out.len, &back, &err), DMVF_OK);
    CHECK(strstr((char *)back.p, "\n") != NULL);
    {
        buf wire1 = {0}, wire2 = {0};
        CHECK_EQ_INT(convert(DMVF_FORMAT_JSONL, DMVF_FORMAT_RECORDS, out.p, out.len, &wire1, &err), DMVF_OK);
        CHECK_EQ_INT(convert(DMVF_FORMAT_CSV, DMVF_FORMAT_RECORDS, back.p, back.len, &wire2, &err), DMVF_OK);
        CHECK_MSG(same(&wire1, &wire2), "JSON -> CSV -> records is not JSON -> records");
        CHECK(strstr((char *)back.p, ",\"'+/8=\",") != NULL);   /* bytes guarded as well */
        CHECK(strstr((char *)back.p, ",-2,") != NULL);          /* numbers never need it */
        buf_free(&wire1);
        buf_free(&wire2);
    }
    /* CSV to CSV: element groups numbered from 0 (gaps close on reading) */
    out.len = 0;
    CHECK_EQ_INT(csv_to(DMVF_FORMAT_CSV, "vehicles.3.plate,license.restrictions.1,vehicles.1.plate,vehicles.1.vin,"
                                         "vehicles.3.registered_address.city\nA,,,V,C\n", &out, &err), DMVF_OK);
    CHECK_EQ_STR((char *)out.p, "license.restrictions.0,vehicles.0.plate,vehicles.0.vin,"
                                "vehicles.0.registered_address.city,vehicles.1.plate,"
                                "vehicles.1.registered_address.city\n,,V,,A,C\n");
    /* ... and closed downward: a value of element k can land in any lower
     * element (here vehicles.1's plate, element 0 being empty, is the
     * record's vehicles[0].plate), so the output has a column for it */
    out.len = 0;
    CHECK_EQ_INT(csv_to(DMVF_FORMAT_CSV, "vehicles.0.plate_year,vehicles.1.plate\n,X\n1999,Y\n", &out, &err),
                 DMVF_OK);
    CHECK_EQ_STR((char *)out.p, "vehicles.0.plate,vehicles.0.plate_year,vehicles.1.plate\nX,,\n,1999,Y\n");
    /* more elements than column groups: an error, never a cut */
    out.len = 0;
    back.len = 0;
    CHECK_EQ_INT(csv_to(DMVF_FORMAT_RECORDS, "vehicles.0.plate,vehicles.1.plate,vehicles.2.plate,vehicles.3.plate,"
                                             "vehicles.4.plate\nA,B,C,D,E\n", &out, &err), DMVF_OK);
    {
        dmvf_codec_options o;
        memset(&o, 0, sizeof o);
        o.out = DMVF_FORMAT_CSV;
        o.column_options.elements = "vehicles=4";
        dmvf_codec *cc = dmvf_codec_create(NULL, &o, &err);
        CHECK(cc != NULL);
        if (cc) {
            CHECK_EQ_INT(run(cc, out.p, out.len, 0, 0, &back, &err), DMVF_ETOOBIG);
            CHECK_MSG(strstr(err.msg, "element 4 of 'vehicles'") != NULL, "%s", err.msg);
            dmvf_codec_free(cc);
        }
        o.column_options.elements = "vehicles=0";
        CHECK(dmvf_codec_create(NULL, &o, &err) == NULL && err.code == DMVF_EINVAL);
        o.column_options.elements = "person.family_name=2";
        CHECK(dmvf_codec_create(NULL, &o, &err) == NULL && err.code == DMVF_EINVAL);
        o.column_options.elements = "3,history=1";
        cc = dmvf_codec_create(NULL, &o, &err);
        CHECK(cc != NULL);
        dmvf_codec_free(cc);
    }
    buf_free(&out);
    buf_free(&back);
}

/* ---- stream errors: line, column, offset, record ---- */

typedef struct want {
    int code;
    unsigned line, column;
    uint64_t record;
    const char *text;     /* in the message */
} want;

static void stream_error(dmvf_format fmt, const char *in, want w, const char *what)
{
    dmvf_codec_options o;
    memset(&o, 0, sizeof o);
    o.in = fmt;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_codec *c = dmvf_codec_create(NULL, &o, &err);
    buf out = {0};
    int rc = run(c, in, strlen(in), 0, 0, &out, &err);
    char where[64] = "";
    if (w.line)             /* text input: the message says where */
        snprintf(where, sizeof where, w.column ? "line %u, column %u: " : "line %u: ", w.line, w.column);
    CHECK_MSG(rc == w.code && err.line == w.line && err.column == w.column && err.record == w.record &&
                  strncmp(err.msg, where, strlen(where)) == 0 && (!w.text || strstr(err.msg, w.text)),
              "%s: got %d line %u column %u record %lld '%s'; expected %d '%s' record %lld", what, rc, err.line,
              err.column, err.record == UINT64_MAX ? -1LL : (long long)err.record, err.msg, w.code, where,
              w.record == UINT64_MAX ? -1LL : (long long)w.record);
    /* the offset is the stream's, at that column */
    if (w.column) {
        size_t line_start = 0;
        unsigned l = 1;
        for (size_t i = 0; in[i] && l < w.line; i++)
            if (in[i] == '\n') {
                l++;
                line_start = i + 1;
            }
        CHECK_MSG(err.offset == line_start + w.column - 1, "%s: offset %llu, expected %zu", what,
                  (unsigned long long)err.offset, line_start + w.column - 1);
    }
    /* sticky */
    dmvf_in_buffer ib = {"", 0, 0};
    dmvf_out_buffer ob = {NULL, 0, 0};
    dmvf_error e2;
    CHECK_EQ_INT(dmvf_codec_stream(c, &ob, &ib, 1, &e2), DMVF_ESTATE);
    CHECK_EQ_INT(dmvf_codec_last_error(c, &e2), w.code);
    CHECK_EQ_STR(e2.msg, err.msg);
    dmvf_codec_free(c);
    buf_free(&out);
}

static void test_stream_errors(void)
{
    const char *ok = "{\"record_id\":\"a\"}\n";
    char in[512];
    snprintf(in, sizeof in, "%s%s{\"record_id\":\"c\",\"person\":{\"sex\":true}}\n", ok, ok);
    stream_error(DMVF_FORMAT_JSONL, in, (want){DMVF_EMALFORMED, 3, 34, 2, "person.sex"}, "JSON: wrong type");
    snprintf(in, sizeof in, "%s\n%s", ok, ok);
    stream_error(DMVF_FORMAT_JSONL, in, (want){DMVF_EMALFORMED, 2, 1, 1, "empty line"}, "JSON: an empty line");
    snprintf(in, sizeof in, "%s\r\n{\"x\":1,\"x\":2}", ok);
    stream_error(DMVF_FORMAT_JSONL, in, (want){DMVF_EMALFORMED, 2, 1, 1, NULL}, "JSON: CR LF, then an empty line");
    stream_error(DMVF_FORMAT_JSONL, "{\"record_id\":\"a\",\"record_id\":\"b\"}",
                 (want){DMVF_EMALFORMED, 1, 18, 0, "twice"}, "JSON: a duplicate key, no final LF");
    stream_error(DMVF_FORMAT_JSONL, "\xef\xbb\xbf{\"record_id\":1}\n", (want){DMVF_EMALFORMED, 1, 17, 0, NULL},
                 "JSON: after a byte order mark (its 3 bytes count as columns)");

    const char *hdr = "record_id,person.height_cm,person.sex\n";
    snprintf(in, sizeof in, "%sa,1,SEX_X\nb,x,SEX_X\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 3, 3, 1, "field 2 (person.height_cm)"},
                 "CSV: a number that is not one");
    snprintf(in, sizeof in, "%s\"a\nb\",1,SEX_X\nb,1,BOGUS\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 4, 5, 1, "person.sex"},
                 "CSV: after a quoted line break, an unknown enum name");
    snprintf(in, sizeof in, "%sa,1\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 3, 0, "2 fields"}, "CSV: too few cells");
    snprintf(in, sizeof in, "%sa,1,SEX_X,4\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 11, 0, "more than 3 fields"}, "CSV: too many cells");
    snprintf(in, sizeof in, "%sa\"b,1,SEX_X\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 2, 0, "quote inside"}, "CSV: a stray quote");
    snprintf(in, sizeof in, "%s\"a\"b,1,SEX_X\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 4, 0, "after a closing quote"},
                 "CSV: text after a closing quote");
    snprintf(in, sizeof in, "%sa\r,1,SEX_X\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 2, 0, "CR without LF"}, "CSV: a bare CR");
    snprintf(in, sizeof in, "%s\"a,1,SEX_X\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 2, 1, 0, "inside a quoted field"},
                 "CSV: the input ends inside quotes");
    snprintf(in, sizeof in, "%sa,1,SEX_X\n\n", hdr);
    stream_error(DMVF_FORMAT_CSV, in, (want){DMVF_EMALFORMED, 3, 1, 1, "1 fields"}, "CSV: an empty line");
    stream_error(DMVF_FORMAT_CSV, "record_id,record_id\n", (want){DMVF_EMALFORMED, 1, 0, UINT64_MAX, "twice"},
                 "CSV: a column named twice");
    stream_error(DMVF_FORMAT_CSV, "record_id,\"x\ny\"z\n", (want){DMVF_EMALFORMED, 2, 3, UINT64_MAX, NULL},
                 "CSV: a bad header");
    stream_error(DMVF_FORMAT_CSV, "person.organ_donor\nyes\n", (want){DMVF_EMALFORMED, 2, 1, 0, "true or false"},
                 "CSV: a bool");
    stream_error(DMVF_FORMAT_CSV, "photo.image\nA\n", (want){DMVF_EMALFORMED, 2, 1, 0, "base64"}, "CSV: base64");
    stream_error(DMVF_FORMAT_CSV, "record_id\na\xff\n", (want){DMVF_EMALFORMED, 2, 1, 0, "UTF-8"}, "CSV: UTF-8");
    stream_error(DMVF_FORMAT_CSV, "history.0.points\n2147483648\n", (want){DMVF_EMALFORMED, 2, 1, 0, "range"},
                 "CSV: int32 range");
    stream_error(DMVF_FORMAT_CSV, "history.0.points\n1.5\n", (want){DMVF_EMALFORMED, 2, 1, 0, "32-bit"},
                 "CSV: not integral");
    stream_error(DMVF_FORMAT_RECORDS, "\x05\x0a\x01", (want){DMVF_EMALFORMED, 0, 0, 0, NULL},
                 "records: cut short (no line)");
}

/* drop_malformed, the record size limit, refusals, the header */
static void test_stream_filter(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    dmvf_request police;
    memset(&police, 0, sizeof police);
    police.request_id = "fmt-police";
    police.ori = "NY0303000";
    police.agency_kind = DMVF_AGENCY_LOCAL;
    police.jurisdiction = "NY";
    police.purpose = 1;
    police.query_kind = DMVF_QUERY_BY_LICENSE;
    const dmvf_filter_options judged = {.as_of = 20250601}; /* the day requests are judged on */
    dmvf_error err;
    buf out = {0};

    /* dropped and counted as the filter counts protobuf records */
    dmvf_filter_options fo = {.drop_malformed = 1, .max_record_bytes = 200, .as_of = 20250601};
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &fo, &err);
    dmvf_codec_options o;
    memset(&o, 0, sizeof o);
    o.in = o.out = DMVF_FORMAT_JSONL;
    dmvf_codec *c = dmvf_codec_create(f, &o, &err);
    const char *in = "{\"person\":{\"family_name\":\"A\"}}\n{bad}\n{\"person\":{\"family_name\":\"B\"},\"x\":1}\n"
                     "{\"person\":{\"sex\":\"SEX_NONE\"}}\n";
    CHECK_EQ_INT(run(c, in, strlen(in), 0, 0, &out, &err), DMVF_OK);
    CHECK_EQ_STR((char *)out.p, "{\"person\":{\"family_name\":\"A\"}}\n{\"person\":{\"family_name\":\"B\"}}\n");
    uint64_t rin, rout, rdrop;
    dmvf_filter_counts(f, &rin, &rout, &rdrop);
    CHECK(rin == 4 && rout == 2 && rdrop == 2);
    CHECK_EQ_INT(dmvf_codec_unknown_count(c), 1);
    CHECK(dmvf_codec_unknown_paths(c) == 1 && strcmp(dmvf_codec_unknown(c, 0), "x") == 0);
    /* a line longer than the record limit: DMVF_ETOOBIG, not dropped, in one piece or many */
    char big[400];
    memset(big, 0, sizeof big);
    snprintf(big, sizeof big, "{\"record_id\":\"%0250d\"}\n", 7);
    for (size_t piece = 0; piece <= 64; piece += 64) {
        dmvf_filter_reset(f);
        dmvf_codec_reset(c, 0);
        out.len = 0;
        CHECK_EQ_INT(run(c, big, strlen(big), piece, 0, &out, &err), DMVF_ETOOBIG);
        CHECK(err.line == 1 && err.record == 0 && out.len == 0);
        CHECK_EQ_INT(dmvf_filter_last_error(f, NULL), DMVF_ETOOBIG);
    }
    dmvf_codec_free(c);
    dmvf_filter_free(f);

    /* the record limit (50): output held, then a refusal releases nothing */
    f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    o.in = DMVF_FORMAT_JSONL;
    o.out = DMVF_FORMAT_CSV;
    c = dmvf_codec_create(f, &o, &err);
    buf many = {0};
    for (int i = 0; i < 51; i++)
        buf_put(&many, "{\"record_id\":\"r\"}\n", 18);
    out.len = 0;
    CHECK_EQ_INT(run(c, many.p, many.len, 100, 7, &out, &err), DMVF_EREFUSED);
    CHECK_EQ_INT(out.len, 0);
    dmvf_filter_reset(f);
    dmvf_codec_reset(c, 0);
    out.len = 0;
    CHECK_EQ_INT(run(c, many.p, 50 * 18, 100, 7, &out, &err), DMVF_OK);
    CHECK(out.len > 0 && strncmp((char *)out.p, "record_id,person.family_name,", 29) == 0);
    /* with no record: just the header; omit_header: nothing */
    dmvf_filter_reset(f);
    dmvf_codec_reset(c, 0);
    out.len = 0;
    CHECK_EQ_INT(run(c, "", 0, 0, 0, &out, &err), DMVF_OK);
    CHECK(out.len > 0 && out.p[out.len - 1] == '\n' && memchr(out.p, '\n', out.len) == out.p + out.len - 1);
    dmvf_codec_free(c);
    o.omit_header = 1;
    c = dmvf_codec_create(f, &o, &err);
    out.len = 0;
    CHECK_EQ_INT(run(c, "", 0, 0, 0, &out, &err), DMVF_OK);
    CHECK_EQ_INT(out.len, 0);
    dmvf_codec_free(c);
    dmvf_filter_free(f);

    /* a refused request: DMVF_EREFUSED at once, nothing read or written */
    dmvf_request ice = police;
    static const char *const tags[] = {"immigration-enforcement"};
    ice.ori = "DCICE0100";
    ice.agency_kind = DMVF_AGENCY_FEDERAL;
    ice.jurisdiction = "DC";
    ice.tags = tags;
    ice.ntags = 1;
    f = dmvf_filter_create(pol, kr, &ice, &judged, &err);
    o.omit_header = 0;
    o.in = DMVF_FORMAT_CSV;
    o.out = DMVF_FORMAT_CSV;
    c = dmvf_codec_create(f, &o, &err);
    CHECK(c != NULL);
    if (c) {
        dmvf_in_buffer ib = {"record_id\nx\n", 12, 0};
        char w[64];
        dmvf_out_buffer ob = {w, sizeof w, 0};
        CHECK_EQ_INT(dmvf_codec_stream(c, &ob, &ib, 1, &err), DMVF_EREFUSED);
        CHECK(ib.pos == 0 && ob.pos == 0);
        dmvf_columns *none = NULL;
        CHECK_EQ_INT(dmvf_columns_for_filter(f, NULL, &none, &err), DMVF_EREFUSED);
        dmvf_codec_free(c);
    }
    dmvf_filter_free(f);
    /* not released, but read for its subjects: checked, nothing written */
    fo = (dmvf_filter_options){.collect_subjects = 1, .as_of = 20250601};
    f = dmvf_filter_create(pol, kr, &ice, &fo, &err);
    c = dmvf_codec_create(f, &o, &err);
    out.len = 0;
    CHECK_EQ_INT(run(c, "record_id\nS1\nS2\n", 16, 0, 0, &out, &err), DMVF_OK);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(dmvf_filter_subject_count(f), 2);
    dmvf_codec_reset(c, 0);
    CHECK_EQ_INT(run(c, "record_id\nS1,x\n", 15, 0, 0, &out, &err), DMVF_EMALFORMED);
    dmvf_codec_free(c);
    dmvf_filter_free(f);
    buf_free(&many);
    buf_free(&out);
}

/* ---- generated records ---- */

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

typedef struct set {
    buf pb, jsonl, csv;          /* the same records three ways */
    span *rec, *line, *row;      /* record i: delimited (prefix too), line, row */
    size_t n;
    size_t header;               /* the CSV header's bytes */
} set;

static size_t prefix_len(const uint8_t *p, size_t n, uint64_t *len)
{
    size_t pre;
    return dmvf_stream_prefix(p, n, len, &pre) == 1 ? pre : 0;
}

/* Cuts text into records with dmvf_text_boundary: n spans from start. */
static size_t cut(dmvf_format fmt, const buf *b, size_t start, span **out)
{
    size_t n = 0, cap = 64;
    *out = malloc(cap * sizeof **out);
    for (size_t pos = start; pos < b->len;) {
        size_t c;
        uint64_t lines;
        int r = dmvf_text_boundary(fmt, b->p + pos, b->len - pos, 0, DMVF_DEFAULT_MAX_RECORD_BYTES, &c, &lines);
        if (r != 1) {
            c = b->len - pos;    /* the last record, without its line break */
        }
        if (n == cap)
            *out = realloc(*out, (cap *= 2) * sizeof **out);
        (*out)[n++] = (span){b->p + pos, c};
        pos += c;
    }
    return n;
}

static int load_set(const char *name, const char *genargs, set *s)
{
    memset(s, 0, sizeof *s);
    static const char *const fmts[] = {"pb", "jsonl", "csv"};
    buf *bufs[] = {&s->pb, &s->jsonl, &s->csv};
    for (int i = 0; i < 3; i++) {
        char args[1024], path[400];
        snprintf(path, sizeof path, "%s/%s.%s", g_dir, name, fmts[i]);
        snprintf(args, sizeof args, "%s --format %s --out '%s'", genargs, fmts[i], path);
        if (run_gen(args) != 0)
            return -1;
        size_t n;
        uint8_t *d = slurp(path, &n);
        if (!d)
            return -1;
        buf_put(bufs[i], d, n);
        free(d);
    }
    size_t cap = 64;
    s->rec = malloc(cap * sizeof *s->rec);
    for (size_t pos = 0; pos < s->pb.len;) {
        uint64_t len;
        size_t pre = prefix_len(s->pb.p + pos, s->pb.len - pos, &len);
        if (!pre)
            return -1;
        if (s->n == cap)
            s->rec = realloc(s->rec, (cap *= 2) * sizeof *s->rec);
        s->rec[s->n++] = (span){s->pb.p + pos, pre + (size_t)len};
        pos += pre + (size_t)len;
    }
    span *hdr;
    size_t nh = cut(DMVF_FORMAT_CSV, &s->csv, 0, &hdr);
    s->header = nh ? hdr[0].n : 0;
    free(hdr);
    size_t nl = cut(DMVF_FORMAT_JSONL, &s->jsonl, 0, &s->line);
    size_t nr = cut(DMVF_FORMAT_CSV, &s->csv, s->header, &s->row);
    CHECK_EQ_INT(nl, s->n);
    CHECK_EQ_INT(nr, s->n);
    return nl == s->n && nr == s->n ? 0 : -1;
}

static void free_set(set *s)
{
    buf_free(&s->pb);
    buf_free(&s->jsonl);
    buf_free(&s->csv);
    free(s->rec);
    free(s->line);
    free(s->row);
}

/* The bytes of records [i, j) in one of the three forms. */
static void slice(const span *sp, size_t i, size_t j, const uint8_t **p, size_t *n)
{
    *p = sp[i].p;
    *n = (size_t)(sp[j - 1].p + sp[j - 1].n - sp[i].p);
}

static void test_round_trip(const set *s)
{
    buf out = {0};
    dmvf_error err;
    /* the text forms read as exactly the protobuf */
    CHECK_EQ_INT(convert(DMVF_FORMAT_JSONL, DMVF_FORMAT_RECORDS, s->jsonl.p, s->jsonl.len, &out, &err), DMVF_OK);
    CHECK_MSG(same(&out, &s->pb), "JSON Lines -> records is not dmvf-gen's protobuf");
    out.len = 0;
    CHECK_EQ_INT(convert(DMVF_FORMAT_CSV, DMVF_FORMAT_RECORDS, s->csv.p, s->csv.len, &out, &err), DMVF_OK);
    CHECK_MSG(same(&out, &s->pb), "CSV -> records is not dmvf-gen's protobuf");
    /* and the protobuf writes as exactly dmvf-gen's JSON Lines; CSV to CSV is the identity */
    out.len = 0;
    CHECK_EQ_INT(convert(DMVF_FORMAT_RECORDS, DMVF_FORMAT_JSONL, s->pb.p, s->pb.len, &out, &err), DMVF_OK);
    CHECK_MSG(same(&out, &s->jsonl), "records -> JSON Lines is not dmvf-gen's JSON Lines");
    out.len = 0;
    CHECK_EQ_INT(convert(DMVF_FORMAT_CSV, DMVF_FORMAT_CSV, s->csv.p, s->csv.len, &out, &err), DMVF_OK);
    CHECK_MSG(same(&out, &s->csv), "CSV -> CSV is not the identity");

    /* in pieces and small windows: the same bytes */
    static const size_t pieces[][2] = {{1, 1}, {7, 13}, {4096, 100}, {65536, 3}};
    const uint8_t *p;
    size_t n;
    for (int k = 0; k < 4; k++) {
        size_t upto = pieces[k][0] < 8 ? 20 : s->n;   /* byte by byte: the first records only */
        for (int fmt = DMVF_FORMAT_RECORDS; fmt <= DMVF_FORMAT_CSV; fmt++) {
            buf whole = {0}, split = {0};
            const buf *src = fmt == DMVF_FORMAT_RECORDS ? &s->pb : fmt == DMVF_FORMAT_JSONL ? &s->jsonl : &s->csv;
            const span *sp = fmt == DMVF_FORMAT_RECORDS ? s->rec : fmt == DMVF_FORMAT_JSONL ? s->line : s->row;
            slice(sp, 0, upto, &p, &n);
            n += (size_t)(p - src->p);
            p = src->p;                              /* the CSV header too */
            for (int to = DMVF_FORMAT_RECORDS; to <= DMVF_FORMAT_CSV; to++) {
                dmvf_codec_options o;
                memset(&o, 0, sizeof o);
                o.in = (dmvf_format)fmt;
                o.out = (dmvf_format)to;
                dmvf_codec *c = dmvf_codec_create(NULL, &o, &err);
                whole.len = split.len = 0;
                int r1 = run(c, p, n, 0, 0, &whole, &err);
                dmvf_codec_reset(c, 0);
                int r2 = run(c, p, n, pieces[k][0], pieces[k][1], &split, &err);
                CHECK_MSG(r1 == DMVF_OK && r2 == DMVF_OK && same(&whole, &split),
                          "%s -> %s in pieces of %zu, windows of %zu: %d %d, %zu vs %zu bytes",
                          dmvf_format_name((dmvf_format)fmt), dmvf_format_name((dmvf_format)to), pieces[k][0],
                          pieces[k][1], r1, r2, whole.len, split.len);
                dmvf_codec_free(c);
            }
            buf_free(&whole);
            buf_free(&split);
        }
    }
    buf_free(&out);
}

/* ---- cutting text between records (a parallel pipeline) ---- */

static void test_boundary(const set *s)
{
    size_t cut_at;
    uint64_t lines;
    /* CSV: a quoted line break is not a boundary */
    const char *csv = "a,b\n\"x\ny\",\"\"\"\n\"\nlast,row";
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_CSV, csv, strlen(csv), 0, 100, &cut_at, &lines), 1);
    CHECK(cut_at == 4 && lines == 1);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_CSV, csv, strlen(csv), 5, 100, &cut_at, &lines), 1);
    CHECK(cut_at == 16 && lines == 4);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_CSV, csv, strlen(csv), 18, 100, &cut_at, &lines), 0);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_CSV, csv + 4, strlen(csv) - 4, 0, 5, &cut_at, &lines), -1);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_CSV, "\"open\n\n\n", 9, 0, 4, &cut_at, &lines), -1);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_JSONL, "{}\r\n{}\n", 7, 1, 10, &cut_at, &lines), 1);
    CHECK(cut_at == 4 && lines == 1);
    CHECK_EQ_INT(dmvf_text_boundary(DMVF_FORMAT_RECORDS, "\x01x", 2, 0, 10, &cut_at, &lines), -1);

    /* pieces cut at boundaries, one codec each (as threads would), give the
     * bytes of one run, and an error in a late piece is where one run says */
    for (int fi = 0; fi < 2; fi++) {
        dmvf_format fmt = fi ? DMVF_FORMAT_CSV : DMVF_FORMAT_JSONL;
        const buf *src = fi ? &s->csv : &s->jsonl;
        buf bad = {0};
        buf_put(&bad, src->p, src->len);
        /* a broken record late in the input */
        uint8_t *x = (uint8_t *)strstr((char *)bad.p + bad.len * 3 / 4, fi ? ",SEX_" : "\"sex\":\"SEX_");
        CHECK(x != NULL);
        if (x)
            x[fi ? 1 : 7] = 'Z';
        for (int broken = 0; broken < 2; broken++) {
            const buf *in = broken ? &bad : src;
            dmvf_columns *hdr = NULL;
            size_t start = 0;
            dmvf_error err, whole_err;
            if (fi) {
                CHECK_EQ_INT(dmvf_text_boundary(fmt, in->p, in->len, 0, 1 << 20, &start, &lines), 1);
                CHECK_EQ_INT(dmvf_columns_parse(in->p, start, &hdr, &err), DMVF_OK);
            }
            buf whole = {0}, parts = {0};
            int rw = convert(fmt, DMVF_FORMAT_JSONL, in->p, in->len, &whole, &whole_err);
            uint64_t line = fi ? 2 : 1;
            int rp = DMVF_OK;
            for (size_t pos = start; pos < in->len && rp == DMVF_OK;) {
                size_t c;
                uint64_t nl;
                int r = dmvf_text_boundary(fmt, in->p + pos, in->len - pos, 10000, 1 << 20, &c, &nl);
                if (r != 1) {
                    c = in->len - pos;
                    nl = 0;
                }
                dmvf_codec_options o;
                memset(&o, 0, sizeof o);
                o.in = fmt;
                o.out = DMVF_FORMAT_JSONL;
                o.input_columns = hdr;
                o.first_line = line;
                dmvf_codec *cc = dmvf_codec_create(NULL, &o, &err);
                rp = run(cc, in->p + pos, c, 0, 0, &parts, &err);
                if (rp != DMVF_OK)
                    err.offset += pos;
                dmvf_codec_free(cc);
                pos += c;
                line += nl;
            }
            CHECK_EQ_INT(rp, rw);
            if (!broken) {
                CHECK_MSG(rw == DMVF_OK && same(&whole, &parts), "%s cut in pieces: other bytes",
                          dmvf_format_name(fmt));
            } else {
                CHECK_EQ_INT(rw, DMVF_EMALFORMED);
                CHECK_MSG(strcmp(err.msg, whole_err.msg) == 0 && err.offset == whole_err.offset &&
                              err.line == whole_err.line && err.column == whole_err.column,
                          "%s in pieces: '%s' at %llu, in one run '%s' at %llu", dmvf_format_name(fmt), err.msg,
                          (unsigned long long)err.offset, whole_err.msg, (unsigned long long)whole_err.offset);
                CHECK(strstr(whole_err.msg, "line ") == whole_err.msg && whole_err.line > s->n / 2);
            }
            dmvf_columns_free(hdr);
            buf_free(&whole);
            buf_free(&parts);
        }
        buf_free(&bad);
    }
}

/* ---- requesters (examples/policy.yaml) ---- */

typedef struct requester {
    const char *name;
    dmvf_request req;
    dmvf_filter_options fo;
    int marking;                 /* the rule releases marking */
} requester;

static const char *const imm_tags[] = {"immigration-enforcement"};

static size_t requesters(requester *r)
{
    memset(r, 0, 5 * sizeof *r);
    dmvf_request base;
    memset(&base, 0, sizeof base);
    base.request_id = "fmt";
    base.purpose = 1;
    base.query_kind = DMVF_QUERY_BY_LICENSE;
    r[0] = (requester){"in-state police", base, {0}, 0};
    r[0].req.ori = "NY0303000";
    r[0].req.agency_kind = DMVF_AGENCY_LOCAL;
    r[0].req.jurisdiction = "NY";
    r[1] = (requester){"immigration, with a warrant", base, {0}, 0};
    r[1].req.ori = "DCICE0100";
    r[1].req.agency_kind = DMVF_AGENCY_FEDERAL;
    r[1].req.jurisdiction = "DC";
    r[1].req.tags = imm_tags;
    r[1].req.ntags = 1;
    r[1].req.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    r[1].req.legal_reference = "1:25-mj-00042";
    r[2] = (requester){"researchers", base, {0}, 0};
    r[2].req.ori = "NYUNIV001";
    r[2].req.agency_kind = DMVF_AGENCY_RESEARCH;
    r[2].req.jurisdiction = "NY";
    r[2].req.purpose = 5;
    r[2].req.query_kind = DMVF_QUERY_LIST;
    r[3] = (requester){"foreign agency, held for review", base, {.hold_for_review = 1}, 0};
    r[3].req.ori = "CA0000001";
    r[3].req.agency_kind = DMVF_AGENCY_FOREIGN;
    r[4] = (requester){"dmv internal", base, {0}, 1};
    r[4].req.ori = "NYDMV0000";
    r[4].req.agency_kind = DMVF_AGENCY_INTERNAL;
    r[4].req.jurisdiction = "NY";
    for (size_t k = 0; k < 5; k++)
        r[k].fo.as_of = 20250601; /* the day requests are judged on */
    return 5;
}

/* One batch through a codec for a fresh request: status, output. */
static int through(const dmvf_policy *pol, const dmvf_keyring *kr, const requester *rq, dmvf_format in,
                   dmvf_format out, const dmvf_columns *in_cols, const dmvf_columns *out_cols, const uint8_t *p,
                   size_t n, buf *o, dmvf_error *err)
{
    dmvf_filter *f = dmvf_filter_create(pol, kr, &rq->req, &rq->fo, err);
    if (!f)
        return err->code;
    dmvf_codec_options co;
    memset(&co, 0, sizeof co);
    co.in = in;
    co.out = out;
    co.input_columns = in_cols;
    co.columns = out_cols;
    co.first_line = in_cols ? 2 : 0;
    dmvf_codec *c = dmvf_codec_create(f, &co, err);
    int rc = c ? run(c, p, n, 0, 0, o, err) : err->code;
    dmvf_codec_free(c);
    dmvf_filter_free(f);
    return rc;
}

/* The released records of batch [i, j) with dmvf_filter_stream (the reference). */
static int reference(const dmvf_policy *pol, const dmvf_keyring *kr, const requester *rq, const set *s, size_t i,
                     size_t j, buf *o, dmvf_error *err)
{
    dmvf_filter *f = dmvf_filter_create(pol, kr, &rq->req, &rq->fo, err);
    if (!f)
        return err->code;
    const uint8_t *p;
    size_t n;
    slice(s->rec, i, j, &p, &n);
    uint8_t w[65536];
    dmvf_in_buffer ib = {p, n, 0};
    int rc;
    do {
        dmvf_out_buffer ob = {w, sizeof w, 0};
        rc = dmvf_filter_stream(f, &ob, &ib, 1, err);
        buf_put(o, w, ob.pos);
    } while (rc == DMVF_ESPACE);
    dmvf_filter_free(f);
    return rc;
}

static void test_differential(const dmvf_policy *pol, const dmvf_keyring *kr, const set *s, buf *py_pb,
                              buf *py_json)
{
    requester rq[5];
    size_t nrq = requesters(rq);
    dmvf_columns *hdr = NULL;
    dmvf_error err;
    CHECK_EQ_INT(dmvf_columns_parse(s->csv.p, s->header, &hdr, &err), DMVF_OK);
    for (size_t k = 0; k < nrq; k++) {
        dmvf_filter *f = dmvf_filter_create(pol, kr, &rq[k].req, &rq[k].fo, &err);
        CHECK_MSG(f != NULL, "%s: %s", rq[k].name, f ? "" : err.msg);
        if (!f)
            continue;
        uint64_t limit = dmvf_filter_max_records(f);
        dmvf_columns *plan_cols = NULL, *rel_cols = NULL;
        dmvf_columns_options copt = {"4"};
        CHECK_EQ_INT(dmvf_columns_for_filter(f, &copt, &plan_cols, &err), DMVF_OK);
        CHECK_EQ_INT(dmvf_columns_released(hdr, f, &rel_cols, &err), DMVF_OK);
        dmvf_filter_free(f);
        size_t batch = limit ? (size_t)limit : s->n, bad = 0, batches = 0, nonempty = 0;
        buf ref = {0}, o = {0}, jref = {0}, cref = {0}, back = {0};
        for (size_t i = 0; i < s->n; i += batch) {
            size_t j = i + batch < s->n ? i + batch : s->n;
            const uint8_t *pp, *pj, *pc;
            size_t np, nj, nc;
            slice(s->rec, i, j, &pp, &np);
            slice(s->line, i, j, &pj, &nj);
            slice(s->row, i, j, &pc, &nc);
            ref.len = jref.len = cref.len = 0;
            int rr = reference(pol, kr, &rq[k], s, i, j, &ref, &err);
            CHECK_MSG(rr == DMVF_OK, "%s: reference: %s", rq[k].name, err.msg);
            nonempty += ref.len > 0;
            batches++;
            /* records out: the same bytes from each input */
            struct { dmvf_format in; const uint8_t *p; size_t n; const dmvf_columns *ic; } ins[] = {
                {DMVF_FORMAT_RECORDS, pp, np, NULL}, {DMVF_FORMAT_JSONL, pj, nj, NULL}, {DMVF_FORMAT_CSV, pc, nc, hdr},
            };
            for (int a = 0; a < 3; a++) {
                o.len = 0;
                int rc = through(pol, kr, &rq[k], ins[a].in, DMVF_FORMAT_RECORDS, ins[a].ic, NULL, ins[a].p, ins[a].n,
                                 &o, &err);
                if (rc != DMVF_OK || !same(&o, &ref)) {
                    if (bad++ < 3)
                        fprintf(stderr, "%s: records %zu..%zu from %s: %s (%s)\n", rq[k].name, i, j,
                                dmvf_format_name(ins[a].in), dmvf_strerror(rc), rc ? err.msg : "other bytes");
                }
                /* JSON out: the same lines from each input; and back to the same records */
                o.len = 0;
                rc = through(pol, kr, &rq[k], ins[a].in, DMVF_FORMAT_JSONL, ins[a].ic, NULL, ins[a].p, ins[a].n, &o,
                             &err);
                if (a == 0)
                    buf_put(&jref, o.p, o.len);
                if ((rc != DMVF_OK || !same(&o, &jref)) && bad++ < 3)
                    fprintf(stderr, "%s: JSON out from %s differs: %s\n", rq[k].name, dmvf_format_name(ins[a].in),
                            rc ? err.msg : "other bytes");
                /* CSV out with the plan's columns: the same rows from each input */
                o.len = 0;
                rc = through(pol, kr, &rq[k], ins[a].in, DMVF_FORMAT_CSV, ins[a].ic, plan_cols, ins[a].p, ins[a].n,
                             &o, &err);
                if (a == 0)
                    buf_put(&cref, o.p, o.len);
                if ((rc != DMVF_OK || !same(&o, &cref)) && bad++ < 3)
                    fprintf(stderr, "%s: CSV out from %s differs: %s\n", rq[k].name, dmvf_format_name(ins[a].in),
                            rc ? err.msg : "other bytes");
            }
            /* back: JSON and CSV releases read as the very released records */
            back.len = 0;
            CHECK_EQ_INT(convert(DMVF_FORMAT_JSONL, DMVF_FORMAT_RECORDS, jref.p, jref.len, &back, &err), DMVF_OK);
            bad += !same(&back, &ref);
            back.len = 0;
            CHECK_EQ_INT(convert(DMVF_FORMAT_CSV, DMVF_FORMAT_RECORDS, cref.p, cref.len, &back, &err), DMVF_OK);
            bad += !same(&back, &ref);
            /* CSV in, CSV out (the released columns of its header): the same records */
            o.len = 0;
            CHECK_EQ_INT(through(pol, kr, &rq[k], DMVF_FORMAT_CSV, DMVF_FORMAT_CSV, hdr, rel_cols, pc, nc, &o, &err),
                         DMVF_OK);
            back.len = 0;
            CHECK_EQ_INT(convert(DMVF_FORMAT_CSV, DMVF_FORMAT_RECORDS, o.p, o.len, &back, &err), DMVF_OK);
            bad += !same(&back, &ref);
            if (k == 0 && py_pb && i == 0) {
                buf_put(py_pb, ref.p, ref.len);
                buf_put(py_json, jref.p, jref.len);
            }
        }
        CHECK_MSG(bad == 0, "%s: %zu differences between the formats", rq[k].name, bad);
        CHECK_MSG(nonempty == batches, "%s: %zu of %zu batches released nothing", rq[k].name, batches - nonempty,
                  batches);
        printf("differential: %-32s %zu records in %zu batches: protobuf, JSON and CSV agree\n", rq[k].name, s->n,
               batches);
        dmvf_columns_free(plan_cols);
        dmvf_columns_free(rel_cols);
        buf_free(&ref);
        buf_free(&o);
        buf_free(&jref);
        buf_free(&cref);
        buf_free(&back);
    }
    dmvf_columns_free(hdr);
}

/* ---- twins ---- */

static void test_twins(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    requester rq[5];
    size_t nrq = requesters(rq);
    static const char *const fmts[] = {"jsonl", "csv"};
    for (int fi = 0; fi < 2; fi++) {
        dmvf_format fmt = fi ? DMVF_FORMAT_CSV : DMVF_FORMAT_JSONL;
        char pa[400], pb[400], args[1200];
        snprintf(pa, sizeof pa, "%s/twin.%s", g_dir, fmts[fi]);
        snprintf(pb, sizeof pb, "%s/twin2.%s", g_dir, fmts[fi]);
        snprintf(args, sizeof args, "--count 200 --seed 33 --marked 0.5 --format %s --out '%s' --twins '%s'", fmts[fi],
                 pa, pb);
        CHECK_EQ_INT(run_gen(args), 0);
        size_t na, nb;
        uint8_t *da = slurp(pa, &na), *db = slurp(pb, &nb);
        CHECK(da && db);
        if (!da || !db) {
            free(da);
            free(db);
            continue;
        }
        buf a = {0}, b = {0};
        buf_put(&a, da, na);
        buf_put(&b, db, nb);
        free(da);
        free(db);
        size_t skip = 0;
        dmvf_columns *hdr = NULL;
        if (fmt == DMVF_FORMAT_CSV) {
            span *h;
            cut(fmt, &a, 0, &h);
            skip = h[0].n;
            free(h);
            dmvf_error err;
            CHECK_EQ_INT(dmvf_columns_parse(a.p, skip, &hdr, &err), DMVF_OK);
        }
        span *ra, *rb;
        size_t n = cut(fmt, &a, skip, &ra), n2 = cut(fmt, &b, skip, &rb);
        CHECK_EQ_INT(n, 200);
        CHECK_EQ_INT(n2, 200);
        size_t in_differ = 0;
        for (size_t i = 0; i < n && i < n2; i++)
            in_differ += ra[i].n != rb[i].n || memcmp(ra[i].p, rb[i].p, ra[i].n) != 0;
        CHECK_MSG(in_differ > 150, "%s twins: only %zu of 200 pairs differ in input", fmts[fi], in_differ);
        for (size_t k = 0; k < nrq; k++) {
            size_t differ = 0, errors = 0;
            for (size_t i = 0; i < n && i < n2; i++) {
                /* each record its own request (the rules' record limits) */
                for (int to = DMVF_FORMAT_JSONL; to <= DMVF_FORMAT_CSV; to++) {
                    buf oa = {0}, ob = {0};
                    dmvf_error err;
                    int x = through(pol, kr, &rq[k], fmt, (dmvf_format)to, hdr, NULL, ra[i].p, ra[i].n, &oa, &err);
                    int y = through(pol, kr, &rq[k], fmt, (dmvf_format)to, hdr, NULL, rb[i].p, rb[i].n, &ob, &err);
                    errors += x != DMVF_OK || y != DMVF_OK;
                    differ += !same(&oa, &ob);
                    buf_free(&oa);
                    buf_free(&ob);
                }
            }
            CHECK_MSG(errors == 0, "%s twins, %s: %zu errors", fmts[fi], rq[k].name, errors);
            if (rq[k].marking)
                CHECK_MSG(differ > 0, "%s twins, %s: marking released, yet no output differs: the comparison is blind",
                          fmts[fi], rq[k].name);
            else
                CHECK_MSG(differ == 0, "%s twins, %s: %zu outputs differ", fmts[fi], rq[k].name, differ);
            printf("twins (%s in, JSON and CSV out): %-32s %zu outputs differ\n", fmts[fi], rq[k].name, differ);
        }
        dmvf_columns_free(hdr);
        free(ra);
        free(rb);
        buf_free(&a);
        buf_free(&b);
    }
}

/* ---- canary ---- */

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m && i + m <= n; i++)
        if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

/* 1 when plan releases path's values as they are (no transform). */
static int verbatim(const dmvf_plan *plan, const char *path)
{
    const dmvf_sfield *sf = dmvf__schema_find(path);
    if (!sf || !plan)
        return 0;
    const dmvf_sfield *chain[8];
    size_t d = 0;
    for (const dmvf_sfield *x = sf; x && d < 8; d++) {
        chain[d] = x;
        x = x->parent->path[0] ? dmvf__schema_find(x->parent->path) : NULL;
    }
    const dmvf_pnode *pn = plan->root;
    for (size_t i = d; i-- > 0;) {
        const dmvf_fplan *fp = &pn->f[chain[i]->number];
        if (i == 0)
            /* a normalized field leaves only as a value on its allow list:
             * a canary is on none (normalization does not run when the
             * plan releases marking) */
            return fp->action == DMVF_ACT_RELEASE && (!fp->norm || plan->marking_release);
        if (fp->action != DMVF_ACT_DESCEND)
            return 0;
        pn = fp->child;
    }
    return 0;
}

static void test_canary(const dmvf_policy *pol, const dmvf_keyring *kr)
{
    char pb[400], man[400], args[1000];
    snprintf(pb, sizeof pb, "%s/canary.pb", g_dir);
    snprintf(man, sizeof man, "%s/canary.manifest", g_dir);
    snprintf(args, sizeof args, "--canary --count 20 --seed 5 --out '%s' --manifest '%s'", pb, man);
    CHECK_EQ_INT(run_gen(args), 0);
    size_t n, mn;
    uint8_t *raw = slurp(pb, &n);
    char *mtext = (char *)slurp(man, &mn);
    CHECK(raw && mtext);
    if (!raw || !mtext) {
        free(raw);
        free(mtext);
        return;
    }
    /* canonical canary records: every known value kept, the unknown fields gone */
    static dmvf_fplan all = {.action = DMVF_ACT_RELEASE};
    const dmvf_fplan *leaf[256];
    for (size_t i = 0; i < dmvf__schema_npaths() && i < 256; i++)
        leaf[i] = &all;
    dmvf_plan *keep = dmvf__plan_build(leaf, 1);
    buf canon = {0};
    uint8_t w[1 << 16];
    for (size_t pos = 0; keep && pos < n;) {
        uint64_t len;
        size_t pre = prefix_len(raw + pos, n - pos, &len), olen;
        dmvf_error err;
        CHECK_EQ_INT(dmvf__rewrite(keep, NULL, raw + pos + pre, (size_t)len, w, sizeof w, &olen, &err), DMVF_OK);
        uint8_t p[10];
        size_t k = 0;
        for (uint64_t v = olen; ; v >>= 7) {
            p[k++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
            if (v < 0x80)
                break;
        }
        buf_put(&canon, p, k);
        buf_put(&canon, w, olen);
        pos += pre + (size_t)len;
    }
    dmvf__plan_free(keep);
    buf jl = {0}, csv = {0}, jx = {0}, cx = {0};
    dmvf_error err;
    CHECK_EQ_INT(convert(DMVF_FORMAT_RECORDS, DMVF_FORMAT_JSONL, canon.p, canon.len, &jl, &err), DMVF_OK);
    {
        dmvf_codec_options o;
        memset(&o, 0, sizeof o);
        o.out = DMVF_FORMAT_CSV;
        o.column_options.elements = "2";
        dmvf_codec *c = dmvf_codec_create(NULL, &o, &err);
        CHECK_EQ_INT(run(c, canon.p, canon.len, 0, 0, &csv, &err), DMVF_OK);
        dmvf_codec_free(c);
    }
    /* unknown keys and columns holding canaries of their own */
    size_t lines = 0;
    for (uint8_t *p = jl.p, *e = jl.p + jl.len; p < e; lines++) {
        uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
        uint8_t *pp = (uint8_t *)strstr((char *)p, "\"person\":{");
        char a[64], b[64];
        int an = snprintf(a, sizeof a, "{\"zz_unknown\":\"CNRYUNKJ%zuA\",", lines);
        int bn = snprintf(b, sizeof b, "\"favorite_color\":\"CNRYUNKJ%zuB\",", lines);
        buf_put(&jx, a, (size_t)an);
        buf_put(&jx, p + 1, (size_t)(pp + 10 - p - 1));
        buf_put(&jx, b, (size_t)bn);
        buf_put(&jx, pp + 10, (size_t)(nl - pp - 10) + 1);
        p = nl + 1;
    }
    lines = 0;
    for (uint8_t *p = csv.p, *e = csv.p + csv.len; p < e; lines++) {
        uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
        char x[80];
        int xn = lines ? snprintf(x, sizeof x, ",CNRYUNKC%zuA,CNRYUNKC%zuB", lines, lines)
                       : snprintf(x, sizeof x, ",zz_unknown,person.favorite_color");
        buf_put(&cx, p, (size_t)(nl - p));
        buf_put(&cx, x, (size_t)xn);
        buf_put(&cx, "\n", 1);
        p = nl + 1;
    }
    requester rq[5];
    size_t nrq = requesters(rq);
    for (size_t k = 0; k < nrq; k++) {
        dmvf_filter *f = dmvf_filter_create(pol, kr, &rq[k].req, &rq[k].fo, &err);
        if (!f)
            continue;
        dmvf_filter_free(f);
        struct { dmvf_format in, out; const buf *b; } runs[] = {
            {DMVF_FORMAT_JSONL, DMVF_FORMAT_JSONL, &jx}, {DMVF_FORMAT_JSONL, DMVF_FORMAT_CSV, &jx},
            {DMVF_FORMAT_CSV, DMVF_FORMAT_CSV, &cx}, {DMVF_FORMAT_CSV, DMVF_FORMAT_JSONL, &cx},
        };
        for (int r = 0; r < 4; r++) {
            /* one record a request: the record limits */
            span *recs;
            size_t skip = 0;
            dmvf_columns *hdr = NULL;
            if (runs[r].in == DMVF_FORMAT_CSV) {
                span *h;
                cut(DMVF_FORMAT_CSV, runs[r].b, 0, &h);
                skip = h[0].n;
                free(h);
                CHECK_EQ_INT(dmvf_columns_parse(runs[r].b->p, skip, &hdr, &err), DMVF_OK);
                CHECK_EQ_INT(dmvf_columns_unknown_count(hdr), 2);
            }
            size_t nr = cut(runs[r].in, runs[r].b, skip, &recs);
            buf out = {0};
            uint64_t unknown = 0;
            for (size_t i = 0; i < nr; i++) {
                dmvf_filter *g = dmvf_filter_create(pol, kr, &rq[k].req, &rq[k].fo, &err);
                dmvf_codec_options co;
                memset(&co, 0, sizeof co);
                co.in = runs[r].in;
                co.out = runs[r].out;
                co.input_columns = hdr;
                co.column_options.elements = "2";
                dmvf_codec *c = dmvf_codec_create(g, &co, &err);
                CHECK_EQ_INT(run(c, recs[i].p, recs[i].n, 0, 0, &out, &err), DMVF_OK);
                unknown += dmvf_codec_unknown_count(c);
                dmvf_codec_free(c);
                dmvf_filter_free(g);
            }
            if (runs[r].in == DMVF_FORMAT_JSONL)
                CHECK_EQ_INT(unknown, 2 * nr);
            /* search: verbatim paths must appear (so the search can fail), all others never */
            dmvf_filter *g = dmvf_filter_create(pol, kr, &rq[k].req, &rq[k].fo, &err);
            const dmvf_plan *plan = g ? dmvf__filter_plan(g) : NULL;
            size_t leaks = 0, seen = 0, expect = 0;
            for (char *line = mtext; *line;) {
                char *nl = strchr(line, '\n');
                char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
                if (!nl || !t1 || !t2 || t2 > nl)
                    break;
                char path[128], type[16], value[128];
                snprintf(path, sizeof path, "%.*s", (int)(t1 - line), line);
                snprintf(type, sizeof type, "%.*s", (int)(t2 - t1 - 1), t1 + 1);
                snprintf(value, sizeof value, "%.*s", (int)(nl - t2 - 1), t2 + 1);
                line = nl + 1;
                if (strcmp(type, "string") != 0 && strcmp(type, "bytes") != 0)
                    continue;    /* numbers, enums, bools are not unique as text */
                char b64[200];
                *dmvf__base64_encode(b64, (const uint8_t *)value, strlen(value)) = 0;
                int found = contains(out.p, out.len, value) || (strcmp(type, "bytes") == 0 &&
                                                                 contains(out.p, out.len, b64));
                if (!strstr(path, "unknown") && verbatim(plan, path)) {
                    expect++;
                    seen += found;
                } else if (found && leaks++ < 3) {
                    fprintf(stderr, "canary: %s, %s -> %s: %s (%s) is in the output\n", rq[k].name,
                            dmvf_format_name(runs[r].in), dmvf_format_name(runs[r].out), path, value);
                }
            }
            for (size_t i = 1; i <= nr; i++) {
                char u[40];
                for (int z = 0; z < 2; z++) {
                    snprintf(u, sizeof u, "CNRYUNK%c%zu%c", runs[r].in == DMVF_FORMAT_CSV ? 'C' : 'J',
                             runs[r].in == DMVF_FORMAT_CSV ? i : i - 1, z ? 'B' : 'A');
                    if (contains(out.p, out.len, u) && leaks++ < 3)
                        fprintf(stderr, "canary: %s: the unknown key's value %s is in the output\n", rq[k].name, u);
                }
            }
            CHECK_MSG(leaks == 0, "canary: %s, %s -> %s: %zu values that are not released are in the output",
                      rq[k].name, dmvf_format_name(runs[r].in), dmvf_format_name(runs[r].out), leaks);
            CHECK_MSG(seen == expect && (expect > 0 || !plan),
                      "canary: %s, %s -> %s: %zu of %zu released values found: the search is blind", rq[k].name,
                      dmvf_format_name(runs[r].in), dmvf_format_name(runs[r].out), seen, expect);
            dmvf_filter_free(g);
            dmvf_columns_free(hdr);
            free(recs);
            buf_free(&out);
        }
        printf("canary: %-32s JSON and CSV, in and out: nothing redacted or unknown written\n", rq[k].name);
    }
    buf_free(&canon);
    buf_free(&jl);
    buf_free(&csv);
    buf_free(&jx);
    buf_free(&cx);
    free(raw);
    free(mtext);
}

/* ---- protobuf's own JSON parser ---- */

static int write_file(const char *path, const buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(b->p ? (const void *)b->p : "", 1, b->len, f) == b->len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_protobuf_parser(const buf *pb, const buf *json)
{
    const char *py = getenv("DMVF_PYPROTO"), *python = getenv("DMVF_PYTHON"), *src = getenv("DMVF_SRC");
    CHECK_MSG(py && *py, "DMVF_PYPROTO is not set: protoc was not found at configure time, so the JSON output "
                         "cannot be checked with protobuf's own parser");
    CHECK_MSG(python && *python, "DMVF_PYTHON is not set: no python3 with google.protobuf was found at configure "
                                 "time (Debian: python3-protobuf)");
    if (!py || !*py || !python || !*python || !src)
        return;
    char a[400], b[400], c[400], cmd[2000];
    snprintf(a, sizeof a, "%s/py.pb", g_dir);
    snprintf(b, sizeof b, "%s/py.jsonl", g_dir);
    snprintf(c, sizeof c, "%s/py.protobuf.jsonl", g_dir);
    CHECK(write_file(a, pb) == 0 && write_file(b, json) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/format_protobuf.py' '%s' '%s' '%s' '%s'", python, src, py, a, b, c);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s failed (%d): the JSON output does not parse as protobuf says", cmd, rc);
    /* protobuf's own JSON printer's output (lowerCamelCase names) reads as the same records */
    size_t n;
    uint8_t *theirs = slurp(c, &n);
    CHECK(theirs != NULL);
    if (theirs) {
        buf out = {0};
        dmvf_error err;
        CHECK_EQ_INT(convert(DMVF_FORMAT_JSONL, DMVF_FORMAT_RECORDS, theirs, n, &out, &err), DMVF_OK);
        CHECK_MSG(same(&out, pb), "protobuf's MessageToJson output does not read back as the released records");
        buf_free(&out);
        free(theirs);
    }
}

int main(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 11 + 3);
    test_base64();
    test_csv_guard();
    test_json_units();
    test_json_errors();
    test_csv_units();
    test_stream_errors();

    dmvf_policy *pol;
    dmvf_keyring *kr;
    fixture_open("format", seed, 2, &pol, &kr);
    if (pol && kr) {
        test_stream_filter(pol, kr);
        set s;
        if (load_set("gen", "--count 300 --seed 21 --marked 0.3", &s) == 0) {
            test_round_trip(&s);
            test_boundary(&s);
            buf py_pb = {0}, py_json = {0};
            test_differential(pol, kr, &s, &py_pb, &py_json);
            test_protobuf_parser(&py_pb, &py_json);
            buf_free(&py_pb);
            buf_free(&py_json);
        } else {
            CHECK_MSG(0, "dmvf-gen records could not be made");
        }
        free_set(&s);
        test_twins(pol, kr);
        test_canary(pol, kr);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    CHECK_DONE();
}
