/*
 * serve_int.h - private to filter/serve/: the parts of the service.
 *
 *   snapshot.c   the policy and keyring in use, counted; SIGHUP's reload
 *   release.c    one Release call: the client's ORIs, the framed request
 *                with its audit hook, the reply's records and trailer
 *   account.c    the audit hook (REQUEST, notices, RELEASE, review holds)
 *   reply.c      reply bodies: binary and JSON messages, Connect errors
 *   metrics.c    counters and histograms, the Prometheus text
 *   http.c       libmicrohttpd: the handlers, peers, limits
 *   pool.c       the call pool: audited calls run off libmicrohttpd's threads
 *   listen.c     the listeners: Unix sockets, TCP with TLS
 *   serve.c      dmvf__serve_run: start, signals, drain, stop
 */
#ifndef DMVF_SERVE_SERVE_INT_H
#define DMVF_SERVE_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/request_acct.h"
#include "filter/serve/serve.h"

/* ---- snapshot.c ---- */
typedef struct dmvf__snap {
    atomic_uint refs;
    dmvf_policy *pol;
    dmvf_keyring *kr;
    /* where notices and review holds go: the flags, else this policy (its
     * audit is the service's, set per request) */
    dmvf__reqacct_where where;
    dmvf_policy_notices ns;
} dmvf__snap;

typedef struct dmvf__snaps {
    pthread_mutex_t lock;
    dmvf__snap *cur;
    const dmvf_serve_config *cfg;
} dmvf__snaps;

/* The first load: DMVF_OK, or the loader's failure (msg). */
int dmvf__snaps_init(dmvf__snaps *s, const dmvf_serve_config *cfg, char *msg, size_t cap);
/* The snapshot in use, counted: release it when done. */
dmvf__snap *dmvf__snap_acquire(dmvf__snaps *s);
void dmvf__snap_release(dmvf__snap *sn);
/* Loads anew and swaps (requests holding the old one finish on it):
 * DMVF_OK, else the old one stays and msg says why. */
int dmvf__snaps_reload(dmvf__snaps *s, char *msg, size_t cap);
void dmvf__snaps_free(dmvf__snaps *s);

/* ---- account.c ---- */
typedef struct dmvf__acct {
    dmvf_audit *audit;              /* NULL: not audited */
    const char *dir;
    int subjects;
    struct dmvf__metrics *m;        /* audit latency */
} dmvf__acct;

/* Opens the audit log the flags or the first policy name. DMVF_OK or an
 * error (msg). */
int dmvf__acct_open(dmvf__acct *a, const dmvf_serve_config *cfg, const dmvf__snap *sn, char *msg, size_t cap);
/* The closing checkpoint. DMVF_OK or an error (msg). */
int dmvf__acct_close(dmvf__acct *a, char *msg, size_t cap);

/* One request's accounting (filter/account/request_acct.h), its hook for
 * dmvf_framed_set_audit, and a failure in the log's words. */
typedef struct dmvf__racct {
    dmvf__acct *a;
    dmvf__reqacct_where w;          /* the audit log; the snapshot's notices, spool */
    dmvf__reqacct r;
    int failed;                     /* an audit step failed: nothing leaves */
    const char *kind;               /* what failed, for the client: "audit log", ... */
    char msg[800];                  /* why, for the log */
} dmvf__racct;

/* ra for a request on snapshot sn. */
void dmvf__racct_init(dmvf__racct *ra, dmvf__acct *a, const dmvf__snap *sn);
int dmvf__racct_hook(void *ud, dmvf_filter *f, const dmvf_trailer *t);
/* A request refused before it is judged (a client asking for an ORI it may
 * not speak for): one REQUEST entry, decision deny, with the note. */
int dmvf__racct_refused(dmvf__racct *ra, const dmvf_filter *f, const char *note);
/* A record without record_id under a rule that notifies subjects. */
int dmvf__racct_no_subject(dmvf__racct *ra, const dmvf_filter *f, uint64_t record);
/* After a failed step: ra->msg to the service's log (stderr, even under
 * --quiet: the DMV must see it), and r an internal error that names only
 * the kind of step (a path or an errno is the DMV's, not the client's). */
struct dmvf__reply;
void dmvf__racct_reply(const dmvf__racct *ra, struct dmvf__reply *r);
/* Before r is sent: the call's REQUEST entry durable when no later entry
 * made it so; when that fails, r becomes the accounting failure's 500. */
void dmvf__racct_settle(dmvf__racct *ra, struct dmvf__reply *r);

/* ---- reply.c ---- */
enum {
    DMVF__C_OK = 0,
    DMVF__C_INVALID_ARGUMENT,
    DMVF__C_UNAUTHENTICATED,
    DMVF__C_PERMISSION_DENIED,
    DMVF__C_RESOURCE_EXHAUSTED,
    DMVF__C_UNAVAILABLE,
    DMVF__C_INTERNAL,
    DMVF__C_NOT_FOUND,              /* no such procedure (HTTP 404) */
    DMVF__C_UNIMPLEMENTED,          /* wrong method (HTTP 405), media type (415) */
    DMVF__C_COUNT
};
const char *dmvf__code_name(int code);
int dmvf__code_status(int code);

