/*
 * review_list.c - the review queue listed (dmvf_review_list): every item
 * of the spool that has a .meta, oldest first (then by id), with its
 * state; from the clear .meta only, so no key is needed.
 *
 *   text  ID  HELD (UTC)  STATE  RECORDS  ORI  RULE / AGENCY   (a head
 *         line first; control bytes in values as \xNN, "-" for none)
 *   json  one object a line: id, time, time_ns, state, records, ori,
 *         agency, rule, request_id
 *
 * An item whose .meta does not decode, names another id, or whose marker
 * cannot be read is listed "damaged" and, after the whole list is
 * written, the first such is reported as DMVF_ETAMPER.
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

int dmvf_review_list(const char *spool, FILE *out, int json, dmvf_error *err)
{
    DMVF_REQUIRE(spool && out, "NULL argument");
    DIR *d = opendir(spool);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "review spool %s cannot be read: %s", spool,
                            strerror(errno));
    listed *v = NULL;
    size_t n = 0, cap = 0, i;
    int rc = DMVF_OK;
    char damaged[DMVF__REVIEW_PATH_CAP] = "";
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
        uint8_t *buf = NULL;
        size_t len = 0;
        int missing = 0;
        dmvf_error e2;
        if ((rc = dmvf__review_path(path, spool, id, "meta", err)) != DMVF_OK)
            goto done;
        int r = dmvf__review_file_read(path, DMVF__REVIEW_META_MAX, &buf, &len, &missing, &e2);
        if (r == DMVF_ENOMEM) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory listing %s", spool);
            goto done;
        }
        if (r == DMVF_OK) {
            e->meta = dmv__v1__review_meta__unpack(NULL, len, buf);
            free(buf);
        }
        if (r != DMVF_OK && missing) {
            n--; /* gone meanwhile (cannot happen to a kept item) */
            continue;
        }
        if (!e->meta || strcmp(e->meta->review_id, id) != 0) {
            e->state = DMVF__REVIEW_DAMAGED;
            if (!damaged[0])
                snprintf(damaged, sizeof damaged, "%s", path);
            continue;
        }
        char mark[DMVF__REVIEW_MARK_MAX];
        if (dmvf__review_state_read(spool, id, &e->state, mark, &e2) != DMVF_OK) {
            e->state = DMVF__REVIEW_DAMAGED;
            if (!damaged[0])
                snprintf(damaged, sizeof damaged, "%s", path);
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
    if (damaged[0])
        rc = dmvf__seterr(err, DMVF_ETAMPER,
                          "%s does not decode or names another item: the spool was altered",
                          damaged);
done:
    closedir(d);
    for (i = 0; i < n; i++)
        if (v[i].meta)
            dmv__v1__review_meta__free_unpacked(v[i].meta, NULL);
    free(v);
    return rc;
}
