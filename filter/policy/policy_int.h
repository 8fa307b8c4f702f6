/*
 * policy_int.h - the loaded policy as the policy modules share it (private
 * to filter/policy/).
 *
 *   policy.c          the life cycle: load (read, id, parse, compile), the
 *                     borrower count, free; id and settings
 *   parse*.c          YAML (libyaml document API) -> the structs below, with
 *                     every local check (keys, node kinds, paths, action
 *                     types); parse_int.h
 *   compile.c         extends, rule checks (profiles, marking, reachability),
 *                     marking checks on profiles, plan trees
 *   decide.c          rule matching, requirements, dmvf__policy_decide
 *   explain.c         dmvf_policy_explain, dmvf_policy_describe
 *
 * Loading calls parse, then compile; neither of them calls the other.
 *
 * Everything a policy owns lives in its arena and is freed at once; the
 * compiled plans are single allocations freed with dmvf__plan_free. Once
 * loaded, nothing here is written again, so a policy is shareable by threads.
 */
#ifndef DMVF_POLICY_INT_H
#define DMVF_POLICY_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/arena.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/policy/decide.h"
#include "filter/wire/plan.h"

/* ---- profiles ---- */

/* One `fields` entry as written. */
typedef struct dmvf_pentry {
    const char *key;          /* schema path, without a trailing ".*" */
    const char *text;         /* the key as written */
    const dmvf_sfield *sf;    /* the position the key names */
    uint8_t prefix;           /* names a whole subtree (message path or "p.*") */
    dmvf_fplan act;           /* action and arguments (child, sf, norm unused) */
    const char *origin;       /* name of the profile that wrote it */
    unsigned line, col;       /* of the key */
    unsigned vline, vcol;     /* of the action */
} dmvf_pentry;

typedef struct dmvf_profile_def {
    const char *name;
    unsigned line, col;
    const char *extends;                /* NULL if none */
    unsigned eline, ecol;
    struct dmvf_profile_def *parent;
    int has_default;                    /* written here */
    uint8_t def_action;                 /* effective (after extends) */
    const char *def_origin;             /* profile whose default applies, NULL: built in */
    unsigned def_line, def_col;         /* of the default that applies */
    size_t nown;
    dmvf_pentry *own;
    size_t nmerged;
    const dmvf_pentry **merged;         /* after extends: child entries override */
    int merged_done;
    int state;                          /* cycle search: 0 new, 1 on the walk, 2 done */
    size_t walk;
    int used_suppressed;                /* a rule without marking: release uses it */
    int used_release;                   /* a rule with marking: release uses it */
    dmvf_plan *plan[2];                 /* compiled; [1] with marking released */
} dmvf_profile_def;

/* ---- normalization tables (marking.normalize) ---- */
typedef struct dmvf_pnorm {
    const dmvf_sfield *sf;
    unsigned line, col;       /* of the path */
    dmvf_norm t;              /* what plans point at; arrays in the arena */
} dmvf_pnorm;

/* ---- rules ---- */
enum {
    DMVF_MK_ORI = 1u,
    DMVF_MK_ORI_PREFIX = 2u,
    DMVF_MK_AGENCY = 4u,
    DMVF_MK_TAGS = 8u,
    DMVF_MK_JURISDICTION = 16u
};

typedef struct dmvf_strlist {
    size_t n;
    const char **v;
} dmvf_strlist;

