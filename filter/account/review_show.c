/*
 * review_show.c - one held item shown to its reviewer (dmvf_review_show):
 * checked to be the filter's (signed with the DMV's key) and opened with
 * the reviewer's secret key (review_item.c), then
 *
 *   review ID: STATE / decision: LINE (once decided) / held: TIME
 *   request:   its fields, a line each ("  LABEL  VALUE")
 *   rule, policy id, the REQUEST entry's seq, the would-be release's
 *   size, the field counts (path, action, class, values), the number of
 *   subjects; with records, every record (review_dump.c)
 *
 * Values are on one line with control bytes as \xNN ("-" for none).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/enums.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/review_int.h"

static void put_line(FILE *out, const char *label, const char *v)
{
    char buf[1024];
    dmvf__escape_copy(buf, sizeof buf, dmvf__review_nz(v));
    fprintf(out, "  %-16s %s\n", label, buf[0] ? buf : "-");
}

static void put_list(FILE *out, const char *label, char **v, size_t n, const char *none)
{
    fprintf(out, "  %-16s ", label);
    if (n == 0)
        fputs(none, out);
    for (size_t i = 0; i < n; i++) {
        char buf[512];
        dmvf__escape_copy(buf, sizeof buf, dmvf__review_nz(v[i]));
        fprintf(out, "%s%s", i ? ", " : "", buf);
    }
    fputc('\n', out);
}

static void print_request(FILE *out, const Dmv__V1__Request *q)
{
    char num[64];
    if (!q) {
        fputs("  (none)\n", out);
        return;
    }
    put_line(out, "request id", q->request_id);
    put_line(out, "ORI", q->ori);
    put_line(out, "agency name", q->agency_name);
    put_line(out, "agency kind", q->agency_kind ? dmvf_agency_kind_name((dmvf_agency_kind)q->agency_kind) : "");
    put_line(out, "jurisdiction", q->jurisdiction);
    put_list(out, "tags", q->tags, q->n_tags, "-");
    put_line(out, "operator", q->operator_id);
    if (q->purpose)
        snprintf(num, sizeof num, "2721(b)(%u)", q->purpose);
    else
        snprintf(num, sizeof num, "none given");
    put_line(out, "purpose", num);
    put_line(out, "legal process", q->legal_process ? dmvf_legal_process_name((dmvf_legal_process)q->legal_process) : "");
    put_line(out, "legal reference", q->legal_reference);
    put_line(out, "query kind", q->query_kind ? dmvf_query_kind_name((dmvf_query_kind)q->query_kind) : "");
    put_list(out, "fields", q->fields, q->n_fields, "(all the profile releases)");
    put_line(out, "channel", q->channel);
    if (q->date)
        dmvf__date_format(q->date, num);
    else
        snprintf(num, sizeof num, "the day it was made");
    put_line(out, "judged on", num);
}

int dmvf_review_show(const char *spool, const char *id, const uint8_t pub[32],
                     const char *secret_key_path, const char *passphrase, FILE *out, int records,
                     dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && pub && secret_key_path && out, "NULL argument");
    dmvf__review_item it;
    int rc = dmvf__review_item_open(spool, id, pub, secret_key_path, passphrase, 0, &it, err);
    if (rc != DMVF_OK)
        return rc;
    const Dmv__V1__ReviewMeta *m = it.meta;
    const Dmv__V1__ReviewBody *b = it.body;
    char when[32], buf[1024];
    dmvf__review_time(m->time_ns, when);
    fprintf(out, "review %s: %s\n", it.id, dmvf__review_state_names[it.state]);
    if (it.state != DMVF__REVIEW_PENDING) {
        dmvf__escape_copy(buf, sizeof buf, it.mark);
        fprintf(out, "decision: %s\n", buf);
    }
    fprintf(out, "held: %s\n", when);
    fputs("request:\n", out);
    print_request(out, b->request);
    dmvf__escape_copy(buf, sizeof buf, dmvf__review_nz(m->rule));
    fprintf(out, "rule: %s\n", buf[0] ? buf : "-");
    dmvf__escape_copy(buf, sizeof buf, dmvf__review_nz(m->policy_id));
    fprintf(out, "policy id: %s\n", buf[0] ? buf : "-");
    fprintf(out, "audit REQUEST entry: %llu\n", (unsigned long long)m->request_seq);
    fprintf(out, "would-be release: %llu records (of %llu read), %zu bytes\n",
            (unsigned long long)b->records_out, (unsigned long long)b->records_in,
            b->release.len);
    fprintf(out, "fields (values per path and action; class M marking, C correlated, "
                 "P restricted, N marking values normalized):\n");
    if (b->n_fields == 0)
        fputs("  (none counted)\n", out);
    for (size_t i = 0; i < b->n_fields; i++) {
        const Dmv__V1__FieldCount *fc = b->fields[i];
        char klass[DMVF__CLASS_LETTERS_CAP];
        dmvf__field_class_letters(fc->klass, klass);
        dmvf__escape_copy(buf, sizeof buf, dmvf__review_nz(fc->path));
        fprintf(out, "  %-36s %-13s %-3s %llu\n", buf, dmvf__action_name(fc->action),
                klass[0] ? klass : "-", (unsigned long long)fc->values);
    }
    fprintf(out, "subjects: %zu record ids (hashed into the audit log when approved)\n",
            b->n_subject_ids);
    if (records) {
        fputs("records:\n", out);
        rc = dmvf__review_dump_records(out, &b->release, it.id, err);
    }
    if (rc == DMVF_OK && (fflush(out) != 0 || ferror(out)))
        rc = dmvf__seterr(err, DMVF_EIO, "cannot write review item %s: %s", it.id,
                          strerror(errno));
    dmvf__review_item_close(&it);
    return rc;
}
