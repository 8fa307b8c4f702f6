/*
 * cmd_policy.c - `dmvfilter policy check FILE` and
 * `dmvfilter policy explain FILE [request flags]`.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "filter/cli/cli.h"

const char dmvf__cli_policy_help[] =
    "usage: dmvfilter policy check FILE\n"
    "       dmvfilter policy explain FILE [--output-format csv [--csv-elements SPEC]]\n"
    "                [request flags]\n"
    "\n"
    "  check     loads and compiles the policy; prints its summary (the requester\n"
    "            directory: entries, prefixes, kinds, tags, scopes; rules,\n"
    "            profiles, normalization: each field's map, drop and allow\n"
    "            list) and \"FILE: OK\", or the error with file:line:column\n"
    "            and exits 78\n"
    "  explain   for the request described by the flags (--ori alone is enough):\n"
    "            the day it is judged on, what the requester directory says of\n"
    "            the ORI, the rule that matches, each requirement and whether it\n"
    "            is met, what every field path becomes, and the normalization\n"
    "            tables. --output-format csv prints instead the CSV header the\n"
    "            requester would receive from `filter --output-format csv`\n"
    "            (records or jsonl input): the released columns, each repeated\n"
    "            field with its element groups (--csv-elements, as for filter);\n"
    "            held for review: the schema's columns, what approval writes;\n"
    "            refused: nothing (exit 3), as the refusal itself is empty\n"
    "\n"
    DMVF_CLI_REQUEST_HELP
    "\n"
    "exit: 0 ok, 64 usage, 74 I/O, 78 bad policy.\n";

static const char check_help[] =
    "usage: dmvfilter policy check FILE\n"
    "\n"
    "Loads and compiles the policy FILE. Prints its summary (the requester\n"
    "directory: entries, prefixes, kinds, tags and scopes; rules, profiles,\n"
    "normalization: each field's map, drop and allow list) and \"FILE: OK\";\n"
    "or the error, with file:line:column and why, and exits 78.\n"
    "\n"
    "exit: 0 ok, 64 usage, 74 I/O, 78 bad policy.\n";

static const char explain_help[] =
    "usage: dmvfilter policy explain FILE [request flags]\n"
    "\n"
    "For the request the flags describe (--ori alone is enough): the day it is\n"
    "judged on (today, or --date), what the requester directory says of the ORI\n"
    "(or why the request is refused before any rule), the rule that matches (or\n"
    "\"no rule: deny\"), each requirement and whether it is met, and what every\n"
    "field path of the schema becomes: the table a privacy officer signs off.\n"
    "\n"
    DMVF_CLI_REQUEST_HELP
    "\n"
    "exit: 0 ok, 64 usage, 74 I/O, 78 bad policy.\n";

static int help(const char *text)
{
    fputs(text, stdout);
    return dmvf__cli_flush_stdout();
}

typedef struct explain_out {
    int csv;                    /* --output-format csv */
    const char *elements;       /* --csv-elements */
} explain_out;

/* Scans FILE and, for explain, the request flags and its output flags. */
static int scan(dmvf_cli_args *a, dmvf_cli_request *rq, const char **file, explain_out *eo)
{
    *file = NULL;
    const char *v;
    for (a->i = 0; a->i < a->argc && !a->bad; a->i++) {
        if (dmvf__cli_end_of_flags(a))
            continue;
        if (dmvf__cli_is_positional(a)) {
            if (*file)
                dmvf__cli_usage_error(a, "unexpected argument '%s': one policy file", a->argv[a->i]);
            else
                *file = a->argv[a->i];
        } else if (rq && dmvf__cli_request_flag(a, rq)) {
            /* consumed */
        } else if (eo && dmvf__cli_value(a, "--output-format", &v)) {
            if (v && strcmp(v, "csv") != 0)
                dmvf__cli_usage_error(a, "--output-format '%s': csv expected (the columns a requester "
                                      "receives)", v);
            eo->csv = 1;
        } else if (eo && dmvf__cli_value(a, "--csv-elements", &v)) {
            eo->elements = v;
        } else {
            dmvf__cli_usage_error(a, "unknown flag '%s'", a->argv[a->i]);
        }
    }
    if (!a->bad && !*file)
        dmvf__cli_usage_error(a, "a policy file is required");
    return a->bad ? DMVF_EXIT_USAGE : 0;
}

static int check(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(check_help);
    dmvf_cli_args a;
    const char *file;
    dmvf__cli_args_init(&a, argc, argv, "policy check", "usage: dmvfilter policy check FILE\n");
    if (scan(&a, NULL, &file, NULL))
        return DMVF_EXIT_USAGE;
    int rc;
    dmvf_policy *p = dmvf__cli_policy_load(file, &rc);
    if (!p)
        return rc;
    int st = dmvf_policy_describe(p, stdout);
    dmvf_policy_free(p);
    if (st != DMVF_OK) {
        dmvf__cli_err("policy %s: cannot write the summary: %s", file, dmvf_strerror(st));
        return dmvf__cli_exit_for(st);
    }
    printf("%s: OK\n", file);
    return dmvf__cli_flush_stdout();
}

