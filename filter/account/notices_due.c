/*
 * notices_due.c - when notices fall due, and the list of those not yet
 * sent (dmvf_notices_due_list), soonest first.
 *
 * The due date is the request's date plus due_days (3 when not set)
 * calendar days, or business days (Monday to Friday, the policy's
 * holidays skipped) with business_days.
 *
 * The list reads the queue under a shared lock (notices_read.c) and prints
 * each unsent notice, by due date then id:
 *
 *   text   ID  YYYY-MM-DD  SUBJECT  AGENCY  LEGAL_PROCESS[  OVERDUE]
 *          (control bytes, DEL and '\' as \xNN, "-" for an empty value)
 *   json   the notice line as queued, with ,"overdue":true|false added
 *          before its closing '}'
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/notices_file_int.h"
#include "filter/account/notices_json_int.h"
#include "filter/account/notices_read_int.h"

uint32_t dmvf_notice_due(uint32_t date, const dmvf_policy_notices *s)
{
    if (!dmvf__date_valid(date))
        return 0;
    unsigned n = s && s->due_days ? s->due_days : 3;
    if (!s || !s->business_days)
        return dmvf__date_add(date, n, 0, NULL, 0);
    DMVF_REQUIRE(s->nholidays == 0 || s->holidays != NULL, "holidays is NULL");
    return dmvf__date_add(date, n, 1, s->holidays, s->nholidays);
}

static int due_cmp(const void *a, const void *b)
{
    const dmvf__qnotice *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* s[0..n) on one line: control bytes, DEL and '\' as \xNN; "-" if empty. */
static void put_text(FILE *out, const char *s, size_t n)
{
    dmvf__text t = dmvf__text_file(out);
    if (n == 0)
        dmvf__text_put(&t, "-", 1);
    dmvf__text_escaped(&t, s, n, DMVF__ESC_BACKSLASH);
}

int dmvf_notices_due_list(const char *queue_path, uint32_t today, int json, FILE *out,
                          uint64_t *count, dmvf_error *err)
{
    DMVF_REQUIRE(queue_path != NULL, "queue is NULL");
    DMVF_REQUIRE(out != NULL, "out is NULL");
    if (count)
        *count = 0;
    if (today == 0)
        today = dmvf__today();
    if (!dmvf__date_valid(today))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)today);
    int fd = open(queue_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot open: %s", queue_path,
                            strerror(errno));
    if (dmvf__notices_lock(fd, LOCK_SH) != 0) {
        int e = errno;
        close(fd);
        return dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot lock: %s", queue_path,
                            strerror(e));
    }
    dmvf__nqueue q;
    memset(&q, 0, sizeof q);
    q.path = queue_path;
    int rc = dmvf__queue_read(&q, fd, err);
    size_t m = 0;
    if (rc == DMVF_OK) {
        for (size_t i = 0; i < q.nn; i++)
            if (!q.nv[i].sent_line)
                q.nv[m++] = q.nv[i];
        if (m > 1)
            qsort(q.nv, m, sizeof *q.nv, due_cmp);
    }
    for (size_t i = 0; i < m && rc == DMVF_OK; i++) {
        const dmvf__qnotice *e = &q.nv[i];
        /* read the line again: it was checked above and the file is only
         * ever appended to, and we hold the shared lock */
        ssize_t got;
        do
            got = pread(fd, q.lbuf, e->len, (off_t)e->off);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)e->len) {
            rc = dmvf__seterr(err, DMVF_EIO, "notice queue %s: cannot read line %llu again: %s",
                              queue_path, (unsigned long long)e->line,
                              got < 0 ? strerror(errno) : "short read");
            break;
        }
        int overdue = e->due < today;
        if (json) {
            /* the object as written, with "overdue" added before its '}' */
            size_t end = e->len;
            while (end > 0 && q.lbuf[end - 1] != '}')
                end--;
            fwrite(q.lbuf, 1, end ? end - 1 : 0, out);
            fprintf(out, ",\"overdue\":%s}\n", overdue ? "true" : "false");
        } else {
            dmvf__jparser j = {(const unsigned char *)q.lbuf, e->len, 0, q.scratch, 0, NULL};
            dmvf__nfields nf;
            if (dmvf__notice_line_parse(&j, &nf)) {
                rc = dmvf__queue_malformed(err, queue_path, e->line, j.i, j.why);
                break;
            }
            char due[DMVF__DATE_CAP];
            dmvf__date_format(e->due, due);
            fprintf(out, "%016llx  %s  ", (unsigned long long)e->id, due);
            put_text(out, nf.subject.p, nf.subject.n);
            fputs("  ", out);
            put_text(out, nf.agency.p, nf.agency.n);
            fputs("  ", out);
            put_text(out, nf.legal_process.p, nf.legal_process.n);
            fputs(overdue ? "  OVERDUE\n" : "\n", out);
        }
    }
    if (rc == DMVF_OK && ferror(out))
        rc = dmvf__seterr(err, DMVF_EIO, "notices: writing the due list failed");
    if (rc == DMVF_OK && count)
        *count = m;
    dmvf__queue_free(&q);
    close(fd);
    return rc;
}
