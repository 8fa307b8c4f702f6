/*
 * fmtbench.c - one request's records through a codec (dmvfilter/format.h):
 * records, JSON Lines or CSV in, any of them out, file to file, timed.
 *
 * The request is made as the CLI makes it (public API only: policy,
 * keyring, request, filter, codec); the input is read with read() in 1 MiB
 * chunks and the output written with write() from a 1 MiB buffer, so the
 * figures are the codec's and the filter's plus plain I/O. On stderr:
 *
 *   fmtbench: IN -> OUT: N records in, M out, B bytes in, O bytes out, S seconds
 *
 * --hot reads the whole input into memory first and times the stream loop
 * alone (output drained into a reused buffer). A second line gives the
 * loop's CPU time (CLOCK_PROCESS_CPUTIME_ID), steadier on a busy machine. --convert runs no filter
 * (format conversion only). --parse jansson|libcsv times a parse-only pass
 * of another parser over the same JSON Lines or CSV file (built when that
 * library was found), for the parser choice in bench/README.md.
 *
 * usage: fmtbench --policy P --keyring K --in F [--out F] [--from FMT] [--to FMT]
 *                 [--elements SPEC] [--hot] [--convert] --ori ORI --agency-kind KIND
 *                 [--jurisdiction J] [--purpose N] [--query-kind Q] [--date YYYY-MM-DD]
 *        fmtbench --parse jansson|libcsv --in F
 * Exit: 0, 3 refused, 64 usage, 65 bad input, 66 no input, 74 I/O, 78 policy, 79 keyring.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#ifdef DMVF_BENCH_JANSSON
#include <jansson.h>
#endif
#ifdef DMVF_BENCH_LIBCSV
#include <csv.h>
#endif

#define CHUNK ((size_t)1 << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *why)
{
    fprintf(stderr, "fmtbench: %s\n"
            "usage: fmtbench --policy P --keyring K --in F [--out F] [--from FMT] [--to FMT]\n"
            "                [--elements SPEC] [--hot] [--convert] --ori ORI --agency-kind KIND\n"
            "                [--jurisdiction J] [--purpose N] [--query-kind Q] [--date YYYY-MM-DD]\n"
            "       fmtbench --parse jansson|libcsv --in F\n", why);
    return EX_USAGE;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = CHUNK, len = 0, got;
    uint8_t *p = malloc(cap);
    while (p && (got = fread(p + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *np = realloc(p, cap *= 2);
            if (!np) {
                free(p);
                p = NULL;
            }
            p = np;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

/* ---- other parsers, parse only ---- */

#ifdef DMVF_BENCH_LIBCSV
static void csv_cb1(void *s, size_t n, void *d) { (void)s; (void)n; ++*(size_t *)d; }
static void csv_cb2(int c, void *d) { (void)c; (void)d; }
static int csv_nospace(unsigned char c) { (void)c; return 0; }
#endif

