/*
 * report_labels.c - the transparency report's words: the machine names of
 * the figures and breakdowns (json, csv), the column heads, section titles
 * and key heads (md, html), and the counting rules, printed as the
 * report's footer by every format but csv (report_count.c counts by them).
 */
#include <stddef.h>
#include "filter/account/report_int.h"
#include "filter/account/report_out_int.h"

const char *const dmvf__report_fig_names[DMVF__FIG_COUNT] = {
    "requests", "released", "refused", "refused_not_found", "held_for_review",
    "approved", "denied", "incomplete", "records_released", "fields_released_p",
    "fields_released_c", "fields_released_ordinary", "fields_redacted"
};
const char *const dmvf__report_breakdown_names[DMVF__BD_COUNT] = {
    "agency", "agency_kind", "tag", "purpose", "legal_process", "client"
};

/* Column heads for md and html. */
const char *const dmvf__report_fig_heads[DMVF__FIG_COUNT] = {
    "Requests", "Released", "Refused", "Refused, shown as not found", "Held for review",
    "Approved", "Denied", "Incomplete", "Records released", "Fields released: P",
    "Fields released: C", "Fields released: ordinary", "Fields redacted"
};
const char *const dmvf__report_bd_titles[DMVF__BD_COUNT] = {
    "By agency", "By agency kind", "By tag", "By purpose (DPPA permissible use)",
    "By legal process", "By client"
};
const char *const dmvf__report_bd_key_heads[DMVF__BD_COUNT] = {
    "ORI", "Agency kind", "Tag", "Purpose", "Legal process", "Client"
};

const char *const dmvf__report_rules[] = {
    "Window: an entry counts when from <= its time < to (UTC). Each entry counts by its own "
    "time, so a release or a review decision made after the window counts in the window "
    "in which it was made.",
    "Requests: the REQUEST entries of the audit log. Released, refused and held for review are "
    "the decision recorded in the entry (a decision the report does not know counts as "
    "refused). A refusal whose reply looked like a genuine miss (the not-found form) counts "
    "as refused and also under \"refused, shown as not found\".",
    "Held for review: requests decided REVIEW (REVIEW_HOLD entries are not counted again). "
    "Approved and denied: the reviewers' REVIEW_APPROVE and REVIEW_DENY entries, counted "
    "under the requester of the held request.",
    "Incomplete: requests decided RELEASE for which the log holds no RELEASE entry (the run "
    "stopped before the release): nothing was released for them.",
    "Records released: the records_out of the RELEASE entries of requests decided RELEASE, "
    "plus the records of approved reviews. A RELEASE entry after a refused or held request "
    "adds nothing.",
    "Fields released: field values released as they are, masked, generalized, pseudonymized, "
    "encrypted or replaced by a constant, by class: P (highly restricted personal data such "
    "as the photo and SSN; a field both P and C counts as P), C (marking-correlated, with the "
    "marking fields M, which only the DMV's own internal use may receive) and ordinary (class "
    "code, restrictions and endorsements among them: they leave only as values the policy's "
    "allow lists name). "
    "Fields redacted: the values withheld in the same releases, values no allow list names "
    "included.",
    "Breakdowns: by agency (ORI and agency name as given in the request), agency kind, tag (a "
    "request with two tags counts under both, so the tag rows may add up to more than the "
    "total; \"(none)\" = untagged), DPPA permissible use 18 U.S.C. 2721(b)(N) (\"0\" = none "
    "given), legal process and client (the caller of `dmvfilter serve` as the policy's clients "
    "section names it, \"(none)\" = a request not made through the service, such as one of "
    "the command line). A release or review entry whose REQUEST entry is not in the log "
    "counts under the request it carries, or under \"(unknown)\" when it carries none.",
};
const size_t dmvf__report_nrules = sizeof dmvf__report_rules / sizeof dmvf__report_rules[0];
