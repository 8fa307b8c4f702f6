/*
 * cmd_notices.c - `dmvfilter notices due|sent`: the subject notice queue
 * seen from the DMV's side. `due` lists the notices not yet marked sent,
 * oldest due first; `sent` marks notices sent once the letters have gone
 * out (and, with --audit, writes a NOTICE_SENT entry to the audit log
 * first). The queue is the file the rules with notify_subject fill
 * (include/dmvfilter/notices.h has its format).
 */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "filter/cli/cli.h"
#include "filter/core/date.h"
#include "filter/core/hex.h"

const char dmvf__cli_notices_help[] =
    "usage: dmvfilter notices due (--queue FILE | --policy P) [--today YYYY-MM-DD] [--json]\n"
    "       dmvfilter notices sent (--queue FILE | --policy P) [--actor NAME]\n"
    "                 [--date YYYY-MM-DD] [--audit DIR --keyring K [--passphrase-file F]] ID...\n"
    "\n"
    "Rules with notify_subject queue a notice for every subject (record_id)\n"
    "released or requested; the DMV's mailing system sends them and marks\n"
    "them sent. A notice is due 3 days (or 3 business days, per the policy's\n"
    "notices settings) after the request.\n"
    "\n"
    "  due     lists the notices not yet marked sent, oldest due first:\n"
    "            ID  DUE  SUBJECT  AGENCY  LEGAL-PROCESS  [OVERDUE]\n"
    "          OVERDUE when the due date is before today; \"no notices due\"\n"
    "          when there are none. --json: the queue's notice objects, one per\n"
    "          line, with \"overdue\": true|false added (nothing when none).\n"
    "  sent    marks the notices ID... (16 hex digits each, from `due`) sent.\n"
    "          All are checked first: an id that is not due (unknown, or\n"
    "          already sent) marks nothing.\n"
    "\n"
    "flags:\n"
    "  --queue FILE            the notice queue (JSON Lines, mode 0600)\n"
    "  --policy P              take the queue from the policy's notices.queue\n"
    "                          (when --queue is not given); for `sent`, a policy\n"
    "                          whose audit log is required (audit.required) also\n"
    "                          names the audit log when --audit is not given\n"
    "  --today YYYY-MM-DD      (due) the day OVERDUE is judged against\n"
    "                          (default: today, UTC)\n"
    "  --json                  (due) JSON Lines output\n"
    "  --actor NAME            (sent) who marks them (default: the login name)\n"
    "  --date YYYY-MM-DD       (sent) the day they were sent (default: today, UTC)\n"
    "  --audit DIR             (sent) write a NOTICE_SENT entry (the ids, their\n"
    "                          count, the actor) to this audit log before\n"
    "                          marking; needs --keyring\n"
    "  --keyring K             the keyring of the audit log\n"
    "  --passphrase-file F     the keyring passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE)\n"
    "\n"
    "exit: 0 ok, 5 the audit log does not verify, 64 usage (also a malformed\n"
    "      id), 65 malformed queue, or an id that is not due (sent), 71 out of\n"
    "      memory, 74 I/O (queue missing, unreadable, open to group/others,\n"
    "      cannot be written or synced; audit log), 78 bad policy,\n"
    "      79 bad keyring.\n";

static const char due_usage[] =
    "usage: dmvfilter notices due (--queue FILE | --policy P) [--today YYYY-MM-DD] [--json]\n";
static const char sent_usage[] =
    "usage: dmvfilter notices sent (--queue FILE | --policy P) [--actor NAME]\n"
    "                 [--date YYYY-MM-DD] [--audit DIR --keyring K [--passphrase-file F]] ID...\n";

static int help(void)
{
    fputs(dmvf__cli_notices_help, stdout);
    return dmvf__cli_flush_stdout();
}

static int valid_id(const char *s)
{
    uint8_t raw[8];
    return dmvf__hex_decode(raw, sizeof raw, s, strlen(s), 0) == 0;
}

typedef struct notices_cfg {
    const char *queue, *policy, *actor, *audit, *keyring, *passfile;
    uint32_t today, date;
    int json;
    const char **ids;
    size_t nids;
} notices_cfg;

