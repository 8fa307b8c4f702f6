/*
 * fuzz_framed.c - libFuzzer target for the framed stream reader:
 * dmvf_framed_stream over the input, fed whole and in pieces sized from the
 * input's hash; both runs must agree, and released frames must decode and keep
 * marking suppressed.
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
    if (dmvf__fuzz_framed(data, size) != 0)
        abort();
    return 0;
}
