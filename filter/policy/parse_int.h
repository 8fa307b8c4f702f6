/*
 * parse_int.h - reading the policy's YAML (libyaml document API) into the
 * structs of policy_int.h (private to filter/policy/):
 *
 *   parse.c                 the document: YAML errors, exactly one document,
 *                           the top-level keys (dmvf__policy_parse)
 *   parse_node.c            the node helpers and scalar readers below
 *   parse_profile.c         profiles and their field actions
 *   parse_marking.c         marking: normalize
 *   parse_rule.c            rules and their match keys
 *   parse_accountability.c  the sections audit, notices and review
 *   parse_requesters.c      the requester directory: requesters, requesters_file
 *
 * Everything that can be checked where it is written is checked while
 * reading: keys, node kinds, duplicate keys, field paths, actions and their
 * types, rule attributes. Cross-references (extends, profiles named by
 * rules, marking, reachability) are compile.c's.
 *
 * Every error is DMVF_EPOLICY with "file:line:column: reason", the position
 * being the 1-based start of the offending YAML node; the readers return
 * DMVF_OK or that error (DMVF_ENOMEM when the policy's arena is full).
 */
#ifndef DMVF_POLICY_PARSE_INT_H
#define DMVF_POLICY_PARSE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "filter/policy/policy_int.h"

/* One document being read into p; errors go to err. */
typedef struct dmvf__yload {
    dmvf_policy *p;
    yaml_document_t *doc;
    dmvf_error *err;
} dmvf__yload;

/* ---- nodes ---- */

/* Where a node starts, 1-based. */
static inline unsigned dmvf__yline(const yaml_node_t *n) { return (unsigned)n->start_mark.line + 1; }
static inline unsigned dmvf__ycol(const yaml_node_t *n) { return (unsigned)n->start_mark.column + 1; }

static inline yaml_node_t *dmvf__ynode(dmvf__yload *L, int idx)
{
    return yaml_document_get_node(L->doc, idx);
}

/* A scalar's text (NUL-terminated; dmvf__yscalar has checked it holds no NUL). */
static inline const char *dmvf__ystr(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline size_t dmvf__yseq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static inline size_t dmvf__ymap_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* "file:line:column: reason" at node n; returns DMVF_EPOLICY. */
int dmvf__yfail(dmvf__yload *L, const yaml_node_t *n, const char *fmt, ...) DMVF_PRINTF(3, 4);
/* DMVF_ENOMEM, "file: out of memory while loading the policy". */
int dmvf__ynomem(dmvf__yload *L);
/* "a scalar", "a list", "a mapping", "nothing": for messages. */
const char *dmvf__ykind(const yaml_node_t *n);

/* n is a scalar without NUL bytes; what names it in the message. */
int dmvf__yscalar(dmvf__yload *L, const yaml_node_t *n, const char *what);
/* n is a scalar that is not empty and holds no control character (a name). */
int dmvf__yname(dmvf__yload *L, const yaml_node_t *n, const char *what);
/* n is a mapping whose keys are distinct scalars. */
int dmvf__ymap(dmvf__yload *L, const yaml_node_t *n, const char *what);
/* n is a list; when nonempty, not an empty one. */
int dmvf__yseq(dmvf__yload *L, const yaml_node_t *n, const char *what, int nonempty);
/* The value of key in mapping m, NULL if it has none. */
yaml_node_t *dmvf__yget(dmvf__yload *L, const yaml_node_t *m, const char *key);
/* A copy of scalar n in the policy's arena; NULL when out of memory. */
char *dmvf__ydup(dmvf__yload *L, const yaml_node_t *n);
/* n is a nonempty list of names, each one ok accepts (syntax says what it
 * must be, for the message), copied into out (the policy's arena, with
 * each element's line and column). what names the list, holder ("rule",
 * "client") and name what holds it: "'X' in ori of rule 'R': syntax". */
int dmvf__ystrlist(dmvf__yload *L, const yaml_node_t *n, const char *what, int (*ok)(const char *s, size_t n),
                   const char *syntax, const char *holder, const char *name, dmvf_strlist *out);

/* ---- scalar readers ---- */

/* Decimal digits only (a leading '-' when neg_ok), in min..max: 0 with the
 * value in *sv and *uv (either may be NULL), else -1. */
int dmvf__parse_int(const char *s, int neg_ok, int64_t min, uint64_t max, int64_t *sv, uint64_t *uv);
/* "true" or "false": 0 with *out 1 or 0, else -1. */
int dmvf__parse_bool(const char *s, int *out);
/* "refused" or "not-found": 0 with *out set, else -1. */
int dmvf__parse_refusal(const char *s, dmvf_refusal *out);
/* "65536", "64K", "64M", "1G", "1T" (binary multiples; "KiB", "MiB", ...
 * spelled out are accepted too), at least 1: 0 with *out set, else -1. */
int dmvf__parse_size(const char *s, uint64_t *out);
/* n is true or false: *out 1 or 0. */
int dmvf__ybool(dmvf__yload *L, const yaml_node_t *n, const char *what, int *out);
/* n names a file or directory: absolute as written, relative to the policy
 * file's directory (base_dir) otherwise; *out the path in the arena. */
int dmvf__ypath(dmvf__yload *L, const yaml_node_t *n, const char *what, const char **out);

/* ---- schema field paths ---- */

/* "a string", "a uint32 date", "a repeated message", ...: for messages. */
const char *dmvf__type_desc(const dmvf_sfield *sf);
/* Key k names a schema position: "a.b" (field or message) or "a.*"
 * (message): *sf the position, *prefix whether it is a message (a whole
 * subtree), *key the path without ".*" (in the arena). */
int dmvf__yfield(dmvf__yload *L, const yaml_node_t *k, const dmvf_sfield **sf, int *prefix, char **key);

/* ---- the sections (v: the section's value) ---- */

int dmvf__parse_profiles(dmvf__yload *L, const yaml_node_t *v);   /* parse_profile.c */
int dmvf__parse_marking(dmvf__yload *L, const yaml_node_t *v);    /* parse_marking.c */
int dmvf__parse_rules(dmvf__yload *L, const yaml_node_t *v);      /* parse_rule.c */
int dmvf__parse_audit(dmvf__yload *L, const yaml_node_t *v);      /* parse_accountability.c */
int dmvf__parse_notices(dmvf__yload *L, const yaml_node_t *v);
int dmvf__parse_review(dmvf__yload *L, const yaml_node_t *v);
int dmvf__parse_requesters(dmvf__yload *L, const yaml_node_t *v);   /* parse_requesters.c */
int dmvf__parse_clients(dmvf__yload *L, const yaml_node_t *v);      /* parse_clients.c */
/* requesters_file: v names the CSV file; read after the other sections. */
int dmvf__parse_requesters_file(dmvf__yload *L, const yaml_node_t *v);

#endif
