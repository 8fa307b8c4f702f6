/*
 * test_notices.c - subject notices (include/dmvfilter/notices.h):
 *   - due dates: calendar and business days, holidays, month, year and
 *     leap-year boundaries, invalid dates; cross-checked day by day against
 *     libc (timegm/gmtime) over 1901..2199;
 *   - queue -> due list -> mark sent -> the due list shrinks; text and JSON;
 *   - mark sent refuses unknown, already sent, repeated and malformed ids
 *     and then writes nothing;
 *   - a malformed queue (31 kinds of bad line) is DMVF_EMALFORMED naming its
 *     line; mutated and random lines never crash;
 *   - hostile request strings (quotes, newlines, control bytes, invalid
 *     UTF-8) round-trip as valid JSON (checked by python3's json when
 *     present) and the text list stays one line per notice;
 *   - permissions (0600 created, a group-readable queue refused for writing),
 *     a queue that ends inside a line is never appended to;
 *   - four processes queueing at once: every line intact, none lost;
 *   - real filters: a plain stream and a framed stream of generated records
 *     through filters created with collect_subjects give one notice per
 *     record_id; a refused immigration request queues "deny" notices.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"
#include "dmv/v1/record.pb-c.h"
#include "check.h"
#include "fixture.h"

static dmvf_policy *g_pol;
static dmvf_keyring *g_kr;

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

static char *path_in(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 600, "%s/%s", g_dir, name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        CHECK_MSG(0, "cannot write %s", path);
    if (fd >= 0)
        close(fd);
}

static char *read_text(const char *path)
{
    size_t n;
    return (char *)slurp(path, &n);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* The due list as a string (caller frees); *st the status. */
static char *due_list(const char *queue, uint32_t today, int json, int *st, uint64_t *count,
                      dmvf_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *st = dmvf_notices_due_list(queue, today, json, f, count, err);
    fclose(f);
    return buf;
}

/* A filter for req with collect_subjects that has read `records`
 * (a delimited stream). */
static dmvf_filter *filter_over(const dmvf_request *req, const void *records, size_t n)
{
    dmvf_filter_options o;
    memset(&o, 0, sizeof o);
    o.collect_subjects = 1;
    o.as_of = 20261120;     /* the day judged on: the day notices are dated from */
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(g_pol, g_kr, req, &o, &err);
    CHECK_MSG(f != NULL, "filter_create: %s", f ? "" : err.msg);
    if (!f)
        return NULL;
    size_t cap = n * 2 + 4096;
    uint8_t *out = malloc(cap);
    dmvf_in_buffer in = {records, n, 0};
    dmvf_out_buffer ob = {out, cap, 0};
    int st = dmvf_filter_stream(f, &ob, &in, 1, &err);
    CHECK_MSG(st == DMVF_OK || st == DMVF_EREFUSED, "stream: %d %s", st, err.msg);
    free(out);
    return f;
}

/* One delimited record with only record_id set. */
static size_t put_record(uint8_t *p, const char *id)
{
    size_t n = strlen(id);
    p[0] = (uint8_t)(n + 2);
    p[1] = 0x0a;
    p[2] = (uint8_t)n;
    memcpy(p + 3, id, n);
    return n + 3;
}

static const char *const police_tags[] = {"patrol"};

static dmvf_request police_request(void)
{
    dmvf_request r;
    memset(&r, 0, sizeof r);
    r.request_id = "req-police-1";
    r.ori = "NY0303000";
    r.agency_name = "APD";     /* notices name it as the directory does: Albany Police */
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.jurisdiction = "NY";
    r.tags = police_tags;
    r.ntags = 1;
    r.purpose = 1;
    r.legal_process = DMVF_LEGAL_NONE;
    r.query_kind = DMVF_QUERY_BY_LICENSE;
    return r;
}

