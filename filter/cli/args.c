/*
 * args.c - flag scanning, the request flags, messages, and
 * loading policy and keyring with the command line's error reporting.
 *
 * Flags are GNU-style long options: "--name VALUE" or "--name=VALUE";
 * "--" ends the flags. Every command scans its arguments with the same
 * cursor so that errors read the same everywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"
#include "filter/core/date.h"

void dmvf__cli_err(const char *fmt, ...)
{
    va_list ap;
    fputs("dmvfilter: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int dmvf__cli_exit_for(int code)
{
    switch (code) {
    case DMVF_OK: return DMVF_EXIT_RELEASED;
    case DMVF_EINVAL: return DMVF_EXIT_USAGE;
    case DMVF_ENOMEM: return DMVF_EXIT_NOMEM;
    case DMVF_EMALFORMED:
    case DMVF_ETOOBIG:
    case DMVF_EGZIP:
    case DMVF_ENOSUBJECT:
    case DMVF_ETOKEN: return DMVF_EXIT_DATAERR;
    case DMVF_EPOLICY: return DMVF_EXIT_POLICY;
    case DMVF_EKEYRING:
    case DMVF_EPASSPHRASE: return DMVF_EXIT_KEYRING;
    case DMVF_EIO: return DMVF_EXIT_IOERR;
    case DMVF_EREFUSED: return DMVF_EXIT_REFUSED;
    case DMVF_ETAMPER: return DMVF_EXIT_TAMPER;
    default: return DMVF_EXIT_SOFTWARE;
    }
}

/* ---- the cursor ---- */

void dmvf__cli_args_init(dmvf_cli_args *a, int argc, char **argv, const char *cmd,
                         const char *usage)
{
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->cmd = cmd;
    a->usage = usage;
}

int dmvf__cli_usage_error(dmvf_cli_args *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dmvfilter %s: ", a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (!a->bad && a->usage)
        fputs(a->usage, stderr);
    if (!a->bad)
        fprintf(stderr, "Try 'dmvfilter %s --help'.\n", a->cmd);
    a->bad = 1;
    return DMVF_EXIT_USAGE;
}

int dmvf__cli_end_of_flags(dmvf_cli_args *a)
{
    if (!a->no_more_flags && strcmp(a->argv[a->i], "--") == 0) {
        a->no_more_flags = 1;
        return 1;
    }
    return 0;
}

int dmvf__cli_is_positional(const dmvf_cli_args *a)
{
    const char *s = a->argv[a->i];
    return a->no_more_flags || s[0] != '-' || strcmp(s, "-") == 0;
}

int dmvf__cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int dmvf__cli_switch(dmvf_cli_args *a, const char *name)
{
    const char *s = a->argv[a->i];
    if (a->no_more_flags)
        return 0;
    if (strcmp(s, name) == 0)
        return 1;
    size_t n = strlen(name);
    if (strncmp(s, name, n) == 0 && s[n] == '=') {
        dmvf__cli_usage_error(a, "flag %s takes no value", name);
        return 1;
    }
    return 0;
}

int dmvf__cli_value(dmvf_cli_args *a, const char *name, const char **val)
{
    const char *s = a->argv[a->i];
    size_t n = strlen(name);
    *val = NULL;
    if (a->no_more_flags || strncmp(s, name, n) != 0)
        return 0;
    if (s[n] == '=') {
        *val = s + n + 1;
        return 1;
    }
    if (s[n] != '\0')
        return 0;
    if (a->i + 1 >= a->argc) {
        dmvf__cli_usage_error(a, "flag %s needs a value", name);
        return 1;
    }
    a->i++;
    *val = a->argv[a->i];
    return 1;
}

