/*
 * cmd_keys.c - `dmvfilter keys init|rotate|list|export-public` and
 * `dmvfilter reveal`.
 *
 * Key bytes never pass through here: the library creates, rotates and loads
 * keyrings; this file only handles passphrases (wiped after use), epoch
 * numbers and dates, and revealed plaintexts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"
#include "filter/core/date.h"
#include "filter/core/text.h"

const char dmvf__cli_keys_help[] =
    "usage: dmvfilter keys init --keyring FILE (--unsealed | --passphrase-file F)\n"
    "       dmvfilter keys rotate --keyring FILE [--passphrase-file F]\n"
    "       dmvfilter keys list --keyring FILE [--passphrase-file F]\n"
    "       dmvfilter keys export-public --keyring FILE [--passphrase-file F] [--out F]\n"
    "\n"
    "  init     creates a keyring with one epoch; sealed with a passphrase\n"
    "           (--passphrase-file F: its first line; or env DMVFILTER_PASSPHRASE),\n"
    "           or --unsealed (mode 0600, refused when readable by others)\n"
    "  rotate   adds an epoch, which becomes current; old epochs stay for reveal\n"
    "  list     lists epochs, their creation time (UTC), the current one, and\n"
    "           whether the keyring is sealed; never key bytes\n"
    "  export-public  writes the keyring's Ed25519 public key (one line,\n"
    "           'dmvfilter-ed25519 <64 hex digits>') to --out F (created; it must\n"
    "           not exist) or stdout: what a recipient needs to run\n"
    "           `dmvfilter verify` on a framed release\n"
    "\n"
    "flags:\n"
    "  --keyring FILE          the keyring file\n"
    "  --passphrase-file F     the passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE)\n"
    "  --unsealed              (init) write the keyring unsealed\n"
    "  --out F                 (export-public) the public key file (default: stdout)\n"
    "\n"
    "exit: 0 ok, 64 usage, 71 out of memory, 74 I/O (e.g. the file exists),\n"
    "      79 bad keyring (missing, too open, corrupt, wrong passphrase).\n";

static const char init_usage[] =
    "usage: dmvfilter keys init --keyring FILE (--unsealed | --passphrase-file F)\n";
static const char rotate_usage[] =
    "usage: dmvfilter keys rotate --keyring FILE [--passphrase-file F]\n";
static const char list_usage[] =
    "usage: dmvfilter keys list --keyring FILE [--passphrase-file F]\n";
static const char export_usage[] =
    "usage: dmvfilter keys export-public --keyring FILE [--passphrase-file F] [--out F]\n";

const char dmvf__cli_reveal_help[] =
    "usage: dmvfilter reveal --keyring FILE [--passphrase-file F] (--ori ORI | --scope S) [TOKEN...]\n"
    "\n"
    "Decrypts 'encrypt' tokens (E....) released to the requester ORI (or, for a\n"
    "requester whose directory entry names a scope, to that scope) and prints\n"
    "each plaintext on its own line, non-printable bytes as \\xNN (a backslash as\n"
    "\\x5c). Without TOKEN arguments, reads one token per line from stdin (blank\n"
    "lines are skipped). Stops at the first token that does not decrypt.\n"
    "\n"
    "flags:\n"
    "  --keyring FILE          the keyring the tokens were made with\n"
    "  --passphrase-file F     the passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE)\n"
    "  --ori ORI               the requester the tokens were released to\n"
    "  --scope S               the scope of its requester directory entry instead\n"
    "                          (`dmvfilter policy explain P --ori ORI` shows it)\n"
    "\n"
    "exit: 0 ok, 64 usage, 65 a token does not decrypt under this keyring and\n"
    "      ORI or scope, 74 I/O, 79 bad keyring.\n";

static int help(const char *text)
{
    fputs(text, stdout);
    return dmvf__cli_flush_stdout();
}

typedef struct keys_cfg {
    const char *keyring, *passfile, *ori;
    int unsealed;
} keys_cfg;

/* Scans the flags shared by the keys commands and reveal; positional
 * arguments are allowed only when tokens is not NULL. */
