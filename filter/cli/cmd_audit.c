/*
 * cmd_audit.c - `dmvfilter audit verify|query|report`: checking the
 * tamper-evident audit log, finding entries, and the transparency report.
 *
 * Dates on the command line are UTC: YYYY-MM-DD (a whole day) or RFC 3339
 * (2026-11-30T14:00:00Z, 2026-11-30T09:00:00.5-05:00). A day given to --to
 * is included whole: --to 2026-11-30 ends at 2026-12-01T00:00:00Z
 * (exclusive); an instant given to --to is the exclusive end itself.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"

const char dmvf__cli_audit_help[] =
    "usage: dmvfilter audit verify DIR... (--keyring FILE... [--passphrase-file F] |\n"
    "                 --public-key P...)\n"
    "       dmvfilter audit query DIR... [--ori ORI] [--agency S] [--tag T] [--from DATE]\n"
    "                 [--to DATE] [--decision D] [--kind K] [--request-id ID]\n"
    "                 [--client NAME] [--subject RECORD_ID --keyring FILE... [--passphrase-file F]]\n"
    "       dmvfilter audit report DIR... --from DATE --to DATE [--format md|csv|json|html]\n"
    "                 [--title S] [--out FILE]\n"
    "\n"
    "The audit log DIR holds every request and what it released, each entry\n"
    "chained to the one before by a keyed BLAKE2b MAC, with Ed25519-signed\n"
    "checkpoints and HEAD (a copy of the newest checkpoint). Several DIRs (one\n"
    "per instance of a service, each keeping its own log) are read together:\n"
    "\n"
    "  verify   checks the whole log: every segment present and in order, every\n"
    "           entry's chain MAC (needs the keyring), every checkpoint's signature\n"
    "           and segment digest, HEAD reached, seq numbers consecutive. Prints a\n"
    "           summary; the first fault is named by file, byte offset and entry\n"
    "           (an edit, removal, reordering, insertion or truncation). With\n"
    "           --public-key only, checkpoints vouch for the entries before them\n"
    "           and entries after the last checkpoint are listed as unchecked.\n"
    "           A log cut back to an older checkpoint together with that\n"
    "           checkpoint's HEAD verifies: keep a copy of HEAD elsewhere.\n"
    "           Several DIRs: each is verified on its own (its own chain, with\n"
    "           the one --keyring or --public-key, or the Nth for the Nth DIR),\n"
    "           every one of them, then a line counting the intact ones.\n"
    "  query    prints the matching entries as JSON Lines, oldest first (every\n"
    "           criterion must match; none given: every entry). Parsing only:\n"
    "           verify tells whether the entries are genuine. Several DIRs: the\n"
    "           entries merged by time, each line starting with \"log\": its DIR.\n"
    "  report   the transparency report over [--from, --to). Several DIRs: one\n"
    "           report whose figures are the sums of the logs' (each log's\n"
    "           releases counted against its own requests).\n"
    "\n"
    "flags:\n"
    "  --keyring FILE          the keyring that wrote the log (verify; query --subject);\n"
    "                          once for every DIR, or once per DIR in DIR order\n"
    "  --passphrase-file F     the keyring passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE)\n"
    "  --public-key P          verify with the public key alone (keys export-public);\n"
    "                          once, or once per DIR\n"
    "  --ori ORI               entries of requests from this ORI\n"
    "  --agency S              ... whose agency name contains S (any case)\n"
    "  --tag T                 ... that carry the requester tag T\n"
    "  --request-id ID         ... with this request id\n"
    "  --client NAME           ... asked by this client of `dmvfilter serve`\n"
    "  --from DATE             entries at or after DATE\n"
    "  --to DATE               entries before DATE; a day (YYYY-MM-DD) is included\n"
    "                          whole: --to 2026-11-30 means up to the end of Nov 30\n"
    "  --decision D            release, deny or review\n"
    "  --kind K                request, release, review-hold, review-approve,\n"
    "                          review-deny or notice-sent\n"
    "  --subject RECORD_ID     entries that released this record (matched by its\n"
    "                          keyed hash: needs --keyring)\n"
    "  --format F              report: md (default), csv, json or html\n"
    "  --title S               report: the title\n"
    "  --out FILE              report: write FILE (atomically) instead of stdout\n"
    "DATE: YYYY-MM-DD (UTC) or RFC 3339 (2026-11-30T14:00:00Z, ...+02:00).\n"
    "\n"
    "exit: 0 ok (verify: every DIR intact), 5 a log does not verify, 64 usage,\n"
    "      65 a log does not parse (query, report), 71 out of memory,\n"
    "      74 I/O (a DIR missing or unreadable), 79 bad keyring. verify over\n"
    "      several DIRs: 5 when any does not verify, else the first failure's.\n";

static const char verify_usage[] =
    "usage: dmvfilter audit verify DIR... (--keyring FILE... [--passphrase-file F] |\n"
    "       --public-key P...)\n";
static const char query_usage[] =
    "usage: dmvfilter audit query DIR... [--ori ORI] [--agency S] [--tag T] [--from DATE]\n"
    "       [--to DATE] [--decision D] [--kind K] [--request-id ID]\n"
    "       [--client NAME] [--subject RECORD_ID --keyring FILE...]\n";
static const char report_usage[] =
    "usage: dmvfilter audit report DIR... --from DATE --to DATE [--format md|csv|json|html]\n"
    "       [--title S] [--out FILE]\n";

static int help(void)
{
    fputs(dmvf__cli_audit_help, stdout);
    return dmvf__cli_flush_stdout();
}

/* ---- dates ---- */

