/*
 * main.c - the dmvfilter command: dispatch, top-level help, --version.
 */
#include <stdio.h>
#include <string.h>
#include "filter/cli/cli.h"

static const char top_help[] =
    "usage: dmvfilter COMMAND [FLAGS]\n"
    "\n"
    "Releases DMV records per a requester policy: decides whether anything is\n"
    "released, rewrites every released record field by field, and always\n"
    "suppresses license marking.\n"
    "\n"
    "commands:\n"
    "  filter          filter a record stream for one request (or a framed stream)\n"
    "  policy check    load and compile a policy, print its summary\n"
    "  policy explain  show the rule, requirements and field actions for a request\n"
    "  keys init       create a keyring (sealed with a passphrase, or --unsealed)\n"
    "  keys rotate     add a key epoch, which becomes current\n"
    "  keys list       list a keyring's epochs (never key bytes)\n"
    "  keys export-public  write the keyring's public key (for verify)\n"
    "  reveal          decrypt 'encrypt' tokens issued to a requester\n"
    "  review          the review queue: keygen, list, show, approve, deny\n"
    "  notices due     list the subject notices not yet marked sent\n"
    "  notices sent    mark subject notices sent\n"
    "  verify          check a signed framed release with the public key alone\n"
    "  audit verify    check the audit log (chain, signatures, HEAD); 5 if not intact\n"
    "  audit query     print audit entries as JSON Lines, by requester, time, subject\n"
    "  audit report    the transparency report over a time window\n"
    "  serve           the per-request hook as a local Connect service (Unix socket, TLS)\n"
    "  help [COMMAND]  the help of a command\n"
    "\n"
    "Every command takes --help. `dmvfilter --version` prints the version.\n"
    "\n"
    "exit codes:\n"
    "   0  released (also a release of zero records); other commands: success\n"
    "   3  refused (deny, unmet requirement, record limit)\n"
    "   4  held for review\n"
    "   5  does not verify (audit log or signed release tampered, truncated, reordered)\n"
    "  64  bad usage (unknown flag, missing or bad flag value)\n"
    "  65  bad input (malformed record, record too large, corrupt gzip, bad token)\n"
    "  70  internal error\n"
    "  71  out of memory\n"
    "  74  I/O failure (cannot open, read, write or rename; broken pipe)\n"
    "  78  bad policy\n"
    "  79  bad keyring (missing, too open, corrupt, wrong passphrase)\n"
    "For framed streams: 0 when every request was released, else 3 if any was\n"
    "refused, else 4 if any was held for review.\n";

static int help_for(const char *cmd)
{
    if (!cmd) {
        fputs(top_help, stdout);
    } else if (strcmp(cmd, "filter") == 0) {
        fputs(dmvf__cli_filter_help, stdout);
    } else if (strcmp(cmd, "policy") == 0) {
        fputs(dmvf__cli_policy_help, stdout);
    } else if (strcmp(cmd, "keys") == 0) {
        fputs(dmvf__cli_keys_help, stdout);
    } else if (strcmp(cmd, "reveal") == 0) {
        fputs(dmvf__cli_reveal_help, stdout);
    } else if (strcmp(cmd, "review") == 0) {
        fputs(dmvf__cli_review_help, stdout);
    } else if (strcmp(cmd, "notices") == 0) {
        fputs(dmvf__cli_notices_help, stdout);
    } else if (strcmp(cmd, "verify") == 0) {
        fputs(dmvf__cli_verify_help, stdout);
    } else if (strcmp(cmd, "audit") == 0) {
        fputs(dmvf__cli_audit_help, stdout);
    } else if (strcmp(cmd, "serve") == 0) {
        fputs(dmvf__cli_serve_help, stdout);
    } else {
        dmvf__cli_err("unknown command '%s'; try 'dmvfilter --help'", cmd);
        return DMVF_EXIT_USAGE;
    }
    return dmvf__cli_flush_stdout();
}

int main(int argc, char **argv)
{
    dmvf__cli_signals();
    if (argc < 2) {
        fputs("usage: dmvfilter COMMAND [FLAGS]; try 'dmvfilter --help'\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return help_for(NULL);
    if (strcmp(cmd, "help") == 0)
        return help_for(argc > 2 ? argv[2] : NULL);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("dmvfilter %d.%d.%d (library %s)\n", DMVF_VERSION_MAJOR, DMVF_VERSION_MINOR,
               DMVF_VERSION_PATCH, dmvf_version());
        int engine = dmvf__cz_engine();
        printf("compression: gzip through %s%s, zstd\n",
               engine < 0 ? "nothing (DMVFILTER_GZIP names no engine of this build)"
                          : dmvf__cz_engine_name((dmvf_cz_engine)engine),
               dmvf__cz_have_isal() ? " (ISA-L built in)" : " (built without ISA-L)");
        return dmvf__cli_flush_stdout();
    }
    if (strcmp(cmd, "filter") == 0)
        return dmvf__cli_cmd_filter(argc - 2, argv + 2);
    if (strcmp(cmd, "policy") == 0)
        return dmvf__cli_cmd_policy(argc - 2, argv + 2);
    if (strcmp(cmd, "keys") == 0)
        return dmvf__cli_cmd_keys(argc - 2, argv + 2);
    if (strcmp(cmd, "reveal") == 0)
        return dmvf__cli_cmd_reveal(argc - 2, argv + 2);
    if (strcmp(cmd, "review") == 0)
        return dmvf__cli_cmd_review(argc - 2, argv + 2);
    if (strcmp(cmd, "notices") == 0)
        return dmvf__cli_cmd_notices(argc - 2, argv + 2);
    if (strcmp(cmd, "verify") == 0)
        return dmvf__cli_cmd_verify(argc - 2, argv + 2);
    if (strcmp(cmd, "audit") == 0)
        return dmvf__cli_cmd_audit(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return dmvf__cli_cmd_serve(argc - 2, argv + 2);
    if (cmd[0] == '-')
        dmvf__cli_err("unknown flag '%s'; try 'dmvfilter --help'", cmd);
    else
        dmvf__cli_err("unknown command '%s'; try 'dmvfilter --help'", cmd);
    return DMVF_EXIT_USAGE;
}