typedef struct dmvf_rule {
    const char *name;
    unsigned line, col;             /* the rule's mapping */
    unsigned nline, ncol;           /* its name */
    unsigned keys;                  /* DMVF_MK_* present in match */
    dmvf_strlist ori, ori_prefix, tags, jurisdiction;
    uint32_t agency;                /* bit k: dmvf_agency_kind k */
    dmvf_decision decision;
    uint32_t purposes;              /* bit n: purpose n (1..14); 0 = any */
    uint32_t legal;                 /* bit k: dmvf_legal_process k; 0 = any */
    uint32_t queries;               /* bit k: dmvf_query_kind k; 0 = any */
    uint64_t max_records;           /* 0 = no limit */
    uint32_t certified_until;       /* YYYYMMDD, 0 = none */
    int notify_subject;
    int has_refusal;
    dmvf_refusal refusal;           /* effective */
    const char *profile_name;       /* NULL if none */
    unsigned pline, pcol;
    dmvf_profile_def *profile;
    int marking_release;
    unsigned mline, mcol;
    const dmvf_plan *plan;          /* decision release; review with a profile */
    unsigned dline, dcol;           /* its decision's value */
    unsigned nsline, nscol;         /* its notify_subject's value */
} dmvf_rule;

struct dmvf_policy {
    atomic_size_t users;            /* filter and framed handles borrowing it */
    char id[65];
    const char *name;               /* file name used in messages */
    const char *jurisdiction;       /* NULL if not given */
    dmvf_refusal refusal;           /* when no rule matches */
    size_t nprofiles;
    dmvf_profile_def *profiles;
    dmvf_profile_def **byname;      /* profiles sorted by name */
    size_t nnorms;
    dmvf_pnorm *norms;
    size_t nrules;
    dmvf_rule *rules;
    /* accountability sections (policy.h); paths resolved against base_dir */
    const char *base_dir;           /* "" (as given) or the policy file's directory with '/' */
    int has_audit, has_notices, has_review;
    dmvf_policy_audit audit;
    dmvf_policy_notices notices;
    dmvf_policy_review review;
    dmvf_arena arena;
};

/* parse.c: the YAML text yaml[0..len) into p (named p->name, paths
 * relative to p->base_dir). DMVF_OK or an error in *err. */
int dmvf__policy_parse(dmvf_policy *p, const char *yaml, size_t len, dmvf_error *err);

/* compile.c: everything after parsing. DMVF_OK or an error in *err. */
int dmvf__policy_compile(dmvf_policy *p, dmvf_error *err);
/* Frees what dmvf__policy_compile built (plans); the arena is freed by the caller. */
void dmvf__policy_release_plans(dmvf_policy *p);

/* How a profile resolves one leaf position. */
enum {
    DMVF_WHY_EXACT = 1,     /* an entry names the field */
    DMVF_WHY_PREFIX,        /* an entry names an enclosing message */
    DMVF_WHY_DEFAULT,       /* the profile's default */
    DMVF_WHY_MARKING        /* M/C field not named exactly: redacted */
};
typedef struct dmvf_resolution {
    int why;                        /* DMVF_WHY_* */
    const dmvf_pentry *entry;       /* EXACT, PREFIX; for MARKING the prefix passed over, or NULL */
    uint8_t action;                 /* what the leaf becomes */
} dmvf_resolution;
void dmvf__profile_resolve(const dmvf_profile_def *pr, const dmvf_sfield *sf, dmvf_resolution *r);

/* The normalization table of a position, NULL if none. */
const dmvf_pnorm *dmvf__policy_norm(const dmvf_policy *p, const dmvf_sfield *sf);

/* decide.c */
const dmvf_rule *dmvf__policy_match(const dmvf_policy *p, const dmvf_request *req);

enum { DMVF_REQ_PURPOSE, DMVF_REQ_LEGAL, DMVF_REQ_QUERY, DMVF_REQ_CERT, DMVF_NREQ };
typedef struct dmvf_reqcheck {
    int present;                    /* the rule states this requirement */
    int met;
    char text[200];                 /* "legal process none not in [court_order, judicial_warrant]" */
} dmvf_reqcheck;
void dmvf__rule_requirements(const dmvf_rule *r, const dmvf_request *req, dmvf_reqcheck out[DMVF_NREQ]);

/* A bit set as "[a, b]", bit k spelled as t spells k ("?" when it does
 * not); returns the bytes written (snprintf-like). */
size_t dmvf__bits_str(uint32_t bits, const dmvf__names *t, char *buf, size_t cap);

#endif
