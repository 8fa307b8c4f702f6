/*
 * fuzz_serve.c - libFuzzer target for the service's request decoding
 * (filter/serve/decode.h): the first byte picks the call (Release or
 * Explain) and the body form (binary or JSON), the rest is the body. A
 * body that decodes has its request unpacked and, for Release, a framed
 * stream whose frames read back; nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "filter/core/varint.h"
#include "filter/serve/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int call = (data[0] & 1) ? DMVF_SERVE_CALL_EXPLAIN : DMVF_SERVE_CALL_RELEASE;
    int json = (data[0] & 2) != 0;
    dmvf_serve_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_records = 64;
    lim.json_depth = 16;
    lim.max_record_bytes = 4096;
    dmvf__serve_limits_default(&lim);
    dmvf_serve_dec d;
    dmvf__serve_dec_init(&d);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf__serve_decode(&d, call, json, data + 1, size - 1, &lim, &err);
    if (st == DMVF_OK) {
        if (!d.req)
            abort();
        if (call == DMVF_SERVE_CALL_RELEASE) {
            size_t frames = 0;
            for (size_t i = 0; i < d.framed_len; frames++) {
                uint64_t n;
                size_t pre;
                if (dmvf__varint_prefix(d.framed + i, d.framed_len - i, &n, &pre) != 1 || n > d.framed_len - i - pre)
                    abort();
                i += pre + (size_t)n;
            }
            if (frames != d.records + 1 || d.records > lim.max_records)
                abort();
        }
    } else if (st != DMVF_EMALFORMED && st != DMVF_ETOOBIG && st != DMVF_ENOMEM) {
        abort();
    }
    dmvf__serve_dec_free(&d);
    return 0;
}
