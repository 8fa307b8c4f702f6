/*
 * parse.c - the policy's YAML document (libyaml document API) read into the
 * structures of policy_int.h: libyaml's errors with their line and column,
 * exactly one document, the version and the top-level keys; each section is
 * read by its parse_*.c file (parse_int.h).
 *
 *   version: 1                 (required)
 *   jurisdiction: NAME
 *   refusal: refused | not-found
 *   profiles: ...              parse_profile.c
 *   marking: ...               parse_marking.c
 *   rules: [...]               parse_rule.c (required)
 *   requesters: [...]          parse_requesters.c (required; checked when
 *                              compiled, so that it masks no other error)
 *   requesters_file: F.csv     parse_requesters.c
 *   audit, notices, review     parse_accountability.c
 *   clients: [...]             parse_clients.c (who may call the service)
 */
#include <string.h>
#include "filter/policy/parse_int.h"

static int parse_top(dmvf__yload *L, const yaml_node_t *root)
{
    int rc = dmvf__ymap(L, root, "the policy");
    if (rc)
        return rc;
    dmvf_policy *p = L->p;
    p->line = dmvf__yline(root);
    p->col = dmvf__ycol(root);
    yaml_node_t *ver = dmvf__yget(L, root, "version");
    if (!ver)
        return dmvf__yfail(L, root, "missing required key 'version' (version: 1)");
    if ((rc = dmvf__yscalar(L, ver, "version")))
        return rc;
    if (strcmp(dmvf__ystr(ver), "1") != 0)
        return dmvf__yfail(L, ver, "unsupported policy version '%s' (this dmvfilter reads version 1)",
                           dmvf__ystr(ver));
    if (!dmvf__yget(L, root, "rules"))
        return dmvf__yfail(L, root, "missing required key 'rules'");
    for (yaml_node_pair_t *a = root->data.mapping.pairs.start; a < root->data.mapping.pairs.top; a++) {
        yaml_node_t *k = dmvf__ynode(L, a->key), *v = dmvf__ynode(L, a->value);
        const char *key = dmvf__ystr(k);
        if (strcmp(key, "version") == 0) {
            continue;
        } else if (strcmp(key, "jurisdiction") == 0) {
            if ((rc = dmvf__yname(L, v, "jurisdiction")))
                return rc;
            if (!dmvf__jurisdiction_valid(dmvf__ystr(v), v->data.scalar.length))
                return dmvf__yfail(L, v, "jurisdiction '%s': " DMVF__JURISDICTION_RULE, dmvf__ystr(v));
            if (!(p->jurisdiction = dmvf__ydup(L, v)))
                return dmvf__ynomem(L);
        } else if (strcmp(key, "refusal") == 0) {
            if ((rc = dmvf__yscalar(L, v, "refusal")))
                return rc;
            if (dmvf__parse_refusal(dmvf__ystr(v), &p->refusal))
                return dmvf__yfail(L, v, "unknown refusal '%s' (expected refused, not-found)", dmvf__ystr(v));
        } else if (strcmp(key, "profiles") == 0) {
            rc = dmvf__parse_profiles(L, v);
        } else if (strcmp(key, "marking") == 0) {
            rc = dmvf__parse_marking(L, v);
        } else if (strcmp(key, "rules") == 0) {
            rc = dmvf__parse_rules(L, v);
        } else if (strcmp(key, "requesters") == 0) {
            rc = dmvf__parse_requesters(L, v);
        } else if (strcmp(key, "requesters_file") == 0) {
            rc = dmvf__parse_requesters_file(L, v);
        } else if (strcmp(key, "audit") == 0) {
            rc = dmvf__parse_audit(L, v);
        } else if (strcmp(key, "notices") == 0) {
            rc = dmvf__parse_notices(L, v);
        } else if (strcmp(key, "review") == 0) {
            rc = dmvf__parse_review(L, v);
        } else if (strcmp(key, "clients") == 0) {
            rc = dmvf__parse_clients(L, v);
        } else {
            return dmvf__yfail(L, k, "unknown key '%s' at top level (expected version, jurisdiction, refusal, "
                               "profiles, marking, rules, requesters, requesters_file, audit, notices, review, "
                               "clients)",
                               key);
        }
        if (rc)
            return rc;
    }
    return DMVF_OK;
}

static int yaml_fail(dmvf_policy *p, const yaml_parser_t *ps, const char *yaml, size_t len, dmvf_error *err)
{
    /* libyaml fails without naming an error only when an allocation failed */
    if (ps->error == YAML_MEMORY_ERROR || ps->error == YAML_NO_ERROR)
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory while parsing YAML", p->name);
    const char *problem = ps->problem ? ps->problem : "unknown error";
    if (ps->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset: turn it into a line and column */
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < ps->problem_offset && i < len; i++) {
            if (yaml[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)yaml[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        return dmvf__perr(err, p->name, line, col, "YAML error: %s (byte offset %zu)", problem,
                          ps->problem_offset);
    }
    unsigned line = (unsigned)ps->problem_mark.line + 1, col = (unsigned)ps->problem_mark.column + 1;
    if (ps->context)
        return dmvf__perr(err, p->name, line, col, "YAML syntax error: %s (%s at line %u, column %u)", problem,
                          ps->context, (unsigned)ps->context_mark.line + 1,
                          (unsigned)ps->context_mark.column + 1);
    return dmvf__perr(err, p->name, line, col, "YAML syntax error: %s", problem);
}

int dmvf__policy_parse(dmvf_policy *p, const char *yaml, size_t len, dmvf_error *err)
{
    yaml_parser_t ps;
    yaml_document_t doc, doc2;
    int rc;
    if (!yaml_parser_initialize(&ps))
        return dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", p->name);
    yaml_parser_set_input_string(&ps, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&ps, &doc)) {
        rc = yaml_fail(p, &ps, yaml, len, err);
        yaml_parser_delete(&ps);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = dmvf__perr(err, p->name, 1, 1, "empty policy (expected a mapping with version and rules)");
    } else if (!yaml_parser_load(&ps, &doc2)) {
        rc = yaml_fail(p, &ps, yaml, len, err);
    } else {
        yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
        if (r2)
            rc = dmvf__perr(err, p->name, dmvf__yline(r2), dmvf__ycol(r2),
                            "a policy is one YAML document; found a second one");
        else {
            dmvf__yload L = {p, &doc, err};
            rc = parse_top(&L, root);
        }
        yaml_document_delete(&doc2);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    return rc;
}
