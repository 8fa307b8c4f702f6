/*
 * copylimit.c - the copy limit: reads a varint-delimited stream and writes
 * every frame unchanged, through the same I/O as `dmvfilter filter` (bio.h:
 * 1 MiB reads, gzip detection, 1 MiB output buffer, temp file + fsync +
 * rename, --gzip output at level 6). It is what the CLI would cost if
 * filtering a record were free: the framing and the bytes, nothing else.
 *
 * usage: copylimit [--in F] [--out F] [--gzip] [--quiet]
 * Prints "copylimit: N frames, B bytes in, B bytes out" on stderr unless
 * --quiet. Exit: 0, 64 usage, 65 bad input, 66 no input, 71 memory,
 * 73 cannot create, 74 I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include "bench/bio.h"

#define MAX_FRAME ((size_t)16 << 20)   /* the CLI's default --max-record-bytes */

static int usage(void)
{
    fputs("usage: copylimit [--in F] [--out F] [--gzip] [--quiet]\n", stderr);
    return EX_USAGE;
}

int main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int gzip = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--in") == 0 && i + 1 < argc)
            in = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--gzip") == 0)
            gzip = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else
            return usage();
    }

    dmvf_bio_src src;
    dmvf_bio_sink sink;
    memset(&sink, 0, sizeof sink);
    sink.fd = -1;
    int rc = dmvf__bio_src_open(&src, in, MAX_FRAME);
    if (!rc)
        rc = dmvf__bio_sink_open(&sink, out, gzip);
    while (!rc) {
        const uint8_t *frame, *payload;
        size_t flen, len;
        int r = dmvf__bio_next(&src, &frame, &flen, &payload, &len);
        if (r == 0)
            break;
        if (r != 1) {
            rc = r;
            break;
        }
        uint8_t *dst = dmvf__bio_reserve(&sink, flen, &rc);
        if (!dst)
            break;
        memcpy(dst, frame, flen);
        dmvf__bio_commit(&sink, flen);
    }
    if (!rc)
        rc = dmvf__bio_sink_close(&sink);
    else
        dmvf__bio_sink_abort(&sink);
    if (!rc && !quiet)
        fprintf(stderr, "copylimit: %llu frames, %llu bytes in, %llu bytes out\n",
                (unsigned long long)src.frames, (unsigned long long)src.offset,
                (unsigned long long)sink.payload);
    dmvf__bio_src_close(&src);
    return rc;
}