/* A filter that has read records with the given ids. */
static dmvf_filter *filter_ids(const dmvf_request *req, const char *const *ids, size_t n)
{
    uint8_t buf[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += put_record(buf + len, ids[i]);
    return filter_over(req, buf, len);
}

/* The ids (first 16 characters of each text line) into ids[][17]. */
static size_t ids_of(const char *list, char ids[][17], size_t max)
{
    size_t n = 0;
    for (const char *l = list; l && *l && n < max;) {
        memcpy(ids[n], l, 16);
        ids[n][16] = 0;
        n++;
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    return n;
}

static int have_python(void)
{
    static int known = -1;
    if (known < 0)
        known = system("python3 -c 'import json' >/dev/null 2>&1") == 0;
    return known;
}

/* ------------------------------------------------------------------ */
/* due dates                                                          */
/* ------------------------------------------------------------------ */

static uint32_t due(uint32_t date, unsigned days, int business, const uint32_t *hol, size_t nhol)
{
    dmvf_policy_notices s;
    memset(&s, 0, sizeof s);
    s.due_days = days;
    s.business_days = business;
    s.holidays = hol;
    s.nholidays = nhol;
    return dmvf_notice_due(date, &s);
}

static uint32_t tm_ymd(const struct tm *tm)
{
    return (uint32_t)(tm->tm_year + 1900) * 10000u + (uint32_t)(tm->tm_mon + 1) * 100u +
           (uint32_t)tm->tm_mday;
}

static void test_due_dates(void)
{
    /* the brief's examples */
    CHECK_EQ_INT(due(20261120, 3, 0, NULL, 0), 20261123);
    CHECK_EQ_INT(dmvf_notice_due(20261120, NULL), 20261123);          /* NULL: 3 calendar days */
    CHECK_EQ_INT(due(20261120, 0, 0, NULL, 0), 20261123);             /* 0: the default 3 */
    CHECK_EQ_INT(due(20261120, 3, 1, NULL, 0), 20261125);             /* Fri + 3 business: Wed */
    const uint32_t thanksgiving[] = {20261126};
    CHECK_EQ_INT(due(20261124, 3, 1, thanksgiving, 1), 20261130);     /* Tue, Thu off: Mon */
    CHECK_EQ_INT(due(20261124, 3, 1, NULL, 0), 20261127);             /* without it: Fri */
    CHECK_EQ_INT(due(20261124, 3, 0, thanksgiving, 1), 20261127);     /* calendar ignores it */
    /* weekends: from Saturday and Sunday the count starts Monday */
    CHECK_EQ_INT(due(20261121, 1, 1, NULL, 0), 20261123);
    CHECK_EQ_INT(due(20261122, 1, 1, NULL, 0), 20261123);
    CHECK_EQ_INT(due(20261121, 3, 0, NULL, 0), 20261124);
    /* month, year and leap-year boundaries */
    CHECK_EQ_INT(due(20261030, 3, 0, NULL, 0), 20261102);
    CHECK_EQ_INT(due(20261230, 3, 0, NULL, 0), 20270102);
    const uint32_t newyear[] = {20261225, 20270101};
    CHECK_EQ_INT(due(20261230, 3, 1, newyear, 2), 20270105);          /* Wed: Thu, (Fri), Mon, Tue */
    CHECK_EQ_INT(due(20261224, 1, 1, newyear, 2), 20261228);          /* Christmas on Friday */
    CHECK_EQ_INT(due(20280228, 1, 0, NULL, 0), 20280229);
    CHECK_EQ_INT(due(20280228, 3, 0, NULL, 0), 20280302);
    CHECK_EQ_INT(due(20280228, 3, 1, NULL, 0), 20280302);             /* Mon: Tue 29, Wed 1, Thu 2 */
    CHECK_EQ_INT(due(20270228, 1, 0, NULL, 0), 20270301);
    CHECK_EQ_INT(due(21000228, 1, 0, NULL, 0), 21000301);             /* 2100 is not leap */
    CHECK_EQ_INT(due(20000228, 1, 0, NULL, 0), 20000229);             /* 2000 is */
    CHECK_EQ_INT(due(20260101, 365, 0, NULL, 0), 20270101);
    CHECK_EQ_INT(due(20280101, 366, 0, NULL, 0), 20290101);
    CHECK_EQ_INT(due(20260105, 10, 1, NULL, 0), 20260119);            /* two whole weeks */
    /* invalid dates and the end of the calendar */
    CHECK_EQ_INT(dmvf_notice_due(20261301, NULL), 0);
    CHECK_EQ_INT(dmvf_notice_due(20270229, NULL), 0);
    CHECK_EQ_INT(dmvf_notice_due(20260431, NULL), 0);
    CHECK_EQ_INT(dmvf_notice_due(0, NULL), 0);
    CHECK_EQ_INT(dmvf_notice_due(99991231, NULL), 0);
    CHECK_EQ_INT(due(99991224, 5, 1, NULL, 0), 99991231);             /* Fri 24 -> Fri 31 */
    CHECK_EQ_INT(due(99991231, 1, 1, NULL, 0), 0);
    CHECK_EQ_INT(due(20260101, 4000000000u, 0, NULL, 0), 0);
    CHECK_EQ_INT(due(20260101, 4000000000u, 1, NULL, 0), 0);          /* ends, no hang */

    /* every day 1901..2199 and 0..12 days, against libc; business days
     * against a naive walk over gmtime's weekdays with a holiday list */
    const uint32_t hol[] = {19991231, 20000103, 20261126, 20261225, 20270101};
    unsigned bad_cal = 0, bad_bus = 0, days = 0;
    struct tm base;
    memset(&base, 0, sizeof base);
    base.tm_year = 1;   /* 1901-01-01 */
    base.tm_mday = 1;
    time_t t0 = timegm(&base);
    for (long day = 0; day < 109572; day += 1, days++) {   /* to 2200-12-31 */
        time_t t = t0 + (time_t)day * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        uint32_t d = tm_ymd(&tm);
        if (d >= 22000000)
            break;
        unsigned n = (unsigned)(day % 13);
        time_t tc = t + (time_t)(n ? n : 3) * 86400;
        struct tm tmc;
        gmtime_r(&tc, &tmc);
        if (due(d, n, 0, NULL, 0) != tm_ymd(&tmc))
            bad_cal++;
        /* naive business walk */
        unsigned left = n ? n : 3;
        time_t tb = t;
        struct tm tmb;
        while (left > 0) {
            tb += 86400;
            gmtime_r(&tb, &tmb);
            uint32_t y = tm_ymd(&tmb);
            int off = tmb.tm_wday == 0 || tmb.tm_wday == 6;
            for (size_t h = 0; h < sizeof hol / sizeof hol[0]; h++)
                off |= hol[h] == y;
            if (!off)
                left--;
        }
        gmtime_r(&tb, &tmb);
        if (due(d, n, 1, hol, sizeof hol / sizeof hol[0]) != tm_ymd(&tmb))
            bad_bus++;
    }
    CHECK_MSG(bad_cal == 0, "%u of %u calendar due dates differ from libc", bad_cal, days);
    CHECK_MSG(bad_bus == 0, "%u of %u business due dates differ from the naive walk", bad_bus, days);
    CHECK(days > 100000);
}

/* ------------------------------------------------------------------ */
/* queue -> due -> sent                                               */
/* ------------------------------------------------------------------ */

static void test_queue_due_sent(void)
{
    const char *q = path_in("q1.jsonl");
    dmvf_request req = police_request();
    const char *const ids[] = {"S-0001", "S-0002", "S-0003", "S-0002", "S-0004"};
    dmvf_filter *f = filter_ids(&req, ids, 5);
    if (!f)
        return;
    CHECK_EQ_INT(dmvf_filter_subject_count(f), 5);
    dmvf_error err;
    uint32_t queued = 99;
    dmvf_policy_notices s;
    memset(&s, 0, sizeof s);
    s.due_days = 3;
    s.business_days = 1;
    CHECK_EQ_INT(dmvf_notices_queue(q, f, &s, 0, &queued, &err), DMVF_OK);
    CHECK_EQ_INT(queued, 4);   /* S-0002 once */
    struct stat st;
    CHECK(stat(q, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *text = read_text(q);
    CHECK_EQ_INT(count_lines(text), 4);
    /* the request's date (Fri 2026-11-20) and 3 business days: Wed */
    CHECK(text && strstr(text, "\"date\":\"2026-11-20\",\"due\":\"2026-11-25\"}\n"));
    CHECK(text && strstr(text, "\"subject\":\"S-0003\",\"request_id\":\"req-police-1\",\"ori\":"
                               "\"NY0303000\",\"agency\":\"Albany Police\",\"agency_kind\":\"local\","
                               "\"tags\":[\"patrol\"],\"legal_process\":\"none\",\"legal_reference\":"
                               "\"\",\"purpose\":1,\"decision\":\"release\""));
    CHECK(text && strncmp(text, "{\"type\":\"notice\",\"id\":\"", 23) == 0);
    /* order as read: S-0001 before S-0004 */
    CHECK(text && strstr(text, "S-0001") && strstr(text, "S-0004") &&
          strstr(text, "S-0001") < strstr(text, "S-0004"));
    free(text);

    /* a second request for the same subjects, on a later date (given) */
    uint32_t q2 = 0;
    CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 20261201, &q2, &err), DMVF_OK);
    CHECK_EQ_INT(q2, 4);

    int rc;
    uint64_t count = 0;
    char *list = due_list(q, 20261124, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(count, 8);
    CHECK_EQ_INT(count_lines(list), 8);
    /* oldest due first; none overdue on 11-24 */
    CHECK(list && strstr(list, "  2026-11-25  S-0001  Albany Police  none\n"));
    CHECK(list && strstr(list, "  2026-12-04  S-0004  Albany Police  none\n"));
    CHECK(list && strstr(list, "2026-11-25") < strstr(list, "2026-12-04"));
    CHECK(list && !strstr(list, "OVERDUE"));
    char all[8][17];
    size_t nall = ids_of(list, all, 8);
    CHECK_EQ_INT(nall, 8);
    /* ids are distinct (two requests for one subject get different ids) */
    unsigned dup = 0;
    for (size_t i = 0; i < nall; i++)
        for (size_t j = i + 1; j < nall; j++)
            dup += strcmp(all[i], all[j]) == 0;
    CHECK_EQ_INT(dup, 0);
    free(list);

    /* overdue on 11-26 for the first four */
    list = due_list(q, 20261126, 0, &rc, &count, &err);
    size_t over = 0;
    for (const char *p = list; p && (p = strstr(p, "  OVERDUE\n")); p++)
        over++;
    CHECK_EQ_INT(over, 4);
    free(list);

    /* JSON: the objects with "overdue" */
    list = due_list(q, 20261126, 1, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(count_lines(list), 8);
    CHECK(list && strstr(list, "\"due\":\"2026-11-25\",\"overdue\":true}\n"));
    CHECK(list && strstr(list, "\"due\":\"2026-12-04\",\"overdue\":false}\n"));
    free(list);

    /* mark two sent: the list shrinks by exactly those */
    const char *mark[] = {all[0], all[5]};
    char *before = read_text(q);
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, mark, 2, "mailroom", 20261123, &err), DMVF_OK);
    char *after = read_text(q);
    CHECK(before && after && strncmp(before, after, strlen(before)) == 0);   /* appended only */
    CHECK_EQ_INT(count_lines(after), 10);
    char want[200];
    snprintf(want, sizeof want, "{\"type\":\"sent\",\"id\":\"%s\",\"date\":\"2026-11-23\",\"actor\":"
             "\"mailroom\"}\n", all[0]);
    CHECK(after && strstr(after, want));
    free(before);
    free(after);
    list = due_list(q, 20261124, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(count, 6);
    CHECK(list && !strstr(list, all[0]) && !strstr(list, all[5]) && strstr(list, all[1]));
    free(list);

    /* ids in upper case are the same ids */
    char upper[17];
    for (int i = 0; i < 17; i++)
        upper[i] = (char)(all[1][i] >= 'a' && all[1][i] <= 'f' ? all[1][i] - 32 : all[1][i]);
    const char *up[] = {upper};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, up, 1, NULL, 0, &err), DMVF_OK);
    list = due_list(q, 20261124, 0, &rc, &count, &err);
    CHECK_EQ_INT(count, 5);
    free(list);

    /* refusals: nothing written */
    before = read_text(q);
    const char *unknown[] = {all[2], "0123456789abcdef"};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, unknown, 2, "x", 0, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "0123456789abcdef") != NULL);
    const char *again[] = {all[0]};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, again, 1, "x", 0, &err), DMVF_EINVAL);
    CHECK(strstr(err.msg, "already") != NULL);
    const char *twice[] = {all[2], all[2]};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, twice, 2, "x", 0, &err), DMVF_EINVAL);
    const char *badform[] = {"xyz"};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, badform, 1, "x", 0, &err), DMVF_EINVAL);
    const char *shortid[] = {"0123456789abcde"};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, shortid, 1, "x", 0, &err), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, again, 1, "x", 20261332, &err), DMVF_EINVAL);
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, NULL, 0, "x", 0, &err), DMVF_OK);
    after = read_text(q);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);

    /* a missing queue is an error, never "nothing due" */
    list = due_list(path_in("nope.jsonl"), 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EIO);
    free(list);
    CHECK_EQ_INT(dmvf_notices_mark_sent(path_in("nope.jsonl"), again, 1, "x", 0, &err), DMVF_EIO);
    CHECK(access(path_in("nope.jsonl"), F_OK) != 0);

    /* an empty queue lists nothing */
    write_file(path_in("empty.jsonl"), "");
    list = due_list(path_in("empty.jsonl"), 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(count, 0);
    CHECK(list && list[0] == 0);
    free(list);

    /* a filter without subjects writes nothing, not even the file */
    dmvf_filter *f0 = filter_ids(&req, NULL, 0);
    CHECK_EQ_INT(dmvf_notices_queue(path_in("none.jsonl"), f0, NULL, 0, &queued, &err), DMVF_OK);
    CHECK_EQ_INT(queued, 0);
    CHECK(access(path_in("none.jsonl"), F_OK) != 0);
    dmvf_filter_free(f0);

    /* bad dates */
    CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 20261131, &queued, &err), DMVF_EINVAL);
    list = due_list(q, 20261131, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EINVAL);
    free(list);
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ */
/* permissions and a torn last line                                   */
/* ------------------------------------------------------------------ */

