/*
 * auditbench.c - what an audit entry costs when several threads append:
 * appends per second and the latency of one append (p50, p99), for 1, 4 and
 * 16 threads, with group commit (the handle shared: concurrent appends share
 * one write and one fsync) and without (the same handle behind a mutex of
 * the caller's: every append alone, one write and one fsync each, as a
 * caller had to before the handle was thread-safe).
 *
 * usage: auditbench [--seconds S] [--threads LIST] [--dir D]
 *
 *   --seconds S    per measurement (default 2); each thread appends REQUEST
 *                  entries (a request with every field set) for S seconds
 *   --threads LIST comma-separated thread counts (default 1,4,16)
 *   --dir D        where the logs go (default ./auditbench.d: run it from the
 *                  build directory, a file system like the production one);
 *                  a fresh log per measurement, D removed at the end
 *
 * Latency: clock_gettime(CLOCK_MONOTONIC) around dmvf_audit_event_write,
 * the caller's view (without group commit: the wait for the mutex
 * included). fsyncs: the batches the handle wrote (each one write and one
 * fsync; a rotation adds its own, none happens at these sizes). Run it
 * nice'd on a shared machine: `nice -n 10 build/auditbench --seconds 1`.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/account/audit_writer_int.h"
#include "keys/keys.h"

typedef struct worker {
    pthread_t th;
    dmvf_audit *a;
    pthread_mutex_t *serial;    /* NULL: group commit */
    double stop_at;
    uint64_t *lat;              /* ns per append */
    size_t n, cap;
    int failed;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *const k_tags[] = {"patrol"};
static const char *const k_fields[] = {"person.family_name", "license.number"};

static void *work(void *ud)
{
    worker *w = ud;
    dmvf_request r;
    memset(&r, 0, sizeof r);
    r.ori = "NY0300000";
    r.agency_name = "Albany Police Department";
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.jurisdiction = "NY";
    r.tags = k_tags;
    r.ntags = 1;
    r.purpose = 1;
    r.query_kind = DMVF_QUERY_BY_LICENSE;
    r.fields = k_fields;
    r.nfields = 2;
    r.operator_id = "op-17";
    r.channel = "nlets";
    r.date = 20261122;
    char rid[32];
    r.request_id = rid;
    dmvf_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DMVF_AUDIT_REQUEST;
    ev.request = &r;
    ev.rule = "in-state police";
    ev.policy_id = "0123abcd";
    ev.decision = DMVF_DECISION_RELEASE;
    while (now_s() < w->stop_at) {
        snprintf(rid, sizeof rid, "req-%zu", w->n);
        if (w->n == w->cap) {
            size_t ncap = w->cap ? w->cap * 2 : 4096;
            uint64_t *nl = realloc(w->lat, ncap * sizeof *nl);
            if (!nl) {
                w->failed = 1;
                break;
            }
            w->lat = nl;
            w->cap = ncap;
        }
        dmvf_error err;
        uint64_t t0 = now_ns();
        if (w->serial)
            pthread_mutex_lock(w->serial);
        int rc = dmvf_audit_event_write(w->a, &ev, NULL, &err);
        if (w->serial)
            pthread_mutex_unlock(w->serial);
        w->lat[w->n++] = now_ns() - t0;
        if (rc != DMVF_OK) {
            fprintf(stderr, "auditbench: append: %s\n", err.msg);
            w->failed = 1;
            break;
        }
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* One measurement: nt threads for secs on a fresh log in dir. */
static int measure(const char *dir, const dmvf_keyring *kr, int nt, int group, double secs)
{
    char log[4096];
    snprintf(log, sizeof log, "%s/log-%d-%s", dir, nt, group ? "gc" : "serial");
    dmvf_error err;
    dmvf_audit *a = dmvf_audit_open(log, kr, NULL, &err);
    if (!a) {
        fprintf(stderr, "auditbench: %s: %s\n", log, err.msg);
        return 1;
    }
    pthread_mutex_t serial = PTHREAD_MUTEX_INITIALIZER;
    worker *w = calloc((size_t)nt, sizeof *w);
    if (!w)
        return 1;
    uint64_t batches0 = a->batches;
    double t0 = now_s();
    for (int i = 0; i < nt; i++) {
        w[i].a = a;
        w[i].serial = group ? NULL : &serial;
        w[i].stop_at = t0 + secs;
        if (pthread_create(&w[i].th, NULL, work, &w[i]) != 0) {
            fprintf(stderr, "auditbench: pthread_create failed\n");
            return 1;
        }
    }
    size_t total = 0;
    int failed = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        failed |= w[i].failed;
    }
    double wall = now_s() - t0;
    uint64_t batches = a->batches - batches0;
    uint64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; all && i < nt; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        k += w[i].n;
    }
    if (all && total) {
        qsort(all, total, sizeof *all, cmp_u64);
        printf("| %2d | %-12s | %8.0f | %7.3f | %7.3f | %7zu | %6" PRIu64 " | %5.1f |\n", nt,
               group ? "group commit" : "serialized", (double)total / wall,
               (double)all[total / 2] / 1e6, (double)all[(total * 99) / 100] / 1e6, total,
               batches, batches ? (double)total / (double)batches : 0.0);
    }
    fflush(stdout);
    free(all);
    for (int i = 0; i < nt; i++)
        free(w[i].lat);
    free(w);
    failed |= dmvf_audit_close(a, &err) != DMVF_OK;
    return failed;
}

int main(int argc, char **argv)
{
    double secs = 2;
    const char *threads = "1,4,16", *dir = "auditbench.d";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            secs = atof(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = argv[++i];
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: auditbench [--seconds S] [--threads LIST] [--dir D]\n");
            return 64;
        }
    }
    if (secs <= 0) {
        fprintf(stderr, "auditbench: --seconds must be positive\n");
        return 64;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (strchr(dir, '\'') || system(cmd) != 0) {
        fprintf(stderr, "auditbench: cannot make %s\n", dir);
        return 74;
    }
    char krpath[4096];
    snprintf(krpath, sizeof krpath, "%s/keyring", dir);
    uint8_t seed[32] = {7};
    dmvf_error err;
    dmvf_keyring *kr = NULL;
    if (dmvf__keyring_create_seeded(krpath, seed, 1, &err) != DMVF_OK ||
        !(kr = dmvf_keyring_load(krpath, NULL, &err))) {
        fprintf(stderr, "auditbench: keyring: %s\n", err.msg);
        return 79;
    }
    printf("| threads | mode | appends/s | p50 ms | p99 ms | appends | fsyncs | entries/fsync |\n"
           "|---:|---|---:|---:|---:|---:|---:|---:|\n");
    int bad = 0;
    char *list = strdup(threads);
    for (char *tok = list ? strtok(list, ",") : NULL; tok && !bad; tok = strtok(NULL, ",")) {
        int nt = atoi(tok);
        if (nt < 1 || nt > 1024) {
            fprintf(stderr, "auditbench: bad thread count '%s'\n", tok);
            bad = 1;
            break;
        }
        bad |= measure(dir, kr, nt, 0, secs);
        bad |= measure(dir, kr, nt, 1, secs);
    }
    free(list);
    dmvf_keyring_free(kr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        bad = 1;
    return bad;
}
