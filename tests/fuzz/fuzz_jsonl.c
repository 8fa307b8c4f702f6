/*
 * fuzz_jsonl.c - libFuzzer target for JSON Lines input: the codec of
 * dmvfilter/format.h converting (whole, in pieces, cut at a record
 * boundary) and releasing for the police request; every record read is
 * canonical and JSON and CSV give it back exactly; every release passes
 * the release walkers and reads back from its JSON and CSV output.
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
    if (dmvf__fuzz_jsonl(data, size) != 0)
        abort();
    return 0;
}