static void test_files(void)
{
    dmvf_request req = police_request();
    const char *const ids[] = {"P-1"};
    dmvf_filter *f = filter_ids(&req, ids, 1);
    if (!f)
        return;
    dmvf_error err;
    uint32_t queued;
    const char *q = path_in("perm.jsonl");
    CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_OK);
    chmod(q, 0640);
    char *before = read_text(q);
    CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_EIO);
    CHECK(strstr(err.msg, "0640") != NULL);
    CHECK_EQ_INT(queued, 0);
    char id[17];
    int rc;
    uint64_t count;
    char *list = due_list(q, 0, 0, &rc, &count, &err);   /* reading is allowed */
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(ids_of(list, &id, 1), 1);
    free(list);
    const char *one[] = {id};
    CHECK_EQ_INT(dmvf_notices_mark_sent(q, one, 1, "x", 0, &err), DMVF_EIO);
    char *after = read_text(q);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    chmod(q, 0600);

    /* not a regular file */
    CHECK_EQ_INT(dmvf_notices_queue(g_dir, f, NULL, 0, &queued, &err), DMVF_EIO);

    /* a queue that ends inside a line: never appended to; reads malformed */
    const char *torn = path_in("torn.jsonl");
    write_file(torn, "{\"type\":\"notice\",\"id\":\"00000000000000aa\",\"subject\":\"A\",\"due\":\"2026-11-23\"}\n"
                     "{\"type\":\"notice\",\"id\":\"00000000");
    before = read_text(torn);
    CHECK_EQ_INT(dmvf_notices_queue(torn, f, NULL, 0, &queued, &err), DMVF_EIO);
    CHECK(strstr(err.msg, "inside a line") != NULL);
    list = due_list(torn, 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EMALFORMED);
    CHECK_EQ_INT(err.line, 2);
    free(list);
    const char *aa[] = {"00000000000000aa"};
    CHECK_EQ_INT(dmvf_notices_mark_sent(torn, aa, 1, "x", 0, &err), DMVF_EMALFORMED);
    after = read_text(torn);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ */
