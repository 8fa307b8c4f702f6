/*
 * explain.c - the policy in words: dmvf_policy_explain (one request:
 * the rule, each requirement, and what every schema path becomes and why)
 * and dmvf_policy_describe (the whole compiled policy, for `policy check`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter/policy/policy_int.h"

#define MC (DMVF_CLASS_M | DMVF_CLASS_C)

/* How a value is quoted (dmvf__quote_copy, quoted): printable ASCII other
 * than '"' and '\' as is, every other byte as \xNN. */
#define QUOTE_ESC (DMVF__ESC_BACKSLASH | DMVF__ESC_QUOTE | DMVF__ESC_ASCII)

/* buf holds at least 128 bytes: "constant " and a quoted value of at most 95 */
static void act_str(const dmvf_fplan *a, const dmvf_sfield *sf, char *buf, size_t cap)
{
    char q[96];
    switch (a->action) {
    case DMVF_ACT_MASK:
        snprintf(buf, cap, "mask (keep first %u, last %u)", a->mask_first, a->mask_last);
        return;
    case DMVF_ACT_GENERALIZE:
        snprintf(buf, cap, "generalize %s", dmvf__generalize_name(a->gen));
        return;
    case DMVF_ACT_CONSTANT:
        switch (sf->type) {
        case DMVF_T_STRING:
        case DMVF_T_BYTES:
            dmvf__quote_copy(q, sizeof q, (const char *)a->cval, a->clen, QUOTE_ESC);
            snprintf(buf, cap, "constant %s", q);
            return;
        case DMVF_T_INT32:
            snprintf(buf, cap, "constant %lld", (long long)(int64_t)a->cnum);
            return;
        case DMVF_T_BOOL:
            snprintf(buf, cap, "constant %s", a->cnum ? "true" : "false");
            return;
        case DMVF_T_ENUM: {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value(sf->fd->descriptor, (int)(int64_t)a->cnum);
            snprintf(buf, cap, "constant %s", ev ? ev->name : "?");
            return;
        }
        default:
            snprintf(buf, cap, "constant %llu", (unsigned long long)a->cnum);
            return;
        }
    default:
        snprintf(buf, cap, "%s", dmvf__action_name(a->action));
    }
}

/* v[0..n) between quotes, escaped so, never cut. */
static void quoted(dmvf__text *t, const uint8_t *v, size_t n)
{
    dmvf__text_put(t, "\"", 1);
    dmvf__text_escaped(t, (const char *)v, n, QUOTE_ESC);
    dmvf__text_put(t, "\"", 1);
}

/* A normalization table in words, values quoted (QUOTE_ESC):
 *   "DP"->"D", drop "FLA"; allow only "A", "B"; any other value redacted */
static void norm_put(dmvf__text *t, const dmvf_norm *nm)
{
    for (uint32_t i = 0; i < nm->nentry; i++) {
        const dmvf_norm_entry *e = &nm->entry[i];
        if (i)
            dmvf__text_puts(t, ", ");
        if (e->drop)
            dmvf__text_puts(t, "drop ");
        quoted(t, e->from, e->from_len);
        if (!e->drop) {
            dmvf__text_puts(t, "->");
            quoted(t, e->to, e->to_len);
        }
    }
    if (nm->nentry)
        dmvf__text_puts(t, "; ");
    if (!nm->nallow) {
        dmvf__text_puts(t, "no allow list: other values unchanged");
        return;
    }
    dmvf__text_puts(t, "allow only ");
    for (uint32_t i = 0; i < nm->nallow; i++) {
        if (i)
            dmvf__text_puts(t, ", ");
        quoted(t, nm->allow[i].v, nm->allow[i].len);
    }
    if (nm->otherwise) {
        dmvf__text_puts(t, "; any other value becomes ");
        quoted(t, nm->otherwise->v, nm->otherwise->len);
    } else {
        dmvf__text_puts(t, "; any other value redacted");
    }
}

/* The policy's normalization tables, one line each. */
static void describe_norms(const dmvf_policy *p, FILE *out)
{
    fprintf(out, "normalization (applied whenever marking is suppressed; values compared byte for byte):\n");
    if (!p->nnorms)
        fprintf(out, "  (none)\n");
    for (size_t i = 0; i < p->nnorms; i++) {
        dmvf__text t = dmvf__text_file(out);
        fprintf(out, "  %s: ", p->norms[i].sf->path);
        norm_put(&t, &p->norms[i].t);
        fputc('\n', out);
    }
}

