/*
 * http.c - the HTTP side, on libmicrohttpd: each listener is one daemon
 * with a pool of worker threads (epoll); a call is handled on the worker
 * that read it, but for a Release call of a service with an audit log: its
 * connection is suspended and the call runs on the call pool (pool.c),
 * which resumes it for the worker to send the reply.
 *
 *   connection  its peer, found once: a Unix socket's uid (SO_PEERCRED),
 *               a TLS client certificate's SHA-256 fingerprint (verified
 *               against --client-ca), or, plain TCP for tests, the
 *               service's own uid
 *   call        routed at its headers: POST /dmv.v1.ReleaseService/Release
 *               or /Explain (application/proto or application/json),
 *               GET /healthz, GET /metrics; refused at once when the peer
 *               is no client, the body is announced too long, or too many
 *               calls are in flight; its body gathered up to max_body; then
 *               decoded (decode.h) and judged (release.c) on the snapshot
 *               in use when it started
 *   limits      connections (MHD_OPTION_CONNECTION_LIMIT), header memory
 *               (MHD_OPTION_CONNECTION_MEMORY_LIMIT), idle and read timeout
 *               (MHD_OPTION_CONNECTION_TIMEOUT), body, records, JSON depth
 */
#define _GNU_SOURCE 1               /* struct ucred (SO_PEERCRED) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>
#include "filter/core/hex.h"
#include "filter/serve/serve_int.h"

#define PATH_RELEASE "/dmv.v1.ReleaseService/Release"
#define PATH_EXPLAIN "/dmv.v1.ReleaseService/Explain"
#define FP_LEN (7 + 64)

typedef struct peer {
    int known;                      /* 1 found, -1 none */
    int by_uid;
    uint32_t uid;
    char fp[FP_LEN + 1];
} peer;

typedef struct call {
    dmvf__job job;                  /* on the call pool */
    int method;                     /* DMVF_SERVE_CALL_* */
    int json;
    int counted;                    /* in flight */
    int too_big;
    dmvf__text body;
    /* once the body is in */
    dmvf__listener *l;
    struct MHD_Connection *conn;
    const peer *pe;
    double t0;
    atomic_int state;               /* CALL_* */
    dmvf__reply rp;
} call;

enum { CALL_READING = 0, CALL_QUEUED, CALL_ANSWERED };

/* Queues the response r (NULL: none could be made) with its headers. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct MHD_Response *r, int status, const char *ctype,
                             int close)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_bytes(struct MHD_Connection *conn, int status, const char *ctype, const void *p,
                                  size_t n, int close)
{
    return queue(conn, MHD_create_response_from_buffer(n, (void *)(uintptr_t)p, MHD_RESPMEM_MUST_COPY), status,
                 ctype, close);
}

/* The reply's body is handed to the response (freed by libmicrohttpd once
 * sent), not copied: rp->body is empty afterwards. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, dmvf__reply *rp, int close)
{
    const char *ctype = rp->ctype ? rp->ctype : "application/json";
    if (!rp->body.p || !rp->body.len)
        return send_bytes(conn, rp->status, ctype, rp->body.p, rp->body.len, close);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(rp->body.len, rp->body.p, free);
    if (r)
        rp->body = dmvf__text_mem();
    return queue(conn, r, rp->status, ctype, close);
}

static enum MHD_Result send_error(dmvf__server *s, struct MHD_Connection *conn, int method, int code,
                                  const char *msg)
{
    dmvf__reply rp;
    dmvf__reply_init(&rp);
    dmvf__reply_error(&rp, code, "%s", msg);
    if (method)
        dmvf__metrics_call(s->m, method == DMVF_SERVE_CALL_EXPLAIN ? "Explain" : "Release", &rp, 0);
    enum MHD_Result rc = send_reply(conn, &rp, code != DMVF__C_PERMISSION_DENIED);
    dmvf__reply_free(&rp);
    return rc;
}

/* The TLS peer's verified certificate fingerprint. */
static int tls_peer(struct MHD_Connection *conn, peer *pe)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return -1;
    gnutls_session_t ss = (gnutls_session_t)ci->tls_session;
    unsigned st = 0;
    if (gnutls_certificate_verify_peers2(ss, &st) != GNUTLS_E_SUCCESS || st != 0)
        return -1;
    unsigned n = 0;
    const gnutls_datum_t *der = gnutls_certificate_get_peers(ss, &n);
    if (!der || n == 0)
        return -1;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, der[0].data, der[0].size);
    memcpy(pe->fp, "sha256:", 7);
    dmvf__hex_encode(pe->fp + 7, h, sizeof h);
    pe->fp[FP_LEN] = '\0';
    return 0;
}

