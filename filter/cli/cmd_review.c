/*
 * cmd_review.c - `dmvfilter review keygen|list|show|approve|deny`: the
 * review queue, for the reviewers who decide on requests that a rule holds
 * with `decision: review`.
 *
 * Key bytes never pass through here: the library generates and loads the
 * reviewer keys; this file only handles passphrases (wiped after use),
 * paths and the messages.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"

const char dmvf__cli_review_help[] =
    "usage: dmvfilter review keygen --secret-key F --public-key F [--passphrase-file F]\n"
    "       dmvfilter review list (--spool DIR | --policy P) (--public-key F | --keyring K)\n"
    "                [--json]\n"
    "       dmvfilter review show ID (--spool DIR | --policy P) (--public-key F | --keyring K)\n"
    "                --secret-key F [--records]\n"
    "       dmvfilter review approve ID (--spool DIR | --policy P) --secret-key F\n"
    "                --reviewer NAME [--note S] --out F [--output-format records|jsonl|csv]\n"
    "                [--csv-elements SPEC] --audit DIR --keyring K\n"
    "       dmvfilter review deny ID (--spool DIR | --policy P) --secret-key F\n"
    "                --reviewer NAME [--note S] (--public-key F | [--audit DIR] --keyring K)\n"
    "\n"
    "A request whose rule says `decision: review` releases nothing: `dmvfilter\n"
    "filter` seals the request and its would-be release to the reviewers' public\n"
    "key, signs the item with the keyring's signing key, and stores it in the spool\n"
    "directory (policy: review: {spool, public_key}).\n"
    "\n"
    "Every subcommand but keygen first checks that an item is the filter's: its\n"
    ".meta signed with the DMV's key (--public-key, from `keys export-public`, or\n"
    "the key of --keyring) and its .sealed the body it signed. A planted item, an\n"
    "edited .meta, a swapped body or an item signed with another keyring is\n"
    "refused (exit 5, naming the failed check); list shows it as damaged.\n"
    "\n"
    "  keygen   creates the reviewers' X25519 key pair: the secret key file (mode\n"
    "           0600, sealed with a passphrase when one is given) and the public\n"
    "           key file that `filter` seals to\n"
    "  list     lists held items, oldest first: id, time held (UTC), state\n"
    "           (pending, approved, denied; damaged for an item that is not the\n"
    "           filter's), records, ORI, rule and agency; --json: one JSON object\n"
    "           per line. No secret key needed.\n"
    "  show     opens an item with the secret key and prints the request in full\n"
    "           and what the release would be: records, bytes, per field path the\n"
    "           action and number of values. --records also prints every record\n"
    "           that would be released, one 'path: value' line per field.\n"
    "  approve  checks the item against its REVIEW_HOLD entry in the audit log\n"
    "           (the log is verified whole first; an item held without this log\n"
    "           cannot be approved, only denied), then releases it: writes\n"
    "           exactly the held release (delimited DriverRecords) to --out\n"
    "           ('-' = stdout), after the audit entry (REVIEW_APPROVE) is on\n"
    "           disk, then marks the item approved\n"
    "  deny     refuses the item: audits REVIEW_DENY (with --audit), marks it\n"
    "           denied; nothing is released\n"
    "An item is decided once: a second approve or deny is refused.\n"
    "\n"
    "flags:\n"
    "  --spool DIR             the review spool directory\n"
    "  --policy P              take the spool (review.spool) and the audit log\n"
    "                          (audit.dir) from the policy; with audit.required,\n"
    "                          deny without an audit log is refused\n"
    "  --public-key F          list, show, deny: the DMV's public key\n"
    "                          ('dmvfilter-ed25519 <hex>', keys export-public) that\n"
    "                          items are signed with; keygen: the reviewers' public\n"
    "                          key file to create\n"
    "  --secret-key F          the reviewer secret key file\n"
    "  --passphrase-file F     the secret key's passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_REVIEW_PASSPHRASE; keygen:\n"
    "                          none = an unsealed key file)\n"
    "  --reviewer NAME         who decides (recorded in the marker and the audit log)\n"
    "  --note S                why (recorded likewise)\n"
    "  --out F                 (approve) where the release goes; written aside and\n"
    "                          renamed into place\n"
    "  --output-format FMT     (approve) records (default: as held), jsonl or csv\n"
    "                          (the schema's columns; fields the rule redacted are\n"
    "                          empty cells); a release of no record is empty\n"
    "  --csv-elements SPEC     (approve, csv) columns per repeated field, as for\n"
    "                          filter; a record with more elements: nothing released\n"
    "  --audit DIR             the audit log: approve requires it (the REVIEW_HOLD\n"
    "                          check, the REVIEW_APPROVE entry); deny records in it\n"
    "  --keyring K             the DMV's keyring: its public key checks the items\n"
    "                          (instead of --public-key); with --audit, the log's\n"
    "                          keyring (also hashes the released record ids)\n"
    "  --keyring-passphrase-file F   the keyring's passphrase (default: env\n"
    "                          DMVFILTER_PASSPHRASE)\n"
    "  --json                  (list) JSON lines\n"
    "  --records               (show) print the would-be released records\n"
    "\n"
    "exit: 0 done, 5 tampered (an item that is not the filter's: unsigned,\n"
    "      signed with another key, an edited .meta, a .sealed that is not the\n"
    "      signed body or does not open; approve: an audit log that does not\n"
    "      verify, has no REVIEW_HOLD entry for the item or one that says\n"
    "      otherwise, or already records a decision on it), 64 usage (also:\n"
    "      unknown id, item already decided, approve without an audit log, audit\n"
    "      required by the policy but not given), 65 bad input, 71 out of memory,\n"
    "      74 I/O (e.g. a key file exists, no such spool), 78 bad policy, 79 bad\n"
    "      key (missing, readable by others, wrong passphrase, not the key the\n"
    "      item was sealed to, not a public key file; or a bad keyring).\n";

static int help(void)
{
    fputs(dmvf__cli_review_help, stdout);
    return dmvf__cli_flush_stdout();
}

typedef struct review_cfg {
    const char *id, *spool, *policy, *secret, *public_key, *passfile;
    const char *reviewer, *note, *out, *audit, *keyring, *kr_passfile;
    const char *dmv_pub;     /* the DMV's public key file (not keygen's) */
    int json, records;
    dmvf_format out_fmt;     /* approve: --output-format */
    const char *csv_elements;
} review_cfg;