/* The library's failure as a message and an exit code. */
static int lib_failure(int st, const dmvf_error *err, int invalid_exit)
{
    dmvf__cli_err("%s", err->msg[0] ? err->msg : dmvf_strerror(st));
    if (st == DMVF_EINVAL)
        return invalid_exit;
    int x = dmvf__cli_exit_for(st);
    return x ? x : DMVF_EXIT_SOFTWARE;
}

/* Loads the policy when one is named; fills c->queue from it when needed.
 * *pol (may stay NULL) is the caller's to free. 0 or an exit code. */
static int resolve_queue(dmvf_cli_args *a, notices_cfg *c, dmvf_policy **pol)
{
    *pol = NULL;
    if (!c->policy) {
        if (!c->queue)
            return dmvf__cli_usage_error(a, "--queue FILE (or --policy P naming one) is required");
        return 0;
    }
    int rc;
    *pol = dmvf__cli_policy_load(c->policy, &rc);
    if (!*pol)
        return rc;
    if (!c->queue) {
        dmvf_policy_notices s;
        memset(&s, 0, sizeof s);
        dmvf_policy_notice_settings(*pol, &s);
        if (!s.queue || !s.queue[0])
            return dmvf__cli_usage_error(a, "policy %s names no notice queue (notices: {queue: FILE}); "
                                         "give --queue FILE", c->policy);
        c->queue = s.queue;
    }
    return 0;
}

static int scan(dmvf_cli_args *a, notices_cfg *c, int sent)
{
    for (a->i = 0; a->i < a->argc && !a->bad; a->i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(a))
            continue;
        if (dmvf__cli_is_positional(a)) {
            if (sent)
                c->ids[c->nids++] = a->argv[a->i];
            else
                dmvf__cli_usage_error(a, "unexpected argument '%s'", a->argv[a->i]);
        } else if (dmvf__cli_value(a, "--queue", &v)) {
            if (v && !v[0])
                dmvf__cli_usage_error(a, "--queue: empty value");
            c->queue = v;
        } else if (dmvf__cli_value(a, "--policy", &v)) {
            if (v && !v[0])
                dmvf__cli_usage_error(a, "--policy: empty value");
            c->policy = v;
        } else if (!sent && dmvf__cli_value(a, "--today", &v)) {
            if (v && !(c->today = dmvf__date_parse(v, strlen(v))))
                dmvf__cli_usage_error(a, "--today '%s': a date YYYY-MM-DD expected", v);
        } else if (!sent && dmvf__cli_switch(a, "--json")) {
            c->json = 1;
        } else if (sent && dmvf__cli_value(a, "--date", &v)) {
            if (v && !(c->date = dmvf__date_parse(v, strlen(v))))
                dmvf__cli_usage_error(a, "--date '%s': a date YYYY-MM-DD expected", v);
        } else if (sent && dmvf__cli_value(a, "--actor", &v)) {
            if (v && !v[0])
                dmvf__cli_usage_error(a, "--actor: empty value");
            c->actor = v;
        } else if (sent && dmvf__cli_value(a, "--audit", &v)) {
            if (v && !v[0])
                dmvf__cli_usage_error(a, "--audit: empty value");
            c->audit = v;
        } else if (sent && dmvf__cli_value(a, "--keyring", &v)) {
            c->keyring = v;
        } else if (sent && dmvf__cli_value(a, "--passphrase-file", &v)) {
            c->passfile = v;
        } else {
            dmvf__cli_usage_error(a, "unknown flag '%s'", a->argv[a->i]);
        }
    }
    return a->bad ? DMVF_EXIT_USAGE : 0;
}