/* malformed queues                                                   */
/* ------------------------------------------------------------------ */

#define GOOD1 "{\"type\":\"notice\",\"id\":\"00000000000000a1\",\"subject\":\"A\",\"due\":\"2026-11-23\"}\n"
#define GOOD2 "{\"type\":\"notice\",\"id\":\"00000000000000a2\",\"subject\":\"B\",\"agency\":\"X\",\"tags\":[\"t\",\"u\"],\"purpose\":0,\"due\":\"2026-11-24\"}\n"

static void test_malformed(void)
{
    static const char *const bad[] = {
        "not json",
        "[]",
        "{",
        "{}",                                                   /* no type */
        "{\"type\":\"notice\"}",                                /* no id */
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"due\":\"2026-11-23\"}",   /* no subject */
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\"}",        /* no due */
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-02-30\"}",
        "{\"type\":\"notice\",\"id\":\"0000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000a1\",\"subject\":\"C\",\"due\":\"2026-11-23\"}", /* dup id */
        "{\"type\":\"letter\",\"id\":\"00000000000000b1\"}",
        "{\"type\":\"sent\",\"id\":\"00000000000000ff\"}",      /* sent for an unknown notice */
        "{\"type\":\"notice\",\"id\":true}",
        "{\"type\":\"notice\",\"id\":null}",
        "{\"type\":\"notice\",\"id\":{\"a\":\"b\"}}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",\"x\":1.5}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",\"x\":-1}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",\"tags\":[1]}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\"} x",
        "{\"type\":\"notice\",\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\\q\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\\ud800\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\\udc00x\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\\u12\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\xff\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\xc0\x80\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\x01\",\"due\":\"2026-11-23\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",}",
        "{\"type\":\"notice\" \"id\":\"00000000000000b1\"}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",\"purpose\":01}",
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"C\",\"due\":\"2026-11-23\",\"n\":123456789012345678901}",
    };
    const size_t nbad = sizeof bad / sizeof bad[0];
    const char *q = path_in("bad.jsonl");
    unsigned ok_lines = 0;
    for (size_t i = 0; i < nbad; i++) {
        char text[1024];
        snprintf(text, sizeof text, GOOD1 "\n" GOOD2 "%s\n" GOOD1, bad[i]);
        write_file(q, text);
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int rc;
        uint64_t count = 77;
        char *list = due_list(q, 20261120, 0, &rc, &count, &err);
        char want[64];
        snprintf(want, sizeof want, "bad.jsonl:4: ");
        if (rc == DMVF_EMALFORMED && err.line == 4 && strstr(err.msg, want) && list && !list[0] &&
            count == 0)
            ok_lines++;
        else
            fprintf(stderr, "bad line %zu (%s): rc %d line %u msg %s\n", i, bad[i], rc, err.line, err.msg);
        free(list);
    }
    CHECK_EQ_INT(ok_lines, nbad);

    /* the good ones parse (and whitespace between tokens, \u escapes, a
     * sent line, unknown keys of the known kinds are fine) */
    write_file(q, GOOD1 GOOD2
               " { \"type\" : \"notice\" , \"id\" : \"00000000000000A3\" , \"subject\" : \"\\u00e9\\ud83d\\ude00\\/\" ,"
               " \"due\" : \"2026-11-25\" , \"future\" : [ ] , \"n\" : 0 }\r\n"
               "{\"type\":\"sent\",\"id\":\"00000000000000a1\",\"date\":\"2026-11-22\",\"actor\":\"m\"}\n");
    dmvf_error err;
    int rc;
    uint64_t count;
    char *list = due_list(q, 20261125, 0, &rc, &count, &err);
    CHECK_MSG(rc == DMVF_OK, "%s", err.msg);
    CHECK_EQ_INT(count, 2);
    CHECK(list && strcmp(list, "00000000000000a2  2026-11-24  B  X  -  OVERDUE\n"
                               "00000000000000a3  2026-11-25  \xc3\xa9\xf0\x9f\x98\x80/  -  -\n") == 0);
    free(list);

    /* a sent line twice */
    write_file(q, GOOD1 "{\"type\":\"sent\",\"id\":\"00000000000000a1\"}\n"
                        "{\"type\":\"sent\",\"id\":\"00000000000000a1\"}\n");
    list = due_list(q, 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EMALFORMED);
    CHECK_EQ_INT(err.line, 3);
    free(list);
    /* a sent line before its notice */
    write_file(q, "{\"type\":\"sent\",\"id\":\"00000000000000a1\"}\n" GOOD1);
    list = due_list(q, 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EMALFORMED);
    CHECK_EQ_INT(err.line, 1);
    free(list);

    /* a line over the limit, and a NUL byte */
    char *big = malloc(DMVF_NOTICE_MAX_LINE + 200);
    snprintf(big, 100, "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"");
    size_t o = strlen(big);
    memset(big + o, 'x', DMVF_NOTICE_MAX_LINE);
    strcpy(big + o + DMVF_NOTICE_MAX_LINE, "\",\"due\":\"2026-11-23\"}\n");
    FILE *fp = fopen(q, "w");
    fputs(GOOD1, fp);
    fputs(big, fp);
    fclose(fp);
    list = due_list(q, 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EMALFORMED);
    CHECK_EQ_INT(err.line, 2);
    free(list);
    free(big);
    fp = fopen(q, "w");
    fputs(GOOD1, fp);
    static const char nul_line[] =
        "{\"type\":\"notice\",\"id\":\"00000000000000b1\",\"subject\":\"\0\",\"due\":\"2026-11-23\"}\n";
    fwrite(nul_line, 1, sizeof nul_line - 1, fp);
    fclose(fp);
    list = due_list(q, 0, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_EMALFORMED);
    CHECK_EQ_INT(err.line, 2);
    free(list);

    /* mutations: every byte of a good queue flipped, deleted or cut, and
     * random lines: only DMVF_OK or DMVF_EMALFORMED, never anything else
     * (ASan and UBSan watch for the rest) */
    const char base[] = GOOD1 GOOD2 "{\"type\":\"sent\",\"id\":\"00000000000000a2\",\"date\":\"2026-11-24\",\"actor\":\"\\\"q\\\\\"}\n";
    size_t blen = strlen(base);
    unsigned odd = 0, runs = 0;
    uint64_t seed = 12345;
    for (size_t i = 0; i < blen; i++) {
        for (int kind = 0; kind < 5; kind++) {
            char m[sizeof base + 8];
            size_t mlen = blen;
            memcpy(m, base, blen);
            static const char repl[] = {'"', '\\', '{', '}', '\n'};
            if (kind < 4)
                m[i] = repl[kind] == m[i] ? (char)(m[i] ^ 0x20) : repl[kind];
            else {
                memmove(m + i, m + i + 1, blen - i - 1);
                mlen--;
            }
            fp = fopen(q, "w");
            fwrite(m, 1, mlen, fp);
            fclose(fp);
            list = due_list(q, 20261120, kind & 1, &rc, &count, &err);
            runs++;
            if (rc != DMVF_OK && rc != DMVF_EMALFORMED)
                odd++;
            free(list);
        }
    }
    for (int r = 0; r < 3000; r++) {
        char m[200];
        size_t mlen = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (size_t)(seed >> 33) % 190;
        static const char alpha[] = "{}[]\":,\\u0123456789abcdefnotice sent type id subject due \xff\xc3\x01";
        for (size_t k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            m[mlen++] = alpha[(seed >> 33) % (sizeof alpha - 1)];
        }
        m[mlen++] = '\n';
        fp = fopen(q, "w");
        fwrite(m, 1, mlen, fp);
        fclose(fp);
        list = due_list(q, 20261120, r & 1, &rc, &count, &err);
        runs++;
        if (rc != DMVF_OK && rc != DMVF_EMALFORMED)
            odd++;
        free(list);
    }
    CHECK_MSG(odd == 0, "%u of %u mutated queues gave another status", odd, runs);
}

