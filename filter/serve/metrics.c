/*
 * metrics.c - what /metrics says (Prometheus text format 0.0.4): calls by
 * method and code, requests by decision and rule, records released and
 * withheld, call latency, audit step latency (fsync'd appends), calls in
 * flight, open connections, reloads. Only counts: never record content,
 * request ids, ORIs or pseudonyms. Rule names are the policy's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "filter/serve/serve_int.h"

#define NBUCKETS 14
static const double bounds[NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
#define NRULES 64

double dmvf__metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct hist {
    uint64_t b[NBUCKETS + 1];
    double sum;
    uint64_t n;
} hist;

typedef struct rule_count {
    char rule[128];
    int decision;
    uint64_t n;
} rule_count;

struct dmvf__metrics {
    pthread_mutex_t lock;
    uint64_t calls[2][DMVF__C_COUNT];  /* Release, Explain */
    rule_count rules[NRULES];
    size_t nrules;
    uint64_t rules_other;
    uint64_t released, withheld;
    hist latency, audit;
    uint64_t reload_ok, reload_failed;
    atomic_int in_flight, connections;
};

dmvf__metrics *dmvf__metrics_create(void)
{
    dmvf__metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void dmvf__metrics_free(dmvf__metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void observe(hist *h, double s)
{
    size_t i = 0;
    while (i < NBUCKETS && s > bounds[i])
        i++;
    h->b[i]++;
    h->sum += s;
    h->n++;
}

void dmvf__metrics_call(dmvf__metrics *m, const char *method, const dmvf__reply *r, double seconds)
{
    pthread_mutex_lock(&m->lock);
    int mi = strcmp(method, "Explain") == 0;
    m->calls[mi][r->code >= 0 && r->code < DMVF__C_COUNT ? r->code : DMVF__C_INTERNAL]++;
    if (!mi && r->decision) {
        size_t i = 0;
        while (i < m->nrules && !(m->rules[i].decision == r->decision && strcmp(m->rules[i].rule, r->rule) == 0))
            i++;
        if (i == m->nrules && m->nrules < NRULES) {
            snprintf(m->rules[i].rule, sizeof m->rules[i].rule, "%s", r->rule);
            m->rules[i].decision = r->decision;
            m->nrules++;
        }
        if (i < m->nrules)
            m->rules[i].n++;
        else
            m->rules_other++;
        if (r->code == DMVF__C_OK) {
            m->released += r->records_out;
            m->withheld += r->records_in - r->records_out;
        }
    }
    observe(&m->latency, seconds);
    pthread_mutex_unlock(&m->lock);
}

void dmvf__metrics_audit(dmvf__metrics *m, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    observe(&m->audit, seconds);
    pthread_mutex_unlock(&m->lock);
}

void dmvf__metrics_reload(dmvf__metrics *m, int ok)
{
    pthread_mutex_lock(&m->lock);
    if (ok)
        m->reload_ok++;
    else
        m->reload_failed++;
    pthread_mutex_unlock(&m->lock);
}

void dmvf__metrics_in_flight(dmvf__metrics *m, int delta)
{
    atomic_fetch_add(&m->in_flight, delta);
}

void dmvf__metrics_connections(dmvf__metrics *m, int delta)
{
    atomic_fetch_add(&m->connections, delta);
}

static void put_hist(dmvf__text *t, const char *name, const char *help, const hist *h)
{
    char line[200];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    dmvf__text_puts(t, line);
    uint64_t cum = 0;
    for (size_t i = 0; i <= NBUCKETS; i++) {
        cum += h->b[i];
        if (i < NBUCKETS)
            snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
        else
            snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        dmvf__text_puts(t, line);
    }
    snprintf(line, sizeof line, "%s_sum %.9f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->n);
    dmvf__text_puts(t, line);
}

/* A label value: backslash, quote and newline escaped. */
static void put_label(dmvf__text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            dmvf__text_put(t, "\\", 1);
        if (*s == '\n')
            dmvf__text_puts(t, "\\n");
        else
            dmvf__text_put(t, s, 1);
    }
}

void dmvf__metrics_text(dmvf__metrics *m, dmvf__text *t)
{
    static const char *const dec[] = {"unspecified", "release", "deny", "review"};
    static const char *const meth[] = {"Release", "Explain"};
    char line[300];
    pthread_mutex_lock(&m->lock);
    dmvf__text_puts(t, "# HELP dmvf_calls_total Connect calls answered, by method and code.\n"
                       "# TYPE dmvf_calls_total counter\n");
    for (int mi = 0; mi < 2; mi++)
        for (int c = 0; c < DMVF__C_COUNT; c++)
            if (m->calls[mi][c]) {
                snprintf(line, sizeof line, "dmvf_calls_total{method=\"%s\",code=\"%s\"} %llu\n", meth[mi],
                         dmvf__code_name(c), (unsigned long long)m->calls[mi][c]);
                dmvf__text_puts(t, line);
            }
    dmvf__text_puts(t, "# HELP dmvf_requests_total Release requests judged, by decision and rule.\n"
                       "# TYPE dmvf_requests_total counter\n");
    for (size_t i = 0; i < m->nrules; i++) {
        snprintf(line, sizeof line, "dmvf_requests_total{decision=\"%s\",rule=\"",
                 dec[m->rules[i].decision & 3]);
        dmvf__text_puts(t, line);
        put_label(t, m->rules[i].rule);
        snprintf(line, sizeof line, "\"} %llu\n", (unsigned long long)m->rules[i].n);
        dmvf__text_puts(t, line);
    }
    if (m->rules_other) {
        snprintf(line, sizeof line, "dmvf_requests_total{decision=\"other\",rule=\"(more rules)\"} %llu\n",
                 (unsigned long long)m->rules_other);
        dmvf__text_puts(t, line);
    }
    snprintf(line, sizeof line,
             "# HELP dmvf_records_released_total Records released.\n# TYPE dmvf_records_released_total counter\n"
             "dmvf_records_released_total %llu\n"
             "# HELP dmvf_records_withheld_total Records received and not released.\n"
             "# TYPE dmvf_records_withheld_total counter\ndmvf_records_withheld_total %llu\n",
             (unsigned long long)m->released, (unsigned long long)m->withheld);
    dmvf__text_puts(t, line);
    put_hist(t, "dmvf_call_seconds", "Time from a call's last body byte to its reply.", &m->latency);
    put_hist(t, "dmvf_audit_step_seconds", "Time of one request's audit step (fsync'd appends, lock wait included).",
             &m->audit);
    snprintf(line, sizeof line,
             "# HELP dmvf_in_flight Calls being judged now.\n# TYPE dmvf_in_flight gauge\ndmvf_in_flight %d\n"
             "# HELP dmvf_connections Connections open now.\n# TYPE dmvf_connections gauge\ndmvf_connections %d\n",
             atomic_load(&m->in_flight), atomic_load(&m->connections));
    dmvf__text_puts(t, line);
    snprintf(line, sizeof line,
             "# HELP dmvf_reloads_total SIGHUP reloads of policy and keyring, by result.\n"
             "# TYPE dmvf_reloads_total counter\ndmvf_reloads_total{result=\"ok\"} %llu\n"
             "dmvf_reloads_total{result=\"failed\"} %llu\n",
             (unsigned long long)m->reload_ok, (unsigned long long)m->reload_failed);
    dmvf__text_puts(t, line);
    pthread_mutex_unlock(&m->lock);
}