static int notices_due(int argc, char **argv)
{
    dmvf_cli_args a;
    notices_cfg c;
    memset(&c, 0, sizeof c);
    dmvf__cli_args_init(&a, argc, argv, "notices due", due_usage);
    if (scan(&a, &c, 0))
        return DMVF_EXIT_USAGE;
    dmvf_policy *pol;
    int rc = resolve_queue(&a, &c, &pol);
    if (rc) {
        dmvf_policy_free(pol);
        return rc;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    uint64_t count = 0;
    int st = dmvf_notices_due_list(c.queue, c.today, c.json, stdout, &count, &err);
    dmvf_policy_free(pol);
    if (st != DMVF_OK) {
        /* a partial list is never printed: the queue is checked first */
        return lib_failure(st, &err, DMVF_EXIT_USAGE);
    }
    if (count == 0 && !c.json)
        puts("no notices due");
    return dmvf__cli_flush_stdout();
}

/* The ids that are due now, from the due list: the first 16 characters of
 * each line. Returns 0 or an exit code (message printed); *list is
 * malloc'd, NUL-separated. */
static int due_ids(const char *queue, char **list, size_t *len)
{
    *list = NULL;
    *len = 0;
    FILE *mem = open_memstream(list, len);
    if (!mem) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_notices_due_list(queue, 0, 0, mem, NULL, &err);
    if (fclose(mem) != 0 && st == DMVF_OK) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    if (st != DMVF_OK)
        return lib_failure(st, &err, DMVF_EXIT_DATAERR);
    return 0;
}

static int id_is_due(const char *list, size_t len, const char *id)
{
    for (size_t i = 0; i + 16 <= len;) {
        if (strncasecmp(list + i, id, 16) == 0 && (i + 16 == len || list[i + 16] == ' '))
            return 1;
        const char *nl = memchr(list + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - list) + 1;
    }
    return 0;
}

static const char *login_name(char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && pw->pw_name[0])
        return pw->pw_name;
    snprintf(buf, cap, "uid %u", (unsigned)geteuid());
    return buf;
}

/* Writes the NOTICE_SENT entry before anything is marked (write-ahead, as
 * for releases): the ids must all be due, so that the entry does not claim
 * what marking would then refuse. 0 or an exit code. */