/* Every position of a plan by schema id; positions under a redacted
 * message stay NULL (redacted). */
static void index_plan(const dmvf_pnode *pn, const dmvf_fplan **by_id)
{
    for (uint32_t n = 0; n <= pn->max_number; n++) {
        const dmvf_fplan *e = &pn->f[n];
        if (!e->sf)
            continue;
        by_id[e->sf->id] = e;
        if (e->action == DMVF_ACT_DESCEND)
            index_plan(e->child, by_id);
    }
}

static void strlist_str(const dmvf_strlist *l, char *buf, size_t cap)
{
    dmvf__list_str(l->v, l->n, buf, cap);
}

static void match_str(const dmvf_rule *r, char *buf, size_t cap)
{
    size_t o = 0;
    char t[300];
    buf[0] = '\0';
    if (!r->keys) {
        snprintf(buf, cap, "everyone");
        return;
    }
#define ADD(...) do { if (o < cap) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__); } while (0)
    if (r->keys & DMVF_MK_ORI) {
        strlist_str(&r->ori, t, sizeof t);
        ADD("%sori %s", o ? " and " : "", t);
    }
    if (r->keys & DMVF_MK_ORI_PREFIX) {
        strlist_str(&r->ori_prefix, t, sizeof t);
        ADD("%sori prefix %s", o ? " and " : "", t);
    }
    if (r->keys & DMVF_MK_AGENCY) {
        dmvf__bits_str(r->agency, &dmvf__agency_kinds, t, sizeof t);
        ADD("%sagency kind %s", o ? " and " : "", t);
    }
    if (r->keys & DMVF_MK_TAGS) {
        strlist_str(&r->tags, t, sizeof t);
        ADD("%stags any of %s", o ? " and " : "", t);
    }
    if (r->keys & DMVF_MK_JURISDICTION) {
        strlist_str(&r->jurisdiction, t, sizeof t);
        ADD("%sjurisdiction %s", o ? " and " : "", t);
    }
#undef ADD
}

static void profile_head(const dmvf_profile_def *pr, char *buf, size_t cap)
{
    if (pr->parent)
        snprintf(buf, cap, "%s (extends %s)", pr->name, pr->parent->name);
    else
        snprintf(buf, cap, "%s", pr->name);
}

/* ------------------------------------------------------------------ explain */

static void why_str(const dmvf_rule *r, const dmvf_sfield *sf, const dmvf_fplan *full, const dmvf_fplan *got,
                    char *buf, size_t cap)
{
    dmvf_resolution res;
    size_t o = 0;
    dmvf__profile_resolve(r->profile, sf, &res);
    const char *cls = (sf->klass & DMVF_CLASS_M) ? "marking" : "marking-correlated";
    switch (res.why) {
    case DMVF_WHY_EXACT:
    case DMVF_WHY_PREFIX:
        o = (size_t)snprintf(buf, cap, "profile %s: %s (line %u)", res.entry->origin, res.entry->text,
                             res.entry->line);
        break;
    case DMVF_WHY_DEFAULT:
        if (r->profile->def_origin)
            o = (size_t)snprintf(buf, cap, "default %s (profile %s, line %u)",
                                 dmvf__action_name(res.action), r->profile->def_origin, r->profile->def_line);
        else
            o = (size_t)snprintf(buf, cap, "default redact");
        break;
    default:
        if (r->marking_release)
            o = (size_t)snprintf(buf, cap, "%s: released only when named exactly", cls);
        else
            o = (size_t)snprintf(buf, cap, "%s: suppressed", cls);
        if (res.entry && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, " (%s does not reach it)", res.entry->text);
        break;
    }
    if (res.why != DMVF_WHY_MARKING && !r->marking_release && (sf->klass & MC) && res.action != DMVF_ACT_REDACT &&
        o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "; %s: suppressed", cls);
    if (full && full->action != DMVF_ACT_REDACT && (!got || got->action == DMVF_ACT_REDACT) && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "; not requested: redacted");
    if (r->marking_release && (sf->klass & DMVF_CLASS_N) && got && got->action != DMVF_ACT_REDACT && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "; marking released: values not normalized");
}