static int digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DD or RFC 3339 to unix nanoseconds; *day set when only a date
 * was given. -1 when malformed or before 1970-01-01T00:00:00Z. */
static int parse_when(const char *s, uint64_t *ns, int *day)
{
    unsigned h = 0, mi = 0, se = 0;
    uint64_t frac = 0;
    int64_t offset_s = 0;
    size_t n = strlen(s);
    uint32_t date = n >= 10 ? dmvf__date_parse(s, 10) : 0;
    if (!date)
        return -1;
    *day = n == 10;
    if (n > 10) {
        const char *p = s + 10;
        if ((*p != 'T' && *p != 't') || strlen(p) < 10 || digits(p + 1, 2, &h) || p[3] != ':' ||
            digits(p + 4, 2, &mi) || p[6] != ':' || digits(p + 7, 2, &se))
            return -1;
        if (h > 23 || mi > 59 || se > 60)
            return -1;
        p += 9;
        if (*p == '.') {
            p++;
            int k = 0;
            uint64_t scale = 100000000u;
            while (isdigit((unsigned char)*p)) {
                if (k < 9)
                    frac += (uint64_t)(*p - '0') * scale, scale /= 10;
                k++;
                p++;
            }
            if (k == 0)
                return -1;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            unsigned oh, om;
            if (strlen(p) != 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
                oh > 23 || om > 59)
                return -1;
            offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return -1;
        }
        if (*p != '\0')
            return -1;
    }
    int64_t secs = dmvf__date_days(date) * 86400 + (int64_t)(h * 3600 + mi * 60 + se) - offset_s;
    if (secs < 0)
        return -1;
    *ns = (uint64_t)secs * 1000000000u + frac;
    return 0;
}

/* --from/--to values: a day as --to is the next midnight (exclusive end). */
static int when_flag(dmvf_cli_args *a, const char *flag, const char *v, int is_to, uint64_t *out)
{
    int day = 0;
    if (parse_when(v, out, &day) != 0) {
        dmvf__cli_usage_error(a, "%s '%s': a date YYYY-MM-DD or an RFC 3339 time "
                              "(2026-11-30T14:00:00Z) from 1970 on expected", flag, v);
        return -1;
    }
    if (is_to && day)
        *out += (uint64_t)86400 * 1000000000u;
    return 0;
}

/* ---- shared ---- */

static int lib_exit(const char *what, int st, const dmvf_error *err)
{
    dmvf__cli_err("%s: %s", what, err->msg[0] ? err->msg : dmvf_strerror(st));
    int rc = dmvf__cli_exit_for(st);
    return rc ? rc : DMVF_EXIT_SOFTWARE;
}

