/*
 * fuzz_policy.c - libFuzzer target for the policy loader:
 * dmvf_policy_load_buffer on the input; a policy that loads must keep the
 * marking invariant in every plan it releases with, and its plans must rewrite
 * fixed records exactly as the reference path does.
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
    if (dmvf__fuzz_policy(data, size) != 0)
        abort();
    return 0;
}
