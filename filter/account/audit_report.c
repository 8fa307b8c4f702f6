/*
 * audit_report.c - the transparency report (dmvf_audit_report): what was
 * asked, by whom, under which purpose and legal process, and what left;
 * two scans of the log (dmvf__audit_scan), then the writer. Over several
 * logs (dmvf_audit_report_dirs) each log is scanned and counted on its own,
 * into one report.
 *
 *   pass 1  every entry: which REQUEST entries the window's follow-ups
 *           refer to (dmvf__report_prescan)
 *   pass 2  the same entries, counted (dmvf__report_add), then the
 *           incomplete requests (dmvf__report_finish)
 *   write   dmvf__report_write in the format asked for
 *
 * What is counted, and how, is in report_count.c's header; the formats are
 * report_md.c, report_csv.c, report_json.c and report_html.c.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/text.h"
#include "filter/account/audit_int.h"
#include "filter/account/report_int.h"

/* The two scans see the same entries: a writer may append between them,
 * so the second stops after as many entries as the first saw (entries are
 * only ever appended, so those are the same ones). */
typedef struct scan_ctx {
    dmvf__report *r;
    uint64_t seen, limit;
} scan_ctx;
#define SCAN_STOP 0x5ca9

static int scan_prescan(void *ud, const Dmv__V1__AuditEntry *e)
{
    scan_ctx *c = ud;
    c->seen++;
    return dmvf__report_prescan(c->r, e, NULL) == DMVF_OK ? 0 : DMVF_ENOMEM;
}

static int scan_add(void *ud, const Dmv__V1__AuditEntry *e)
{
    scan_ctx *c = ud;
    if (c->seen == c->limit)
        return SCAN_STOP;
    c->seen++;
    return dmvf__report_add(c->r, e, NULL) == DMVF_OK ? 0 : DMVF_ENOMEM;
}

/* A report over a directory that holds no log would be all zeros: a typo
 * must not become a published "nothing happened". DMVF_OK when dir holds
 * at least one segment (audit-*.log or .log.z). */
static int has_segments(const char *dir, dmvf_error *err)
{
    char safe[256];
    dmvf__escape_copy(safe, sizeof safe, dir);
    DIR *d = opendir(dir);
    if (!d)
        return dmvf__seterr(err, DMVF_EIO, "%s: cannot open the log directory: %s",
                            safe, strerror(errno));
    int found = 0;
    const struct dirent *de;
    while (!found && (de = readdir(d)) != NULL)
        found = strncmp(de->d_name, "audit-", 6) == 0 && strstr(de->d_name, ".log") != NULL;
    closedir(d);
    if (!found)
        return dmvf__seterr(err, DMVF_EIO, "%s: no audit log here (no audit-*.log segment)",
                            safe);
    return DMVF_OK;
}

/* The two passes over one log into r, then its incomplete requests. */
static int report_log(dmvf__report *r, const char *dir, dmvf_error *err)
{
    scan_ctx c = { r, 0, 0 };
    int rc = dmvf__audit_scan(dir, scan_prescan, &c, err);
    if (rc == DMVF_OK) {
        c.limit = c.seen;
        c.seen = 0;
        rc = dmvf__audit_scan(dir, scan_add, &c, err);
        if (rc == SCAN_STOP)
            rc = DMVF_OK;
    }
    if (rc == DMVF_ENOMEM)
        dmvf__report_oom(err);
    if (rc == DMVF_OK)
        dmvf__report_finish(r);
    return rc;
}

int dmvf_audit_report_dirs(const char *const *dirs, size_t n, uint64_t from_ns, uint64_t to_ns,
                           dmvf_report_format fmt, const char *title, FILE *out,
                           dmvf_error *err)
{
    DMVF_REQUIRE(dirs && n > 0 && out, "log directories and output stream");
    for (size_t i = 0; i < n; i++)
        DMVF_REQUIRE(dirs[i] != NULL, "a log directory is NULL");
    if (fmt != DMVF_REPORT_MD && fmt != DMVF_REPORT_CSV && fmt != DMVF_REPORT_JSON &&
        fmt != DMVF_REPORT_HTML)
        return dmvf__seterr(err, DMVF_EINVAL, "audit report: unknown format %d", (int)fmt);
    if (to_ns != 0 && to_ns <= from_ns)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "audit report: the window is empty (to %" PRIu64 " ns <= from %"
                            PRIu64 " ns)", to_ns, from_ns);
    for (size_t i = 0; i < n; i++) {
        int rc = has_segments(dirs[i], err);
        if (rc != DMVF_OK)
            return rc;
    }
    dmvf__report *r = dmvf__report_create(from_ns, to_ns);
    if (!r)
        return dmvf__report_oom(err);
    /* each log counted on its own (a follow-up's ref is a seq of its own
     * log), into the same figures: the counts add up */
    int rc = DMVF_OK;
    for (size_t i = 0; i < n && rc == DMVF_OK; i++)
        rc = report_log(r, dirs[i], err);
    if (rc == DMVF_OK)
        rc = dmvf__report_write(r, fmt, title, out, err);
    dmvf__report_free(r);
    return rc;
}

int dmvf_audit_report(const char *dir, uint64_t from_ns, uint64_t to_ns, dmvf_report_format fmt,
                      const char *title, FILE *out, dmvf_error *err)
{
    DMVF_REQUIRE(dir && out, "log directory and output stream");
    return dmvf_audit_report_dirs(&dir, 1, from_ns, to_ns, fmt, title, out, err);
}