static int scan(dmvf_cli_args *a, keys_cfg *c, int allow_unsealed, int allow_ori,
                const char **tokens, size_t *ntokens)
{
    memset(c, 0, sizeof *c);
    for (a->i = 0; a->i < a->argc && !a->bad; a->i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(a))
            continue;
        if (dmvf__cli_is_positional(a)) {
            if (tokens)
                tokens[(*ntokens)++] = a->argv[a->i];
            else
                dmvf__cli_usage_error(a, "unexpected argument '%s'", a->argv[a->i]);
        } else if (dmvf__cli_value(a, "--keyring", &v)) {
            c->keyring = v;
        } else if (dmvf__cli_value(a, "--passphrase-file", &v)) {
            c->passfile = v;
        } else if (allow_unsealed && dmvf__cli_switch(a, "--unsealed")) {
            c->unsealed = 1;
        } else if (allow_ori && (dmvf__cli_value(a, "--ori", &v) || dmvf__cli_value(a, "--scope", &v))) {
            if (v && c->ori)
                dmvf__cli_usage_error(a, "one of --ori and --scope, once");
            c->ori = v;
        } else {
            dmvf__cli_usage_error(a, "unknown flag '%s'", a->argv[a->i]);
        }
    }
    if (!a->bad && !c->keyring)
        dmvf__cli_usage_error(a, "--keyring is required");
    return a->bad ? DMVF_EXIT_USAGE : 0;
}

static int keyring_failure(const char *path, const dmvf_error *err)
{
    int c = err->code ? err->code : DMVF_EKEYRING;
    const char *msg = err->msg[0] ? err->msg : dmvf_strerror(c);
    /* the file is named once, by the library's message or here */
    if (strstr(msg, path))
        dmvf__cli_err("%s", msg);
    else
        dmvf__cli_err("keyring %s: %s", path, msg);
    if (c == DMVF_ENOMEM)
        return DMVF_EXIT_NOMEM;
    if (c == DMVF_EIO)
        return DMVF_EXIT_IOERR;
    return DMVF_EXIT_KEYRING;
}

static int keys_init(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(dmvf__cli_keys_help);
    dmvf_cli_args a;
    keys_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "keys init", init_usage);
    if (scan(&a, &c, 1, 0, NULL, NULL))
        return DMVF_EXIT_USAGE;
    if (c.unsealed && c.passfile)
        return dmvf__cli_usage_error(&a, "--unsealed and --passphrase-file exclude each other");
    char *pass = NULL;
    if (!c.unsealed) {
        int rc = dmvf__cli_passphrase(c.passfile, DMVF__CLI_ENV_PASS, &pass);
        if (rc)
            return rc;
        if (!pass)
            return dmvf__cli_usage_error(&a, "a passphrase is required (--passphrase-file F or env "
                                         "DMVFILTER_PASSPHRASE), or --unsealed");
        if (pass[0] == '\0') {
            dmvf__cli_passphrase_free(pass);
            return dmvf__cli_usage_error(&a, "the passphrase is empty");
        }
    }
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_keyring_create(c.keyring, pass, &err);
    dmvf__cli_passphrase_free(pass);
    if (st != DMVF_OK)
        return keyring_failure(c.keyring, &err);
    printf("%s: created, %s, epoch 1\n", c.keyring, c.unsealed ? "unsealed" : "sealed");
    return dmvf__cli_flush_stdout();
}

static int keys_rotate(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(dmvf__cli_keys_help);
    dmvf_cli_args a;
    keys_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "keys rotate", rotate_usage);
    if (scan(&a, &c, 0, 0, NULL, NULL))
        return DMVF_EXIT_USAGE;
    char *pass = NULL;
    int rc = dmvf__cli_passphrase(c.passfile, DMVF__CLI_ENV_PASS, &pass);
    if (rc)
        return rc;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf_keyring_rotate(c.keyring, pass, &err);
    if (st != DMVF_OK) {
        dmvf__cli_passphrase_free(pass);
        return keyring_failure(c.keyring, &err);
    }
    dmvf_keyring *k = dmvf_keyring_load(c.keyring, pass, &err);
    dmvf__cli_passphrase_free(pass);
    if (!k)
        return keyring_failure(c.keyring, &err);
    printf("%s: rotated, current epoch %u\n", c.keyring, (unsigned)dmvf_keyring_epoch(k));
    dmvf_keyring_free(k);
    return dmvf__cli_flush_stdout();
}

