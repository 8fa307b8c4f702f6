/*
 * core/enums.h - the spelling of every enum the library writes or reads:
 * one table per enum, so that the audit query, the report, notices, the
 * review queue, policy explain and the command line all spell a value the
 * same way (and the public dmvf_*_name / dmvf_*_parse of request.h read
 * the same tables).
 *
 * A table's value v is spelled names[v]; a NULL entry, or v >= n, has no
 * spelling. Parsing reads '-' and '_' as the same character, so
 * "by-license" is by_license and "review_hold" is review-hold. The tables
 * are constant: every function here is thread-safe.
 */
#ifndef DMVF_CORE_ENUMS_H
#define DMVF_CORE_ENUMS_H

typedef struct dmvf__names {
    const char *const *names;
    unsigned n;
} dmvf__names;

extern const dmvf__names dmvf__agency_kinds;     /* dmvf_agency_kind, 0 "unspecified" */
extern const dmvf__names dmvf__legal_processes;  /* dmvf_legal_process, 0 "unspecified" */
extern const dmvf__names dmvf__query_kinds;      /* dmvf_query_kind, 0 "unspecified" */
/* The field actions: dmvf_field_action and FieldCount.action (0 redact ..
 * 6 constant), then 7 "descend" (DMVF_ACT_* of wire/plan.h: a message
 * whose fields have actions of their own). */
extern const dmvf__names dmvf__actions;
extern const dmvf__names dmvf__generalizations;  /* DMVF_GEN_* (wire/plan.h): 1 year .. 4 zip3 */
extern const dmvf__names dmvf__decisions;        /* dmvf_decision, 0 "unspecified" (audit.proto) */
extern const dmvf__names dmvf__refusals;         /* dmvf_refusal: 1 refused, 2 not-found */
extern const dmvf__names dmvf__audit_kinds;      /* dmvf_audit_kind, 0 "unspecified" */
extern const dmvf__names dmvf__purposes;         /* DPPA permissible uses: "0" .. "14" */

/* The spelling of v in t, or `unknown` (which may be NULL) when v has none. */
const char *dmvf__name(const dmvf__names *t, unsigned v, const char *unknown);
/* The value from `first` on that t spells s (first 1 leaves "unspecified"
 * out), or -1 when none does or s is NULL. */
int dmvf__name_parse(const dmvf__names *t, const char *s, unsigned first);

/* The letters of a field class bit set (DMVF_FIELD_CLASS_M, _C, _P, _N of
 * filter.h: "M", "C", "P", "N", in that order) into out, "" for none.
 * Returns out. */
#define DMVF__CLASS_LETTERS_CAP 5
char *dmvf__field_class_letters(unsigned klass, char out[DMVF__CLASS_LETTERS_CAP]);

/* Shorthands for the names the text writers use most; "?" when unknown. */
const char *dmvf__action_name(unsigned action);
const char *dmvf__generalize_name(unsigned g);
const char *dmvf__decision_name(unsigned d);
/* "not-found" for DMVF_REFUSAL_NOT_FOUND, "refused" for any other value. */
const char *dmvf__refusal_name(unsigned r);

#endif
