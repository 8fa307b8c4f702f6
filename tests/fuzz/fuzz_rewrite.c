/*
 * fuzz_rewrite.c - libFuzzer target for the record rewriter: one bare
 * DriverRecord, rewritten by dmvf__rewrite under every plan of the shared set
 * and compared with dmvf__reference_record; the output must unpack with
 * protobuf-c and hold no redacted, unknown or (without marking: release)
 * marking or marking- correlated field.
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
    if (dmvf__fuzz_rewrite(data, size) != 0)
        abort();
    return 0;
}