static int keys_list(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(dmvf__cli_keys_help);
    dmvf_cli_args a;
    keys_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "keys list", list_usage);
    if (scan(&a, &c, 0, 0, NULL, NULL))
        return DMVF_EXIT_USAGE;
    int rc;
    dmvf_keyring *k = dmvf__cli_keyring_load(c.keyring, c.passfile, &rc);
    if (!k)
        return rc;
    size_t n = dmvf_keyring_epoch_count(k);
    uint32_t current = dmvf_keyring_epoch(k);
    printf("keyring %s: %s, %zu epoch%s, current epoch %u\n", c.keyring,
           dmvf_keyring_is_sealed(k) ? "sealed" : "unsealed", n, n == 1 ? "" : "s",
           (unsigned)current);
    for (size_t i = 0; i < n; i++) {
        uint32_t epoch = 0;
        uint64_t created = 0;
        if (dmvf_keyring_epoch_info(k, i, &epoch, &created) != DMVF_OK) {
            dmvf__cli_err("keyring %s: cannot read epoch %zu", c.keyring, i);
            dmvf_keyring_free(k);
            return DMVF_EXIT_KEYRING;
        }
        char when[DMVF__TIME_CAP];
        dmvf__time_format(created, 0, DMVF__TIME_WHOLE, when);
        printf("  epoch %-5u created %s%s\n", (unsigned)epoch, when, epoch == current ? "  current" : "");
    }
    dmvf_keyring_free(k);
    return dmvf__cli_flush_stdout();
}

/* keys export-public: its own flag loop (it alone takes --out). */
static int keys_export_public(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(dmvf__cli_keys_help);
    dmvf_cli_args a;
    dmvf__cli_args_init(&a, argc, argv, "keys export-public", export_usage);
    const char *keyring = NULL, *passfile = NULL, *out = NULL;
    for (a.i = 0; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dmvf__cli_is_positional(&a))
            dmvf__cli_usage_error(&a, "unexpected argument '%s'", a.argv[a.i]);
        else if (dmvf__cli_value(&a, "--keyring", &v))
            keyring = v;
        else if (dmvf__cli_value(&a, "--passphrase-file", &v))
            passfile = v;
        else if (dmvf__cli_value(&a, "--out", &v))
            out = v;
        else
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
    }
    if (!a.bad && !keyring)
        dmvf__cli_usage_error(&a, "--keyring is required");
    if (!a.bad && out && !out[0])
        dmvf__cli_usage_error(&a, "--out: empty value");
    if (a.bad)
        return DMVF_EXIT_USAGE;
    int rc;
    dmvf_keyring *k = dmvf__cli_keyring_load(keyring, passfile, &rc);
    if (!k)
        return rc;
    uint8_t pub[DMVF_PUBLIC_KEY_LEN];
    dmvf_keyring_public_key(k, pub);
    dmvf_keyring_free(k);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    const char *path = out ? out : "-";
    if (strcmp(path, "-") == 0 && (rc = dmvf__cli_flush_stdout()) != 0)
        return rc;
    int st = dmvf_public_key_write(path, pub, &err);
    if (st != DMVF_OK) {
        dmvf__cli_err("public key %s", err.msg[0] ? err.msg : dmvf_strerror(st));
        return st == DMVF_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_IOERR;
    }
    if (strcmp(path, "-") != 0)
        printf("%s: public key of keyring %s written\n", path, keyring);
    return dmvf__cli_flush_stdout();
}