/* ------------------------------------------------------------------ */
/* hostile strings                                                    */
/* ------------------------------------------------------------------ */

static void test_hostile(void)
{
    /* The requester is named as the directory names it, so a hostile agency
     * name a request gives never reaches a notice; the request's own strings
     * (request id, legal reference) and the subjects do, and are escaped. */
    dmvf_request req = police_request();
    req.request_id = "r\"1\\\n";
    req.agency_name = "ICE \"ERO\"\n{\"type\":\"sent\"}";
    req.legal_reference = "ICE \"ERO\"\n{\"type\":\"sent\"}\x01\x1f\x7f \xff\xc3( caf\xc3\xa9 \xe2\x82\xac \xed\xa0\x80 \xf0\x9f\x98\x80 \xc0\xaf"
                          " / Dkt. \"7\"\t\r\\u0041";
    const char *const ids[] = {"H\"1", "H\n2", "H\\3", "H\x01\x7f", "H\xff\xfe"};
    dmvf_filter *f = filter_ids(&req, ids, 5);
    if (!f)
        return;
    const char *q = path_in("hostile.jsonl");
    dmvf_error err;
    uint32_t queued;
    CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_OK);
    CHECK_EQ_INT(queued, 5);
    char *text = read_text(q);
    CHECK_EQ_INT(count_lines(text), 5);
    /* only printable ASCII and valid UTF-8 on the lines; no raw control bytes */
    unsigned raw = 0;
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++)
        raw += (*p < 0x20 && *p != '\n') || *p == 0x7f || *p == 0xff || *p == 0xc0;
    CHECK_EQ_INT(raw, 0);
    CHECK(text && strstr(text, "\"legal_reference\":\"ICE \\\"ERO\\\"\\n{\\\"type\\\":\\\"sent\\\"}\\u0001\\u001f\\u007f "
                               "\\ufffd\\ufffd( caf\xc3\xa9 \xe2\x82\xac \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80 "
                               "\\ufffd\\ufffd / Dkt. "));
    CHECK(text && strstr(text, "\"agency\":\"Albany Police\""));
    CHECK(text && !strstr(text, "ERO\\\"\\n{\\\"type\\\":\\\"sent\\\"}\",\"agency_kind\""));
    CHECK(text && strstr(text, "\"subject\":\"H\\ufffd\\ufffd\""));
    free(text);

    int rc;
    uint64_t count;
    char *list = due_list(q, 20261120, 0, &rc, &count, &err);
    CHECK_MSG(rc == DMVF_OK, "%s", err.msg);
    CHECK_EQ_INT(count, 5);
    CHECK_EQ_INT(count_lines(list), 5);   /* one line each, whatever the strings */
    CHECK(list && strstr(list, "  H\\x0a2  Albany Police  none\n"));
    CHECK(list && strstr(list, "  H\\x5c3  "));
    free(list);
    list = due_list(q, 20261120, 1, &rc, &count, &err);
    CHECK_EQ_INT(count_lines(list), 5);
    free(list);

    if (!have_python()) {
        printf("SKIP python3 json round trip: python3 not found\n");
    } else {
        /* every line is JSON; the values decode to what was asked */
        const char *py = path_in("check.py");
        write_file(py,
            "import json, sys\n"
            "lines = open(sys.argv[1], 'rb').read().decode('utf-8').split('\\n')\n"
            "assert lines[-1] == ''\n"
            "objs = [json.loads(l) for l in lines[:-1]]\n"
            "assert [o['subject'] for o in objs] == ['H\"1', 'H\\n2', 'H\\\\3', 'H\\x01\\x7f', 'H\\ufffd\\ufffd'], objs\n"
            "for o in objs:\n"
            "    assert o['type'] == 'notice' and len(o['id']) == 16\n"
            "    assert o['request_id'] == 'r\"1\\\\\\n'\n"
            "    assert o['agency'] == 'Albany Police', repr(o['agency'])\n"
            "    assert o['legal_reference'] == 'ICE \"ERO\"\\n{\"type\":\"sent\"}\\x01\\x1f\\x7f \\ufffd\\ufffd( caf\\u00e9 \\u20ac \\ufffd\\ufffd\\ufffd \\U0001F600 \\ufffd\\ufffd / Dkt. \"7\"\\t\\r\\\\u0041', repr(o['legal_reference'])\n"
            "    assert o['tags'] == ['patrol']\n"
            "    assert o['purpose'] == 1 and o['decision'] == 'release'\n"
            "    assert o['agency_kind'] == 'local' and o['legal_process'] == 'none'\n"
            "    assert list(o.keys()) == ['type','id','subject','request_id','ori','agency','agency_kind','tags','legal_process','legal_reference','purpose','decision','date','due']\n"
            "print('json ok')\n");
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", py, q);
        CHECK_EQ_INT(system(cmd), 0);
    }

    /* a request string too long for a line: refused, nothing written */
    char *huge = malloc(DMVF_NOTICE_MAX_LINE + 10);
    memset(huge, 'A', DMVF_NOTICE_MAX_LINE + 9);
    huge[DMVF_NOTICE_MAX_LINE + 9] = 0;
    dmvf_request r2 = police_request();
    r2.legal_reference = huge;
    const char *const one[] = {"L-1"};
    dmvf_filter *f2 = filter_ids(&r2, one, 1);
    char *before = read_text(q);
    CHECK_EQ_INT(dmvf_notices_queue(q, f2, NULL, 0, &queued, &err), DMVF_EINVAL);
    char *after = read_text(q);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    dmvf_filter_free(f2);
    free(huge);
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ */
/* processes at once                                                  */
/* ------------------------------------------------------------------ */