static int parse_only(const char *which, const char *path)
{
    size_t n;
    uint8_t *buf = slurp(path, &n);
    if (!buf) {
        fprintf(stderr, "fmtbench: cannot read %s\n", path);
        return EX_NOINPUT;
    }
    double t0 = now(), c0 = cpu_now();
    size_t records = 0;
    int rc = EX_USAGE;
#ifdef DMVF_BENCH_JANSSON
    if (strcmp(which, "jansson") == 0) {
        rc = 0;
        for (uint8_t *p = buf, *end = buf + n; p < end;) {
            uint8_t *q = memchr(p, '\n', (size_t)(end - p));
            if (!q)
                q = end;
            json_error_t je;
            json_t *j = json_loadb((const char *)p, (size_t)(q - p), JSON_REJECT_DUPLICATES, &je);
            if (!j) {
                fprintf(stderr, "fmtbench: jansson: line %zu: %s\n", records + 1, je.text);
                rc = EX_DATAERR;
                break;
            }
            json_decref(j);
            records++;
            p = q + 1;
        }
    }
#endif
#ifdef DMVF_BENCH_LIBCSV
    if (strcmp(which, "libcsv") == 0) {
        struct csv_parser cp;
        size_t cells = 0;
        rc = 0;
        csv_init(&cp, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL);
        csv_set_space_func(&cp, csv_nospace);
        for (size_t off = 0; off < n;) {
            size_t k = n - off < CHUNK ? n - off : CHUNK;
            if (csv_parse(&cp, buf + off, k, csv_cb1, csv_cb2, &cells) != k) {
                fprintf(stderr, "fmtbench: libcsv: %s\n", csv_strerror(csv_error(&cp)));
                rc = EX_DATAERR;
                break;
            }
            off += k;
        }
        csv_fini(&cp, csv_cb1, csv_cb2, &cells);
        csv_free(&cp);
        for (uint8_t *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
            records++;
    }
#endif
    double t = now() - t0, ct = cpu_now() - c0;
    if (rc == EX_USAGE)
        fprintf(stderr, "fmtbench: --parse %s: not built (library not found at configure time)\n", which);
    else if (rc == 0)
        fprintf(stderr, "fmtbench: parse %s: %zu records, %zu bytes in, %.3f seconds\n"
                "fmtbench: cpu %.3f seconds for the loop\n", which, records, n, t, ct);
    free(buf);
    return rc;
}

/* YYYY-MM-DD or YYYYMMDD as YYYYMMDD (the day requests are judged on, as
 * `dmvfilter filter --date` sets it); 0 when it is neither */
static uint32_t parse_day(const char *v)
{
    unsigned y, m, d;
    char end;
    if (sscanf(v, "%4u-%2u-%2u%c", &y, &m, &d, &end) == 3)
        return y * 10000 + m * 100 + d;
    return (uint32_t)strtoul(v, NULL, 10);
}

/* ---- the codec run ---- */

int main(int argc, char **argv)
{
    const char *policy = NULL, *keyring = NULL, *in = NULL, *out = NULL, *elements = NULL;
    const char *parse = NULL, *tags[8];
    dmvf_format from = DMVF_FORMAT_RECORDS, to = DMVF_FORMAT_RECORDS;
    int hot = 0, convert = 0;
    size_t ntags = 0;
    uint32_t as_of = 0;
    dmvf_request req;
    memset(&req, 0, sizeof req);
    req.request_id = "fmtbench";
    req.purpose = 1;
    req.query_kind = DMVF_QUERY_BY_LICENSE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--hot") == 0) { hot = 1; continue; }
        if (strcmp(a, "--convert") == 0) { convert = 1; continue; }
        if (!v)
            return usage("an option lacks its value");
        i++;
        if (strcmp(a, "--policy") == 0) policy = v;
        else if (strcmp(a, "--keyring") == 0) keyring = v;
        else if (strcmp(a, "--in") == 0) in = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--elements") == 0) elements = v;
        else if (strcmp(a, "--parse") == 0) parse = v;
        else if (strcmp(a, "--from") == 0) { if (dmvf_format_parse(v, &from)) return usage("bad --from"); }
        else if (strcmp(a, "--to") == 0) { if (dmvf_format_parse(v, &to)) return usage("bad --to"); }
        else if (strcmp(a, "--ori") == 0) req.ori = v;
        else if (strcmp(a, "--agency-kind") == 0) { if (dmvf_agency_kind_parse(v, &req.agency_kind)) return usage("bad --agency-kind"); }
        else if (strcmp(a, "--jurisdiction") == 0) req.jurisdiction = v;
        else if (strcmp(a, "--purpose") == 0) req.purpose = (unsigned)atoi(v);
        else if (strcmp(a, "--query-kind") == 0) { if (dmvf_query_kind_parse(v, &req.query_kind)) return usage("bad --query-kind"); }
        else if (strcmp(a, "--date") == 0) as_of = parse_day(v);
        else if (strcmp(a, "--tag") == 0) { if (ntags < 8) tags[ntags++] = v; }
        else return usage("unknown option");
    }
    if (!in)
        return usage("--in is required");
    if (parse)
        return parse_only(parse, in);
    if (!convert && (!policy || !keyring || !req.ori))
        return usage("--policy, --keyring and --ori are required (or --convert)");
    req.tags = ntags ? tags : NULL;
    req.ntags = ntags;

    dmvf_error err;
    dmvf_policy *pol = NULL;
    dmvf_keyring *kr = NULL;
    dmvf_filter *f = NULL;
    if (!convert) {
        if (!(pol = dmvf_policy_load_file(policy, &err))) {
            fprintf(stderr, "fmtbench: %s\n", err.msg);
            return 78;
        }
        if (!(kr = dmvf_keyring_load(keyring, NULL, &err))) {
            fprintf(stderr, "fmtbench: %s\n", err.msg);
            return 79;
        }
        dmvf_filter_options fo;
        memset(&fo, 0, sizeof fo);
        fo.as_of = as_of;
        if (!(f = dmvf_filter_create(pol, kr, &req, &fo, &err))) {
            fprintf(stderr, "fmtbench: request: %s\n", err.msg);
            return EX_DATAERR;
        }
    }
    dmvf_codec_options co;
    memset(&co, 0, sizeof co);
    co.in = from;
    co.out = to;
    co.column_options.elements = elements;
    dmvf_codec *c = dmvf_codec_create(f, &co, &err);
    if (!c) {
        fprintf(stderr, "fmtbench: codec: %s\n", err.msg);
        return EX_DATAERR;
    }

    int ifd = -1, ofd = -1, rc = 0;
    uint8_t *all = NULL, *ibuf = malloc(CHUNK), *obuf = malloc(CHUNK);
    size_t all_n = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    if (!ibuf || !obuf)
        return EX_OSERR;
    if (hot) {
        if (!(all = slurp(in, &all_n))) {
            fprintf(stderr, "fmtbench: cannot read %s\n", in);
            return EX_NOINPUT;
        }
    } else if ((ifd = open(in, O_RDONLY)) < 0) {
        fprintf(stderr, "fmtbench: cannot open %s: %s\n", in, strerror(errno));
        return EX_NOINPUT;
    }
    if (out && !hot && (ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
        fprintf(stderr, "fmtbench: cannot create %s: %s\n", out, strerror(errno));
        return 73;
    }
    double t0 = now(), c0 = cpu_now();
    for (int eof = 0; !eof && !rc;) {
        dmvf_in_buffer ib;
        if (hot) {
            ib = (dmvf_in_buffer){all, all_n, 0};
            eof = 1;
        } else {
            ssize_t got = read(ifd, ibuf, CHUNK);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                fprintf(stderr, "fmtbench: read: %s\n", strerror(errno));
                rc = EX_IOERR;
                break;
            }
            eof = got == 0;
            ib = (dmvf_in_buffer){ibuf, (size_t)got, 0};
        }
        bytes_in += ib.size;
        for (;;) {
            dmvf_out_buffer ob = {obuf, CHUNK, 0};
            int st = dmvf_codec_stream(c, &ob, &ib, eof, &err);
            bytes_out += ob.pos;
            if (ob.pos && ofd >= 0 && write_all(ofd, obuf, ob.pos) != 0) {
                fprintf(stderr, "fmtbench: write: %s\n", strerror(errno));
                rc = EX_IOERR;
                break;
            }
            if (st == DMVF_ESPACE)
                continue;
            if (st == DMVF_EREFUSED) {
                fprintf(stderr, "fmtbench: refused: %s\n", err.msg);
                rc = 3;
            } else if (st != DMVF_OK) {
                fprintf(stderr, "fmtbench: %s (record %lld, offset %llu): %s\n", dmvf_strerror(st),
                        err.record == UINT64_MAX ? -1LL : (long long)err.record,
                        (unsigned long long)err.offset, err.msg);
                rc = EX_DATAERR;
            }
            break;
        }
    }
    double t = now() - t0, ct = cpu_now() - c0;
    uint64_t rin = 0, rout = 0, rdrop = 0;
    if (f)
        dmvf_filter_counts(f, &rin, &rout, &rdrop);
    fprintf(stderr, "fmtbench: %s -> %s: %llu records in, %llu out, %llu bytes in, %llu bytes out, %.3f seconds\n",
            dmvf_format_name(from), dmvf_format_name(to), (unsigned long long)rin, (unsigned long long)rout,
            (unsigned long long)bytes_in, (unsigned long long)bytes_out, t);
    fprintf(stderr, "fmtbench: cpu %.3f seconds for the loop\n", ct);
    if (dmvf_codec_unknown_count(c)) {
        fprintf(stderr, "fmtbench: %llu unknown keys or columns dropped:",
                (unsigned long long)dmvf_codec_unknown_count(c));
        for (size_t i = 0; i < dmvf_codec_unknown_paths(c); i++)
            fprintf(stderr, " %s", dmvf_codec_unknown(c, i));
        fputc('\n', stderr);
    }
    if (ofd >= 0 && close(ofd) != 0)
        rc = EX_IOERR;
    if (ifd >= 0)
        close(ifd);
    free(all);
    free(ibuf);
    free(obuf);
    dmvf_codec_free(c);
    dmvf_filter_free(f);
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    return rc;
}