/* The CSV header the request would receive. A filter needs keys when the
 * profile pseudonymizes or encrypts; the columns do not: a throwaway
 * keyring in a private directory serves, removed at once. */
static int explain_columns(const dmvf_policy *p, const dmvf_cli_request *rq, const explain_out *eo)
{
    char dir[] = "/tmp/dmvf-explain.XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char tdir[4096];
    int n = tmp && tmp[0] ? snprintf(tdir, sizeof tdir, "%s/dmvf-explain.XXXXXX", tmp) : -1;
    char *d = n > 0 && (size_t)n < sizeof tdir ? mkdtemp(tdir) : mkdtemp(dir);
    if (!d) {
        dmvf__cli_err("policy explain: cannot make a temporary directory");
        return DMVF_EXIT_IOERR;
    }
    char kpath[4200];
    snprintf(kpath, sizeof kpath, "%s/kr", d);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_keyring *kr = NULL;
    if (dmvf_keyring_create(kpath, NULL, &err) == DMVF_OK)
        kr = dmvf_keyring_load(kpath, NULL, &err);
    unlink(kpath);
    rmdir(d);
    if (!kr) {
        dmvf__cli_err("policy explain: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return dmvf__cli_exit_for(err.code);
    }
    dmvf_filter_options fo = {.as_of = rq->as_of, .hold_for_review = 1};
    dmvf_filter *f = dmvf_filter_create(p, kr, &rq->req, &fo, &err);
    int rc = 0;
    dmvf_columns *cols = NULL;
    dmvf_columns_options co = {eo->elements};
    if (!f) {
        dmvf__cli_err("request: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        rc = dmvf__cli_exit_for(err.code);
    } else if (dmvf_filter_decision(f) == DMVF_DECISION_DENY) {
        dmvf__cli_report_refusal("", f, NULL);
        rc = DMVF_EXIT_REFUSED;
    } else {
        int review = dmvf_filter_decision(f) == DMVF_DECISION_REVIEW;
        int st = dmvf_columns_for_filter(review ? NULL : f, &co, &cols, &err);
        if (st != DMVF_OK) {
            dmvf__cli_err("--csv-elements: %s", err.msg[0] ? err.msg : dmvf_strerror(st));
            rc = st == DMVF_EINVAL ? DMVF_EXIT_USAGE : dmvf__cli_exit_for(st);
        } else {
            unsigned char *hdr = NULL;
            size_t cap = 0, len = 0;
            rc = dmvf__cli_csv_header(cols, &hdr, &cap, &len);
            if (!rc && len)
                fwrite(hdr, 1, len, stdout);
            free(hdr);
            if (!rc)
                rc = dmvf__cli_flush_stdout();
        }
    }
    dmvf_columns_free(cols);
    dmvf_filter_free(f);
    dmvf_keyring_free(kr);
    return rc;
}

static int explain(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(explain_help);
    dmvf_cli_request rq;
    int rc = dmvf__cli_request_init(&rq, argc);
    if (rc)
        return rc;
    dmvf_cli_args a;
    const char *file;
    dmvf__cli_args_init(&a, argc, argv, "policy explain",
                        "usage: dmvfilter policy explain FILE [request flags]\n");
    explain_out eo = {0, NULL};
    if (scan(&a, &rq, &file, &eo)) {
        dmvf__cli_request_free(&rq);
        return DMVF_EXIT_USAGE;
    }
    dmvf_policy *p = dmvf__cli_policy_load(file, &rc);
    if (!p) {
        dmvf__cli_request_free(&rq);
        return rc;
    }
    if (eo.csv) {
        rc = explain_columns(p, &rq, &eo);
        dmvf_policy_free(p);
        dmvf__cli_request_free(&rq);
        return rc;
    }
    int st = dmvf_policy_explain_as_of(p, &rq.req, rq.as_of, stdout);
    dmvf_policy_free(p);
    dmvf__cli_request_free(&rq);
    if (st != DMVF_OK) {
        dmvf__cli_err("policy %s: cannot write the explanation: %s", file, dmvf_strerror(st));
        return dmvf__cli_exit_for(st);
    }
    return dmvf__cli_flush_stdout();
}

int dmvf__cli_cmd_policy(int argc, char **argv)
{
    if (argc < 1) {
        fputs("dmvfilter policy: a subcommand is required (check, explain)\n"
              "usage: dmvfilter policy check FILE\n"
              "       dmvfilter policy explain FILE [request flags]\n"
              "Try 'dmvfilter policy --help'.\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return help(dmvf__cli_policy_help);
    if (strcmp(sub, "check") == 0)
        return check(argc - 1, argv + 1);
    if (strcmp(sub, "explain") == 0)
        return explain(argc - 1, argv + 1);
    fprintf(stderr, "dmvfilter policy: unknown subcommand '%s' (check, explain)\n"
                    "Try 'dmvfilter policy --help'.\n", sub);
    return DMVF_EXIT_USAGE;
}
