/*
 * serve.c - dmvf__serve_run: the service's life.
 *
 *   start   signals blocked (every thread inherits the mask); the first
 *           load; the audit log and, with one, the call pool (a thread
 *           for each call that may be in flight, up to 1024); each
 *           listener with its workers
 *   wait    sigwait: SIGHUP reloads policy and keyring (snapshot.c);
 *           SIGTERM or SIGINT stops
 *   stop    new calls are unavailable, listeners stop accepting; the
 *           calls in flight finish; the daemons stop, then the call pool;
 *           the audit log gets its closing checkpoint
 *
 * The audit log keeps the keyring it was opened with (the first load's)
 * for the life of the process.
 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "filter/serve/serve_int.h"

#define MAX_POOL 1024

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int dmvf__serve_run(const dmvf_serve_config *cfg, char *msg, size_t cap)
{
    DMVF_REQUIRE(cfg != NULL && cfg->load != NULL, "config or loader is NULL");
    if (cfg->nlisten == 0) {
        snprintf(msg, cap, "nothing to listen on: give --listen unix:PATH or --listen tcp:HOST:PORT");
        return DMVF_EINVAL;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static dmvf__server srv;
    dmvf__server *s = &srv;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->lim = cfg->lim;
    dmvf__serve_limits_default(&s->lim);
    s->m = dmvf__metrics_create();
    if (!s->m) {
        snprintf(msg, cap, "out of memory");
        return DMVF_ENOMEM;
    }
    int rc = dmvf__snaps_init(&s->snaps, cfg, msg, cap);
    if (rc != DMVF_OK) {
        dmvf__metrics_free(s->m);
        return rc;
    }
    /* the audit log's keyring stays borrowed by it: this snapshot is held */
    dmvf__snap *audit_snap = dmvf__snap_acquire(&s->snaps);
    rc = dmvf__acct_open(&s->acct, cfg, audit_snap, msg, cap);
    s->acct.m = s->m;
    if (rc == DMVF_OK && s->acct.audit)
        rc = dmvf__pool_start(&s->pool, s->lim.max_in_flight < MAX_POOL ? s->lim.max_in_flight : MAX_POOL, msg,
                              cap);
    for (size_t i = 0; rc == DMVF_OK && i < cfg->nlisten; i++)
        rc = dmvf__listen_start(s, cfg->listen[i], msg, cap);
    if (rc != DMVF_OK) {
        char m2[200];
        dmvf__listen_stop(s);
        dmvf__pool_stop(&s->pool);
        dmvf__acct_close(&s->acct, m2, sizeof m2);
        dmvf__snap_release(audit_snap);
        dmvf__snaps_free(&s->snaps);
        dmvf__metrics_free(s->m);
        return rc;
    }
    if (!cfg->quiet)
        fprintf(stderr, "dmvfilter serve: ready (policy %.8s, %zu listener%s, audit log %s)\n",
                dmvf_policy_id(s->snaps.cur->pol), s->nd, s->nd == 1 ? "" : "s",
                s->acct.dir ? s->acct.dir : "none");
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            char why[600];
            int ok = dmvf__snaps_reload(&s->snaps, why, sizeof why) == DMVF_OK;
            dmvf__metrics_reload(s->m, ok);
            if (ok)
                fprintf(stderr, "dmvfilter serve: reloaded (policy %.8s)\n", dmvf_policy_id(s->snaps.cur->pol));
            else
                fprintf(stderr, "dmvfilter serve: reload failed, the policy and keyring in use stay: %s\n", why);
            continue;
        }
        break;
    }
    atomic_store(&s->stopping, 1);
    dmvf__listen_quiesce(s);
    while (atomic_load(&s->in_flight) > 0)
        pause_ms(5);
    dmvf__listen_stop(s);
    dmvf__pool_stop(&s->pool);
    rc = dmvf__acct_close(&s->acct, msg, cap);
    dmvf__snap_release(audit_snap);
    dmvf__snaps_free(&s->snaps);
    dmvf__metrics_free(s->m);
    if (!cfg->quiet && rc == DMVF_OK)
        fprintf(stderr, "dmvfilter serve: stopped\n");
    return rc;
}