static void test_concurrent(void)
{
    enum { PROCS = 4, CALLS = 40, SUBJECTS = 7 };
    dmvf_request req = police_request();
    const char *const ids[SUBJECTS] = {"C-1", "C-2", "C-3", "C-4", "C-5", "C-6", "C-7"};
    dmvf_filter *f = filter_ids(&req, ids, SUBJECTS);
    if (!f)
        return;
    const char *q = path_in("conc.jsonl");
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            int bad = 0;
            for (int c = 0; c < CALLS; c++) {
                uint32_t n = 0;
                dmvf_error err;
                if (dmvf_notices_queue(q, f, NULL, 0, &n, &err) != DMVF_OK || n != SUBJECTS) {
                    fprintf(stderr, "child %d: %s\n", p, err.msg);
                    bad = 1;
                }
            }
            _exit(bad);
        }
    }
    int failed = 0;
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_EQ_INT(failed, 0);
    int rc;
    uint64_t count = 0;
    dmvf_error err;
    char *list = due_list(q, 20261120, 0, &rc, &count, &err);
    CHECK_MSG(rc == DMVF_OK, "%s", err.msg);   /* every line parses, ids unique */
    CHECK_EQ_INT(count, PROCS * CALLS * SUBJECTS);
    free(list);
    char *text = read_text(q);
    CHECK_EQ_INT(count_lines(text), PROCS * CALLS * SUBJECTS);
    free(text);

    /* two processes marking the same notices at once: one wins, the other
     * refuses; no notice is marked twice */
    list = due_list(q, 20261120, 0, &rc, &count, &err);
    static char mid[16][17];
    size_t nm = ids_of(list, mid, 16);
    free(list);
    const char *marks[16];
    for (size_t i = 0; i < nm; i++)
        marks[i] = mid[i];
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            dmvf_error e2;
            _exit(dmvf_notices_mark_sent(q, marks, nm, "p", 0, &e2));
        }
    }
    int codes[2];
    for (int p = 0; p < 2; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        codes[p] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    CHECK((codes[0] == DMVF_OK && codes[1] == DMVF_EINVAL) ||
          (codes[1] == DMVF_OK && codes[0] == DMVF_EINVAL));
    list = due_list(q, 20261120, 0, &rc, &count, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(count, PROCS * CALLS * SUBJECTS - nm);
    free(list);
    dmvf_filter_free(f);
}

/* ------------------------------------------------------------------ */
/* real filters over generated records                                */
/* ------------------------------------------------------------------ */

/* The record_ids of a delimited DriverRecord stream, each strdup'd. */
static size_t stream_ids(const uint8_t *p, size_t n, char **ids, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        uint64_t len = 0;
        int shift = 0;
        while (i < n) {
            uint8_t b = p[i++];
            len |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, (size_t)len, p + i);
        i += (size_t)len;
        if (!r)
            break;
        ids[k++] = strdup(r->record_id ? r->record_id : "");
        dmv__v1__driver_record__free_unpacked(r, NULL);
    }
    return k;
}

