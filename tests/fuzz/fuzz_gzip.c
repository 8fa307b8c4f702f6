/*
 * fuzz_gzip.c - libFuzzer target for the command line's gzip input: detection
 * and the multi-member inflate loop of filter/cli/io.c (mirrored in checks.c),
 * fed whole and in short reads; what inflates goes through dmvf_filter_stream
 * with the police plan.
 * The checks live in checks.c, shared with tests/fuzz/test_fuzz_regressions.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include "checks.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dmvf__fuzz_init() != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dmvf__fuzz_gzip(data, size) != 0)
        abort();
    return 0;
}