int dmvf__cli_parse_size(const char *s, size_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end != '\0' || v == 0 || v > ((unsigned long long)SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

/* ---- request flags ---- */

int dmvf__cli_request_init(dmvf_cli_request *r, int argc)
{
    memset(r, 0, sizeof *r);
    size_t n = argc > 0 ? (size_t)argc : 1;
    r->tags = calloc(n, sizeof *r->tags);
    r->fields = calloc(n, sizeof *r->fields);
    if (!r->tags || !r->fields) {
        dmvf__cli_request_free(r);
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    r->req.tags = r->tags;
    r->req.fields = r->fields;
    return 0;
}

void dmvf__cli_request_free(dmvf_cli_request *r)
{
    free(r->tags);
    free(r->fields);
    r->tags = r->fields = NULL;
}

static int nonempty(dmvf_cli_args *a, const char *flag, const char *v)
{
    if (v && v[0] == '\0') {
        dmvf__cli_usage_error(a, "%s: empty value", flag);
        return 0;
    }
    return v != NULL;
}

int dmvf__cli_request_flag(dmvf_cli_args *a, dmvf_cli_request *r)
{
    const char *v;
    dmvf_request *q = &r->req;

    /* --ori, --jurisdiction and --tag are taken as given: the library checks
     * them (dmvf_request_validate) as it checks every request, and a bad one
     * is a refusal the audit log records, never a value repaired here */
    if (dmvf__cli_value(a, "--ori", &v)) {
        if (!nonempty(a, "--ori", v))
            return 1;
        q->ori = v;
        r->have_ori = 1;
    } else if (dmvf__cli_value(a, "--agency-kind", &v)) {
        if (!v)
            return 1;
        if (dmvf_agency_kind_parse(v, &q->agency_kind) != DMVF_OK) {
            dmvf__cli_usage_error(a, "--agency-kind '%s': not one of federal, state, local, "
                                  "tribal, foreign, court, research, commercial, internal", v);
            return 1;
        }
    } else if (dmvf__cli_value(a, "--agency-name", &v)) {
        if (nonempty(a, "--agency-name", v))
            q->agency_name = v;
    } else if (dmvf__cli_value(a, "--tag", &v)) {
        if (nonempty(a, "--tag", v))
            r->tags[q->ntags++] = v;
    } else if (dmvf__cli_value(a, "--jurisdiction", &v)) {
        if (nonempty(a, "--jurisdiction", v))
            q->jurisdiction = v;
    } else if (dmvf__cli_value(a, "--purpose", &v)) {
        if (!v)
            return 1;
        char *end;
        long n = isdigit((unsigned char)v[0]) ? strtol(v, &end, 10) : -1;
        if (n < 1 || n > 14 || *end != '\0') {
            dmvf__cli_usage_error(a, "--purpose '%s': a DPPA permissible use 1..14 expected", v);
            return 1;
        }
        q->purpose = (unsigned)n;
    } else if (dmvf__cli_value(a, "--legal-process", &v)) {
        if (!v)
            return 1;
        if (dmvf_legal_process_parse(v, &q->legal_process) != DMVF_OK) {
            dmvf__cli_usage_error(a, "--legal-process '%s': not one of none, administrative_subpoena, "
                                  "judicial_subpoena, court_order, judicial_warrant", v);
            return 1;
        }
    } else if (dmvf__cli_value(a, "--legal-reference", &v)) {
        if (nonempty(a, "--legal-reference", v))
            q->legal_reference = v;
    } else if (dmvf__cli_value(a, "--query-kind", &v)) {
        if (!v)
            return 1;
        if (dmvf_query_kind_parse(v, &q->query_kind) != DMVF_OK) {
            dmvf__cli_usage_error(a, "--query-kind '%s': not one of by_license, by_name_dob, by_plate, "
                                  "by_vin, by_name_only, by_address, by_attribute, partial_plate, list", v);
            return 1;
        }
    } else if (dmvf__cli_value(a, "--request-id", &v)) {
        if (nonempty(a, "--request-id", v))
            q->request_id = v;
    } else if (dmvf__cli_value(a, "--operator", &v)) {
        if (nonempty(a, "--operator", v))
            q->operator_id = v;
    } else if (dmvf__cli_value(a, "--field", &v)) {
        if (nonempty(a, "--field", v))
            r->fields[q->nfields++] = v;
    } else if (dmvf__cli_value(a, "--channel", &v)) {
        if (nonempty(a, "--channel", v))
            q->channel = v;
    } else if (dmvf__cli_value(a, "--date", &v)) {
        /* the DMV's own replays: the day the request is judged on, never a
         * date of the request (dmvf_filter_options.as_of) */
        if (!v)
            return 1;
        if (!(r->as_of = dmvf__date_parse(v, strlen(v)))) {
            dmvf__cli_usage_error(a, "--date '%s': a date YYYY-MM-DD expected", v);
            return 1;
        }
        return 1;
    } else {
        return 0;
    }
    r->any = 1;
    return 1;
}

/* ---- policy and keyring ---- */

dmvf_keyring *dmvf__cli_keyring_load(const char *path, const char *passphrase_file, int *code)
{
    char *pass = NULL;
    int rc = dmvf__cli_passphrase(passphrase_file, DMVF__CLI_ENV_PASS, &pass);
    if (rc) {
        *code = rc;
        return NULL;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_keyring *k = dmvf_keyring_load(path, pass, &err);
    dmvf__cli_passphrase_free(pass);
    if (!k) {
        int c = err.code ? err.code : DMVF_EKEYRING;
        const char *msg = err.msg[0] ? err.msg : dmvf_strerror(c);
        if (strstr(msg, path))
            dmvf__cli_err("%s", msg);
        else
            dmvf__cli_err("keyring %s: %s", path, msg);
        *code = c == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_KEYRING;
    }
    return k;
}

dmvf_policy *dmvf__cli_policy_load(const char *path, int *code)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_file(path, &err);
    if (!p) {
        int c = err.code ? err.code : DMVF_EPOLICY;
        const char *msg = err.msg[0] ? err.msg : dmvf_strerror(c);
        /* policy messages carry file:line:column; name the file when one does not */
        if (strstr(msg, path))
            dmvf__cli_err("%s", msg);
        else
            dmvf__cli_err("policy %s: %s", path, msg);
        *code = c == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_POLICY;
    }
    return p;
}