/* Which flags a subcommand takes. F_PUBLIC: keygen's --public-key (the
 * reviewers' key to create); F_VERIFY: the others' (the DMV's key) and
 * --keyring with its passphrase file. */
enum {
    F_ID = 1 << 0, F_SPOOL = 1 << 1, F_SECRET = 1 << 2, F_PUBLIC = 1 << 3,
    F_DECIDE = 1 << 4, F_OUT = 1 << 5, F_AUDIT = 1 << 6, F_JSON = 1 << 7,
    F_RECORDS = 1 << 8, F_VERIFY = 1 << 9
};

static int scan(dmvf_cli_args *a, review_cfg *c, unsigned allow)
{
    memset(c, 0, sizeof *c);
    for (a->i = 0; a->i < a->argc && !a->bad; a->i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(a))
            continue;
        if (dmvf__cli_is_positional(a)) {
            if ((allow & F_ID) && !c->id)
                c->id = a->argv[a->i];
            else
                dmvf__cli_usage_error(a, "unexpected argument '%s'", a->argv[a->i]);
        } else if ((allow & F_SPOOL) && dmvf__cli_value(a, "--spool", &v)) {
            c->spool = v;
        } else if ((allow & F_SPOOL) && dmvf__cli_value(a, "--policy", &v)) {
            c->policy = v;
        } else if ((allow & F_SECRET) && dmvf__cli_value(a, "--secret-key", &v)) {
            c->secret = v;
        } else if ((allow & F_SECRET) && dmvf__cli_value(a, "--passphrase-file", &v)) {
            c->passfile = v;
        } else if ((allow & F_PUBLIC) && dmvf__cli_value(a, "--public-key", &v)) {
            c->public_key = v;
        } else if ((allow & F_VERIFY) && dmvf__cli_value(a, "--public-key", &v)) {
            c->dmv_pub = v;
        } else if ((allow & F_DECIDE) && dmvf__cli_value(a, "--reviewer", &v)) {
            c->reviewer = v;
        } else if ((allow & F_DECIDE) && dmvf__cli_value(a, "--note", &v)) {
            c->note = v;
        } else if ((allow & F_OUT) && dmvf__cli_value(a, "--out", &v)) {
            c->out = v;
        } else if ((allow & F_OUT) && dmvf__cli_value(a, "--output-format", &v)) {
            if (v && dmvf__cli_format_arg(v, 0, &c->out_fmt, NULL) != 0)
                dmvf__cli_usage_error(a, "--output-format '%s': records, jsonl or csv expected", v);
        } else if ((allow & F_OUT) && dmvf__cli_value(a, "--csv-elements", &v)) {
            c->csv_elements = v;
        } else if ((allow & F_AUDIT) && dmvf__cli_value(a, "--audit", &v)) {
            c->audit = v;
        } else if ((allow & F_VERIFY) && dmvf__cli_value(a, "--keyring-passphrase-file", &v)) {
            c->kr_passfile = v;
        } else if ((allow & F_VERIFY) && dmvf__cli_value(a, "--keyring", &v)) {
            c->keyring = v;
        } else if ((allow & F_JSON) && dmvf__cli_switch(a, "--json")) {
            c->json = 1;
        } else if ((allow & F_RECORDS) && dmvf__cli_switch(a, "--records")) {
            c->records = 1;
        } else {
            dmvf__cli_usage_error(a, "unknown flag '%s'", a->argv[a->i]);
        }
    }
    if (a->bad)
        return DMVF_EXIT_USAGE;
    /* a flag given an empty value is a mistake, never "the default" */
    const char *vals[] = {c->spool, c->policy, c->secret, c->public_key, c->reviewer,
                          c->out, c->audit, c->keyring, c->passfile, c->kr_passfile,
                          c->dmv_pub};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i] && !vals[i][0])
            return dmvf__cli_usage_error(a, "a flag has an empty value");
    if ((allow & F_ID) && !c->id)
        return dmvf__cli_usage_error(a, "the review id is required");
    if ((allow & F_SPOOL) && c->spool && c->policy)
        return dmvf__cli_usage_error(a, "--spool and --policy exclude each other");
    if ((allow & F_SPOOL) && !c->spool && !c->policy)
        return dmvf__cli_usage_error(a, "--spool DIR (or --policy P) is required");
    if ((allow & F_SECRET) && !c->secret)
        return dmvf__cli_usage_error(a, "--secret-key is required");
    if ((allow & F_DECIDE) && !c->reviewer)
        return dmvf__cli_usage_error(a, "--reviewer is required");
    if ((allow & F_OUT) && !c->out)
        return dmvf__cli_usage_error(a, "--out is required");
    if ((allow & F_VERIFY) && c->dmv_pub && c->keyring)
        return dmvf__cli_usage_error(a, "--public-key and --keyring exclude each other (the "
                                     "keyring's public key is the DMV's)");
    if ((allow & F_VERIFY) && c->kr_passfile && !c->keyring)
        return dmvf__cli_usage_error(a, "--keyring-passphrase-file needs --keyring");
    return 0;
}