int dmvf__cli_cmd_keys(int argc, char **argv)
{
    if (argc < 1) {
        fputs("dmvfilter keys: a subcommand is required (init, rotate, list, export-public)\n"
              "Try 'dmvfilter keys --help'.\n", stderr);
        return DMVF_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return help(dmvf__cli_keys_help);
    if (strcmp(sub, "init") == 0)
        return keys_init(argc - 1, argv + 1);
    if (strcmp(sub, "rotate") == 0)
        return keys_rotate(argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return keys_list(argc - 1, argv + 1);
    if (strcmp(sub, "export-public") == 0)
        return keys_export_public(argc - 1, argv + 1);
    fprintf(stderr, "dmvfilter keys: unknown subcommand '%s' (init, rotate, list, export-public)\n"
                    "Try 'dmvfilter keys --help'.\n", sub);
    return DMVF_EXIT_USAGE;
}

/* ---- reveal ---- */

/* A revealed value on one line of stdout: printable ASCII other than '\'
 * as is, every other byte as \xNN. */
static void print_escaped(const uint8_t *p, size_t n)
{
    dmvf__text t = dmvf__text_file(stdout);
    dmvf__text_escaped(&t, (const char *)p, n, DMVF__ESC_BACKSLASH | DMVF__ESC_ASCII);
    putchar('\n');
}

typedef struct revealer {
    const dmvf_keyring *k;
    const char *ori;
    uint8_t *buf;
    size_t cap;
} revealer;

static int reveal_one(revealer *r, const char *tok, size_t len, const char *where)
{
    size_t want = len + 64;
    if (want > r->cap) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb) {
            dmvf__cli_err("out of memory");
            return DMVF_EXIT_NOMEM;
        }
        r->buf = nb;
        r->cap = want;
    }
    for (;;) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        size_t out_len = 0;
        int st = dmvf_keyring_reveal(r->k, r->ori, tok, len, r->buf, r->cap, &out_len, &err);
        if (st == DMVF_OK) {
            print_escaped(r->buf, out_len);
            return 0;
        }
        if (st == DMVF_ESPACE && r->cap < ((size_t)1 << 26)) {
            uint8_t *nb = realloc(r->buf, r->cap * 2);
            if (!nb) {
                dmvf__cli_err("out of memory");
                return DMVF_EXIT_NOMEM;
            }
            r->buf = nb;
            r->cap *= 2;
            continue;
        }
        dmvf__cli_err("reveal: %s: %s", where, err.msg[0] ? err.msg : dmvf_strerror(st));
        return dmvf__cli_exit_for(st) ? dmvf__cli_exit_for(st) : DMVF_EXIT_SOFTWARE;
    }
}

int dmvf__cli_cmd_reveal(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv))
        return help(dmvf__cli_reveal_help);
    const char **tokens = calloc(argc > 0 ? (size_t)argc : 1, sizeof *tokens);
    if (!tokens) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    size_t ntokens = 0;
    dmvf_cli_args a;
    keys_cfg c;
    dmvf__cli_args_init(&a, argc, argv, "reveal",
                        "usage: dmvfilter reveal --keyring FILE [--passphrase-file F] (--ori ORI | --scope S) "
                        "[TOKEN...]\n");
    int rc = scan(&a, &c, 0, 1, tokens, &ntokens);
    if (!rc && !c.ori)
        rc = dmvf__cli_usage_error(&a, "--ori is required (or --scope)");
    if (!rc && c.ori[0] == '\0')
        rc = dmvf__cli_usage_error(&a, "--ori/--scope: empty value");
    if (rc) {
        free(tokens);
        return rc;
    }
    dmvf_keyring *k = dmvf__cli_keyring_load(c.keyring, c.passfile, &rc);
    if (!k) {
        free(tokens);
        return rc;
    }
    revealer r = {k, c.ori, NULL, 0};
    rc = 0;
    if (ntokens > 0) {
        for (size_t i = 0; i < ntokens && !rc; i++) {
            char where[64];
            snprintf(where, sizeof where, "token %zu", i + 1);
            rc = reveal_one(&r, tokens[i], strlen(tokens[i]), where);
        }
    } else {
        char *line = NULL;
        size_t cap = 0;
        unsigned long lineno = 0;
        ssize_t n;
        errno = 0;
        while (!rc && (n = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                             line[n - 1] == ' ' || line[n - 1] == '\t'))
                line[--n] = '\0';
            const char *t = line;
            while (*t == ' ' || *t == '\t')
                t++;
            if (*t == '\0')
                continue;
            char where[64];
            snprintf(where, sizeof where, "<stdin> line %lu", lineno);
            rc = reveal_one(&r, t, strlen(t), where);
        }
        if (!rc && ferror(stdin)) {
            dmvf__cli_err("input <stdin>: read failed: %s", strerror(errno));
            rc = DMVF_EXIT_IOERR;
        }
        free(line);
    }
    if (r.buf) {
        volatile uint8_t *v = r.buf;
        for (size_t i = 0; i < r.cap; i++)
            v[i] = 0;
    }
    free(r.buf);
    dmvf_keyring_free(k);
    free(tokens);
    int frc = dmvf__cli_flush_stdout();
    return rc ? rc : frc;
}
