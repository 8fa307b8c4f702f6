/*
 * fuzz_serve.c - libFuzzer target for the service's request decoding
 * (filter/serve/decode.h): the first byte picks the call (Release or
 * Explain) and the body form (binary or JSON), the rest is the body. A
 * body that decodes has its request unpacked and, for Release, a framed
 * stream whose frames read back; nothing may crash or leak.
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
    if (dmvf__fuzz_serve(data, size) != 0)
        abort();
    return 0;
}