/* The reviewer key's passphrase: --passphrase-file, else the environment
 * variable DMVFILTER_REVIEW_PASSPHRASE, else none (NULL). */
static int review_passphrase(const char *file, char **out)
{
    return dmvf__cli_passphrase(file, DMVF__CLI_ENV_REVIEW_PASS, out);
}

static int failure(const char *what, int st, const dmvf_error *err)
{
    const char *msg = err->msg[0] ? err->msg : dmvf_strerror(st);
    dmvf__cli_err("%s: %s", what, msg);
    int code = dmvf__cli_exit_for(st);
    return code ? code : DMVF_EXIT_SOFTWARE;
}

/* The spool, and for deciding the audit log, from the flags or the policy.
 * *pol is loaded when --policy was given (free it). */
static int resolve(dmvf_cli_args *a, review_cfg *c, int deciding, dmvf_policy **pol)
{
    *pol = NULL;
    if (c->policy) {
        int code;
        *pol = dmvf__cli_policy_load(c->policy, &code);
        if (!*pol)
            return code;
        dmvf_policy_review rv;
        dmvf_policy_review_settings(*pol, &rv);
        c->spool = rv.spool;
        if (!c->spool)
            return dmvf__cli_usage_error(a, "policy %s has no review spool (review: {spool: DIR}); "
                                         "give --spool", c->policy);
        if (deciding) {
            dmvf_policy_audit au;
            dmvf_policy_audit_settings(*pol, &au);
            if (!c->audit)
                c->audit = au.dir;
            if (au.required && !c->audit)
                return dmvf__cli_usage_error(a, "policy %s requires an audit log (audit.required): "
                                             "give --audit DIR --keyring K", c->policy);
        }
    }
    if (deciding && c->audit && !c->keyring)
        return dmvf__cli_usage_error(a, "--keyring is required to write the audit log %s",
                                     c->audit);
    if (!c->keyring && !c->dmv_pub)
        return dmvf__cli_usage_error(a, "--public-key F (the DMV's public key: keys "
                                     "export-public) or --keyring K is required: items are "
                                     "checked to be signed by the filter");
    return 0;
}

