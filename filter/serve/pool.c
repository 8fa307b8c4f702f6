/*
 * pool.c - the call pool: threads that judge and account the calls of a
 * service that keeps an audit log, so that a call waiting for the log's
 * fsync holds one of these threads, never one of libmicrohttpd's.
 *
 *   http thread   a Release call's body is in: the connection suspended,
 *                 the call pushed here (FIFO)
 *   pool thread   takes the oldest call, runs it (judged, accounted, its
 *                 reply made), resumes the connection; libmicrohttpd's
 *                 thread then sends the reply
 *
 * libmicrohttpd gives a connection to whichever of its threads accepts it,
 * and a thread runs one call at a time: with the calls run where they are
 * read, a few threads holding most connections kept the calls in flight,
 * and so the entries sharing an fsync, to one or two. Here every call in
 * flight is on its own thread (up to the pool's size), and the calls that
 * wait for the audit log at the same time share its group commits.
 */
#include <stdlib.h>
#include "filter/serve/serve_int.h"

static void *worker(void *arg)
{
    dmvf__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        dmvf__job *j = p->head;
        if (!j)
            break;   /* stopping, and nothing left */
        p->head = j->next;
        if (!p->head)
            p->tail = &p->head;
        pthread_mutex_unlock(&p->mu);
        j->run(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int dmvf__pool_start(dmvf__pool *p, unsigned n, char *msg, size_t cap)
{
    p->head = NULL;
    p->tail = &p->head;
    p->stopping = 0;
    p->n = 0;
    p->th = calloc(n, sizeof *p->th);
    if (!p->th || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->th);
        p->th = NULL;
        snprintf(msg, cap, "out of memory starting %u call threads", n);
        return DMVF_ENOMEM;
    }
    pthread_cond_init(&p->cv, NULL);
    for (; p->n < n; p->n++) {
        if (pthread_create(&p->th[p->n], NULL, worker, p) != 0) {
            snprintf(msg, cap, "cannot start call thread %u of %u", p->n + 1, n);
            dmvf__pool_stop(p);
            return DMVF_ENOMEM;
        }
    }
    return DMVF_OK;
}

void dmvf__pool_push(dmvf__pool *p, dmvf__job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    *p->tail = j;
    p->tail = &j->next;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void dmvf__pool_stop(dmvf__pool *p)
{
    if (!p->th)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    p->th = NULL;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}