static int explain_table(const dmvf_rule *r, const dmvf_request *req, FILE *out)
{
    size_t npaths = dmvf__schema_npaths();
    const dmvf_fplan **full = calloc(npaths, sizeof *full);
    const dmvf_fplan **got = calloc(npaths, sizeof *got);
    dmvf_plan *restricted = NULL;
    int rc = DMVF_OK;
    if (!full || !got) {
        fprintf(out, "(out of memory: field table not written)\n");
        goto done;
    }
    const dmvf_plan *plan = r->plan;
    if (req->nfields) {
        dmvf_error e;
        restricted = dmvf__plan_restrict(r->plan, req->fields, req->nfields, &e);
        if (!restricted) {
            fprintf(out, "requested fields: %s: the request is refused as invalid\n", e.msg);
            goto done;
        }
        plan = restricted;
        fprintf(out, "requested fields:");
        for (size_t i = 0; i < req->nfields; i++)
            fprintf(out, " %s", req->fields[i]);
        fprintf(out, " (release is the intersection with the profile)\n");
    }
    index_plan(r->plan->root, full);
    index_plan(plan->root, got);

    char head[160];
    profile_head(r->profile, head, sizeof head);
    fprintf(out, "\nprofile %s; marking %s\n", head,
            r->marking_release ? "RELEASED (internal use)" : "suppressed, normalization applied");
    fprintf(out, "%-40s %-5s %-32s %s\n", "field path", "class", "action", "why");
    for (size_t id = 0; id < npaths; id++) {
        const dmvf_sfield *sf = dmvf__schema_field(id);
        const dmvf_fplan *g = got[id];
        char act[128], why[400];
        const char *cls = *dmvf__class_name(sf->klass) ? dmvf__class_name(sf->klass) : "-";
        if (sf->type == DMVF_T_MESSAGE) {
            int d = g && g->action == DMVF_ACT_DESCEND;
            snprintf(act, sizeof act, "%s", d ? "descend" : "redact");
            snprintf(why, sizeof why, "%s%s", d ? "message: fields below are released as listed"
                                                : "message: nothing in it is released",
                     sf->repeated ? " (each element)" : "");
        } else {
            if (g && g->action != DMVF_ACT_REDACT)
                act_str(g, sf, act, sizeof act);
            else
                snprintf(act, sizeof act, "redact");
            why_str(r, sf, full[id], g, why, sizeof why);
        }
        fprintf(out, "%-40s %-5s %-32s %s", sf->path, cls, act, why);
        if (g && g->action != DMVF_ACT_REDACT && g->norm) {
            dmvf__text t = dmvf__text_file(out);
            dmvf__text_puts(&t, "; normalized: ");
            norm_put(&t, g->norm);
        }
        fputc('\n', out);
    }
    fprintf(out, "not in schema: redacted. Fields the schema does not know (unknown field numbers, fields "
                 "added upstream) are always redacted; nothing is released because nobody named it.\n");
    fprintf(out, "class: M marking, C marking-correlated, P highly restricted, N a state's marking values may "
                 "appear (released only as a value its allow list names, unless marking is released).\n");
done:
    if (ferror(out))
        rc = DMVF_EIO;
    dmvf__plan_free(restricted);
    free(full);
    free(got);
    return rc;
}

/* What the directory says of the request's requester, one line. */
static void explain_requester(const dmvf_policy *p, const dmvf_request *req, const dmvf_verdict *v, FILE *out)
{
    char key[40], tags[200], d[DMVF__DATE_CAP];
    if (!v->who) {
        if (v->precheck == DMVF_PRECHECK_BAD_REQUEST)
            fprintf(out, "requester directory: not consulted (a bad request)\n");
        else
            fprintf(out, "requester directory: ORI %s is not in it (%zu entries)\n", req->ori,
                    p->dir.nyaml + p->dir.nfile);
        return;
    }
    const dmvf_requester *w = v->who;
    const dmvf_dirent *e = dmvf__dirent_of(w);
    dmvf__dirent_key(w, key, sizeof key);
    dmvf__list_str(w->tags, w->ntags, tags, sizeof tags);
    fprintf(out, "requester directory: %s is %s (entry %s, %s:%u): kind %s; jurisdiction %s; tags %s; scope %s%s; ",
            req->ori, w->name, key, e->src, e->line, dmvf_agency_kind_name(w->kind),
            w->jurisdiction ? w->jurisdiction : "none", tags, w->scope ? w->scope : req->ori,
            w->scope ? " (the entry's)" : " (the ORI)");
    if (w->certified_until)
        fprintf(out, "certified until %s\n", dmvf__date_format(w->certified_until, d));
    else
        fprintf(out, "no certification expiry\n");
}

