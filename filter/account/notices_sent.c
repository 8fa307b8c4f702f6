/*
 * notices_sent.c - marking notices sent (dmvf_notices_mark_sent): under
 * the queue's exclusive lock, the queue read and checked (notices_read.c),
 * every id given must be a notice not yet sent, and then one "sent" line
 * per id is appended with one write() and fsync'd (notices_file.c):
 *
 *   {"type":"sent","id":"<16 hex>","date":"YYYY-MM-DD","actor":S}
 *
 * All or nothing: an unknown id, one already sent or one given twice marks
 * none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/date.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/notices_file_int.h"
#include "filter/account/notices_json_int.h"
#include "filter/account/notices_read_int.h"

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int dmvf_notices_mark_sent(const char *queue_path, const char *const *ids, size_t n,
                           const char *actor, uint32_t date, dmvf_error *err)
{
    DMVF_REQUIRE(queue_path != NULL, "queue is NULL");
    DMVF_REQUIRE(n == 0 || ids != NULL, "ids is NULL");
    if (n == 0)
        return DMVF_OK;
    if (date == 0)
        date = dmvf__today();
    if (!dmvf__date_valid(date))
        return dmvf__seterr(err, DMVF_EINVAL, "notices: %u is not a date (YYYYMMDD)", (unsigned)date);
    if (n > SIZE_MAX / sizeof(uint64_t))
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: too many ids");
    uint64_t *want = malloc(n * sizeof *want);
    if (!want)
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
    for (size_t i = 0; i < n; i++) {
        DMVF_REQUIRE(ids[i] != NULL, "an id is NULL");
        if (dmvf__notice_id_parse(ids[i], strlen(ids[i]), &want[i])) {
            char shown[64];
            dmvf__escape_copy(shown, sizeof shown, ids[i]);
            free(want);
            return dmvf__seterr(err, DMVF_EINVAL, "notices: '%s' is not a notice id (16 hex digits)",
                                shown);
        }
    }
    uint64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        free(want);
        return dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
    }
    memcpy(sorted, want, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, u64_cmp);
    for (size_t i = 1; i < n; i++) {
        if (sorted[i] == sorted[i - 1]) {
            unsigned long long d = (unsigned long long)sorted[i];
            free(want);
            free(sorted);
            return dmvf__seterr(err, DMVF_EINVAL, "notices: notice %016llx is given twice", d);
        }
    }
    free(sorted);

    int fd;
    uint64_t size;
    int rc = dmvf__notices_open_append(queue_path, 0, &fd, &size, err);
    if (rc) {
        free(want);
        return rc;
    }
    dmvf__nqueue q;
    memset(&q, 0, sizeof q);
    q.path = queue_path;
    rc = dmvf__queue_read(&q, fd, err);
    for (size_t i = 0; i < n && rc == DMVF_OK; i++) {
        const dmvf__qnotice *e = dmvf__queue_find(&q, want[i]);
        if (!e)
            rc = dmvf__seterr(err, DMVF_EINVAL, "notice queue %s: no notice %016llx; nothing marked",
                              queue_path, (unsigned long long)want[i]);
        else if (e->sent_line)
            rc = dmvf__seterr(err, DMVF_EINVAL,
                              "notice queue %s: notice %016llx was already marked sent (line %llu); "
                              "nothing marked",
                              queue_path, (unsigned long long)want[i],
                              (unsigned long long)e->sent_line);
    }
    if (rc == DMVF_OK) {
        char d[DMVF__DATE_CAP];
        dmvf__date_format(date, d);
        dmvf__text b = dmvf__text_mem();
        for (size_t i = 0; i < n; i++) {
            char id[40];
            snprintf(id, sizeof id, "%016llx", (unsigned long long)want[i]);
            dmvf__text_puts(&b, "{\"type\":\"sent\",\"id\":\"");
            dmvf__text_puts(&b, id);
            dmvf__text_puts(&b, "\",\"date\":\"");
            dmvf__text_puts(&b, d);
            dmvf__text_puts(&b, "\",\"actor\":");
            size_t start = b.len;
            dmvf__text_json_c(&b, actor);
            if (!b.failed && b.len - start > 4096) {
                rc = dmvf__seterr(err, DMVF_EINVAL, "notices: the actor name is too long");
                break;
            }
            dmvf__text_puts(&b, "}\n");
        }
        if (rc == DMVF_OK && b.failed)
            rc = dmvf__seterr(err, DMVF_ENOMEM, "notices: out of memory");
        if (rc == DMVF_OK)
            rc = dmvf__notices_append(fd, queue_path, size, &b, err);
        dmvf__text_free(&b);
    }
    dmvf__queue_free(&q);
    close(fd);
    free(want);
    return rc;
}
