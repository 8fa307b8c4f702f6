/*
 * notices_json.c - one line of the notice queue parsed: the JSON family
 * the queue is written in, and nothing more.
 *
 *   line   := ws object ws
 *   object := '{' ws [ member ( ws ',' ws member )* ] ws '}'
 *   member := string ws ':' ws ( string | number | array )
 *   array  := '[' ws [ string ( ws ',' ws string )* ] ws ']'
 *   number := '0' | [1-9][0-9]*           at most 19 digits
 *   string := '"' ( UTF-8 but '"' '\' and bytes < 0x20
 *                 | '\' ( '"' '\' '/' b f n r t | u XXXX ) )* '"'
 *             (a \u escape of a surrogate must be a high one followed by a
 *             low one)
 *   ws     := ( ' ' | '\t' | '\r' )*
 *
 * The keys notices_json_int.h names are kept (decoded); they must be
 * strings, but tags (an array) and purpose (a number). Unknown keys of
 * any of the three kinds are skipped (for later versions). Anything else
 * (nesting, true/false/null, floats, raw control bytes, invalid UTF-8 or
 * escapes, a kept key given twice, trailing bytes) fails, naming the byte.
 */
#include <stddef.h>
#include <string.h>
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/account/notices_json_int.h"

static const struct {
    const char *key;
    size_t off;
} str_keys[] = {
    {"type", offsetof(dmvf__nfields, type)},
    {"id", offsetof(dmvf__nfields, id)},
    {"subject", offsetof(dmvf__nfields, subject)},
    {"request_id", offsetof(dmvf__nfields, request_id)},
    {"ori", offsetof(dmvf__nfields, ori)},
    {"agency", offsetof(dmvf__nfields, agency)},
    {"agency_kind", offsetof(dmvf__nfields, agency_kind)},
    {"legal_process", offsetof(dmvf__nfields, legal_process)},
    {"legal_reference", offsetof(dmvf__nfields, legal_reference)},
    {"decision", offsetof(dmvf__nfields, decision)},
    {"date", offsetof(dmvf__nfields, date)},
    {"due", offsetof(dmvf__nfields, due)},
    {"actor", offsetof(dmvf__nfields, actor)},
};

static void skip_ws(dmvf__jparser *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r'))
        j->i++;
}

static int fail(dmvf__jparser *j, const char *why)
{
    j->why = why;
    return -1;
}

static int hex4(dmvf__jparser *j, unsigned *v)
{
    if (j->n - j->i < 4)
        return fail(j, "truncated \\u escape");
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        int d = dmvf__hex_digit(j->s[j->i++], 0);
        if (d < 0)
            return fail(j, "bad hex digit in a \\u escape");
        x = x * 16 + (unsigned)d;
    }
    *v = x;
    return 0;
}

/* A string at j->i (which is '"'); decoded into the scratch. The decoded
 * bytes plus NUL never outnumber the raw bytes with both quotes, so a
 * scratch as long as the line always suffices. */
