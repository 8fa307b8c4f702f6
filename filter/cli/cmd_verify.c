/*
 * cmd_verify.c - `dmvfilter verify`: checks a signed framed release (the
 * output of `filter --format framed`) with the DMV's public key alone.
 *
 * The input (a file or stdin, plain or gzip, detected) is read in 1 MiB
 * pieces through the library's incremental verifier: memory stays bounded
 * whatever the release's size.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"
#include "filter/core/hex.h"

const char dmvf__cli_verify_help[] =
    "usage: dmvfilter verify --public-key PUB [--in F]\n"
    "\n"
    "Checks a signed framed release (the output of `dmvfilter filter --format\n"
    "framed`) with the DMV's public key alone (written by `dmvfilter keys\n"
    "export-public`). Every trailer carries the BLAKE2b-256 digest of the bytes\n"
    "before it and an Ed25519 signature; the release ends with a signed seal\n"
    "over everything before it. Any changed, missing, reordered or appended\n"
    "byte fails. Records-format output is not signed and cannot be verified.\n"
    "\n"
    "On success prints 'verified: N requests, B bytes, signed by KEY' (the first\n"
    "16 hex digits of the key); on failure says which frame, at which byte\n"
    "offset, and why.\n"
    "\n"
    "flags:\n"
    "  --public-key PUB        the public key file ('dmvfilter-ed25519 <hex>')\n"
    "  --in F                  the release (default: stdin; gzip is detected)\n"
    "\n"
    "exit: 0 verified, 5 does not verify (tampered, truncated, reordered,\n"
    "      appended, or signed with another key), 64 usage, 65 malformed release\n"
    "      or public key file, 71 out of memory, 74 I/O.\n";

static const char verify_usage[] = "usage: dmvfilter verify --public-key PUB [--in F]\n";

#define PIECE ((size_t)1 << 20)

static int fail_code(int st)
{
    switch (st) {
    case DMVF_ETAMPER: return DMVF_EXIT_TAMPER;
    case DMVF_EMALFORMED: return DMVF_EXIT_DATAERR;
    case DMVF_ENOMEM: return DMVF_EXIT_NOMEM;
    default: return DMVF_EXIT_SOFTWARE;
    }
}

int dmvf__cli_cmd_verify(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv)) {
        fputs(dmvf__cli_verify_help, stdout);
        return dmvf__cli_flush_stdout();
    }
    dmvf_cli_args a;
    dmvf__cli_args_init(&a, argc, argv, "verify", verify_usage);
    const char *pubfile = NULL, *in = NULL;
    for (a.i = 0; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dmvf__cli_is_positional(&a))
            dmvf__cli_usage_error(&a, "unexpected argument '%s' (the release is read with --in F "
                                  "or from stdin)", a.argv[a.i]);
        else if (dmvf__cli_value(&a, "--public-key", &v))
            pubfile = v;
        else if (dmvf__cli_value(&a, "--in", &v))
            in = v;
        else
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
    }
    if (!a.bad && !pubfile)
        dmvf__cli_usage_error(&a, "--public-key is required");
    if (!a.bad && (!pubfile[0] || (in && !in[0])))
        dmvf__cli_usage_error(&a, "%s: empty value", !pubfile[0] ? "--public-key" : "--in");
    if (a.bad)
        return DMVF_EXIT_USAGE;

    uint8_t pub[DMVF_PUBLIC_KEY_LEN];
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_public_key_read(pubfile, pub, &err);
    if (st != DMVF_OK) {
        dmvf__cli_err("public key %s", err.msg[0] ? err.msg : dmvf_strerror(st));
        return st == DMVF_EIO ? DMVF_EXIT_IOERR : DMVF_EXIT_DATAERR;
    }
    char hex[2 * DMVF_PUBLIC_KEY_LEN + 1];
    dmvf__hex_encode(hex, pub, DMVF_PUBLIC_KEY_LEN);

    dmvf_cli_src src;
    int rc = dmvf__cli_src_open(&src, in);
    if (rc) {
        dmvf__cli_src_close(&src);
        return rc;
    }
    dmvf_release_verifier *v = dmvf_release_verifier_create(pub, &err);
    unsigned char *buf = malloc(PIECE);
    if (!v || !buf) {
        dmvf__cli_err("out of memory");
        dmvf_release_verifier_free(v);
        free(buf);
        dmvf__cli_src_close(&src);
        return DMVF_EXIT_NOMEM;
    }
    uint64_t bytes = 0, requests = 0;
    st = DMVF_OK;
    for (;;) {
        size_t n = 0;
        int eof = 0;
        if ((rc = dmvf__cli_src_read(&src, buf, PIECE, &n, &eof)) != 0)
            break;
        bytes += n;
        if ((st = dmvf_release_verifier_update(v, buf, n, &err)) != DMVF_OK || eof)
            break;
    }
    if (!rc && st == DMVF_OK)
        st = dmvf_release_verifier_final(v, &requests, &err);
    dmvf_release_verifier_free(v);
    free(buf);
    dmvf__cli_src_close(&src);
    if (rc)
        return rc; /* a read error, already reported */
    if (st != DMVF_OK) {
        dmvf__cli_err("%s: %s: %s", src.name, st == DMVF_EMALFORMED ? "not a release" : "does not verify",
                      err.msg[0] ? err.msg : dmvf_strerror(st));
        return fail_code(st);
    }
    printf("verified: %llu request%s, %llu bytes, signed by %.16s\n", (unsigned long long)requests,
           requests == 1 ? "" : "s", (unsigned long long)bytes, hex);
    return dmvf__cli_flush_stdout();
}
