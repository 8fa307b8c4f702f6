/*
 * snapshot.c - the policy and keyring in use: one counted snapshot that
 * every call acquires for its whole life, swapped whole by a reload.
 *
 *   cur ──▶ snap{refs, policy, keyring}     a call: acquire ... release
 *   reload: load new; lock; cur = new; unlock; release(old)
 *           (the old one is freed by the last call that holds it)
 */
#include <stdlib.h>
#include <string.h>
#include "filter/serve/serve_int.h"

static dmvf__snap *load(const dmvf_serve_config *cfg, char *msg, size_t cap)
{
    dmvf_policy *pol = NULL;
    dmvf_keyring *kr = NULL;
    if (cfg->load(cfg->load_ud, &pol, &kr, msg, cap) != 0)
        return NULL;
    dmvf__snap *sn = calloc(1, sizeof *sn);
    if (!sn) {
        dmvf_policy_free(pol);
        dmvf_keyring_free(kr);
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    atomic_init(&sn->refs, 1);
    sn->pol = pol;
    sn->kr = kr;
    dmvf__reqacct_where_set(&sn->where, &sn->ns, pol, &cfg->acct);
    return sn;
}

int dmvf__snaps_init(dmvf__snaps *s, const dmvf_serve_config *cfg, char *msg, size_t cap)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->cfg = cfg;
    s->cur = load(cfg, msg, cap);
    return s->cur ? DMVF_OK : DMVF_EPOLICY;
}

dmvf__snap *dmvf__snap_acquire(dmvf__snaps *s)
{
    pthread_mutex_lock(&s->lock);
    dmvf__snap *sn = s->cur;
    atomic_fetch_add(&sn->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return sn;
}

void dmvf__snap_release(dmvf__snap *sn)
{
    if (!sn || atomic_fetch_sub(&sn->refs, 1) != 1)
        return;
    dmvf_policy_free(sn->pol);
    dmvf_keyring_free(sn->kr);
    free(sn);
}

int dmvf__snaps_reload(dmvf__snaps *s, char *msg, size_t cap)
{
    dmvf__snap *sn = load(s->cfg, msg, cap);
    if (!sn)
        return DMVF_EPOLICY;
    pthread_mutex_lock(&s->lock);
    dmvf__snap *old = s->cur;
    s->cur = sn;
    pthread_mutex_unlock(&s->lock);
    dmvf__snap_release(old);
    return DMVF_OK;
}

void dmvf__snaps_free(dmvf__snaps *s)
{
    dmvf__snap_release(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->lock);
}