/* The DMV's public key into pub: the keyring's when *kr is loaded (from
 * --keyring), else the --public-key file's. 0 or an exit code. */
static int dmv_public_key(const review_cfg *c, dmvf_keyring **kr, uint8_t pub[32])
{
    int rc = 0;
    *kr = NULL;
    if (c->keyring) {
        if (!(*kr = dmvf__cli_keyring_load(c->keyring, c->kr_passfile, &rc)))
            return rc;
        dmvf_keyring_public_key(*kr, pub);
        return 0;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_public_key_read(c->dmv_pub, pub, &err);
    if (st == DMVF_OK)
        return 0;
    dmvf__cli_err("the DMV's public key: %s", err.msg[0] ? err.msg : dmvf_strerror(st));
    return st == DMVF_EIO ? DMVF_EXIT_IOERR : st == DMVF_ENOMEM ? DMVF_EXIT_NOMEM
                                                                : DMVF_EXIT_KEYRING;
}

static int review_keygen(int argc, char **argv)
{
    dmvf_cli_args a;
    review_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "review keygen",
                        "usage: dmvfilter review keygen --secret-key F --public-key F "
                        "[--passphrase-file F]\n");
    if (scan(&a, &c, F_SECRET | F_PUBLIC))
        return DMVF_EXIT_USAGE;
    if (!c.public_key)
        return dmvf__cli_usage_error(&a, "--public-key is required");
    char *pass = NULL;
    int rc = review_passphrase(c.passfile, &pass);
    if (rc)
        return rc;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_review_keygen(c.secret, c.public_key, pass, &err);
    int sealed = pass != NULL;
    dmvf__cli_passphrase_free(pass);
    if (st != DMVF_OK)
        return failure("review keygen", st, &err);
    printf("reviewer keys: secret %s (%s, mode 0600), public %s\n", c.secret,
           sealed ? "sealed" : "unsealed", c.public_key);
    return dmvf__cli_flush_stdout();
}

static int review_list(int argc, char **argv)
{
    dmvf_cli_args a;
    review_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "review list",
                        "usage: dmvfilter review list (--spool DIR | --policy P) "
                        "(--public-key F | --keyring K) [--json]\n");
    if (scan(&a, &c, F_SPOOL | F_JSON | F_VERIFY))
        return DMVF_EXIT_USAGE;
    dmvf_policy *pol;
    dmvf_keyring *kr = NULL;
    uint8_t pub[32];
    int rc = resolve(&a, &c, 0, &pol);
    if (!rc)
        rc = dmv_public_key(&c, &kr, pub);
    if (rc) {
        dmvf_policy_free(pol);
        return rc;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_review_list(c.spool, pub, stdout, c.json, &err);
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    if (st != DMVF_OK)
        return failure("review list", st, &err);
    return dmvf__cli_flush_stdout();
}

static int review_show(int argc, char **argv)
{
    dmvf_cli_args a;
    review_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "review show",
                        "usage: dmvfilter review show ID (--spool DIR | --policy P) "
                        "(--public-key F | --keyring K)\n"
                        "                --secret-key F [--passphrase-file F] [--records]\n");
    if (scan(&a, &c, F_ID | F_SPOOL | F_SECRET | F_RECORDS | F_VERIFY))
        return DMVF_EXIT_USAGE;
    dmvf_policy *pol;
    dmvf_keyring *kr = NULL;
    uint8_t pub[32];
    int rc = resolve(&a, &c, 0, &pol);
    char *pass = NULL;
    if (!rc)
        rc = dmv_public_key(&c, &kr, pub);
    if (!rc)
        rc = review_passphrase(c.passfile, &pass);
    if (rc) {
        dmvf_keyring_free(kr);
        dmvf_policy_free(pol);
        return rc;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_review_show(c.spool, c.id, pub, c.secret, pass, stdout, c.records, &err);
    dmvf__cli_passphrase_free(pass);
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    if (st != DMVF_OK)
        return failure("review show", st, &err);
    return dmvf__cli_flush_stdout();
}

