/*
 * serve.h - `dmvfilter serve`: the per-request hook as a local service.
 *
 *   listeners     unix:PATH (mode 0660, group --socket-group; the peer's uid
 *                 by SO_PEERCRED) and tcp:HOST:PORT (TLS 1.2+ with a client
 *                 certificate, whose SHA-256 fingerprint names the client;
 *                 plain TCP only with insecure_tcp, for tests)
 *   protocol      Connect unary calls over HTTP/1.1 (decode.h, reply.c):
 *                 POST /dmv.v1.ReleaseService/Release and /Explain,
 *                 application/proto or application/json; GET /healthz,
 *                 GET /metrics (Prometheus text)
 *   each Release  judged, rewritten and accounted for as one request of a
 *                 framed stream (release.c): REQUEST entry first, notices
 *                 and RELEASE entry durable before a response byte
 *   SIGHUP        policy and keyring reloaded (snapshot.c): requests in
 *                 flight finish on the old ones; one that does not load
 *                 keeps the old ones (logged, counted in /metrics)
 *   SIGTERM/INT   stop accepting, drain, close the audit log (checkpoint)
 *
 * The policy, keyring and audit log are loaded once; any number of worker
 * threads share them.
 */
#ifndef DMVF_SERVE_SERVE_H
#define DMVF_SERVE_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/account/request_acct.h"
#include "filter/serve/decode.h"

/* Loads the policy and keyring (at start and on every SIGHUP): 0 with both
 * set, else non-zero with a message in msg[0..cap). */
typedef int (*dmvf_serve_load_fn)(void *ud, dmvf_policy **pol, dmvf_keyring **kr, char *msg, size_t cap);

#define DMVF_SERVE_MAX_LISTEN 8

typedef struct dmvf_serve_config {
    dmvf_serve_load_fn load;
    void *load_ud;
    const char *listen[DMVF_SERVE_MAX_LISTEN];  /* "unix:PATH", "tcp:HOST:PORT" */
    size_t nlisten;
    const char *socket_group;       /* NULL: the process's group */
    const char *tls_cert, *tls_key, *client_ca;  /* PEM files */
    int insecure_tcp;
    unsigned threads;               /* workers per listener; 0: 2 (http.c) */
    dmvf_serve_limits lim;          /* 0s: the defaults (decode.h) */
    dmvf__reqacct_flags acct;       /* accountability, as the filter command's flags */
    uint32_t as_of;                 /* judge on this day (tests); 0: today */
    int quiet;                      /* no per-request lines on stderr */
} dmvf_serve_config;

/* Runs the service until SIGTERM or SIGINT. The calling thread waits for
 * signals (they are blocked in every thread the service starts).
 * @return  DMVF_OK after a clean stop (the audit log closed); else the
 *          failure's code (DMVF_EPOLICY, DMVF_EKEYRING: the first load;
 *          DMVF_EIO: a listener, the audit log; DMVF_EINVAL: the config)
 *          with a message in msg[0..cap). */
int dmvf__serve_run(const dmvf_serve_config *cfg, char *msg, size_t cap);

#endif
