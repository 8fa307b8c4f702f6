/*
 * policy_int.h - the loaded policy as the policy modules share it (private
 * to filter/policy/).
 *
 *   policy.c          the life cycle: load (read, id, parse, compile), the
 *                     borrower count, free; id and settings
 *   parse*.c          YAML (libyaml document API) -> the structs below, with
 *                     every local check (keys, node kinds, paths, action
 *                     types); parse_int.h
 *   parse_requesters.c  the requester directory: the requesters list and
 *                     the requesters_file CSV
 *   compile.c         extends, rule checks (profiles, marking, reachability),
 *                     marking checks on profiles, plan trees
 *   directory.c       the directory's index (duplicates, lookup), its checks
 *                     against the rules and the policy's jurisdiction
 *   decide.c          the requester check, rule matching, requirements,
 *                     dmvf__policy_decide
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
#include "filter/core/request.h"
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
    unsigned *line, *col;           /* of each element */
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

/* ---- the requester directory ---- */

/* One entry, with where it was written. */
typedef struct dmvf_dirent {
    dmvf_requester pub;             /* what the policy layer gives the ones above */
    const char *src;                /* the policy's name or the requesters_file's path */
    unsigned line, col;             /* of its mapping, or of its CSV row */
    size_t idx;                     /* 0, 1, ...: YAML entries, then the file's rows */
} dmvf_dirent;

typedef struct dmvf_directory {
    int given;                      /* the policy has a requesters key */
    size_t nyaml, nfile;
    dmvf_dirent *yaml, *file;       /* requesters: list; requesters_file rows */
    const char *file_path;          /* requesters_file, resolved; NULL if none */
    unsigned fline, fcol;           /* where requesters_file is written */
    uint8_t *file_bytes;            /* read at parse, for the policy id; freed at load */
    size_t file_len;
    /* the index (directory.c) */
    const dmvf_dirent **exact;      /* exact ORIs, sorted */
    size_t nexact;
    const dmvf_dirent **prefix;     /* prefixes by length, then bytes */
    size_t pstart[DMVF__ORI_LEN + 1]; /* prefix[pstart[l]..pstart[l+1]): length l */
    const char **tags;              /* every tag an entry has, sorted, distinct */
    size_t *tag_entries;            /* how many entries have tags[i] */
    size_t ntags;
} dmvf_directory;

struct dmvf_policy {
    atomic_size_t users;            /* filter and framed handles borrowing it */
    char id[65];
    const char *name;               /* file name used in messages */
    unsigned line, col;             /* of the top-level mapping */
    const char *jurisdiction;       /* NULL if not given */
    dmvf_directory dir;
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
    int has_clients;
    size_t nclients;
    dmvf_policy_client *clients;    /* the clients section (parse_clients.c) */
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

/* directory.c: builds the index and checks the directory (duplicates,
 * kind: internal, the rules' tags); DMVF_OK or an error in *err. */
int dmvf__directory_compile(dmvf_policy *p, dmvf_error *err);
/* The entry that says who the requester of a valid ORI is: the exact ORI,
 * else the longest prefix of it; NULL when none. */
const dmvf_dirent *dmvf__directory_find(const dmvf_policy *p, const char *ori);
/* The entry whose public part e is (a verdict's `who`). */
const dmvf_dirent *dmvf__dirent_of(const dmvf_requester *e);
/* "ORI NY0010000" or "ORI prefix DCICE", for messages. */
void dmvf__dirent_key(const dmvf_requester *e, char *buf, size_t cap);

/* decide.c */
const dmvf_rule *dmvf__policy_match(const dmvf_policy *p, const char *ori, const dmvf_requester *who);

enum { DMVF_REQ_PURPOSE, DMVF_REQ_LEGAL, DMVF_REQ_QUERY, DMVF_REQ_CERT, DMVF_REQ_DIRCERT, DMVF_NREQ };
typedef struct dmvf_reqcheck {
    int present;                    /* the rule states this requirement */
    int met;
    char text[200];                 /* "legal process none not in [court_order, judicial_warrant]" */
} dmvf_reqcheck;
/* The requirements of rule r for request req from requester who, judged
 * on date judged (YYYYMMDD). */
void dmvf__rule_requirements(const dmvf_rule *r, const dmvf_request *req, const dmvf_requester *who,
                             uint32_t judged, dmvf_reqcheck out[DMVF_NREQ]);

/* The strings t[0..n) as "[a, b]", "none" when n is 0, into buf[cap]. */
void dmvf__list_str(const char *const *t, size_t n, char *buf, size_t cap);
/* A bit set as "[a, b]", bit k spelled as t spells k ("?" when it does
 * not), into buf[cap] (cut as snprintf cuts). */
void dmvf__bits_str(uint32_t bits, const dmvf__names *t, char *buf, size_t cap);

#endif