/* What the request says of itself beyond its ORI ("none" when nothing). */
static void claims_str(const dmvf_request *req, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
#define ADD(...) do { if (o < cap) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__); } while (0)
    if (req->agency_name && *req->agency_name) {
        char q[96];
        dmvf__quote_copy(q, sizeof q, req->agency_name, strlen(req->agency_name), QUOTE_ESC);
        ADD("%sagency name %s", o ? ", " : "", q);
    }
    if (req->agency_kind)
        ADD("%sagency kind %s", o ? ", " : "", dmvf_agency_kind_name(req->agency_kind));
    if (req->jurisdiction && *req->jurisdiction)
        ADD("%sjurisdiction %s", o ? ", " : "", req->jurisdiction);
    size_t nt = req->tags ? req->ntags : 0;
    for (size_t i = 0; i < nt; i++)
        ADD("%s%s", i ? ", " : o ? ", tags " : "tags ", req->tags[i] ? req->tags[i] : "(NULL)");
    if (req->date) {
        char d[DMVF__DATE_CAP];
        ADD("%sdate %s", o ? ", " : "", dmvf__date_format(req->date, d));
    }
#undef ADD
    if (!o)
        snprintf(buf, cap, "none");
}

/* The clients section (who may call `dmvfilter serve`), a line each. */
static void describe_clients(const dmvf_policy *p, FILE *out)
{
    if (!p->has_clients) {
        fprintf(out, "clients: (no section: `dmvfilter serve` refuses every caller)\n");
        return;
    }
    fprintf(out, "clients: %zu (who may call `dmvfilter serve`; the directory still says who a requester is)\n",
            p->nclients);
    for (size_t i = 0; i < p->nclients; i++) {
        const dmvf_policy_client *c = &p->clients[i];
        fprintf(out, "  '%s':", c->name);
        if (c->has_uid)
            fprintf(out, " unix uid %u;", (unsigned)c->unix_uid);
        if (c->tls_fingerprint)
            fprintf(out, " TLS client certificate %s;", c->tls_fingerprint);
        fprintf(out, " speaks for");
        for (size_t k = 0; k < c->noris; k++)
            fprintf(out, "%s %s", k ? "," : "", c->oris[k]);
        for (size_t k = 0; k < c->nprefixes; k++)
            fprintf(out, "%s %s*", k || c->noris ? "," : "", c->ori_prefixes[k]);
        fputc('\n', out);
    }
}

/* Which clients may ask for the request's ORI (explain). */
static void explain_clients(const dmvf_policy *p, const dmvf_request *req, FILE *out)
{
    if (!p->has_clients) {
        fprintf(out, "service clients: (no clients section: `dmvfilter serve` refuses every caller)\n");
        return;
    }
    size_t n = 0;
    fprintf(out, "service clients that may ask for this ORI:");
    for (size_t i = 0; i < p->nclients; i++)
        if (req->ori && dmvf_policy_client_may_speak_for(&p->clients[i], req->ori))
            fprintf(out, "%s '%s'", n++ ? "," : "", p->clients[i].name);
    fprintf(out, "%s\n", n ? "" : " none (a call for it is permission_denied)");
}

