/*
 * review_list.c - the review queue listed (dmvf_review_list): every item
 * of the spool that has a .meta, oldest first (then by id), with its
 * state; from the clear .meta, checked to be the filter's (signed with the
 * DMV's key, its ID.sealed the body it signed: review_item.c), so no
 * reviewer key is needed.
 *
 *   text  ID  HELD (UTC)  STATE  RECORDS  ORI  RULE / AGENCY   (a head
 *         line first; control bytes in values as \xNN, "-" for none)
 *   json  one object a line: id, time, time_ns, state, records, ori,
 *         agency, rule, request_id
 *
 * An item whose .meta does not decode, names another id, is not signed,
 * is signed with another key or does not verify, whose ID.sealed is
 * missing or not the signed body, or whose marker cannot be read is
 * listed "damaged" with nothing of what its .meta claims and, after the
 * whole list is written, the first such is reported as DMVF_ETAMPER with
 * the check it failed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/review_int.h"

typedef struct listed {
    char id[DMVF_REVIEW_ID_LEN + 1];
    Dmv__V1__ReviewMeta *meta;   /* NULL when damaged */
    int state;
} listed;

static int by_time(const void *pa, const void *pb)
{
    const listed *a = pa, *b = pb;
    uint64_t ta = a->meta ? a->meta->time_ns : 0, tb = b->meta ? b->meta->time_ns : 0;
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(a->id, b->id);
}

int dmvf_review_list(const char *spool, const uint8_t pub[32], FILE *out, int json,
                     dmvf_error *err)
{
    DMVF_REQUIRE(spool && pub && out, "NULL argument");
    DIR *d = opendir(spool);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be read: %s", spool,
                            strerror(errno));
    listed *v = NULL;
    size_t n = 0, cap = 0, i;
    int rc = DMVF_OK;
    size_t ndamaged = 0;
    dmvf_error first;   /* why the first damaged item is */
    memset(&first, 0, sizeof first);
    struct dirent *de;

    for (;;) {
        errno = 0;
        if (!(de = readdir(d)))
            break;
        const char *name = de->d_name;
        if (strlen(name) != DMVF_REVIEW_ID_LEN + 5 || strcmp(name + DMVF_REVIEW_ID_LEN, ".meta") != 0)
            continue;
        char id[DMVF_REVIEW_ID_LEN + 1];
        memcpy(id, name, DMVF_REVIEW_ID_LEN);
        id[DMVF_REVIEW_ID_LEN] = '\0';
        if (!dmvf__review_id_valid(id))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            listed *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory listing %s", spool);
                goto done;
            }
            v = nv;
            cap = nc;
        }
        listed *e = &v[n++];
        memset(e, 0, sizeof *e);
        memcpy(e->id, id, sizeof id);
        char path[DMVF__REVIEW_PATH_CAP];
        int missing = 0;
        dmvf_error e2;
        memset(&e2, 0, sizeof e2);
        int r = dmvf__review_meta_load(spool, id, pub, &e->meta, path, &missing, &e2);
        if (r != DMVF_OK && missing) {
            n--; /* gone meanwhile (cannot happen to a kept item) */
            continue;
        }
        if (r == DMVF_OK)
            r = dmvf__review_sealed_check_file(e->meta, spool, id, &e2);
        if (r == DMVF_OK) {
            char mark[DMVF__REVIEW_MARK_MAX];
            r = dmvf__review_state_read(spool, id, &e->state, mark, &e2);
        }
        if (r == DMVF_ENOMEM) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory listing %s", spool);
            goto done;
        }
        if (r != DMVF_OK) {
            e->state = DMVF__REVIEW_DAMAGED;
            if (!ndamaged++)
                memcpy(&first, &e2, sizeof first);
        }
    }
    if (errno) {
        rc = dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be read: %s", spool,
                          strerror(errno));
        goto done;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, by_time);
    if (!json)
        fprintf(out, "%-32s  %-20s  %-8s  %7s  %-9s  %s\n", "ID", "HELD (UTC)", "STATE",
                "RECORDS", "ORI", "RULE / AGENCY");
    for (i = 0; i < n; i++) {
        const listed *e = &v[i];
        const Dmv__V1__ReviewMeta *m = e->meta && e->state != DMVF__REVIEW_DAMAGED ? e->meta : NULL;
        const Dmv__V1__Request *q = m ? m->request : NULL;
        char when[32] = "?";
        if (m)
            dmvf__review_time(m->time_ns, when);
        if (json) {
            fprintf(out, "{\"id\":\"%s\",\"time\":", e->id);
            dmvf__json_fput(out, m ? when : "");
            fprintf(out, ",\"time_ns\":%llu,\"state\":\"%s\",\"records\":%llu,\"ori\":",
                    (unsigned long long)(m ? m->time_ns : 0), dmvf__review_state_names[e->state],
                    (unsigned long long)(m ? m->records : 0));
            dmvf__json_fput(out, q ? q->ori : "");
            fputs(",\"agency\":", out);
            dmvf__json_fput(out, q ? q->agency_name : "");
            fputs(",\"rule\":", out);
            dmvf__json_fput(out, m ? m->rule : "");
            fputs(",\"request_id\":", out);
            dmvf__json_fput(out, q ? q->request_id : "");
            fputs("}\n", out);
        } else {
            char ori[40], rule[200], agency[200], recs[24];
            dmvf__escape_copy(ori, sizeof ori, q ? dmvf__review_nz(q->ori) : "");
            dmvf__escape_copy(rule, sizeof rule, m ? dmvf__review_nz(m->rule) : "");
            dmvf__escape_copy(agency, sizeof agency, q ? dmvf__review_nz(q->agency_name) : "");
            snprintf(recs, sizeof recs, "%llu", (unsigned long long)(m ? m->records : 0));
            fprintf(out, "%-32s  %-20s  %-8s  %7s  %-9s  %s%s%s\n", e->id, m ? when : "?",
                    dmvf__review_state_names[e->state], m ? recs : "?", ori[0] ? ori : "-",
                    rule[0] ? rule : "-", agency[0] ? " / " : "", agency);
        }
    }
    if (fflush(out) != 0 || ferror(out)) {
        rc = dmvf__seterr(err, DMVF_EIO, "cannot write the review list: %s", strerror(errno));
        goto done;
    }
    if (ndamaged)
        rc = dmvf__seterr(err, DMVF_ETAMPER, "%zu item%s of the spool %s not the filter's; the "
                          "first: %s", ndamaged, ndamaged == 1 ? "" : "s",
                          ndamaged == 1 ? "is" : "are",
                          first.msg[0] ? first.msg : dmvf_strerror(first.code));
done:
    closedir(d);
    for (i = 0; i < n; i++)
        if (v[i].meta)
            dmv__v1__review_meta__free_unpacked(v[i].meta, NULL);
    free(v);
    return rc;
}
