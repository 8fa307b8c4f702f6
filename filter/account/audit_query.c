/*
 * audit_query.c - dmvf_audit_query_run: the entries of the log that meet
 * a query, one JSON object a line (JSON Lines), oldest first.
 *
 * Criteria (every one given must hold): kind, decision, time in
 * [from_ns, to_ns), the request's ORI and request id (exactly), agency
 * name (contains, ASCII case folded), a tag (one of the request's), and a
 * subject (its keyed hash among the entry's subjects: needs the keyring).
 *
 * Over several logs (dmvf_audit_query_dirs) the entries are merged by
 * time (each log's own order kept; equal times: the log named first) and
 * every line starts with the log it came from ("log": DIR as given).
 *
 * A line, keys in this order (those in [] only when set):
 *
 *   [log: several logs], seq, time (RFC 3339, nanoseconds), time_ns, kind, [ref: not for
 *   REQUEST], decision, [not_found_reply: true], [request{request_id, ori,
 *   agency_name, agency_kind, jurisdiction, tags, operator_id, purpose,
 *   legal_process, legal_reference, query_kind, fields, channel, [date]}],
 *   rule, policy_id, key_epoch, [reason], records_in, records_out,
 *   records_dropped, [fields[{path, action, class, values}]],
 *   [subjects (hex)], [review_id], [actor], [note], notices,
 *   notify_subject, [client]
 *
 * and a client name (exactly: the `dmvfilter serve` client that asked).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/hex.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"

static void json_key_str(FILE *o, const char *key, const char *s)
{
    fprintf(o, ",\"%s\":", key);
    dmvf__json_fput(o, s);
}

/* ,"key":{...}: the request (key "request"), or what it claimed ("claimed"). */
static void json_request(FILE *o, const char *key, const Dmv__V1__Request *q)
{
    fprintf(o, ",\"%s\":{\"request_id\":", key);
    dmvf__json_fput(o, q->request_id);
    json_key_str(o, "ori", q->ori);
    json_key_str(o, "agency_name", q->agency_name);
    fprintf(o, ",\"agency_kind\":\"%s\"", dmvf_agency_kind_name((dmvf_agency_kind)q->agency_kind));
    json_key_str(o, "jurisdiction", q->jurisdiction);
    fputs(",\"tags\":", o);
    dmvf__json_fput_strs(o, (const char *const *)q->tags, q->n_tags);
    json_key_str(o, "operator_id", q->operator_id);
    fprintf(o, ",\"purpose\":%u", (unsigned)q->purpose);
    fprintf(o, ",\"legal_process\":\"%s\"",
            dmvf_legal_process_name((dmvf_legal_process)q->legal_process));
    json_key_str(o, "legal_reference", q->legal_reference);
    fprintf(o, ",\"query_kind\":\"%s\"", dmvf_query_kind_name((dmvf_query_kind)q->query_kind));
    fputs(",\"fields\":", o);
    dmvf__json_fput_strs(o, (const char *const *)q->fields, q->n_fields);
    json_key_str(o, "channel", q->channel);
    char date[DMVF__DATE_CAP];
    if (q->date)
        fprintf(o, ",\"date\":\"%s\"", dmvf__date_format(q->date, date));
    putc('}', o);
}