/* The DIRs, keyrings and public keys given: pointers into argv, in order
 * (each array as long as argv, which bounds how many there can be). */
typedef struct audit_cfg {
    const char **dirs, **keyrings, **pubkeys;
    size_t ndirs, nkeyrings, npubkeys;
    const char *passfile;
    const char *from_s, *to_s;
    dmvf_audit_query q;
    const char *format, *title, *out;
} audit_cfg;

static int cfg_init(audit_cfg *c, int argc)
{
    memset(c, 0, sizeof *c);
    size_t n = argc > 0 ? (size_t)argc : 1;
    c->dirs = calloc(n, sizeof *c->dirs);
    c->keyrings = calloc(n, sizeof *c->keyrings);
    c->pubkeys = calloc(n, sizeof *c->pubkeys);
    if (!c->dirs || !c->keyrings || !c->pubkeys) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    return 0;
}

static void cfg_free(audit_cfg *c)
{
    free(c->dirs);
    free(c->keyrings);
    free(c->pubkeys);
}

/* ---- flags every subcommand shares ---- */

/* A DIR argument. 1 when the current argument is positional. */
static int positional_dir(dmvf_cli_args *a, audit_cfg *c)
{
    if (!dmvf__cli_is_positional(a))
        return 0;
    c->dirs[c->ndirs++] = a->argv[a->i];
    return 1;
}

/* DIR, --keyring K, --passphrase-file F. 1 when consumed. */
static int dir_or_keyring(dmvf_cli_args *a, audit_cfg *c)
{
    const char *v;
    if (positional_dir(a, c))
        return 1;
    if (dmvf__cli_value(a, "--keyring", &v)) {
        if (v)
            c->keyrings[c->nkeyrings++] = v;
        return 1;
    }
    if (dmvf__cli_value(a, "--passphrase-file", &v)) {
        c->passfile = v;
        return 1;
    }
    return 0;
}

/* What the DIRs need of the flags given n times: once, or once per DIR. */
static void once_or_per_dir(dmvf_cli_args *a, const audit_cfg *c, const char *flag, size_t n)
{
    if (!a->bad && n > 1 && n != c->ndirs)
        dmvf__cli_usage_error(a, "%s given %zu times for %zu DIRs: give it once, or once per "
                              "DIR", flag, n, c->ndirs);
}

/* The keyrings named, loaded (one per name); NULL with *rc set when one
 * does not load. */
static dmvf_keyring **keyrings_load(const audit_cfg *c, int *rc)
{
    dmvf_keyring **krs = calloc(c->nkeyrings ? c->nkeyrings : 1, sizeof *krs);
    if (!krs) {
        dmvf__cli_err("out of memory");
        *rc = DMVF_EXIT_NOMEM;
        return NULL;
    }
    for (size_t i = 0; i < c->nkeyrings; i++) {
        krs[i] = dmvf__cli_keyring_load(c->keyrings[i], c->passfile, rc);
        if (!krs[i]) {
            while (i > 0)
                dmvf_keyring_free(krs[--i]);
            free(krs);
            return NULL;
        }
    }
    return krs;
}

static void keyrings_free(dmvf_keyring **krs, size_t n)
{
    for (size_t i = 0; krs && i < n; i++)
        dmvf_keyring_free(krs[i]);
    free(krs);
}

/* ---- verify ---- */

