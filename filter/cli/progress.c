/*
 * progress.c - the progress line on a terminal: records, megabytes and
 * throughput, redrawn at most twice a second on stderr, cleared before the
 * summary or an error is printed. Off with --quiet or when stderr is not a
 * terminal. One progress line belongs to one thread at a time.
 */
#include <string.h>
#include <unistd.h>
#include "filter/cli/cli.h"

static double elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void dmvf__cli_progress_start(dmvf_cli_progress *pg, int quiet)
{
    memset(pg, 0, sizeof *pg);
    pg->on = !quiet && isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &pg->start);
    pg->last = pg->start;
}

void dmvf__cli_progress_tick(dmvf_cli_progress *pg, uint64_t records, uint64_t bytes)
{
    if (!pg->on)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (elapsed(&pg->last, &now) < 0.5)
        return;
    pg->last = now;
    double t = elapsed(&pg->start, &now);
    double mb = (double)bytes / 1e6;
    fprintf(stderr, "\r  %llu records  %.1f MB  %.1f MB/s", (unsigned long long)records, mb,
            t > 0 ? mb / t : 0.0);
    pg->shown = 1;
}

void dmvf__cli_progress_clear(dmvf_cli_progress *pg)
{
    if (pg->shown)
        fputs("\r\033[K", stderr);
    pg->shown = 0;
}