int dmvf_policy_explain_as_of(const dmvf_policy *p, const dmvf_request *req, uint32_t as_of, FILE *out)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    DMVF_REQUIRE(req != NULL, "request is NULL");
    DMVF_REQUIRE(out != NULL, "out is NULL");
    DMVF_REQUIRE(as_of == 0 || dmvf__date_valid(as_of), "as_of is not a date (YYYYMMDD)");
    char d[DMVF__DATE_CAP], raw[400], claims[400], ori[64];
    dmvf_verdict v;
    dmvf__policy_decide(p, req, as_of, &v);

    fprintf(out, "policy %s (id %s)\n", p->name, p->id);
    dmvf__quote_copy(ori, sizeof ori, req->ori ? req->ori : "", req->ori ? strlen(req->ori) : 0, QUOTE_ESC);
    claims_str(req, raw, sizeof raw);
    dmvf__escape_copy(claims, sizeof claims, raw); /* the request is hostile: one line */
    fprintf(out, "request: ORI %s, purpose %u%s, legal process %s, query kind %s; it says of itself: %s\n",
            req->ori && *req->ori ? ori : "(none)", req->purpose, req->purpose ? "" : " (none given)",
            dmvf_legal_process_name(req->legal_process), dmvf_query_kind_name(req->query_kind), claims);
    fprintf(out, "judged on: %s (%s)\n", dmvf__date_format(v.judged, d),
            as_of ? "as of this date, the DMV's own replay (--date)" : "today, the DMV's clock, UTC");
    explain_requester(p, req, &v, out);

    const dmvf_rule *r = v.who && !v.precheck ? dmvf__policy_match(p, req->ori, v.who) : NULL;
    if (v.precheck) {
        fprintf(out, "rule: none judged: the request is refused before the rules\n");
    } else if (!r) {
        fprintf(out, "rule: none matches: deny\n");
    } else {
        char m[400];
        match_str(r, m, sizeof m);
        fprintf(out, "rule: '%s' (line %u), matches %s; decision %s\n", r->name, r->line, m,
                dmvf__decision_name(r->decision));
        if (r->decision != DMVF_DECISION_DENY) {
            dmvf_reqcheck c[DMVF_NREQ];
            dmvf__rule_requirements(r, req, v.who, v.judged, c);
            for (int i = r->decision == DMVF_DECISION_REVIEW ? DMVF_REQ_DIRCERT : 0; i < DMVF_NREQ; i++)
                if (c[i].present)
                    fprintf(out, "  requirement: %s: %s\n", c[i].text, c[i].met ? "met" : "NOT MET");
                else
                    fprintf(out, "  requirement: %s\n", c[i].text);
        }
    }
    fprintf(out, "decision: %s\n", dmvf__decision_name(v.decision));
    fprintf(out, "refusal form: %s%s\n", dmvf__refusal_name(v.refusal),
            v.refusal == DMVF_REFUSAL_NOT_FOUND ? " (a refusal looks exactly like a genuine miss)"
                                                : " (a refusal says refused)");
    if (v.max_records)
        fprintf(out, "max records: %llu\n", (unsigned long long)v.max_records);
    else
        fprintf(out, "max records: no limit\n");
    fprintf(out, "notify subject: %s\n", v.notify_subject ? "yes" : "no");
    fprintf(out, "reason: %s\n", v.reason);
    explain_clients(p, req, out);
    int rc = DMVF_OK;
    if (v.decision == DMVF_DECISION_RELEASE) {
        rc = explain_table(r, req, out);
    } else if (v.decision == DMVF_DECISION_REVIEW && r && r->plan) {
        fprintf(out, "nothing is released until a reviewer approves; the held release is:\n");
        rc = explain_table(r, req, out);
    } else if (v.decision == DMVF_DECISION_REVIEW) {
        fprintf(out, "nothing is released for this request; the rule names no profile, so the held release "
                     "is empty.\n");
    } else {
        fprintf(out, "nothing is released for this request.\n");
    }
    if (v.decision == DMVF_DECISION_RELEASE || (v.decision == DMVF_DECISION_REVIEW && r && r->plan)) {
        if (r->marking_release)
            fprintf(out, "normalization: none (marking released: every value as it is)\n");
        else
            describe_norms(p, out);
    }
    if (fflush(out) != 0 || ferror(out))
        rc = DMVF_EIO;
    return rc;
}

int dmvf_policy_explain(const dmvf_policy *p, const dmvf_request *req, FILE *out)
{
    return dmvf_policy_explain_as_of(p, req, 0, out);
}

/* ------------------------------------------------------------------ describe */

static void size_str(uint64_t v, char *buf, size_t cap)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%llu %s", (unsigned long long)v, unit[u]);
}