static int audit_verify(int argc, char **argv)
{
    dmvf_cli_args a;
    audit_cfg c;
    int rc = cfg_init(&c, argc);
    if (rc) {
        cfg_free(&c);
        return rc;
    }
    dmvf__cli_args_init(&a, argc, argv, "audit verify", verify_usage);
    for (a.i = 0; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dir_or_keyring(&a, &c)) {
            /* consumed */
        } else if (dmvf__cli_value(&a, "--public-key", &v)) {
            if (v)
                c.pubkeys[c.npubkeys++] = v;
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
        }
    }
    if (!a.bad && !c.ndirs)
        dmvf__cli_usage_error(&a, "the audit log directory DIR is required");
    if (!a.bad && !c.nkeyrings && !c.npubkeys)
        dmvf__cli_usage_error(&a, "--keyring or --public-key is required");
    if (!a.bad && c.nkeyrings && c.npubkeys)
        dmvf__cli_usage_error(&a, "--keyring and --public-key exclude each other");
    if (!a.bad && c.passfile && !c.nkeyrings)
        dmvf__cli_usage_error(&a, "--passphrase-file needs --keyring");
    once_or_per_dir(&a, &c, "--keyring", c.nkeyrings);
    once_or_per_dir(&a, &c, "--public-key", c.npubkeys);
    if (a.bad) {
        cfg_free(&c);
        return DMVF_EXIT_USAGE;
    }
    dmvf_keyring **krs = NULL;
    uint8_t(*pubs)[32] = NULL;
    if (c.nkeyrings) {
        krs = keyrings_load(&c, &rc);
        if (!krs) {
            cfg_free(&c);
            return rc;
        }
    } else if (!(pubs = calloc(c.npubkeys, sizeof *pubs))) {
        cfg_free(&c);
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    for (size_t i = 0; i < c.npubkeys; i++) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st = dmvf_public_key_read(c.pubkeys[i], pubs[i], &err);
        if (st != DMVF_OK) {
            dmvf__cli_err("public key %s: %s", c.pubkeys[i],
                          err.msg[0] ? err.msg : dmvf_strerror(st));
            free(pubs);
            cfg_free(&c);
            return st == DMVF_EIO ? DMVF_EXIT_IOERR : DMVF_EXIT_USAGE;
        }
    }
    /* every DIR, each on its own: 5 when any does not verify, else the
     * first failure's code */
    int first = 0, tampered = 0;
    size_t intact = 0;
    for (size_t i = 0; i < c.ndirs; i++) {
        const dmvf_keyring *kr = krs ? krs[c.nkeyrings == 1 ? 0 : i] : NULL;
        const uint8_t *pub = kr ? NULL : pubs[c.npubkeys == 1 ? 0 : i];
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st = dmvf_audit_verify(c.dirs[i], kr, pub, stdout, &err);
        if (st == DMVF_OK) {
            intact++;
            continue;
        }
        char what[512];
        snprintf(what, sizeof what, "audit verify%s%s", c.ndirs > 1 ? " " : "",
                 c.ndirs > 1 ? c.dirs[i] : "");
        int ec = lib_exit(what, st, &err);
        tampered |= st == DMVF_ETAMPER;
        if (!first)
            first = ec;
    }
    if (c.ndirs > 1)
        printf("audit logs: %zu of %zu intact\n", intact, c.ndirs);
    keyrings_free(krs, c.nkeyrings);
    free(pubs);
    cfg_free(&c);
    int frc = dmvf__cli_flush_stdout();
    if (tampered)
        return DMVF_EXIT_TAMPER;
    return first ? first : frc;
}

/* ---- query ---- */

/* --decision, --kind: the value, 0 when s names none. */
static int parse_decision(const char *s)
{
    int v = dmvf__name_parse(&dmvf__decisions, s, DMVF_DECISION_RELEASE);
    return v < 0 ? 0 : v;
}

static int parse_kind(const char *s)
{
    int v = dmvf__name_parse(&dmvf__audit_kinds, s, DMVF_AUDIT_REQUEST);
    return v < 0 ? 0 : v;
}

static int nonempty(dmvf_cli_args *a, const char *flag, const char *v)
{
    if (v && !v[0]) {
        dmvf__cli_usage_error(a, "%s: empty value", flag);
        return 0;
    }
    return v != NULL;
}

