/*
 * fuzz_csv.c - libFuzzer target for CSV input (a header row, then rows):
 * the same checks as fuzz_jsonl.c, for the CSV reader (quoting, the
 * header's columns, cells by type, the formula guard).
 * The checks live in checks_text.c (through checks.c), shared with
 * tests/fuzz/test_fuzz_regressions.c.
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
    if (dmvf__fuzz_csv(data, size) != 0)
        abort();
    return 0;
}
