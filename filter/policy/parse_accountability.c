/*
 * parse_accountability.c - the sections that say where a release is
 * accounted for: audit (the audit log), notices (the subject notice queue)
 * and review (the spool of requests held for review). A relative path in
 * them is resolved against the policy file's directory.
 */
#include <stdlib.h>
#include <string.h>
#include "filter/policy/parse_int.h"

int dmvf__parse_audit(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__ymap(L, v, "audit");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        uint64_t n;
        if (strcmp(key, "dir") == 0) {
            rc = dmvf__ypath(L, x, "audit dir", &p->audit.dir);
        } else if (strcmp(key, "required") == 0) {
            rc = dmvf__ybool(L, x, "audit required", &p->audit.required);
        } else if (strcmp(key, "subjects") == 0) {
            rc = dmvf__ybool(L, x, "audit subjects", &p->audit.subjects);
        } else if (strcmp(key, "compress") == 0) {
            rc = dmvf__ybool(L, x, "audit compress", &p->audit.compress);
        } else if (strcmp(key, "rotate_bytes") == 0) {
            if ((rc = dmvf__yscalar(L, x, "audit rotate_bytes")))
                return rc;
            if (dmvf__parse_size(dmvf__ystr(x), &n))
                return dmvf__yfail(L, x,
                                   "audit rotate_bytes must be a size of at least 1 byte such as 1048576, 512K, "
                                   "64M or 1G, not '%s'", dmvf__ystr(x));
            p->audit.rotate_bytes = n;
        } else if (strcmp(key, "rotate_seconds") == 0) {
            if ((rc = dmvf__yscalar(L, x, "audit rotate_seconds")))
                return rc;
            if (dmvf__parse_int(dmvf__ystr(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1)
                return dmvf__yfail(L, x, "audit rotate_seconds must be an integer >= 1, not '%s'",
                                   dmvf__ystr(x));
            p->audit.rotate_seconds = n;
        } else {
            return dmvf__yfail(L, k,
                               "unknown key '%s' in audit (expected dir, required, subjects, rotate_bytes, "
                               "rotate_seconds, compress)", key);
        }
        if (rc)
            return rc;
    }
    p->has_audit = 1;
    return DMVF_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int dmvf__parse_notices(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__ymap(L, v, "notices");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->notices.due_days = 3;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        uint64_t n;
        if (strcmp(key, "queue") == 0) {
            rc = dmvf__ypath(L, x, "notices queue", &p->notices.queue);
        } else if (strcmp(key, "due_days") == 0) {
            if ((rc = dmvf__yscalar(L, x, "notices due_days")))
                return rc;
            if (dmvf__parse_int(dmvf__ystr(x), 0, 0, UINT64_MAX, NULL, &n) || n < 1 || n > 60)
                return dmvf__yfail(L, x, "notices due_days must be an integer in 1..60, not '%s'",
                                   dmvf__ystr(x));
            p->notices.due_days = (unsigned)n;
        } else if (strcmp(key, "business_days") == 0) {
            rc = dmvf__ybool(L, x, "notices business_days", &p->notices.business_days);
        } else if (strcmp(key, "holidays") == 0) {
            if ((rc = dmvf__yseq(L, x, "notices holidays", 0)))
                return rc;
            size_t cnt = dmvf__yseq_len(x);
            uint32_t *h = dmvf__arena_alloc(&p->arena, cnt * sizeof *h);
            if (!h)
                return dmvf__ynomem(L);
            for (size_t i = 0; i < cnt; i++) {
                yaml_node_t *y = dmvf__ynode(L, x->data.sequence.items.start[i]);
                if ((rc = dmvf__yscalar(L, y, "a holiday")))
                    return rc;
                if (!(h[i] = dmvf__date_parse(dmvf__ystr(y), strlen(dmvf__ystr(y)))))
                    return dmvf__yfail(L, y, "bad date '%s' in notices holidays (expected YYYY-MM-DD)",
                                       dmvf__ystr(y));
            }
            if (cnt)
                qsort(h, cnt, sizeof *h, u32_cmp);
            p->notices.holidays = h;
            p->notices.nholidays = cnt;
        } else {
            return dmvf__yfail(L, k,
                               "unknown key '%s' in notices (expected queue, due_days, business_days, holidays)",
                               key);
        }
        if (rc)
            return rc;
    }
    if (!p->notices.queue)
        return dmvf__yfail(L, v, "notices has no queue (the file subject notices are appended to)");
    p->has_notices = 1;
    return DMVF_OK;
}

int dmvf__parse_review(dmvf__yload *L, const yaml_node_t *v)
{
    int rc = dmvf__ymap(L, v, "review");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *x = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        if (strcmp(key, "spool") == 0)
            rc = dmvf__ypath(L, x, "review spool", &p->review.spool);
        else if (strcmp(key, "public_key") == 0)
            rc = dmvf__ypath(L, x, "review public_key", &p->review.public_key);
        else
            return dmvf__yfail(L, k, "unknown key '%s' in review (expected spool, public_key)", key);
        if (rc)
            return rc;
    }
    if (!p->review.spool)
        return dmvf__yfail(L, v,
                           "review has no spool (the directory requests held for review are sealed into)");
    if (!p->review.public_key)
        return dmvf__yfail(L, v,
                           "review has no public_key (the reviewers' public key file, dmvfilter review keygen)");
    p->has_review = 1;
    return DMVF_OK;
}
