/*
 * listen.c - the listeners, made here and handed to libmicrohttpd:
 *
 *   unix:PATH        a stream socket bound at PATH (a stale socket file
 *                    there is replaced; anything else is an error), mode
 *                    0660, group --socket-group; removed at the end
 *   tcp:HOST:PORT    bound to HOST (a numeric address or a name), TLS 1.2+
 *                    with a client certificate required (--tls-cert,
 *                    --tls-key, --client-ca); plain only with --insecure-tcp
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sodium.h>
#include "filter/serve/serve_int.h"

#define BACKLOG 512

static int listen_unix(dmvf__server *s, const char *path, char *msg, size_t cap)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(msg, cap, "unix:%s: the path is too long for a socket", path);
        return DMVF_EINVAL;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(msg, cap, "unix:%s: exists and is not a socket", path);
            return DMVF_EIO;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, cap, "unix:%s: socket: %s", path, strerror(errno));
        return DMVF_EIO;
    }
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || chmod(path, 0660) != 0) {
        snprintf(msg, cap, "unix:%s: bind: %s", path, strerror(errno));
        close(fd);
        return DMVF_EIO;
    }
    if (s->cfg->socket_group) {
        struct group *g = getgrnam(s->cfg->socket_group);
        if (!g || chown(path, (uid_t)-1, g->gr_gid) != 0) {
            snprintf(msg, cap, "unix:%s: group %s: %s", path, s->cfg->socket_group,
                     g ? strerror(errno) : "no such group");
            close(fd);
            unlink(path);
            return DMVF_EIO;
        }
    }
    if (listen(fd, BACKLOG) != 0) {
        snprintf(msg, cap, "unix:%s: listen: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return DMVF_EIO;
    }
    size_t i = s->nd;
    rc = dmvf__http_start(s, fd, DMVF__L_UNIX, msg, cap);
    if (rc != DMVF_OK) {
        close(fd);
        unlink(path);
        return rc;
    }
    s->unix_path[i] = strdup(path);
    return DMVF_OK;
}

/* A whole file into a NUL-terminated malloc'd string. */
static char *slurp(const char *path, char *msg, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *b = NULL;
    size_t n = 0, c = 0;
    for (;;) {
        if (c - n < 4097) {
            char *g = realloc(b, c ? c * 2 : 8192);
            if (!g)
                break;
            b = g;
            c = c ? c * 2 : 8192;
        }
        size_t got = fread(b + n, 1, c - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (!b) {
        snprintf(msg, cap, "%s: out of memory", path);
        return NULL;
    }
    b[n] = '\0';
    return b;
}

static int listen_tcp(dmvf__server *s, const char *hostport, char *msg, size_t cap)
{
    const dmvf_serve_config *cfg = s->cfg;
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1]) {
        snprintf(msg, cap, "tcp:%s: expected tcp:HOST:PORT", hostport);
        return DMVF_EINVAL;
    }
    int kind = cfg->insecure_tcp ? DMVF__L_PLAIN : DMVF__L_TLS;
    if (kind == DMVF__L_TLS) {
        if (!cfg->tls_cert || !cfg->tls_key || !cfg->client_ca) {
            snprintf(msg, cap, "tcp:%s: TLS needs --tls-cert, --tls-key and --client-ca (plain TCP only with "
                     "--insecure-tcp, for tests)", hostport);
            return DMVF_EINVAL;
        }
        if (!s->cert_pem && (!(s->cert_pem = slurp(cfg->tls_cert, msg, cap)) ||
                             !(s->key_pem = slurp(cfg->tls_key, msg, cap)) ||
                             !(s->ca_pem = slurp(cfg->client_ca, msg, cap))))
            return DMVF_EIO;
    }
    char host[256];
    size_t hl = (size_t)(colon - hostport);
    if (hl >= sizeof host) {
        snprintf(msg, cap, "tcp:%s: the host is too long", hostport);
        return DMVF_EINVAL;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(msg, cap, "tcp:%s: %s", hostport, gai_strerror(gai));
        return DMVF_EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0) {
        snprintf(msg, cap, "tcp:%s: %s", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return DMVF_EIO;
    }
    freeaddrinfo(ai);
    int rc = dmvf__http_start(s, fd, kind, msg, cap);
    if (rc != DMVF_OK)
        close(fd);
    return rc;
}

int dmvf__listen_start(dmvf__server *s, const char *spec, char *msg, size_t cap)
{
    if (strncmp(spec, "unix:", 5) == 0 && spec[5])
        return listen_unix(s, spec + 5, msg, cap);
    if (strncmp(spec, "tcp:", 4) == 0)
        return listen_tcp(s, spec + 4, msg, cap);
    snprintf(msg, cap, "--listen %s: expected unix:PATH or tcp:HOST:PORT", spec);
    return DMVF_EINVAL;
}

void dmvf__listen_quiesce(dmvf__server *s)
{
    for (size_t i = 0; i < s->nd; i++) {
        MHD_socket fd = MHD_quiesce_daemon(s->d[i]);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        if (s->unix_path[i])
            unlink(s->unix_path[i]);
    }
}

void dmvf__listen_stop(dmvf__server *s)
{
    for (size_t i = 0; i < s->nd; i++) {
        MHD_stop_daemon(s->d[i]);
        if (s->unix_path[i])
            unlink(s->unix_path[i]);
        free(s->unix_path[i]);
        s->unix_path[i] = NULL;
    }
    s->nd = 0;
    free(s->cert_pem);
    if (s->key_pem)
        sodium_memzero(s->key_pem, strlen(s->key_pem));
    free(s->key_pem);
    free(s->ca_pem);
    s->cert_pem = s->key_pem = s->ca_pem = NULL;
}
