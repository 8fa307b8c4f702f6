/*
 * gzread.h - the command line's gzip input path, mirrored for fuzzing.
 *
 * dmvfilter reads its input through filter/cli/io.c: gzip is detected by
 * the magic bytes 1f 8b at the start and inflated member after member with
 * zlib (inflateInit2, windowBits 15+32; inflateReset between members).
 * gzread.c is a copy of that code (dmvf__cli_src_open, gzip_read,
 * dmvf__cli_src_read), reading from memory instead of a file descriptor,
 * with short reads of random size when asked, as a pipe gives them. It is
 * compiled with coverage instrumentation (checks.c is not), so that the
 * gzip target's feedback and figures include this loop.
 *
 * test_fuzz_regressions runs the real `dmvfilter filter` on every gzip
 * input and checks that it agrees with this copy: when io.c changes, that
 * test says so, and this file is brought in line.
 */
#ifndef DMVF_FUZZ_GZREAD_H
#define DMVF_FUZZ_GZREAD_H

#include <stddef.h>
#include <stdint.h>

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
 * in the loop). */
int dmvf__fuzz_gunzip(const uint8_t *data, size_t n, uint64_t *rng, uint64_t max_inflate,
                      uint8_t **out, size_t *out_len, char *msg, size_t msgcap);

#endif