/* One line; log (NULL: left out) names the log it came from. */
static void json_entry(FILE *o, const Dmv__V1__AuditEntry *e, const char *log)
{
    char when[DMVF__TIME_CAP];
    dmvf__time_format(e->time_ns / 1000000000u, (uint32_t)(e->time_ns % 1000000000u), DMVF__TIME_NANOS,
                      when);
    putc('{', o);
    if (log) {
        fputs("\"log\":", o);
        dmvf__json_fput(o, log);
        putc(',', o);
    }
    fprintf(o, "\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64 ",\"kind\":\"%s\"",
            e->seq, when, e->time_ns, dmvf__name(&dmvf__audit_kinds, (unsigned)e->kind, "unknown"));
    if (e->kind != DMV__V1__AUDIT_KIND__AUDIT_KIND_REQUEST)
        fprintf(o, ",\"ref\":%" PRIu64, e->ref);
    fprintf(o, ",\"decision\":\"%s\"", dmvf__name(&dmvf__decisions, (unsigned)e->decision, "unknown"));
    if (e->not_found_reply)
        fputs(",\"not_found_reply\":true", o);
    if (e->request)
        json_request(o, "request", e->request);
    if (e->claimed)
        json_request(o, "claimed", e->claimed);
    if (e->judged_as_of) {
        char d[DMVF__DATE_CAP];
        fprintf(o, ",\"judged_as_of\":\"%s\"", dmvf__date_format(e->judged_as_of, d));
    }
    json_key_str(o, "rule", e->rule);
    json_key_str(o, "policy_id", e->policy_id);
    fprintf(o, ",\"key_epoch\":%u", (unsigned)e->key_epoch);
    if (e->reason && e->reason[0])
        json_key_str(o, "reason", e->reason);
    fprintf(o, ",\"records_in\":%" PRIu64 ",\"records_out\":%" PRIu64
            ",\"records_dropped\":%" PRIu64, e->records_in, e->records_out, e->records_dropped);
    if (e->n_fields) {
        fputs(",\"fields\":[", o);
        for (size_t i = 0; i < e->n_fields; i++) {
            const Dmv__V1__FieldCount *fc = e->fields[i];
            char cls[DMVF__CLASS_LETTERS_CAP];
            dmvf__field_class_letters(fc->klass, cls);
            fputs(i ? ",{\"path\":" : "{\"path\":", o);
            dmvf__json_fput(o, fc->path);
            fprintf(o, ",\"action\":\"%s\",\"class\":\"%s\",\"values\":%" PRIu64 "}",
                    dmvf__name(&dmvf__actions, (unsigned)fc->action, "unknown"),
                    cls[0] ? cls : "ordinary", fc->values);
        }
        putc(']', o);
    }
    if (e->n_subjects) {
        fputs(",\"subjects\":[", o);
        for (size_t i = 0; i < e->n_subjects; i++) {
            char hx[2 * 64 + 1];
            size_t l = e->subjects[i].len > 64 ? 64 : e->subjects[i].len;
            dmvf__hex_encode(hx, e->subjects[i].data, l);
            fprintf(o, "%s\"%s\"", i ? "," : "", hx);
        }
        putc(']', o);
    }
    if (e->review_id && e->review_id[0])
        json_key_str(o, "review_id", e->review_id);
    if (e->actor && e->actor[0])
        json_key_str(o, "actor", e->actor);
    if (e->note && e->note[0])
        json_key_str(o, "note", e->note);
    fprintf(o, ",\"notices\":%u,\"notify_subject\":%s", (unsigned)e->notices,
            e->notify_subject ? "true" : "false");
    if (e->client && e->client[0])
        json_key_str(o, "client", e->client);
    fputs("}\n", o);
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               (hay[i] | (hay[i] >= 'A' && hay[i] <= 'Z' ? 0x20 : 0)) ==
                   (needle[i] | (needle[i] >= 'A' && needle[i] <= 'Z' ? 0x20 : 0)))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

typedef struct query_ctx {
    const dmvf_audit_query *q;
    int have_subject;
    uint8_t subject[DMVF_SUBJECT_HASH_LEN];
} query_ctx;