static int review_decide(int argc, char **argv, int approve)
{
    dmvf_cli_args a;
    review_cfg c;
    dmvf__cli_args_init(&a, argc, argv, approve ? "review approve" : "review deny",
                        approve ? "usage: dmvfilter review approve ID (--spool DIR | --policy P) "
                                  "--secret-key F --reviewer NAME [--note S] --out F\n"
                                  "                [--output-format records|jsonl|csv] [--csv-elements SPEC]\n"
                                  "                --audit DIR --keyring K\n"
                                : "usage: dmvfilter review deny ID (--spool DIR | --policy P) "
                                  "--secret-key F --reviewer NAME [--note S]\n"
                                  "                (--public-key F | [--audit DIR] --keyring K)\n");
    if (scan(&a, &c, F_ID | F_SPOOL | F_SECRET | F_DECIDE | F_AUDIT | F_VERIFY |
                         (approve ? F_OUT : 0)))
        return DMVF_EXIT_USAGE;
    dmvf_policy *pol;
    int rc = resolve(&a, &c, 1, &pol);
    if (!rc && approve && c.dmv_pub)
        rc = dmvf__cli_usage_error(&a, "approve checks items with the key of --keyring (the "
                                   "audit log's keyring); --public-key is for list, show and "
                                   "deny");
    if (!rc && approve && !c.audit)
        rc = dmvf__cli_usage_error(&a, "approve needs the audit log (--audit DIR --keyring K, or "
                                   "audit.dir in --policy): the item is checked against its "
                                   "REVIEW_HOLD entry, and the approval logged, before anything "
                                   "is released");
    if (rc) {
        dmvf_policy_free(pol);
        return rc;
    }
    dmvf_keyring *kr = NULL;
    dmvf_audit *au = NULL;
    char *pass = NULL;
    uint8_t pub[32];
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if ((rc = dmv_public_key(&c, &kr, pub)))
        goto done;
    if (c.audit) {
        dmvf_audit_options ao;
        memset(&ao, 0, sizeof ao);
        if (pol) {
            dmvf_policy_audit ps;
            dmvf_policy_audit_settings(pol, &ps);
            ao.rotate_bytes = ps.rotate_bytes;
            ao.rotate_seconds = ps.rotate_seconds;
            ao.compress = ps.compress;
            ao.subjects = ps.subjects;
        }
        au = dmvf_audit_open(c.audit, kr, &ao, &err);
        if (!au) {
            rc = failure("audit log", err.code ? err.code : DMVF_EIO, &err);
            goto done;
        }
    }
    if ((rc = review_passphrase(c.passfile, &pass)))
        goto done;
    uint64_t n = 0;
    dmvf_columns_options co = {c.csv_elements};
    int st = approve ? dmvf_review_approve_as(c.spool, c.id, c.secret, pass, c.reviewer, c.note,
                                              c.out, c.out_fmt, &co, au, kr, &n, &err)
                     : dmvf_review_deny(c.spool, c.id, pub, c.secret, pass, c.reviewer, c.note,
                                        au, &err);
    dmvf__cli_passphrase_free(pass);
    pass = NULL;
    if (st != DMVF_OK) {
        rc = failure(approve ? "review approve" : "review deny", st, &err);
        goto done;
    }
    if (au) {
        dmvf_audit *closing = au;
        au = NULL;
        memset(&err, 0, sizeof err);
        if ((st = dmvf_audit_close(closing, &err)) != DMVF_OK) {
            rc = failure("audit log (the decision is recorded; its checkpoint is not)", st, &err);
            goto done;
        }
    }
    if (approve) {
        FILE *msg = strcmp(c.out, "-") == 0 ? stderr : stdout;
        fprintf(msg, "review %s approved by %s: %llu record%s released to %s\n", c.id,
                c.reviewer, (unsigned long long)n, n == 1 ? "" : "s",
                strcmp(c.out, "-") == 0 ? "standard output" : c.out);
    } else {
        printf("review %s denied by %s: nothing released\n", c.id, c.reviewer);
    }
    rc = dmvf__cli_flush_stdout();
done:
    if (au) {
        dmvf_error e2;
        (void)dmvf_audit_close(au, &e2);
    }
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    return rc;
}

int dmvf__cli_cmd_review(int argc, char **argv)
{
    if (argc < 1) {
        fputs("dmvfilter review: a subcommand is required (keygen, list, show, approve, deny)\n"
              "Try 'dmvfilter review --help'.\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0 ||
        dmvf__cli_wants_help(argc - 1, argv + 1))
        return help();
    if (strcmp(sub, "keygen") == 0)
        return review_keygen(argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return review_list(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return review_show(argc - 1, argv + 1);
    if (strcmp(sub, "approve") == 0)
        return review_decide(argc - 1, argv + 1, 1);
    if (strcmp(sub, "deny") == 0)
        return review_decide(argc - 1, argv + 1, 0);
    fprintf(stderr, "dmvfilter review: unknown subcommand '%s' (keygen, list, show, approve, "
                    "deny)\nTry 'dmvfilter review --help'.\n", sub);
    return DMVF_EXIT_USAGE;
}