/* The audit, notices and review sections, one line each. */
static void describe_sections(const dmvf_policy *p, FILE *out)
{
    char b[64];
    if (!p->has_audit) {
        fprintf(out, "audit: (no section: the audit log is where the command line puts it, if anywhere)\n");
    } else {
        const dmvf_policy_audit *a = &p->audit;
        fprintf(out, "audit: dir %s; %s; subjects %s", a->dir ? a->dir : "(not given: --audit)",
                a->required ? "required (no release without the log)" : "optional",
                a->subjects ? "logged as keyed hashes" : "not logged");
        if (a->rotate_bytes) {
            size_str(a->rotate_bytes, b, sizeof b);
            fprintf(out, "; rotate at %s", b);
        }
        if (a->rotate_seconds)
            fprintf(out, "; rotate every %llu s", (unsigned long long)a->rotate_seconds);
        fprintf(out, "; %s\n", a->compress ? "compressed" : "not compressed");
    }
    if (!p->has_notices) {
        fprintf(out, "notices: (no section: no rule may notify subjects)\n");
    } else {
        const dmvf_policy_notices *n = &p->notices;
        fprintf(out, "notices: queue %s; due in %u %s", n->queue, n->due_days,
                n->business_days ? "business days (Saturdays, Sundays and holidays skipped)" : "calendar days");
        if (n->nholidays) {
            fprintf(out, "; holidays");
            for (size_t i = 0; i < n->nholidays; i++)
                fprintf(out, "%s %s", i ? "," : "", dmvf__date_format(n->holidays[i], b));
        }
        fputc('\n', out);
    }
    if (!p->has_review)
        fprintf(out, "review: (no section: no rule may decide review)\n");
    else
        fprintf(out, "review: spool %s; public key %s\n", p->review.spool, p->review.public_key);
}

static int scope_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The requester directory: counts by kind, the tags and scopes with how
 * many entries have each, and the entries themselves when there are few. */
static void describe_directory(const dmvf_policy *p, FILE *out)
{
    const dmvf_directory *d = &p->dir;
    size_t n = d->nyaml + d->nfile, nprefix = n - d->nexact, kinds[DMVF_AGENCY_INTERNAL + 1] = {0};
    fprintf(out, "requester directory: %zu entr%s (%zu exact ORIs, %zu ORI prefixes); %zu in the policy",
            n, n == 1 ? "y" : "ies", d->nexact, nprefix, d->nyaml);
    if (d->file_path)
        fprintf(out, ", %zu in requesters_file %s", d->nfile, d->file_path);
    fprintf(out, "\n  (an exact ORI first, else the longest prefix; agency kind, tags and jurisdiction are "
                 "the directory's, never the request's)\n");
    const char **scopes = n ? malloc(n * sizeof *scopes) : NULL;
    size_t nscopes = 0;
    for (size_t i = 0; i < n; i++) {
        const dmvf_requester *e = &(i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml])->pub;
        kinds[e->kind]++;
        if (e->scope && scopes)
            scopes[nscopes++] = e->scope;
    }
    fprintf(out, "  kinds:");
    int any = 0;
    for (unsigned k = 1; k <= DMVF_AGENCY_INTERNAL; k++)
        if (kinds[k]) {
            fprintf(out, "%s %s %zu", any ? "," : "", dmvf_agency_kind_name((dmvf_agency_kind)k), kinds[k]);
            any = 1;
        }
    fprintf(out, "%s\n  tags:", any ? "" : " (none)");
    for (size_t i = 0; i < d->ntags; i++)
        fprintf(out, "%s %s (%zu)", i ? "," : "", d->tags[i], d->tag_entries[i]);
    fprintf(out, "%s\n  scopes (shared pseudonyms and encryption; every other entry is scoped by ORI):",
            d->ntags ? "" : " (none)");
    if (n && !scopes)
        fprintf(out, " (out of memory: not listed)");
    if (nscopes > 1)
        qsort(scopes, nscopes, sizeof *scopes, scope_cmp);
    size_t shown = 0;
    for (size_t i = 0; i < nscopes; i++) {
        size_t j = i;
        while (j + 1 < nscopes && strcmp(scopes[j + 1], scopes[i]) == 0)
            j++;
        fprintf(out, "%s %s (%zu)", shown++ ? "," : "", scopes[i], j - i + 1);
        i = j;
    }
    fprintf(out, "%s\n", nscopes || (n && !scopes) ? "" : " (none)");
    free(scopes);
    if (n > 64) {
        fprintf(out, "  entries: %zu, not listed (dmvfilter policy explain FILE --ori ORI shows one)\n", n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const dmvf_dirent *e = i < d->nyaml ? &d->yaml[i] : &d->file[i - d->nyaml];
        const dmvf_requester *w = &e->pub;
        char key[40], tags[200], dt[DMVF__DATE_CAP];
        dmvf__dirent_key(w, key, sizeof key);
        dmvf__list_str(w->tags, w->ntags, tags, sizeof tags);
        fprintf(out, "  %s (%s:%u): %s; kind %s; jurisdiction %s; tags %s", key, e->src, e->line, w->name,
                dmvf_agency_kind_name(w->kind), w->jurisdiction ? w->jurisdiction : "none", tags);
        if (w->scope)
            fprintf(out, "; scope %s", w->scope);
        if (w->certified_until)
            fprintf(out, "; certified until %s", dmvf__date_format(w->certified_until, dt));
        fputc('\n', out);
    }
}