static int parse_string(dmvf__jparser *j, dmvf__jstr *out)
{
    if (j->i >= j->n || j->s[j->i] != '"')
        return fail(j, "expected a string");
    j->i++;
    char *o = j->out + j->olen;
    size_t k = 0;
    for (;;) {
        if (j->i >= j->n)
            return fail(j, "unterminated string");
        unsigned c = j->s[j->i];
        if (c == '"') {
            j->i++;
            break;
        }
        if (c < 0x20)
            return fail(j, "raw control byte in a string");
        if (c == '\\') {
            if (++j->i >= j->n)
                return fail(j, "unterminated escape");
            unsigned e = j->s[j->i++];
            switch (e) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u': {
                unsigned u;
                if (hex4(j, &u))
                    return -1;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return fail(j, "lone low surrogate in a \\u escape");
                if (u >= 0xd800 && u <= 0xdbff) {
                    unsigned lo;
                    if (j->n - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
                        return fail(j, "high surrogate without a low one");
                    j->i += 2;
                    if (hex4(j, &lo))
                        return -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail(j, "high surrogate without a low one");
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (u < 0x80) {
                    o[k++] = (char)u;
                } else if (u < 0x800) {
                    o[k++] = (char)(0xc0 | (u >> 6));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                } else if (u < 0x10000) {
                    o[k++] = (char)(0xe0 | (u >> 12));
                    o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                } else {
                    o[k++] = (char)(0xf0 | (u >> 18));
                    o[k++] = (char)(0x80 | ((u >> 12) & 0x3f));
                    o[k++] = (char)(0x80 | ((u >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (u & 0x3f));
                }
                break;
            }
            default:
                return fail(j, "unknown escape in a string");
            }
            continue;
        }
        size_t q = dmvf__utf8_seq(j->s + j->i, j->n - j->i);
        if (!q)
            return fail(j, "invalid UTF-8 in a string");
        memcpy(o + k, j->s + j->i, q);
        k += q;
        j->i += q;
    }
    o[k] = '\0';
    out->p = o;
    out->n = k;
    out->set = 1;
    j->olen += k + 1;
    return 0;
}

static int parse_number(dmvf__jparser *j)
{
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    size_t len = j->i - start;
    if (len == 0)
        return fail(j, "expected a string, a number or an array of strings");
    if (len > 1 && j->s[start] == '0')
        return fail(j, "number with a leading zero");
    if (len > 19)
        return fail(j, "number too long");
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return fail(j, "only whole numbers are expected");
    return 0;
}

static int parse_array(dmvf__jparser *j)
{
    j->i++;   /* '[' */
    skip_ws(j);
    if (j->i < j->n && j->s[j->i] == ']') {
        j->i++;
        return 0;
    }
    for (;;) {
        dmvf__jstr tmp;
        skip_ws(j);
        size_t mark = j->olen;
        if (parse_string(j, &tmp))
            return j->why && strcmp(j->why, "expected a string") == 0
                       ? fail(j, "arrays hold strings only") : -1;
        j->olen = mark;   /* array elements are not kept */
        skip_ws(j);
        if (j->i >= j->n)
            return fail(j, "unterminated array");
        if (j->s[j->i] == ']') {
            j->i++;
            return 0;
        }
        if (j->s[j->i] != ',')
            return fail(j, "expected ',' or ']' in an array");
        j->i++;
    }
}

int dmvf__notice_line_parse(dmvf__jparser *j, dmvf__nfields *nf)
{
    memset(nf, 0, sizeof *nf);
    skip_ws(j);
    if (j->i >= j->n || j->s[j->i] != '{')
        return fail(j, "a line must be one JSON object");
    j->i++;
    skip_ws(j);
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
    } else {
        for (;;) {
            skip_ws(j);
            dmvf__jstr key;
            size_t mark = j->olen;
            if (parse_string(j, &key))
                return j->why && strcmp(j->why, "expected a string") == 0
                           ? fail(j, "expected a key (a string)") : -1;
            skip_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return fail(j, "expected ':' after a key");
            j->i++;
            skip_ws(j);
            if (j->i >= j->n)
                return fail(j, "missing value");
            dmvf__jstr *slot = NULL;
            for (size_t k = 0; k < sizeof str_keys / sizeof str_keys[0]; k++)
                if (key.n == strlen(str_keys[k].key) && memcmp(key.p, str_keys[k].key, key.n) == 0)
                    slot = (dmvf__jstr *)((char *)nf + str_keys[k].off);
            int is_tags = key.n == 4 && memcmp(key.p, "tags", 4) == 0;
            int is_purpose = key.n == 7 && memcmp(key.p, "purpose", 7) == 0;
            j->olen = mark;   /* the key is not kept */
            unsigned c = j->s[j->i];
            if (slot) {
                if (slot->set)
                    return fail(j, "a key appears twice");
                if (c != '"')
                    return fail(j, "this key's value must be a string");
                if (parse_string(j, slot))
                    return -1;
            } else if (is_tags) {
                if (nf->have_tags)
                    return fail(j, "a key appears twice");
                if (c != '[')
                    return fail(j, "tags must be an array of strings");
                nf->have_tags = 1;
                if (parse_array(j))
                    return -1;
            } else if (is_purpose) {
                if (nf->have_purpose)
                    return fail(j, "a key appears twice");
                nf->have_purpose = 1;
                if (parse_number(j))
                    return -1;
            } else if (c == '"') {
                dmvf__jstr tmp;
                size_t m2 = j->olen;
                if (parse_string(j, &tmp))
                    return -1;
                j->olen = m2;
            } else if (c == '[') {
                if (parse_array(j))
                    return -1;
            } else if (parse_number(j)) {
                return -1;
            }
            skip_ws(j);
            if (j->i >= j->n)
                return fail(j, "unterminated object");
            if (j->s[j->i] == '}') {
                j->i++;
                break;
            }
            if (j->s[j->i] != ',')
                return fail(j, "expected ',' or '}' in an object");
            j->i++;
        }
    }
    skip_ws(j);
    if (j->i != j->n)
        return fail(j, "bytes after the object");
    return 0;
}

int dmvf__notice_id_parse(const char *s, size_t n, uint64_t *v)
{
    return n == 16 ? dmvf__hex_u64(s, n, 0, v) : -1;
}