static int audit_sent(const notices_cfg *c, const dmvf_policy *pol, const char *actor)
{
    int rc;
    dmvf_keyring *kr = dmvf__cli_keyring_load(c->keyring, c->passfile, &rc);
    if (!kr)
        return rc;
    dmvf_audit_options ao;
    memset(&ao, 0, sizeof ao);
    if (pol) {
        dmvf_policy_audit s;
        memset(&s, 0, sizeof s);
        dmvf_policy_audit_settings(pol, &s);
        ao.rotate_bytes = s.rotate_bytes;
        ao.rotate_seconds = s.rotate_seconds;
        ao.compress = s.compress;
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_audit *au = dmvf_audit_open(c->audit, kr, &ao, &err);
    if (!au) {
        rc = lib_failure(err.code ? err.code : DMVF_EIO, &err, DMVF_EXIT_USAGE);
        dmvf_keyring_free(kr);
        return rc;
    }
    char *list;
    size_t len;
    rc = due_ids(c->queue, &list, &len);
    for (size_t i = 0; !rc && i < c->nids; i++) {
        if (!id_is_due(list, len, c->ids[i])) {
            dmvf__cli_err("notice queue %s: notice %s is not due (not queued, or already marked "
                          "sent); nothing marked", c->queue, c->ids[i]);
            rc = DMVF_EXIT_DATAERR;
        }
    }
    free(list);
    char *note = NULL;
    if (!rc) {
        note = malloc(c->nids * 17 + 1);
        if (!note) {
            dmvf__cli_err("out of memory");
            rc = DMVF_EXIT_NOMEM;
        }
    }
    if (!rc) {
        size_t o = 0;
        for (size_t i = 0; i < c->nids; i++) {
            if (i)
                note[o++] = ' ';
            for (int k = 0; k < 16; k++)
                note[o++] = (char)tolower((unsigned char)c->ids[i][k]);
        }
        note[o] = '\0';
        dmvf_audit_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = DMVF_AUDIT_NOTICE_SENT;
        ev.actor = actor;
        ev.note = note;
        ev.policy_id = pol ? dmvf_policy_id(pol) : NULL;
        ev.counts.notices = (uint32_t)c->nids;
        int st = dmvf_audit_event_write(au, &ev, NULL, &err);
        if (st != DMVF_OK)
            rc = lib_failure(st, &err, DMVF_EXIT_USAGE);
        free(note);
    }
    memset(&err, 0, sizeof err);
    int cst = dmvf_audit_close(au, &err);
    if (cst != DMVF_OK && !rc)
        rc = lib_failure(cst, &err, DMVF_EXIT_USAGE);
    dmvf_keyring_free(kr);
    return rc;
}

static int notices_sent(int argc, char **argv)
{
    dmvf_cli_args a;
    notices_cfg c;
    memset(&c, 0, sizeof c);
    c.ids = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c.ids);
    if (!c.ids) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    dmvf__cli_args_init(&a, argc, argv, "notices sent", sent_usage);
    int rc = scan(&a, &c, 1);
    if (!rc && c.nids == 0)
        rc = dmvf__cli_usage_error(&a, "at least one notice ID is required");
    for (size_t i = 0; !rc && i < c.nids; i++)
        if (!valid_id(c.ids[i]))
            rc = dmvf__cli_usage_error(&a, "'%s' is not a notice id (16 hex digits, as `notices due` "
                                       "lists them)", c.ids[i]);
    if (!rc && c.audit && !c.keyring)
        rc = dmvf__cli_usage_error(&a, "--audit needs --keyring (the audit log's keyring)");
    if (!rc && !c.audit && (c.keyring || c.passfile) && !c.policy)
        rc = dmvf__cli_usage_error(&a, "--keyring and --passphrase-file go with --audit");
    dmvf_policy *pol = NULL;
    if (!rc)
        rc = resolve_queue(&a, &c, &pol);
    if (!rc && !c.audit && pol) {
        dmvf_policy_audit s;
        memset(&s, 0, sizeof s);
        dmvf_policy_audit_settings(pol, &s);
        if (s.required && s.dir && s.dir[0]) {
            c.audit = s.dir;
            if (!c.keyring)
                rc = dmvf__cli_usage_error(&a, "policy %s requires the audit log %s: give --keyring "
                                           "(or --audit DIR --keyring K)", c.policy, s.dir);
        } else if (c.keyring || c.passfile) {
            rc = dmvf__cli_usage_error(&a, "--keyring and --passphrase-file go with --audit");
        }
    }
    char namebuf[32];
    const char *actor = c.actor ? c.actor : login_name(namebuf, sizeof namebuf);
    if (!rc && c.audit)
        rc = audit_sent(&c, pol, actor);
    if (!rc) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st = dmvf_notices_mark_sent(c.queue, c.ids, c.nids, actor, c.date, &err);
        if (st != DMVF_OK) {
            rc = lib_failure(st, &err, DMVF_EXIT_DATAERR);
            if (c.audit)
                dmvf__cli_err("the audit log %s has a NOTICE_SENT entry for these ids, but they "
                              "were not marked sent", c.audit);
        } else {
            printf("%s: %zu notice%s marked sent\n", c.queue, c.nids, c.nids == 1 ? "" : "s");
        }
    }
    dmvf_policy_free(pol);
    free(c.ids);
    int frc = dmvf__cli_flush_stdout();
    return rc ? rc : frc;
}

int dmvf__cli_cmd_notices(int argc, char **argv)
{
    if (argc < 1) {
        fputs("dmvfilter notices: a subcommand is required (due, sent)\n"
              "Try 'dmvfilter notices --help'.\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return help();
    if (strcmp(sub, "due") == 0 || strcmp(sub, "sent") == 0) {
        if (dmvf__cli_wants_help(argc - 1, argv + 1))
            return help();
        return sub[0] == 'd' ? notices_due(argc - 1, argv + 1) : notices_sent(argc - 1, argv + 1);
    }
    fprintf(stderr, "dmvfilter notices: unknown subcommand '%s' (due, sent)\n"
                    "Try 'dmvfilter notices --help'.\n", sub);
    return DMVF_EXIT_USAGE;
}
