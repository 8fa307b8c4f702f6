/*
 * fuzz_keyring.c - libFuzzer target for the keyring loader: dmvf_keyring_load
 * on a temp file (mode 0600) holding the input. Sealed inputs that ask for
 * expensive Argon2id costs are loaded without a passphrase (checks.c), so that
 * a run stays fast.
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
    if (dmvf__fuzz_keyring(data, size) != 0)
        abort();
    return 0;
}