/* 1 when the queue's notices carry exactly the subjects ids[0..n) (in order). */
static int queue_has_subjects(const char *q, char **ids, size_t n, const char *decision)
{
    char *text = read_text(q);
    if (!text)
        return 0;
    size_t k = 0;
    int ok = 1;
    for (char *l = text; *l; k++) {
        char *nl = strchr(l, '\n');
        if (!nl) {
            ok = 0;
            break;
        }
        *nl = 0;
        char want[300];
        snprintf(want, sizeof want, "\"subject\":\"%s\",", k < n ? ids[k] : "?");
        char dec[64];
        snprintf(dec, sizeof dec, "\"decision\":\"%s\"", decision);
        if (k >= n || !strstr(l, want) || !strstr(l, dec))
            ok = 0;
        l = nl + 1;
    }
    free(text);
    return ok && k == n;
}

typedef struct framed_ud {
    const char *queue;
    unsigned requests, queued, failed;
} framed_ud;

static void on_request(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    framed_ud *u = ud;
    (void)t;
    dmvf_error err;
    uint32_t n = 0;
    u->requests++;
    if (dmvf_notices_queue(u->queue, f, NULL, 0, &n, &err) != DMVF_OK) {
        fprintf(stderr, "framed queue: %s\n", err.msg);
        u->failed++;
    }
    u->queued += n;
}

