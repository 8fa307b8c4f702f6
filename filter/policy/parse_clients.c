/*
 * parse_clients.c - the clients section: who may call `dmvfilter serve`
 * and which ORIs each may speak for (policy.h), and its lookups.
 *
 *   clients:
 *     - name: NAME                      required, unique
 *       unix_uid: N                     0..4294967294, each uid one client
 *       tls_fingerprint: sha256:HEX64   each fingerprint one client
 *       oris: [ORI, ...]                as the requester directory spells them
 *       ori_prefixes: [PREFIX, ...]
 *
 * A client needs unix_uid or tls_fingerprint (how it is recognized) and
 * oris or ori_prefixes (for whom it may ask). The service judges who the
 * requester is by the directory, as always; this section only says which
 * requesters a connected program may ask for.
 */
#include <ctype.h>
#include <string.h>
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/policy/parse_int.h"

#define FP_PREFIX "sha256:"
#define FP_PREFIX_LEN 7u
#define FP_HEX 64u

/* oris or ori_prefixes: as the requester directory spells them, as a
 * rule's ori and ori_prefix lists are read (dmvf__ystrlist). */
static int parse_list(dmvf__yload *L, const yaml_node_t *v, const char *what, const char *cname,
                      int (*ok)(const char *s, size_t n), const char *rule, const char *const **out, size_t *n)
{
    dmvf_strlist l;
    int rc = dmvf__ystrlist(L, v, what, ok, rule, "client", cname, &l);
    if (rc)
        return rc;
    *out = l.v;
    *n = l.n;
    return DMVF_OK;
}

/* "sha256:" and 64 hex digits (either case): the lowercase form in the
 * arena, else NULL with the error reported (*rc). */
static const char *parse_fingerprint(dmvf__yload *L, const yaml_node_t *x, const char *cname, int *rc)
{
    if ((*rc = dmvf__yname(L, x, "tls_fingerprint")))
        return NULL;
    const char *s = dmvf__ystr(x);
    size_t n = x->data.scalar.length;
    uint8_t digest[FP_HEX / 2];
    if (n != FP_PREFIX_LEN + FP_HEX || memcmp(s, FP_PREFIX, FP_PREFIX_LEN) != 0 ||
        dmvf__hex_decode(digest, sizeof digest, s + FP_PREFIX_LEN, FP_HEX, 0) != 0) {
        *rc = dmvf__yfail(L, x, "tls_fingerprint of client '%s' must be \"sha256:\" and the 64 hex digits "
                          "of the SHA-256 of the client certificate's DER, not '%s'", cname, s);
        return NULL;
    }
    char *d = dmvf__ydup(L, x);
    if (!d) {
        *rc = dmvf__ynomem(L);
        return NULL;
    }
    dmvf__hex_encode(d + FP_PREFIX_LEN, digest, sizeof digest);
    return d;
}

static int parse_client(dmvf__yload *L, const yaml_node_t *v, dmvf_policy_client *c)
{
    int rc = dmvf__ymap(L, v, "a client");
    if (rc)
        return rc;
    yaml_node_t *nm = dmvf__yget(L, v, "name");
    if (!nm)
        return dmvf__yfail(L, v, "a client has no name");
    if ((rc = dmvf__yname(L, nm, "client name")))
        return rc;
    if (!(c->name = dmvf__ydup(L, nm)))
        return dmvf__ynomem(L);
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        uint64_t n;
        if (strcmp(key, "name") == 0) {
            continue;
        } else if (strcmp(key, "unix_uid") == 0) {
            if ((rc = dmvf__yscalar(L, x, "unix_uid")))
                return rc;
            if (dmvf__parse_int(dmvf__ystr(x), 0, 0, UINT32_MAX - 1u, NULL, &n))
                return dmvf__yfail(L, x, "unix_uid of client '%s' must be an integer in 0..4294967294, not '%s'",
                                   c->name, dmvf__ystr(x));
            c->has_uid = 1;
            c->unix_uid = (uint32_t)n;
        } else if (strcmp(key, "tls_fingerprint") == 0) {
            if (!(c->tls_fingerprint = parse_fingerprint(L, x, c->name, &rc)))
                return rc;
        } else if (strcmp(key, "oris") == 0) {
            rc = parse_list(L, x, "oris", c->name, dmvf__ori_valid, DMVF__ORI_RULE, &c->oris, &c->noris);
        } else if (strcmp(key, "ori_prefixes") == 0) {
            rc = parse_list(L, x, "ori_prefixes", c->name, dmvf__ori_prefix_valid, DMVF__ORI_PREFIX_RULE,
                            &c->ori_prefixes, &c->nprefixes);
        } else {
            return dmvf__yfail(L, k, "unknown key '%s' in client '%s' (expected name, unix_uid, tls_fingerprint, "
                               "oris, ori_prefixes)", key, c->name);
        }
        if (rc)
            return rc;
    }
    if (!c->has_uid && !c->tls_fingerprint)
        return dmvf__yfail(L, v, "client '%s' has neither unix_uid nor tls_fingerprint: nothing could "
                           "connect as it", c->name);
    if (!c->noris && !c->nprefixes)
        return dmvf__yfail(L, v, "client '%s' has neither oris nor ori_prefixes: it could speak for no one",
                           c->name);
    return DMVF_OK;
}

