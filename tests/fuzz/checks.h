/*
 * checks.h - the fuzz targets' check logic, shared by the libFuzzer
 * executables (tests/fuzz/fuzz_*.c, clang) and the plain regression runner
 * (tests/fuzz/test_fuzz_regressions.c, any compiler), so that every committed
 * corpus file and crash input is replayed by the ordinary ctest run.
 *
 * One function per entry point. Each takes one fuzz input, drives the
 * library with it and checks the library's contracts; it returns 0 when
 * every check held, or the number of failed checks (each printed on stderr
 * with what was expected). A libFuzzer target aborts on a non-zero return,
 * which makes the input a crash artifact. Memory errors and undefined
 * behaviour are left to the sanitizers.
 *
 *   rewrite   one bare DriverRecord through dmvf__rewrite under every plan
 *             of the shared set (below) against dmvf__reference_record
 *   framed    a framed stream through dmvf_framed_stream, fed whole and in
 *             chunks sized from the input's hash; its output must verify
 *             as a signed release, and the input itself goes through
 *             dmvf_release_verify whole and in pieces (same verdict)
 *   gzip      the command line's input path: gzip detection and the
 *             multi-member inflate loop of filter/cli/io.c (copied in
 *             gzread.c), its output through dmvf_filter_stream
 *   policy    dmvf_policy_load_buffer; a policy that loads is decided for a
 *             set of requesters and its plans are run on fixed records
 *   keyring   dmvf_keyring_load on a temp file (mode 0600) holding the input
 *   jsonl     JSON Lines through the codec of dmvfilter/format.h: converted
 *             (whole, in pieces, cut at a record boundary), each record
 *             through JSON and CSV and back, and the police request
 *   csv       the same for CSV (a header row, then rows)
 *   serve     the service's request decoding (filter/serve/decode.h): the
 *             first byte picks the call and the body form; a body that
 *             decodes gives a request and a framed stream of its records
 *
 * Setup (dmvf__fuzz_init, once per process): a temp directory, a seeded
 * keyring in it (then deleted), the example policy (examples/policy.yaml,
 * found through $DMVF_SRC or the source dir compiled in) and a synthetic
 * policy that uses every action; the plans of the requesters listed in
 * checks.c, and their key contexts. dmvf__fuzz_fini (registered with
 * atexit) frees everything and removes the directory.
 *
 * Not thread-safe: one input at a time per process.
 */
#ifndef DMVF_FUZZ_CHECKS_H
#define DMVF_FUZZ_CHECKS_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0, or -1 after printing why setup failed. Idempotent. */
int dmvf__fuzz_init(void);
void dmvf__fuzz_fini(void);

int dmvf__fuzz_rewrite(const uint8_t *data, size_t n);
int dmvf__fuzz_framed(const uint8_t *data, size_t n);
int dmvf__fuzz_gzip(const uint8_t *data, size_t n);
int dmvf__fuzz_policy(const uint8_t *data, size_t n);
int dmvf__fuzz_keyring(const uint8_t *data, size_t n);
int dmvf__fuzz_jsonl(const uint8_t *data, size_t n);
int dmvf__fuzz_csv(const uint8_t *data, size_t n);
int dmvf__fuzz_serve(const uint8_t *data, size_t n);

/* The target names ("rewrite", "framed", "gzip", "policy", "keyring",
 * "jsonl", "csv", "serve") in that order, NULL-terminated, and dispatch by name: -1
 * for an unknown name. */
extern const char *const dmvf__fuzz_targets[];
int dmvf__fuzz_run(const char *target, const uint8_t *data, size_t n);

/* Set to 1 to silence the per-failure messages (counting still happens). */
extern int dmvf__fuzz_quiet;

#endif