static void find_peer(const dmvf__listener *l, struct MHD_Connection *conn, peer *pe)
{
    pe->known = -1;
    if (l->kind == DMVF__L_UNIX) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0) {
            pe->known = 1;
            pe->by_uid = 1;
            pe->uid = (uint32_t)uc.uid;
        }
    } else if (l->kind == DMVF__L_TLS) {
        if (tls_peer(conn, pe) == 0)
            pe->known = 1;
    } else {
        pe->known = 1;
        pe->by_uid = 1;
        pe->uid = (uint32_t)getuid();
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    dmvf__listener *l = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(peer));
        dmvf__metrics_connections(l->s->m, 1);
    } else {
        free(*socket_context);
        *socket_context = NULL;
        dmvf__metrics_connections(l->s->m, -1);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    dmvf__listener *l = cls;
    call *c = *con_cls;
    if (!c)
        return;
    if (c->counted) {
        atomic_fetch_sub(&l->s->in_flight, 1);
        dmvf__metrics_in_flight(l->s->m, -1);
    }
    dmvf__text_free(&c->body);
    dmvf__reply_free(&c->rp);
    free(c);
    *con_cls = NULL;
}

static int is_type(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* GET /healthz: ready when the policy, keyring and audit log are loaded
 * and the service is not stopping. */
static enum MHD_Result healthz(dmvf__server *s, struct MHD_Connection *conn)
{
    if (atomic_load(&s->stopping))
        return send_bytes(conn, 503, "text/plain", "stopping\n", 9, 1);
    return send_bytes(conn, 200, "text/plain", "ok\n", 3, 0);
}

static enum MHD_Result metrics(dmvf__server *s, struct MHD_Connection *conn)
{
    dmvf__text t = dmvf__text_mem();
    dmvf__metrics_text(s->m, &t);
    enum MHD_Result rc = t.failed ? MHD_NO : send_bytes(conn, 200, "text/plain; version=0.0.4", t.p, t.len, 0);
    dmvf__text_free(&t);
    return rc;
}

/* The headers of a call: route, peer, limits. NULL *con_cls afterwards
 * means a reply was queued. */
static enum MHD_Result start_call(dmvf__listener *l, struct MHD_Connection *conn, const char *url,
                                  const char *method, void **con_cls)
{
    dmvf__server *s = l->s;
    if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0)
        return healthz(s, conn);
    if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0)
        return metrics(s, conn);
    int m = strcmp(url, PATH_RELEASE) == 0 ? DMVF_SERVE_CALL_RELEASE
            : strcmp(url, PATH_EXPLAIN) == 0 ? DMVF_SERVE_CALL_EXPLAIN : 0;
    if (!m)
        return send_error(s, conn, 0, DMVF__C_NOT_FOUND, "no such procedure");
    if (strcmp(method, "POST") != 0)
        return send_error(s, conn, m, DMVF__C_UNIMPLEMENTED, "a Connect unary call is a POST");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int json = is_type(ct, "application/json");
    if (!json && !is_type(ct, "application/proto"))
        return send_error(s, conn, m, DMVF__C_INVALID_ARGUMENT,
                          "Content-Type must be application/proto or application/json");
    if (atomic_load(&s->stopping))
        return send_error(s, conn, m, DMVF__C_UNAVAILABLE, "the service is stopping");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    peer *pe = ci ? ci->socket_context : NULL;
    if (!pe)
        return send_error(s, conn, m, DMVF__C_INTERNAL, "no memory for the connection");
    if (!pe->known)
        find_peer(l, conn, pe);
    if (pe->known < 0)
        return send_error(s, conn, m, DMVF__C_UNAUTHENTICATED,
                          l->kind == DMVF__L_TLS ? "no verified client certificate" : "the peer is not known");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->lim.max_body)
        return send_error(s, conn, m, DMVF__C_RESOURCE_EXHAUSTED, "the body is longer than the limit");
    if (atomic_fetch_add(&s->in_flight, 1) >= (int)s->lim.max_in_flight) {
        atomic_fetch_sub(&s->in_flight, 1);
        return send_error(s, conn, m, DMVF__C_RESOURCE_EXHAUSTED, "too many calls in flight");
    }
    call *c = calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_sub(&s->in_flight, 1);
        return send_error(s, conn, m, DMVF__C_RESOURCE_EXHAUSTED, "out of memory");
    }
    dmvf__metrics_in_flight(s->m, 1);
    c->counted = 1;
    c->method = m;
    c->json = json;
    c->body = dmvf__text_mem();
    dmvf__reply_init(&c->rp);
    *con_cls = c;
    return MHD_YES;
}

static const dmvf_policy_client *client_of(const dmvf__snap *sn, const peer *pe)
{
    return pe->by_uid ? dmvf_policy_client_by_uid(sn->pol, pe->uid) : dmvf_policy_client_by_fingerprint(sn->pol, pe->fp);
}

/* The call judged on the snapshot in use, its reply into c->rp: on the
 * worker that read it, or on the call pool. */