int dmvf__parse_clients(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__yseq(L, v, "clients", 0);
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    size_t n = dmvf__yseq_len(v);
    p->clients = dmvf__arena_alloc(&p->arena, n * sizeof *p->clients);
    if (!p->clients)
        return dmvf__ynomem(L);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *x = dmvf__ynode(L, v->data.sequence.items.start[i]);
        dmvf_policy_client *c = &p->clients[i];
        if ((rc = parse_client(L, x, c)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            const dmvf_policy_client *o = &p->clients[j];
            if (strcmp(o->name, c->name) == 0)
                return dmvf__yfail(L, x, "client '%s' is named twice", c->name);
            if (c->has_uid && o->has_uid && c->unix_uid == o->unix_uid)
                return dmvf__yfail(L, x, "clients '%s' and '%s' have the same unix_uid %u", o->name, c->name,
                                   (unsigned)c->unix_uid);
            if (c->tls_fingerprint && o->tls_fingerprint && strcmp(c->tls_fingerprint, o->tls_fingerprint) == 0)
                return dmvf__yfail(L, x, "clients '%s' and '%s' have the same tls_fingerprint", o->name, c->name);
        }
    }
    p->nclients = n;
    p->has_clients = 1;
    return DMVF_OK;
}

size_t dmvf_policy_client_count(const dmvf_policy *p)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    return p->nclients;
}

const dmvf_policy_client *dmvf_policy_client_at(const dmvf_policy *p, size_t i)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    DMVF_REQUIRE(i < p->nclients, "client index out of range");
    return &p->clients[i];
}

const dmvf_policy_client *dmvf_policy_client_by_uid(const dmvf_policy *p, uint32_t uid)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    for (size_t i = 0; i < p->nclients; i++)
        if (p->clients[i].has_uid && p->clients[i].unix_uid == uid)
            return &p->clients[i];
    return NULL;
}

const dmvf_policy_client *dmvf_policy_client_by_fingerprint(const dmvf_policy *p, const char *fingerprint)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    if (!fingerprint || strlen(fingerprint) != FP_PREFIX_LEN + FP_HEX ||
        memcmp(fingerprint, FP_PREFIX, FP_PREFIX_LEN) != 0)
        return NULL;
    char low[FP_PREFIX_LEN + FP_HEX + 1];
    for (size_t i = 0; i <= FP_PREFIX_LEN + FP_HEX; i++)
        low[i] = (char)tolower((unsigned char)fingerprint[i]);
    for (size_t i = 0; i < p->nclients; i++)
        if (p->clients[i].tls_fingerprint && strcmp(p->clients[i].tls_fingerprint, low) == 0)
            return &p->clients[i];
    return NULL;
}

int dmvf_policy_client_may_speak_for(const dmvf_policy_client *c, const char *ori)
{
    DMVF_REQUIRE(c != NULL, "client is NULL");
    if (!ori)
        return 0;
    for (size_t i = 0; i < c->noris; i++)
        if (strcmp(c->oris[i], ori) == 0)
            return 1;
    for (size_t i = 0; i < c->nprefixes; i++)
        if (strncmp(c->ori_prefixes[i], ori, strlen(c->ori_prefixes[i])) == 0)
            return 1;
    return 0;
}
