/*
 * formats.c - what the commands share for JSON Lines and CSV (format.h):
 * format names on the command line, a CSV header row, and the report of
 * what an input named that the schema does not know (dropped, never
 * released), on stderr and in the audit log's RELEASE entry.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"

int dmvf__cli_format_arg(const char *v, int framed_ok, dmvf_format *fmt, int *framed)
{
    if (framed_ok && strcmp(v, "framed") == 0) {
        *framed = 1;
        *fmt = DMVF_FORMAT_RECORDS;
        return 0;
    }
    if (dmvf_format_parse(v, fmt) != DMVF_OK)
        return -1;
    if (framed)
        *framed = 0;
    return 0;
}

int dmvf__cli_csv_header(const dmvf_columns *cols, unsigned char **buf, size_t *cap, size_t *len)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_codec_options o = {.in = DMVF_FORMAT_RECORDS, .out = DMVF_FORMAT_CSV, .columns = cols};
    dmvf_codec *c = dmvf_codec_create(NULL, &o, &err);
    if (!c) {
        dmvf__cli_err("output columns: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return dmvf__cli_exit_for(err.code);
    }
    *len = 0;
    int st;
    do {
        if (dmvf__cli_grow(buf, cap, *len + 4096) != 0) {
            st = DMVF_ENOMEM;
            break;
        }
        dmvf_out_buffer out = {*buf + *len, *cap - *len, 0};
        dmvf_in_buffer in = {"", 0, 0};
        st = dmvf_codec_stream(c, &out, &in, 1, &err);
        *len += out.pos;
    } while (st == DMVF_ESPACE);
    dmvf_codec_free(c);
    if (st != DMVF_OK) {
        dmvf__cli_err("output columns: %s", dmvf_strerror(st));
        return dmvf__cli_exit_for(st);
    }
    return 0;
}

void dmvf__cli_unknown_text(const dmvf_codec *u, dmvf_format fmt, char *buf, size_t cap)
{
    buf[0] = '\0';
    uint64_t n = u ? dmvf_codec_unknown_count(u) : 0;
    if (!n)
        return;
    const char *what = fmt == DMVF_FORMAT_CSV ? (n == 1 ? "column" : "columns")
                                              : (n == 1 ? "key" : "keys");
    int k = snprintf(buf, cap, "%llu unknown %s dropped, never released:", (unsigned long long)n, what);
    size_t np = dmvf_codec_unknown_paths(u);
    for (size_t i = 0; i < np && k > 0 && (size_t)k < cap; i++)
        k += snprintf(buf + k, cap - (size_t)k, "%s %s", i ? "," : "", dmvf_codec_unknown(u, i));
    if (k > 0 && (size_t)k >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}