static int query_match(const query_ctx *c, const Dmv__V1__AuditEntry *e)
{
    const dmvf_audit_query *q = c->q;
    if (q->kind && (int)e->kind != q->kind)
        return 0;
    if (q->decision && (int)e->decision != q->decision)
        return 0;
    if (q->from_ns && e->time_ns < q->from_ns)
        return 0;
    if (q->to_ns && e->time_ns >= q->to_ns)
        return 0;
    if (q->client && strcmp(e->client ? e->client : "", q->client) != 0)
        return 0;
    if (q->ori || q->agency || q->tag || q->request_id) {
        const Dmv__V1__Request *r = e->request;
        if (!r)
            return 0;
        if (q->ori && strcmp(r->ori ? r->ori : "", q->ori) != 0)
            return 0;
        if (q->agency && !ci_contains(r->agency_name ? r->agency_name : "", q->agency))
            return 0;
        if (q->request_id && strcmp(r->request_id ? r->request_id : "", q->request_id) != 0)
            return 0;
        if (q->tag) {
            size_t i = 0;
            while (i < r->n_tags && strcmp(r->tags[i], q->tag) != 0)
                i++;
            if (i == r->n_tags)
                return 0;
        }
    }
    if (c->have_subject) {
        size_t i = 0;
        while (i < e->n_subjects &&
               !(e->subjects[i].len == DMVF_SUBJECT_HASH_LEN &&
                 memcmp(e->subjects[i].data, c->subject, DMVF_SUBJECT_HASH_LEN) == 0))
            i++;
        if (i == e->n_subjects)
            return 0;
    }
    return 1;
}

/* One log being merged: its cursor, the entry it stands on (NULL: done),
 * and its query context (the subject hashed with its keyring). */
typedef struct query_log {
    dmvf__audit_cursor *cur;
    const Dmv__V1__AuditEntry *e;
    query_ctx c;
} query_log;

/* The next entry of l that matches (l->e NULL at the end). */
static int query_advance(query_log *l, dmvf_error *err)
{
    for (;;) {
        int rc = dmvf__audit_cursor_next(l->cur, &l->e, err);
        if (rc != DMVF_OK || !l->e || query_match(&l->c, l->e))
            return rc;
    }
}

int dmvf_audit_query_dirs(const char *const *dirs, const dmvf_keyring *const *krs, size_t n,
                          const dmvf_audit_query *q, FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(dirs != NULL && n > 0 && q != NULL && out != NULL, "dirs, n, q or out");
    for (size_t i = 0; i < n; i++)
        DMVF_REQUIRE(dirs[i] != NULL, "a log directory is NULL");
    if (q->subject) {
        for (size_t i = 0; i < n; i++)
            if (!krs || !krs[i])
                return dmvf__seterr(err, DMVF_EINVAL, "a subject query needs the keyring "
                                    "(subjects are logged as keyed hashes)%s%s",
                                    n > 1 ? ": none for " : "", n > 1 ? dirs[i] : "");
    }
    query_log *logs = calloc(n, sizeof *logs);
    if (!logs)
        return dmvf__seterr(err, DMVF_ENOMEM, "out of memory");
    int rc = DMVF_OK;
    for (size_t i = 0; i < n && rc == DMVF_OK; i++) {
        logs[i].c.q = q;
        if (q->subject) {
            dmvf_keyring_subject_hash(krs[i], q->subject, strlen(q->subject), logs[i].c.subject);
            logs[i].c.have_subject = 1;
        }
        rc = dmvf__audit_cursor_open(dirs[i], &logs[i].cur, err);
        if (rc == DMVF_OK)
            rc = query_advance(&logs[i], err);
    }
    /* merged by time, each log in its own order; ties: the earlier DIR */
    while (rc == DMVF_OK) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (logs[i].e && (best == n || logs[i].e->time_ns < logs[best].e->time_ns))
                best = i;
        if (best == n)
            break;
        json_entry(out, logs[best].e, n > 1 ? dirs[best] : NULL);
        if (ferror(out))
            rc = dmvf__seterr(err, DMVF_EIO, "writing the query output failed");
        else
            rc = query_advance(&logs[best], err);
    }
    for (size_t i = 0; i < n; i++)
        dmvf__audit_cursor_free(logs[i].cur);
    free(logs);
    if (rc == DMVF_OK && fflush(out) != 0)
        rc = dmvf__seterr(err, DMVF_EIO, "writing the query output failed: %s", strerror(errno));
    return rc;
}

int dmvf_audit_query_run(const char *dir, const dmvf_audit_query *q, const dmvf_keyring *kr,
                         FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(dir != NULL && q != NULL && out != NULL, "dir, q or out is NULL");
    return dmvf_audit_query_dirs(&dir, &kr, 1, q, out, err);
}