static void judge(call *c)
{
    dmvf__server *s = c->l->s;
    const char *mname = c->method == DMVF_SERVE_CALL_EXPLAIN ? "Explain" : "Release";
    dmvf__reply *rp = &c->rp;
    dmvf__snap *sn = dmvf__snap_acquire(&s->snaps);
    const dmvf_policy_client *client = c->pe ? client_of(sn, c->pe) : NULL;
    if (c->too_big) {
        dmvf__reply_error(rp, DMVF__C_RESOURCE_EXHAUSTED, "the body is longer than the limit of %zu bytes",
                          s->lim.max_body);
    } else if (!client) {
        dmvf__reply_error(rp, DMVF__C_UNAUTHENTICATED, "the peer is not a client of this service");
    } else if (c->body.failed) {
        dmvf__reply_error(rp, DMVF__C_RESOURCE_EXHAUSTED, "out of memory reading the body");
    } else {
        dmvf_serve_dec d;
        dmvf__serve_dec_init(&d);
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st = dmvf__serve_decode(&d, c->method, c->json, (const uint8_t *)c->body.p, c->body.len, &s->lim, &err);
        if (st != DMVF_OK) {
            dmvf__reply_error(rp, st == DMVF_ETOOBIG || st == DMVF_ENOMEM ? DMVF__C_RESOURCE_EXHAUSTED
                                                                            : DMVF__C_INVALID_ARGUMENT,
                              "%s (byte %llu of the body); nothing released", err.msg,
                              (unsigned long long)err.offset);
        } else {
            dmvf__call cl = {s->cfg, &s->acct, sn, client, c->json};
            if (c->method == DMVF_SERVE_CALL_RELEASE)
                dmvf__serve_release(&cl, &d, rp);
            else
                dmvf__serve_explain(&cl, &d, rp);
        }
        dmvf__serve_dec_free(&d);
    }
    if (!s->cfg->quiet && c->method == DMVF_SERVE_CALL_RELEASE)
        fprintf(stderr, "dmvfilter serve: %s client %s: %s%s%s\n", mname, client ? client->name : "(none)",
                rp->code ? dmvf__code_name(rp->code) : rp->decision == DMVF_DECISION_RELEASE ? "released"
                                                                                           : "refused",
                rp->decision ? " by " : "", rp->decision ? rp->rule : "");
    dmvf__snap_release(sn);
    dmvf__metrics_call(s->m, mname, rp, dmvf__metrics_now() - c->t0);
}

/* c->rp sent (its body handed over; what is left of it goes with c, in
 * on_completed) */
static enum MHD_Result answer(struct MHD_Connection *conn, call *c)
{
    return send_reply(conn, &c->rp, c->rp.code != DMVF__C_OK && c->rp.code != DMVF__C_PERMISSION_DENIED);
}

/* On a pool thread: the call judged, its connection resumed (the worker
 * then calls on_access again, which answers). */
static void run_pooled(dmvf__job *j)
{
    call *c = (call *)j;
    judge(c);
    atomic_store(&c->state, CALL_ANSWERED);
    MHD_resume_connection(c->conn);
}

/* The whole body is in. */
static enum MHD_Result finish_call(dmvf__listener *l, struct MHD_Connection *conn, call *c)
{
    c->l = l;
    c->conn = conn;
    c->t0 = dmvf__metrics_now();
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    c->pe = ci ? ci->socket_context : NULL;
    if (l->s->pool.th && c->method == DMVF_SERVE_CALL_RELEASE) {
        atomic_store(&c->state, CALL_QUEUED);
        c->job.run = run_pooled;
        MHD_suspend_connection(conn);
        dmvf__pool_push(&l->s->pool, &c->job);
        return MHD_YES;
    }
    judge(c);
    return answer(conn, c);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    dmvf__listener *l = cls;
    call *c = *con_cls;
    if (!c)
        return start_call(l, conn, url, method, con_cls);
    int st = atomic_load(&c->state);
    if (st == CALL_ANSWERED)
        return answer(conn, c);
    if (st == CALL_QUEUED)
        return MHD_YES;   /* not while suspended; nothing to do */
    if (*upload_size) {
        if (!c->too_big && c->body.len + *upload_size > l->s->lim.max_body)
            c->too_big = 1;
        if (!c->too_big)
            dmvf__text_put(&c->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return finish_call(l, conn, c);
}

int dmvf__http_start(dmvf__server *s, int fd, int kind, char *msg, size_t cap)
{
    if (s->nd >= DMVF_SERVE_MAX_LISTEN) {
        snprintf(msg, cap, "at most %d listeners", DMVF_SERVE_MAX_LISTEN);
        return DMVF_EINVAL;
    }
    dmvf__listener *l = &s->lst[s->nd];
    l->s = s;
    l->kind = kind;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (kind == DMVF__L_TLS)
        flags |= MHD_USE_TLS;
    unsigned threads = s->cfg->threads ? s->cfg->threads : 2;
    size_t mem = s->lim.max_header_bytes < 8192 ? 8192 : s->lim.max_header_bytes;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem},
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, l,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, s->lim.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, s->lim.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_ARRAY, kind == DMVF__L_TLS ? tls_opts : none,
        MHD_OPTION_END);
    if (!d) {
        snprintf(msg, cap, "cannot start the HTTP service on the listener (libmicrohttpd)%s",
                 kind == DMVF__L_TLS ? ": check the TLS certificate, key and client CA" : "");
        return DMVF_EIO;
    }
    s->d[s->nd++] = d;
    return DMVF_OK;
}
