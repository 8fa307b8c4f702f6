/*
 * gzread.h - the command line's compressed input path, mirrored for
 * fuzzing.
 *
 * dmvfilter reads its input through filter/cli/io.c: gzip (1f 8b) and zstd
 * (28 b5 2f fd) are detected by their magic bytes at the start and decoded
 * member after member by filter/cli/compress.c (ISA-L or zlib for gzip,
 * libzstd). gzread.c is a copy of io.c's loop (dmvf__cli_src_open,
 * comp_read, dmvf__cli_src_read) over the same decoders, reading from
 * memory instead of a file descriptor, with short reads of random size
 * when asked, as a pipe gives them. It and compress.c are compiled with
 * coverage instrumentation (checks.c is not), so that the gzip target's
 * feedback and figures include the loop and the decoders.
 *
 * test_fuzz_regressions runs the real `dmvfilter filter` on every gzip
 * input and checks that it agrees with this copy: when io.c changes, that
 * test says so, and this file is brought in line.
 */
#ifndef DMVF_FUZZ_GZREAD_H
#define DMVF_FUZZ_GZREAD_H

#include <stddef.h>
#include <stdint.h>
#include "filter/cli/compress.h"

/* A piece size in 1..max drawn from *rng (checks.c). */
size_t dmvf__fuzz_piece(uint64_t *rng, size_t max);

/* Reads all of data[0..n) through the mirrored input path, as the command
 * line hands it to the stream processor: inflated when it starts with the
 * gzip magic, as it is otherwise. rng NULL: reads and output chunks as large
 * as the command line's; else short pieces drawn from it. max_inflate is
 * the command line's --max-inflate (0: its default rule, cli.h). The bytes
 * go to *out (malloc'd, NULL when none; free it), *out_len. Returns
 * DMVF_OK, DMVF_EGZIP (corrupt or truncated: msg says what and at which
 * compressed byte offset), DMVF_ETOOBIG (inflates past the limit),
 * DMVF_ENOMEM, or DMVF_ESTATE when the reader stops making progress (a bug
 * in the loop). gzip goes through the command line's default engine
 * (dmvf__cz_engine: DMVFILTER_GZIP). */
int dmvf__fuzz_gunzip(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                      uint8_t **out, size_t *out_len, char *msg, size_t msgcap);
/* The same with the gzip engine given. */
int dmvf__fuzz_gunzip_with(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                           dmvf_cz_engine engine, uint8_t **out, size_t *out_len, char *msg, size_t msgcap);

#endif