static void test_real_filter(void)
{
    const char *recs = path_in("recs.bin");
    char args[700];
    snprintf(args, sizeof args, "--count 23 --seed 7 --out '%s'", recs);
    CHECK_EQ_INT(run_gen(args), 0);
    size_t n = 0;
    uint8_t *data = slurp(recs, &n);
    CHECK(data != NULL && n > 0);
    if (!data)
        return;
    char *ids[64];
    size_t nids = stream_ids(data, n, ids, 64);
    CHECK_EQ_INT(nids, 23);

    /* plain stream, in-state police (up to 50 records): released */
    dmvf_request req = police_request();
    dmvf_filter *f = filter_over(&req, data, n);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), nids);
        const char *q = path_in("real.jsonl");
        dmvf_error err;
        uint32_t queued = 0;
        CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_OK);
        CHECK_EQ_INT(queued, nids);
        CHECK(queue_has_subjects(q, ids, nids, "release"));
        dmvf_filter_free(f);
    }

    /* immigration enforcement: notify_subject; one record by license with a
     * warrant is released, the same without legal process is refused (the
     * subjects it would have read are still noticed, as "deny") */
    static const char *const imm[] = {"immigration-enforcement"};
    dmvf_request ir;
    memset(&ir, 0, sizeof ir);
    ir.request_id = "ice-1";
    ir.ori = "DCICE0100";
    ir.agency_name = "ICE ERO";
    ir.agency_kind = DMVF_AGENCY_FEDERAL;
    ir.jurisdiction = "DC";
    ir.tags = imm;
    ir.ntags = 1;
    ir.purpose = 1;
    ir.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    ir.legal_reference = "W-2026-17";
    ir.query_kind = DMVF_QUERY_BY_LICENSE;
    size_t first_len = 0;
    {
        uint64_t len = 0;
        int shift = 0;
        size_t i = 0;
        while (i < n) {
            uint8_t b = data[i++];
            len |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        first_len = i + (size_t)len;
    }
    f = filter_over(&ir, data, first_len);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
        CHECK_EQ_INT(dmvf_filter_notify_subject(f), 1);
        const char *q = path_in("ice.jsonl");
        dmvf_error err;
        uint32_t queued = 0;
        CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_OK);
        CHECK_EQ_INT(queued, 1);
        CHECK(queue_has_subjects(q, ids, 1, "release"));
        char *text = read_text(q);
        CHECK(text && strstr(text, "\"legal_process\":\"judicial_warrant\",\"legal_reference\":\"W-2026-17\""));
        CHECK(text && strstr(text, "\"tags\":[\"immigration-enforcement\"]"));
        free(text);
        dmvf_filter_free(f);
    }
    ir.legal_process = DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA;
    ir.request_id = "ice-2";
    f = filter_over(&ir, data, first_len);
    if (f) {
        CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_DENY);
        CHECK_EQ_INT(dmvf_filter_subject_count(f), 1);
        const char *q = path_in("ice-deny.jsonl");
        dmvf_error err;
        uint32_t queued = 0;
        CHECK_EQ_INT(dmvf_notices_queue(q, f, NULL, 0, &queued, &err), DMVF_OK);
        CHECK_EQ_INT(queued, 1);
        CHECK(queue_has_subjects(q, ids, 1, "deny"));
        dmvf_filter_free(f);
    }

    /* framed: three requests, notices queued from the per-request callback */
    const char *framed = path_in("framed.bin");
    snprintf(args, sizeof args, "--count 23 --seed 7 --framed --requests 3 --out '%s'", framed);
    CHECK_EQ_INT(run_gen(args), 0);
    size_t fn = 0;
    uint8_t *fdata = slurp(framed, &fn);
    if (fdata) {
        dmvf_filter_options o;
        memset(&o, 0, sizeof o);
        o.collect_subjects = 1;
        o.as_of = 20261120; /* the undated requests are judged as of that day */
        dmvf_error err;
        dmvf_framed *fr = dmvf_framed_create(g_pol, g_kr, &o, &err);
        CHECK(fr != NULL);
        framed_ud u = {path_in("framed.jsonl"), 0, 0, 0};
        if (fr) {
            dmvf_framed_set_callback(fr, on_request, &u);
            size_t cap = fn * 2 + 65536;
            uint8_t *out = malloc(cap);
            dmvf_in_buffer in = {fdata, fn, 0};
            dmvf_out_buffer ob = {out, cap, 0};
            CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_OK);
            free(out);
            dmvf_framed_free(fr);
        }
        CHECK_EQ_INT(u.requests, 3);
        CHECK_EQ_INT(u.failed, 0);
        CHECK_EQ_INT(u.queued, nids);
        CHECK(queue_has_subjects(u.queue, ids, nids, "release"));
        free(fdata);
    }
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(data);
}

/* The fixture's temp dir and keyring, and the example policy with a
 * notices section added when it has none (a rule with notify_subject
 * needs one; the queue named there is not used: the tests name theirs),
 * its directory saying that NY0303000 is the Albany Police, tagged patrol. */
static int setup(void)
{
    static const uint8_t seed[32] = {'n', 'o', 't', 'i', 'c', 'e', 's'};
    const char *src = getenv("DMVF_SRC");
    CHECK_MSG(src != NULL && getenv("DMVF_GEN") != NULL, "DMVF_SRC and DMVF_GEN must be set");
    if (!src || !getenv("DMVF_GEN"))
        return -1;
    snprintf(g_dir, sizeof g_dir, "/tmp/dmvf-notices-XXXXXX");
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        CHECK_MSG(0, "mkdtemp failed");
        return -1;
    }
    atexit(fixture_cleanup);
    char path[512];
    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    size_t n = 0;
    char *yaml = (char *)slurp(path, &n);
    CHECK_MSG(yaml != NULL, "cannot read %s", path);
    if (!yaml)
        return -1;
    char *text = malloc(n + 600);
    memcpy(text, yaml, n + 1);
    static const char was[] = "{ori: NY0303000, name: Albany County Sheriff's Office, kind: local, jurisdiction: NY}";
    static const char now[] = "{ori: NY0303000, name: Albany Police, kind: local, jurisdiction: NY, tags: [patrol]}";
    char *at = strstr(text, was);
    CHECK_MSG(at != NULL, "the example policy's directory has no entry %s", was);
    if (at) {
        memmove(at + sizeof now - 1, at + sizeof was - 1, strlen(at + sizeof was - 1) + 1);
        memcpy(at, now, sizeof now - 1);
        n = strlen(text);
    }
    if (strncmp(text, "notices:", 8) != 0 && !strstr(text, "\nnotices:"))
        snprintf(text + n, 600, "\nnotices: {queue: %s/policy-queue.jsonl}\n", g_dir);
    dmvf_error err;
    g_pol = dmvf_policy_load_buffer(text, strlen(text), "policy.yaml+notices", &err);
    CHECK_MSG(g_pol != NULL, "policy: %s", g_pol ? "" : err.msg);
    free(text);
    free(yaml);
    snprintf(path, sizeof path, "%s/keyring", g_dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, 1, &err), DMVF_OK);
    g_kr = dmvf_keyring_load(path, NULL, &err);
    CHECK_MSG(g_kr != NULL, "keyring: %s", g_kr ? "" : err.msg);
    return g_pol && g_kr ? 0 : -1;
}

int main(void)
{
    test_due_dates();
    if (setup() != 0)
        CHECK_DONE();
    test_queue_due_sent();
    test_files();
    test_malformed();
    test_hostile();
    test_concurrent();
    test_real_filter();
    dmvf_keyring_free(g_kr);
    dmvf_policy_free(g_pol);
    CHECK_DONE();
}