typedef struct dmvf__reply {
    int status;                     /* HTTP */
    const char *ctype;
    dmvf__text body;
    int code;                       /* DMVF__C_* */
    /* for metrics and the log: never record content */
    int decision;                   /* DMVF_DECISION_*, 0: not judged */
    char rule[128];
    uint64_t records_in, records_out;
} dmvf__reply;

void dmvf__reply_init(dmvf__reply *r);
void dmvf__reply_free(dmvf__reply *r);
/* A Connect error: status, JSON {"code", "message"}. Returns code. */
int dmvf__reply_error(dmvf__reply *r, int code, const char *fmt, ...) DMVF_PRINTF(3, 4);
/* The framed release out[0..n) (one request: records, trailer, seal) as a
 * ReleaseResponse, binary or JSON. DMVF_OK, or an internal error. */
int dmvf__reply_release(dmvf__reply *r, int json, const uint8_t *out, size_t n);
/* ExplainResponse{text}. */
int dmvf__reply_explain(dmvf__reply *r, int json, const char *text, size_t n);

/* ---- release.c ---- */
typedef struct dmvf__call {
    const dmvf_serve_config *cfg;
    dmvf__acct *acct;
    dmvf__snap *sn;
    const dmvf_policy_client *client;
    int json;
} dmvf__call;

/* A decoded Release or Explain call into r. */
void dmvf__serve_release(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__reply *r);
void dmvf__serve_explain(const dmvf__call *c, const dmvf_serve_dec *d, dmvf__reply *r);

/* ---- metrics.c ---- */
typedef struct dmvf__metrics dmvf__metrics;
dmvf__metrics *dmvf__metrics_create(void);
void dmvf__metrics_free(dmvf__metrics *m);
/* The monotonic clock in seconds, for the latencies below. */
double dmvf__metrics_now(void);
void dmvf__metrics_call(dmvf__metrics *m, const char *method, const dmvf__reply *r, double seconds);
void dmvf__metrics_audit(dmvf__metrics *m, double seconds);
void dmvf__metrics_reload(dmvf__metrics *m, int ok);
void dmvf__metrics_in_flight(dmvf__metrics *m, int delta);
void dmvf__metrics_connections(dmvf__metrics *m, int delta);
/* The Prometheus text (format 0.0.4) into t. */
void dmvf__metrics_text(dmvf__metrics *m, dmvf__text *t);

/* ---- pool.c ---- */
typedef struct dmvf__job {
    void (*run)(struct dmvf__job *j);
    struct dmvf__job *next;
} dmvf__job;

typedef struct dmvf__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* a job is queued, or stopping */
    dmvf__job *head, **tail;
    int stopping;
    pthread_t *th;                  /* NULL: not started */
    unsigned n;
} dmvf__pool;

/* n threads waiting for jobs. DMVF_OK or DMVF_ENOMEM (msg). */
int dmvf__pool_start(dmvf__pool *p, unsigned n, char *msg, size_t cap);
/* j->run(j) on a pool thread, in the order pushed. */
void dmvf__pool_push(dmvf__pool *p, dmvf__job *j);
/* Runs what is queued, then joins the threads. A pool never started is
 * left alone. */
void dmvf__pool_stop(dmvf__pool *p);

/* ---- http.c, listen.c ---- */
struct MHD_Daemon;
struct dmvf__server;
enum { DMVF__L_UNIX = 0, DMVF__L_TLS, DMVF__L_PLAIN };
typedef struct dmvf__listener {
    struct dmvf__server *s;
    int kind;                       /* DMVF__L_* */
} dmvf__listener;

typedef struct dmvf__server {
    const dmvf_serve_config *cfg;
    dmvf_serve_limits lim;
    dmvf__snaps snaps;
    dmvf__acct acct;
    dmvf__metrics *m;
    atomic_int in_flight;
    atomic_int stopping;            /* SIGTERM: new calls are unavailable */
    struct MHD_Daemon *d[DMVF_SERVE_MAX_LISTEN];
    char *unix_path[DMVF_SERVE_MAX_LISTEN];  /* to remove at the end */
    dmvf__listener lst[DMVF_SERVE_MAX_LISTEN];
    size_t nd;
    char *cert_pem, *key_pem, *ca_pem;  /* TLS, read once */
    dmvf__pool pool;                /* with an audit log: Release calls run here */
} dmvf__server;

/* A daemon on the listening socket fd (http.c): its workers, limits and
 * handlers; s->d[s->nd] and s->lst[s->nd] set, nd counted. DMVF_OK or
 * DMVF_EIO (msg). */
int dmvf__http_start(dmvf__server *s, int fd, int kind, char *msg, size_t cap);

/* A listener "unix:PATH" or "tcp:HOST:PORT", started: DMVF_OK or an error. */
int dmvf__listen_start(dmvf__server *s, const char *spec, char *msg, size_t cap);
/* Stops accepting on every listener (connections open go on). */
void dmvf__listen_quiesce(dmvf__server *s);
/* Stops every listener (after the drain), removes Unix socket files. */
void dmvf__listen_stop(dmvf__server *s);

#endif