static int audit_query(int argc, char **argv)
{
    dmvf_cli_args a;
    audit_cfg c;
    int rc = cfg_init(&c, argc);
    if (rc) {
        cfg_free(&c);
        return rc;
    }
    dmvf__cli_args_init(&a, argc, argv, "audit query", query_usage);
    for (a.i = 0; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dir_or_keyring(&a, &c)) {
            /* consumed */
        } else if (dmvf__cli_value(&a, "--ori", &v)) {
            if (nonempty(&a, "--ori", v))
                c.q.ori = v;
        } else if (dmvf__cli_value(&a, "--agency", &v)) {
            if (nonempty(&a, "--agency", v))
                c.q.agency = v;
        } else if (dmvf__cli_value(&a, "--tag", &v)) {
            if (nonempty(&a, "--tag", v))
                c.q.tag = v;
        } else if (dmvf__cli_value(&a, "--request-id", &v)) {
            if (nonempty(&a, "--request-id", v))
                c.q.request_id = v;
        } else if (dmvf__cli_value(&a, "--client", &v)) {
            if (nonempty(&a, "--client", v))
                c.q.client = v;
        } else if (dmvf__cli_value(&a, "--subject", &v)) {
            if (nonempty(&a, "--subject", v))
                c.q.subject = v;
        } else if (dmvf__cli_value(&a, "--from", &v)) {
            if (v)
                when_flag(&a, "--from", v, 0, &c.q.from_ns);
        } else if (dmvf__cli_value(&a, "--to", &v)) {
            if (v)
                when_flag(&a, "--to", v, 1, &c.q.to_ns);
        } else if (dmvf__cli_value(&a, "--decision", &v)) {
            if (v && !(c.q.decision = parse_decision(v)))
                dmvf__cli_usage_error(&a, "--decision '%s': release, deny or review expected", v);
        } else if (dmvf__cli_value(&a, "--kind", &v)) {
            if (v && !(c.q.kind = parse_kind(v)))
                dmvf__cli_usage_error(&a, "--kind '%s': request, release, review-hold, "
                                      "review-approve, review-deny or notice-sent expected", v);
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
        }
    }
    if (!a.bad && !c.ndirs)
        dmvf__cli_usage_error(&a, "the audit log directory DIR is required");
    if (!a.bad && c.q.subject && !c.nkeyrings)
        dmvf__cli_usage_error(&a, "--subject needs --keyring (subjects are logged as keyed "
                              "hashes)");
    if (!a.bad && c.nkeyrings && !c.q.subject)
        dmvf__cli_usage_error(&a, "--keyring is used only with --subject");
    if (!a.bad && c.passfile && !c.nkeyrings)
        dmvf__cli_usage_error(&a, "--passphrase-file needs --keyring");
    if (!a.bad && c.q.from_ns && c.q.to_ns && c.q.from_ns >= c.q.to_ns)
        dmvf__cli_usage_error(&a, "--from must be before --to");
    once_or_per_dir(&a, &c, "--keyring", c.nkeyrings);
    if (a.bad) {
        cfg_free(&c);
        return DMVF_EXIT_USAGE;
    }
    dmvf_keyring **krs = keyrings_load(&c, &rc);
    const dmvf_keyring **per = calloc(c.ndirs, sizeof *per);
    if (!krs || !per) {
        if (krs)
            dmvf__cli_err("out of memory");
        keyrings_free(krs, c.nkeyrings);
        free(per);
        cfg_free(&c);
        return krs ? DMVF_EXIT_NOMEM : rc;
    }
    for (size_t i = 0; i < c.ndirs && c.nkeyrings; i++)
        per[i] = krs[c.nkeyrings == 1 ? 0 : i];
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_audit_query_dirs(c.dirs, per, c.ndirs, &c.q, stdout, &err);
    keyrings_free(krs, c.nkeyrings);
    free(per);
    cfg_free(&c);
    int frc = dmvf__cli_flush_stdout();
    if (st != DMVF_OK)
        return lib_exit("audit query", st, &err);
    return frc;
}

/* ---- report ---- */

