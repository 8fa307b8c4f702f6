/*
 * cmd_serve.c - `dmvfilter serve`: flags, the loader the service calls at
 * start and on SIGHUP, exit codes. The service itself is filter/serve/.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/cli/cli.h"
#include "filter/core/date.h"
#include "filter/serve/serve.h"

const char dmvf__cli_serve_help[] =
    "usage: dmvfilter serve --policy FILE --keyring FILE [--passphrase-file F]\n"
    "                 --listen unix:PATH | --listen tcp:HOST:PORT [--listen ...]\n"
    "                 [--socket-group G] [--tls-cert F --tls-key F --client-ca F]\n"
    "                 [--insecure-tcp] [--audit DIR] [--audit-subjects] [--notices F]\n"
    "                 [--review-spool DIR] [--review-public-key F] [--threads N]\n"
    "                 [--max-body SIZE] [--max-records N] [--max-record-bytes SIZE]\n"
    "                 [--max-header-bytes SIZE] [--max-connections N] [--max-in-flight N]\n"
    "                 [--timeout SECONDS] [--max-json-depth N] [--date DATE] [--quiet]\n"
    "\n"
    "The per-request hook as a local service: Connect unary RPC over HTTP/1.1\n"
    "(schema/dmv/v1/service.proto). Each call is judged, rewritten and accounted\n"
    "for exactly as one request of `dmvfilter filter --format framed`.\n"
    "\n"
    "  POST /dmv.v1.ReleaseService/Release   ReleaseRequest -> ReleaseResponse\n"
    "  POST /dmv.v1.ReleaseService/Explain   ExplainRequest -> ExplainResponse\n"
    "       Content-Type application/proto or application/json (the reply's too)\n"
    "  GET  /healthz                         200 when ready, 503 while stopping\n"
    "  GET  /metrics                         Prometheus text\n"
    "\n"
    "Callers are the policy's clients (clients: section): a Unix-socket peer by\n"
    "its uid, a TLS peer by its certificate's sha256 fingerprint; anyone else is\n"
    "unauthenticated, and a request for an ORI the client may not speak for is\n"
    "permission_denied (audited, nothing released). A policy refusal is a 200\n"
    "whose trailer says so (not-found: exactly a genuine miss).\n"
    "\n"
    "flags:\n"
    "  --policy FILE, --keyring FILE, --passphrase-file F   as for filter\n"
    "  --listen unix:PATH      a Unix socket (mode 0660), repeatable\n"
    "  --listen tcp:HOST:PORT  TLS 1.2+ with client certificates required\n"
    "  --socket-group G        the Unix socket's group\n"
    "  --tls-cert F, --tls-key F   the server's certificate and key (PEM)\n"
    "  --client-ca F           the CA that signs client certificates (PEM)\n"
    "  --insecure-tcp          plain TCP, every peer taken as this process's uid:\n"
    "                          for tests only\n"
    "  --audit DIR, --audit-subjects, --notices F, --review-spool DIR,\n"
    "  --review-public-key F   as for filter (default: the policy's sections)\n"
    "  --threads N             HTTP worker threads per listener (default 2); with an\n"
    "                          audit log, Release calls run on a pool of their own,\n"
    "                          a thread for each call --max-in-flight allows\n"
    "  --max-body SIZE         request body (default 64M)\n"
    "  --max-records N         records per request (default 10000)\n"
    "  --max-record-bytes SIZE a record, judged as filter judges it (default 16M)\n"
    "  --max-header-bytes SIZE header memory per connection (default 32K)\n"
    "  --max-connections N     open connections (default 256)\n"
    "  --max-in-flight N       calls judged at once (default 64); more:\n"
    "                          resource_exhausted\n"
    "  --timeout SECONDS       a connection idle or stalled this long is closed\n"
    "                          (default 10)\n"
    "  --max-json-depth N      nesting of a JSON body (default 32)\n"
    "  --date DATE             judge requests as of DATE (YYYY-MM-DD; tests, replays)\n"
    "  --quiet                 no line per call on stderr\n"
    "\n"
    "signals: SIGHUP reloads the policy and keyring (calls in flight finish on\n"
    "the old ones; a policy that does not load keeps the old one); SIGTERM or\n"
    "SIGINT stops accepting, drains, closes the audit log.\n"
    "\n"
    "exit: 0 stopped cleanly, 64 usage, 74 a listener or the audit log, 78 bad\n"
    "      policy, 79 bad keyring.\n";

static const char usage[] =
    "usage: dmvfilter serve --policy FILE --keyring FILE --listen unix:PATH|tcp:HOST:PORT [flags]\n";

typedef struct loader {
    const char *policy, *keyring, *passfile;
} loader;

static int load(void *ud, dmvf_policy **pol, dmvf_keyring **kr, char *msg, size_t cap)
{
    const loader *l = ud;
    int code = 0;
    *pol = dmvf__cli_policy_load(l->policy, &code);
    if (!*pol) {
        snprintf(msg, cap, "policy %s does not load (the message above)", l->policy);
        return code;
    }
    *kr = dmvf__cli_keyring_load(l->keyring, l->passfile, &code);
    if (!*kr) {
        dmvf_policy_free(*pol);
        *pol = NULL;
        snprintf(msg, cap, "keyring %s does not load (the message above)", l->keyring);
        return code;
    }
    return 0;
}

static int count(dmvf_cli_args *a, const char *flag, const char *v, unsigned long max, unsigned long *out)
{
    char *e;
    unsigned long n = v ? strtoul(v, &e, 10) : 0;
    if (!v || !*v || *e || n == 0 || n > max)
        return dmvf__cli_usage_error(a, "%s '%s': a whole number from 1 to %lu expected", flag, v ? v : "", max);
    *out = n;
    return 0;
}

static int size_flag(dmvf_cli_args *a, const char *flag, const char *v, size_t *out)
{
    if (!v || dmvf__cli_parse_size(v, out) || *out == 0)
        return dmvf__cli_usage_error(a, "%s '%s': a size such as 65536, 64K or 16M expected", flag, v ? v : "");
    return 0;
}

int dmvf__cli_cmd_serve(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv)) {
        fputs(dmvf__cli_serve_help, stdout);
        return dmvf__cli_flush_stdout();
    }
    dmvf_serve_config cfg;
    memset(&cfg, 0, sizeof cfg);
    loader ld = {NULL, NULL, NULL};
    dmvf_cli_args a;
    dmvf__cli_args_init(&a, argc, argv, "serve", usage);
    for (; a.i < a.argc && !a.bad; a.i++) {
        const char *v;
        unsigned long n;
        if (dmvf__cli_value(&a, "--policy", &v)) {
            ld.policy = v;
        } else if (dmvf__cli_value(&a, "--keyring", &v)) {
            ld.keyring = v;
        } else if (dmvf__cli_value(&a, "--passphrase-file", &v)) {
            ld.passfile = v;
        } else if (dmvf__cli_value(&a, "--listen", &v)) {
            if (v && cfg.nlisten >= DMVF_SERVE_MAX_LISTEN)
                dmvf__cli_usage_error(&a, "at most %d --listen", DMVF_SERVE_MAX_LISTEN);
            else if (v)
                cfg.listen[cfg.nlisten++] = v;
        } else if (dmvf__cli_value(&a, "--socket-group", &v)) {
            cfg.socket_group = v;
        } else if (dmvf__cli_value(&a, "--tls-cert", &v)) {
            cfg.tls_cert = v;
        } else if (dmvf__cli_value(&a, "--tls-key", &v)) {
            cfg.tls_key = v;
        } else if (dmvf__cli_value(&a, "--client-ca", &v)) {
            cfg.client_ca = v;
        } else if (dmvf__cli_switch(&a, "--insecure-tcp")) {
            cfg.insecure_tcp = 1;
        } else if (dmvf__cli_acct_flag(&a, &cfg.acct)) {
            /* consumed */
        } else if (dmvf__cli_value(&a, "--threads", &v)) {
            if (!count(&a, "--threads", v, 256, &n))
                cfg.threads = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--max-body", &v)) {
            size_flag(&a, "--max-body", v, &cfg.lim.max_body);
        } else if (dmvf__cli_value(&a, "--max-records", &v)) {
            if (!count(&a, "--max-records", v, 10000000, &n))
                cfg.lim.max_records = n;
        } else if (dmvf__cli_value(&a, "--max-record-bytes", &v)) {
            size_flag(&a, "--max-record-bytes", v, &cfg.lim.max_record_bytes);
        } else if (dmvf__cli_value(&a, "--max-header-bytes", &v)) {
            size_flag(&a, "--max-header-bytes", v, &cfg.lim.max_header_bytes);
        } else if (dmvf__cli_value(&a, "--max-connections", &v)) {
            if (!count(&a, "--max-connections", v, 65536, &n))
                cfg.lim.max_connections = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--max-in-flight", &v)) {
            if (!count(&a, "--max-in-flight", v, 65536, &n))
                cfg.lim.max_in_flight = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--timeout", &v)) {
            if (!count(&a, "--timeout", v, 86400, &n))
                cfg.lim.timeout_s = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--max-json-depth", &v)) {
            if (!count(&a, "--max-json-depth", v, 1000, &n))
                cfg.lim.json_depth = (unsigned)n;
        } else if (dmvf__cli_value(&a, "--date", &v)) {
            if (v && !(cfg.as_of = dmvf__date_parse(v, strlen(v))))
                dmvf__cli_usage_error(&a, "--date '%s': a date YYYY-MM-DD expected", v);
        } else if (dmvf__cli_switch(&a, "--quiet")) {
            cfg.quiet = 1;
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", a.argv[a.i]);
        }
    }
    if (a.bad)
        return DMVF_EXIT_USAGE;
    if (!ld.policy || !ld.keyring)
        return dmvf__cli_usage_error(&a, "--policy and --keyring are required");
    if (!cfg.nlisten)
        return dmvf__cli_usage_error(&a, "give --listen unix:PATH or --listen tcp:HOST:PORT");
    cfg.load = load;
    cfg.load_ud = &ld;
    char msg[1024] = "";
    int st = dmvf__serve_run(&cfg, msg, sizeof msg);
    if (st == DMVF_OK)
        return 0;
    dmvf__cli_err("serve: %s", msg[0] ? msg : dmvf_strerror(st));
    switch (st) {
    case DMVF_EPOLICY: return DMVF_EXIT_POLICY;
    case DMVF_EKEYRING: return DMVF_EXIT_KEYRING;
    case DMVF_EINVAL: return DMVF_EXIT_USAGE;
    case DMVF_ENOMEM: return DMVF_EXIT_NOMEM;
    default: return DMVF_EXIT_IOERR;
    }
}