int dmvf_policy_describe(const dmvf_policy *p, FILE *out)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    DMVF_REQUIRE(out != NULL, "out is NULL");
    char b1[400], b2[200];
    fprintf(out, "policy %s\n", p->name);
    fprintf(out, "id: %s\n", p->id);
    fprintf(out, "jurisdiction: %s\n", p->jurisdiction ? p->jurisdiction : "(not given)");
    describe_directory(p, out);
    fprintf(out, "rules (first match decides; no match: deny, %s):\n", dmvf__refusal_name(p->refusal));
    for (size_t i = 0; i < p->nrules; i++) {
        const dmvf_rule *r = &p->rules[i];
        match_str(r, b1, sizeof b1);
        fprintf(out, "  %zu. '%s' (line %u): match %s; %s", i + 1, r->name, r->line, b1,
                dmvf__decision_name(r->decision));
        if (r->purposes) {
            dmvf__bits_str(r->purposes, &dmvf__purposes, b2, sizeof b2);
            fprintf(out, "; purposes %s", b2);
        }
        if (r->legal) {
            dmvf__bits_str(r->legal, &dmvf__legal_processes, b2, sizeof b2);
            fprintf(out, "; legal process %s", b2);
        }
        if (r->queries) {
            dmvf__bits_str(r->queries, &dmvf__query_kinds, b1, sizeof b1);
            fprintf(out, "; query kinds %s", b1);
        }
        if (r->max_records)
            fprintf(out, "; max records %llu", (unsigned long long)r->max_records);
        if (r->certified_until)
            fprintf(out, "; certified until %s", dmvf__date_format(r->certified_until, b2));
        if (r->notify_subject)
            fprintf(out, "; notify subject");
        fprintf(out, "; refusal %s", dmvf__refusal_name(r->refusal));
        if (r->profile)
            fprintf(out, "; profile %s", r->profile->name);
        fprintf(out, "; marking %s\n", r->marking_release ? "RELEASED" : "suppressed");
    }
    fprintf(out, "profiles:\n");
    for (size_t i = 0; i < p->nprofiles; i++) {
        const dmvf_profile_def *pr = &p->profiles[i];
        profile_head(pr, b1, sizeof b1);
        fprintf(out, "  %s (line %u): default %s; %s\n", b1, pr->line, dmvf__action_name(pr->def_action),
                pr->used_release && !pr->used_suppressed ? "used with marking released"
                : pr->used_suppressed || pr->used_release ? "used with marking suppressed"
                                                          : "not used by any rule");
        for (size_t k = 0; k < pr->nmerged; k++) {
            const dmvf_pentry *e = pr->merged[k];
            act_str(&e->act, e->sf, b2, sizeof b2);
            fprintf(out, "    %-36s %s", e->text, b2);
            if (strcmp(e->origin, pr->name) != 0)
                fprintf(out, "  (from %s)", e->origin);
            fputc('\n', out);
        }
    }
    describe_norms(p, out);
    fprintf(out, "marking: M and C fields are redacted except under a rule with marking: release; unknown "
                 "fields are always redacted.\n");
    describe_sections(p, out);
    describe_clients(p, out);
    if (fflush(out) != 0 || ferror(out))
        return DMVF_EIO;
    return DMVF_OK;
}