/* The report of c's DIRs, to stdout or (whole, atomically) to --out. */
static int report_run(const audit_cfg *c, dmvf_report_format fmt, uint64_t from, uint64_t to)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (!c->out) {
        int st = dmvf_audit_report_dirs(c->dirs, c->ndirs, from, to, fmt, c->title, stdout, &err);
        int frc = dmvf__cli_flush_stdout();
        if (st != DMVF_OK)
            return lib_exit("audit report", st, &err);
        return frc;
    }
    /* a named output appears only when the whole report is written */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    int st = dmvf_audit_report_dirs(c->dirs, c->ndirs, from, to, fmt, c->title, m, &err);
    if (fclose(m) != 0 && st == DMVF_OK) {
        free(buf);
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    if (st != DMVF_OK) {
        free(buf);
        return lib_exit("audit report", st, &err);
    }
    dmvf_cli_sink sink;
    int rc = dmvf__cli_sink_open(&sink, c->out, 0, NULL);
    if (rc == 0)
        rc = dmvf__cli_sink_write(&sink, buf, len);
    if (rc == 0)
        rc = dmvf__cli_sink_commit(&sink);
    dmvf__cli_sink_abort(&sink);
    free(buf);
    return rc;
}

static int audit_report(int argc, char **argv)
{
    dmvf_cli_args a;
    audit_cfg c;
    int rc = cfg_init(&c, argc);
    if (rc) {
        cfg_free(&c);
        return rc;
    }
    uint64_t from = 0, to = 0;
    dmvf__cli_args_init(&a, argc, argv, "audit report", report_usage);
    for (a.i = 0; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (positional_dir(&a, &c)) {
            /* consumed */
        } else if (dmvf__cli_value(&a, "--from", &v)) {
            if (v && when_flag(&a, "--from", v, 0, &from) == 0)
                c.from_s = v;
        } else if (dmvf__cli_value(&a, "--to", &v)) {
            if (v && when_flag(&a, "--to", v, 1, &to) == 0)
                c.to_s = v;
        } else if (dmvf__cli_value(&a, "--format", &v)) {
            c.format = v;
        } else if (dmvf__cli_value(&a, "--title", &v)) {
            c.title = v;
        } else if (dmvf__cli_value(&a, "--out", &v)) {
            if (nonempty(&a, "--out", v))
                c.out = v;
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
        }
    }
    dmvf_report_format fmt = DMVF_REPORT_MD;
    if (!a.bad && c.format) {
        if (strcmp(c.format, "md") == 0 || strcmp(c.format, "markdown") == 0)
            fmt = DMVF_REPORT_MD;
        else if (strcmp(c.format, "csv") == 0)
            fmt = DMVF_REPORT_CSV;
        else if (strcmp(c.format, "json") == 0)
            fmt = DMVF_REPORT_JSON;
        else if (strcmp(c.format, "html") == 0)
            fmt = DMVF_REPORT_HTML;
        else
            dmvf__cli_usage_error(&a, "--format '%s': md, csv, json or html expected", c.format);
    }
    if (!a.bad && !c.ndirs)
        dmvf__cli_usage_error(&a, "the audit log directory DIR is required");
    if (!a.bad && (!c.from_s || !c.to_s))
        dmvf__cli_usage_error(&a, "--from and --to are required");
    if (!a.bad && from >= to)
        dmvf__cli_usage_error(&a, "--from must be before --to");
    if (a.bad) {
        cfg_free(&c);
        return DMVF_EXIT_USAGE;
    }
    rc = report_run(&c, fmt, from, to);
    cfg_free(&c);
    return rc;
}

int dmvf__cli_cmd_audit(int argc, char **argv)
{
    if (argc < 1) {
        fputs("dmvfilter audit: a subcommand is required (verify, query, report)\n"
              "Try 'dmvfilter audit --help'.\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return help();
    if (dmvf__cli_wants_help(argc - 1, argv + 1))
        return help();
    if (strcmp(sub, "verify") == 0)
        return audit_verify(argc - 1, argv + 1);
    if (strcmp(sub, "query") == 0)
        return audit_query(argc - 1, argv + 1);
    if (strcmp(sub, "report") == 0)
        return audit_report(argc - 1, argv + 1);
    fprintf(stderr, "dmvfilter audit: unknown subcommand '%s' (verify, query, report)\n"
                    "Try 'dmvfilter audit --help'.\n", sub);
    return DMVF_EXIT_USAGE;
}
