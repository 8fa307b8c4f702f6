/*
 * io.c - the command line's input (the output is sink.c's).
 *
 * Input: a file or stdin, read in bounded chunks. gzip and zstd are
 * detected by their magic bytes at the start (1f 8b; 28 b5 2f fd) and
 * decoded chunk by chunk (compress.c: ISA-L or zlib for gzip, libzstd),
 * member after member: a file made by concatenating gzip (or zstd) files
 * decodes to the concatenation. Memory stays bounded whatever the input
 * size.
 *
 *   file bytes --read()--> raw[] --dmvf__cz_dec_stream()--> caller's buffer
 *                 ^ raw_base counts compressed bytes before raw[0], so an
 *                   error names its compressed byte offset
 *
 * With dmvf__cli_src_inflaters (--threads 2 and more) a gzip input's
 * members inflate on threads (the end of this file says how), the bytes
 * handed out the same.
 *
 * Pipes: input and output pipes are asked for a 1 MiB buffer (F_SETPIPE_SZ,
 * failure ignored) and are read and written in pieces of up to 1 MiB, so
 * that a pipe costs about what a file costs.
 */
#define _GNU_SOURCE     /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "filter/cli/cli.h"

#define RAW_CAP ((size_t)1 << 20)
#define PIPE_WANT (1 << 20)

int dmvf__cli_flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        dmvf__cli_err("stdout: write failed: %s", strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    return 0;
}

void dmvf__cli_pipe_grow(int fd)
{
#if defined(F_SETPIPE_SZ) && defined(F_GETPIPE_SZ)
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return;
    int cur = fcntl(fd, F_GETPIPE_SZ);
    /* the most a user may ask for is /proc/sys/fs/pipe-max-size: try less on refusal */
    for (int want = PIPE_WANT; cur >= 0 && want > cur; want /= 4)
        if (fcntl(fd, F_SETPIPE_SZ, want) >= 0)
            break;
#else
    (void)fd;
#endif
}

ssize_t dmvf__cli_read_retry(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

/* ---- input ---- */

/* A read failure's message: printed, or kept when s->defer_errors. */
static int src_fail(dmvf_cli_src *s, int code, const char *fmt, ...) DMVF_CLI_PRINTF(3, 4);
static int src_fail(dmvf_cli_src *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->defer_errors) {
        vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    } else {
        char m[600];
        vsnprintf(m, sizeof m, fmt, ap);
        dmvf__cli_err("%s", m);
    }
    va_end(ap);
    return code;
}

void dmvf__cli_src_report(dmvf_cli_src *s)
{
    if (s->errmsg[0])
        dmvf__cli_err("%s", s->errmsg);
    s->errmsg[0] = '\0';
}

static int src_read_error(dmvf_cli_src *s)
{
    return src_fail(s, DMVF_EXIT_IOERR, "input %s: read failed: %s", s->name, strerror(errno));
}

int dmvf__cli_src_open(dmvf_cli_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (!path || strcmp(path, "-") == 0) {
        s->fd = STDIN_FILENO;
        s->name = "<stdin>";
    } else {
        s->name = path;
        s->fd = open(path, O_RDONLY);
        if (s->fd < 0) {
            dmvf__cli_err("input %s: cannot open: %s", path, strerror(errno));
            return DMVF_EXIT_IOERR;
        }
    }
    dmvf__cli_pipe_grow(s->fd);
    s->raw_cap = RAW_CAP;
    s->raw = malloc(s->raw_cap);
    if (!s->raw) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    /* enough bytes to see the gzip or zstd magic, or the end */
    while (s->raw_len < DMVF_CZ_MAGIC_LEN && !s->raw_eof) {
        ssize_t r = dmvf__cli_read_retry(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (r < 0)
            return src_read_error(s);
        if (r == 0)
            s->raw_eof = 1;
        s->raw_len += (size_t)r;
        s->bytes_in += (uint64_t)r;
    }
    s->comp = dmvf__cz_detect(s->raw, s->raw_len);
    if (s->comp != DMVF_CZ_NONE) {
        int engine = dmvf__cz_engine(), err = engine;
        if (engine >= 0)
            s->dec = dmvf__cz_dec_create(s->comp, (dmvf_cz_engine)engine, &err);
        if (!s->dec) {
            dmvf__cli_err("%s: cannot start decoding: %s", dmvf__cz_format_name(s->comp),
                          err == DMVF_CZ_ENOMEM    ? "out of memory"
                          : err == DMVF_CZ_EENGINE ? "DMVFILTER_GZIP names no engine of this build"
                                                   : "library error");
            return err == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
        s->zin.src = s->raw;
        s->zin.size = s->raw_len;
        s->zin.pos = 0;
    }
    return 0;
}

/* The compressed bytes the decoder has consumed. */
static uint64_t comp_consumed(const dmvf_cli_src *s)
{
    return s->raw_base + (uint64_t)s->zin.pos;
}

/* A corrupt or cut input: what, and where (the decoder's error: where it
 * says; else where the input stands). */
static int comp_error(dmvf_cli_src *s, const char *what, int decoder)
{
    uint64_t off = comp_consumed(s);
    int exact = 1;
    if (decoder) {
        exact = dmvf__cz_dec_where(s->dec, &off);
        off += s->dec_origin;
    }
    return src_fail(s, DMVF_EXIT_DATAERR, "input %s: %s: %s %sat compressed byte offset %llu", s->name,
                    dmvf__cz_format_name(s->comp), what, exact ? "" : "in the member starting ",
                    (unsigned long long)off);
}

/* The inflate limit: DMVF_EXIT_DATAERR when total inflated bytes, after
 * consumed compressed ones, are past it (see dmvf__cli_src_open in cli.h),
 * else 0. */
static int check_limit(dmvf_cli_src *s, uint64_t total, uint64_t consumed)
{
    char m[300];
    if (dmvf__cz_limit(total, consumed, s->max_inflate, m, sizeof m) == 0)
        return 0;
    return src_fail(s, DMVF_EXIT_DATAERR, "input %s: %s: %s", s->name, dmvf__cz_format_name(s->comp), m);
}

static int comp_read(dmvf_cli_src *s, unsigned char *buf, size_t cap, size_t *n, int *eof)
{
    size_t have = 0;
    if (s->max_inflate) {
        /* inflate at most one byte past the limit: enough to see it passed */
        uint64_t room = s->bytes_out < s->max_inflate ? s->max_inflate - s->bytes_out : 0;
        if (cap > 0 && room < (uint64_t)cap - 1)
            cap = (size_t)room + 1;
    }
    while (have < cap) {
        if (s->zin.pos == s->zin.size && !s->raw_eof) {
            s->raw_base += s->raw_len;
            s->raw_len = 0;
            ssize_t r = dmvf__cli_read_retry(s->fd, s->raw, s->raw_cap);
            if (r < 0)
                return src_read_error(s);
            if (r == 0)
                s->raw_eof = 1;
            s->raw_len = (size_t)r;
            s->bytes_in += (uint64_t)r;
            s->zin.size = (size_t)r;
            s->zin.pos = 0;
        }
        size_t in0 = s->zin.pos, out0 = have;
        dmvf_cz_out out = {buf, cap, have};
        int zr = dmvf__cz_dec_stream(s->dec, &out, &s->zin);
        have = out.pos;
        if (zr == DMVF_CZ_ENOMEM)
            return src_fail(s, DMVF_EXIT_NOMEM, "%s: out of memory", dmvf__cz_format_name(s->comp));
        if (zr)
            return comp_error(s, dmvf__cz_dec_msg(s->dec), 1);
        if (check_limit(s, s->bytes_out + have, comp_consumed(s)))
            return DMVF_EXIT_DATAERR;
        if (s->zin.pos == in0 && have == out0) {
            /* no progress: input needed, or the end */
            if (s->zin.pos < s->zin.size)
                return comp_error(s, "the decoder stopped", 0);
            if (s->raw_eof) {
                if (!dmvf__cz_dec_at_end(s->dec))
                    return comp_error(s, "unexpected end of compressed data", 0);
                *eof = 1;     /* the last member ended with the file */
                break;
            }
        }
        if (have > 0 && s->zin.pos == s->zin.size && !s->raw_eof)
            break;      /* hand out what there is before blocking on a read */
    }
    *n = have;
    s->bytes_out += have;
    return 0;
}

static int par_read(dmvf_cli_src *s, unsigned char *buf, size_t cap, size_t *n, int *eof);

static int src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof)
{
    if (s->par)
        return par_read(s, buf, cap, n, eof);
    if (s->comp != DMVF_CZ_NONE)
        return comp_read(s, buf, cap, n, eof);
    if (s->raw_pos < s->raw_len) {
        size_t k = s->raw_len - s->raw_pos;
        if (k > cap)
            k = cap;
        memcpy(buf, s->raw + s->raw_pos, k);
        s->raw_pos += k;
        *n = k;
        s->bytes_out += k;
        return 0;
    }
    if (s->raw_eof) {
        *eof = 1;
        return 0;
    }
    ssize_t r = dmvf__cli_read_retry(s->fd, buf, cap);
    if (r < 0)
        return src_read_error(s);
    if (r == 0) {
        s->raw_eof = 1;
        *eof = 1;
        return 0;
    }
    *n = (size_t)r;
    s->bytes_in += (uint64_t)r;
    s->bytes_out += (uint64_t)r;
    return 0;
}

int dmvf__cli_src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof)
{
    *n = 0;
    *eof = 0;
    if (s->failed)
        return s->failed;
    int rc = src_read(s, buf, cap, n, eof);
    if (rc)
        s->failed = rc; /* every path that fails returns before setting *n or *eof */
    return rc;
}

static void par_close(dmvf_cli_src *s);

void dmvf__cli_src_close(dmvf_cli_src *s)
{
    par_close(s);
    dmvf__cz_dec_free(s->dec);
    s->dec = NULL;
    if (s->fd > STDIN_FILENO)
        close(s->fd);
    s->fd = -1;
    free(s->raw);
    s->raw = NULL;
}

/* ---- gzip members on threads ----
 *
 * A gzip file of many members (dmvfilter's own --gzip output, bgzip's, gzip
 * files concatenated) can be inflated a run of members per thread, once
 * the reader knows where members start; it cannot know without inflating,
 * but it can guess: a member starts 1f 8b 08, reserved flag bits 0, XFL 0,
 * 2 or 4, OS 0..13 or 255. The reader cuts the compressed input at the
 * first such place PAR_SEG_MIN bytes or more after the last cut (a
 * segment: from one cut to the next, or to the end of the file), and a
 * thread inflates the segment with a decoder of its own. A segment is
 * handed out only when it inflates to whole members that end exactly at
 * its last byte, and it starts where the one before it ended (the first at
 * byte 0): its end is then a member's end, and by induction every segment
 * handed out is what one decoder inflates there. At the first segment
 * that does not (a guess inside a member, corrupt or cut or trailing
 * bytes, a segment over PAR_SEG_MAX compressed bytes or inflating past
 * PAR_OUT_MAX) the threads stop, and the input from that segment's start
 * on goes through the one decoder as before, so errors are the same, at
 * the same compressed offsets.
 *
 *   file --read--> scan[] --cut--> jobs (a ring) --threads--> in order --> caller
 *
 * The inflate limit is looked at before a segment is handed out, at the
 * inflated and consumed bytes after each of its decoder calls (at most
 * PAR_STEP out each): a segment past it anywhere goes to the one decoder,
 * which refuses the input with its own message at its own offset. A read
 * that fails, or no memory for a segment, stops the cutting the same way.
 * Memory: the
 * scan buffer and, for threads + 2 jobs, a segment and what it inflated.
 */
#define PAR_SCAN_CAP ((size_t)8 << 20)
#define PAR_SEG_MIN ((size_t)256 << 10)
#define PAR_SEG_MAX ((size_t)2 << 20)
#define PAR_OUT_MAX ((size_t)16 << 20)
#define PAR_STEP ((size_t)256 << 10)
#define PAR_THREADS_MAX 8u
#define PAR_SAMPLES (PAR_OUT_MAX / PAR_STEP + 8)
#define GZ_HDR_LEN 10
_Static_assert(RAW_CAP <= PAR_SCAN_CAP, "the bytes read at open fit the scan buffer");

typedef struct par_job {
    int done;                       /* inflated (under the lock) */
    uint64_t start;                 /* the segment's compressed offset */
    unsigned char *in, *out;
    size_t in_len, in_cap, out_len, out_cap;
    int ok;                         /* whole members, ending at its last byte */
    unsigned ns;                    /* inflated / consumed bytes after each decoder call */
    uint64_t s_out[PAR_SAMPLES], s_in[PAR_SAMPLES];
} par_job;

struct dmvf_cli_zpar {
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pthread_t th[PAR_THREADS_MAX];
    unsigned nth;                   /* threads started */
    int stop, joined;
    dmvf_cz_engine engine;
    par_job *jobs;
    unsigned njobs;
    uint64_t seq_next, seq_work, seq_take; /* cut, taken by a thread, handed out */
    unsigned char *scan;            /* compressed bytes read, scan[0] at offset scan_base */
    size_t scan_len;
    uint64_t scan_base;
    uint64_t seg_start;             /* the next segment starts here */
    uint64_t looked;                /* searched for member starts up to here */
    int eof;                        /* the file's end is in scan */
    int cut_done;                   /* no more segments (the end, or too long) */
    uint64_t total;                 /* inflated bytes of the segments handed out */
    uint64_t handed;                /* segments handed out */
    par_job *cur;                   /* the segment being handed out */
    size_t cur_pos;
};

static int member_start(const unsigned char *p)
{
    return p[0] == 0x1f && p[1] == 0x8b && p[2] == 8 && (p[3] & 0xe0) == 0 &&
           (p[8] == 0 || p[8] == 2 || p[8] == 4) && (p[9] <= 13 || p[9] == 255);
}

/* Inflates a job's segment (a thread, without the lock). */
static void par_inflate(par_job *j, dmvf_cz_engine engine)
{
    j->ok = 0;
    j->out_len = 0;
    j->ns = 0;
    int err;
    dmvf_cz_dec *d = dmvf__cz_dec_create(DMVF_CZ_GZIP, engine, &err);
    if (!d)
        return;
    dmvf_cz_in in = {j->in, j->in_len, 0};
    for (;;) {
        if (j->out_cap - j->out_len < PAR_STEP) {
            if (j->out_cap >= PAR_OUT_MAX)
                break; /* past PAR_OUT_MAX: the one decoder takes it */
            size_t want = j->out_cap ? j->out_cap * 2 : PAR_STEP * 4;
            want = want > PAR_OUT_MAX ? PAR_OUT_MAX : want;
            unsigned char *b = realloc(j->out, want);
            if (!b)
                break;
            j->out = b;
            j->out_cap = want;
        }
        size_t room = j->out_cap - j->out_len < PAR_STEP ? j->out_cap - j->out_len : PAR_STEP;
        dmvf_cz_out out = {j->out, j->out_len + room, j->out_len};
        size_t in0 = in.pos, out0 = j->out_len;
        int r = dmvf__cz_dec_stream(d, &out, &in);
        j->out_len = out.pos;
        if (r)
            break;
        if (j->ns == PAR_SAMPLES)
            break; /* more calls than a segment needs: the one decoder takes it */
        j->s_out[j->ns] = j->out_len;
        j->s_in[j->ns++] = in.pos;
        if (in.pos == in.size && out.pos < out.size) {
            j->ok = dmvf__cz_dec_at_end(d);
            break;
        }
        if (in.pos == in0 && out.pos == out0)
            break;
    }
    dmvf__cz_dec_free(d);
}

static void *par_thread(void *arg)
{
    struct dmvf_cli_zpar *z = arg;
    pthread_mutex_lock(&z->mu);
    for (;;) {
        while (!z->stop && z->seq_work == z->seq_next)
            pthread_cond_wait(&z->cv_work, &z->mu);
        if (z->stop)
            break;
        par_job *j = &z->jobs[z->seq_work % z->njobs];
        z->seq_work++;
        pthread_mutex_unlock(&z->mu);
        par_inflate(j, z->engine);
        pthread_mutex_lock(&z->mu);
        j->done = 1;
        pthread_cond_broadcast(&z->cv_done);
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* Stops the threads (each finishes the segment it holds); once. */
static void par_stop(struct dmvf_cli_zpar *z)
{
    if (z->joined)
        return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_broadcast(&z->cv_work);
    pthread_mutex_unlock(&z->mu);
    for (unsigned i = 0; i < z->nth; i++)
        pthread_join(z->th[i], NULL);
    z->joined = 1;
}

/* DMVF_INFLATE_REPORT set: one line on stderr of how the input was
 * inflated (the tests see the threads used, and where the one decoder took
 * over). */
static void par_report(const dmvf_cli_src *s, const struct dmvf_cli_zpar *z, uint64_t one_from)
{
    if (!getenv("DMVF_INFLATE_REPORT"))
        return;
    char from[64] = "";
    if (one_from != UINT64_MAX)
        snprintf(from, sizeof from, ", one decoder from byte %llu", (unsigned long long)one_from);
    fprintf(stderr, "dmvfilter: gzip input: %llu segments inflated on %u threads%s\n",
            (unsigned long long)z->handed, z->nth, from);
}

static void par_free(dmvf_cli_src *s)
{
    struct dmvf_cli_zpar *z = s->par;
    if (!z)
        return;
    par_stop(z);
    for (unsigned i = 0; z->jobs && i < z->njobs; i++) {
        free(z->jobs[i].in);
        free(z->jobs[i].out);
    }
    free(z->jobs);
    free(z->scan);
    pthread_cond_destroy(&z->cv_done);
    pthread_cond_destroy(&z->cv_work);
    pthread_mutex_destroy(&z->mu);
    free(z);
    s->par = NULL;
}

void dmvf__cli_src_inflaters(dmvf_cli_src *s, unsigned n)
{
    if (s->comp != DMVF_CZ_GZIP || n < 2 || s->par || s->bytes_out || s->zin.pos)
        return;
    int engine = dmvf__cz_engine();
    if (engine < 0)
        return; /* dmvf__cli_src_open has refused it already */
    struct dmvf_cli_zpar *z = calloc(1, sizeof *z);
    if (!z || pthread_mutex_init(&z->mu, NULL) != 0) {
        free(z);
        return; /* the one decoder, which needs none of it */
    }
    pthread_cond_init(&z->cv_work, NULL);
    pthread_cond_init(&z->cv_done, NULL);
    s->par = z; /* par_free takes it back from here on */
    z->engine = (dmvf_cz_engine)engine;
    unsigned want = n < PAR_THREADS_MAX ? n : PAR_THREADS_MAX;
    z->njobs = want + 2;
    z->jobs = calloc(z->njobs, sizeof *z->jobs);
    z->scan = malloc(PAR_SCAN_CAP);
    if (!z->jobs || !z->scan) {
        par_free(s);
        return;
    }
    /* what dmvf__cli_src_open read to see the magic bytes (RAW_CAP at most) */
    memcpy(z->scan, s->raw, s->raw_len);
    z->scan_len = s->raw_len;
    z->eof = s->raw_eof;
    for (; z->nth < want; z->nth++)
        if (pthread_create(&z->th[z->nth], NULL, par_thread, z) != 0)
            break;
    if (z->nth == 0)
        par_free(s); /* no thread: the one decoder */
}

/* Reads more of the file into scan, first dropping what lies before the
 * next segment. 0, or -1 when the read failed (nothing said: the one
 * decoder reads there again, after the bytes before it, and reports it). */
static int par_fill(dmvf_cli_src *s, struct dmvf_cli_zpar *z)
{
    size_t drop = (size_t)(z->seg_start - z->scan_base);
    if (drop && (drop >= PAR_SCAN_CAP / 2 || z->scan_len == PAR_SCAN_CAP)) {
        memmove(z->scan, z->scan + drop, z->scan_len - drop);
        z->scan_len -= drop;
        z->scan_base += drop;
    }
    if (z->scan_len == PAR_SCAN_CAP || z->eof)
        return 0;
    ssize_t r = dmvf__cli_read_retry(s->fd, z->scan + z->scan_len, PAR_SCAN_CAP - z->scan_len);
    if (r < 0)
        return -1;
    if (r == 0)
        z->eof = 1;
    z->scan_len += (size_t)r;
    s->bytes_in += (uint64_t)r;
    return 0;
}

/* The next cut: 1 with *cut (a member start, or the end of the file), 0
 * when there is none within PAR_SEG_MAX or the read failed (the rest goes
 * to the one decoder). */
static int par_next_cut(dmvf_cli_src *s, struct dmvf_cli_zpar *z, uint64_t *cut)
{
    uint64_t lim = z->seg_start + PAR_SEG_MAX; /* a cut lies at or before lim */
    for (;;) {
        uint64_t end = z->scan_base + z->scan_len;
        uint64_t stop = end < lim + GZ_HDR_LEN ? end : lim + GZ_HDR_LEN;
        uint64_t from = z->seg_start + PAR_SEG_MIN;
        if (from < z->looked)
            from = z->looked;
        while (from + GZ_HDR_LEN <= stop) {
            const unsigned char *p = z->scan + (from - z->scan_base);
            const unsigned char *q = memchr(p, 0x1f, (size_t)(stop - from) - (GZ_HDR_LEN - 1));
            if (!q)
                break;
            from = z->scan_base + (uint64_t)(q - z->scan);
            if (member_start(q)) {
                *cut = from;
                z->looked = from;
                return 1;
            }
            from++;
        }
        /* every place a header fits before stop is searched */
        if (stop >= GZ_HDR_LEN && stop - (GZ_HDR_LEN - 1) > from)
            from = stop - (GZ_HDR_LEN - 1);
        z->looked = from;
        if (z->eof && end <= lim) {
            *cut = end; /* the last segment: to the end of the file */
            return 1;
        }
        if (end >= lim + GZ_HDR_LEN || z->eof)
            return 0;   /* no cut within PAR_SEG_MAX */
        if (par_fill(s, z) != 0)
            return 0;
    }
}

/* Cuts segments into free jobs. When a segment cannot be cut (too long,
 * a failed read, no memory for it), cutting stops: from seg_start the one
 * decoder reads, after the segments already cut are handed out, so what
 * goes wrong there is reported where one decoder reports it. */
static void par_cut(dmvf_cli_src *s, struct dmvf_cli_zpar *z)
{
    while (!z->cut_done && z->seq_next - z->seq_take < z->njobs) {
        uint64_t cut;
        par_job *j = &z->jobs[z->seq_next % z->njobs];
        if (!par_next_cut(s, z, &cut)) {
            z->cut_done = 1;
            break;
        }
        size_t len = (size_t)(cut - z->seg_start);
        if (len > j->in_cap) {
            unsigned char *b = realloc(j->in, len);
            if (!b) {
                z->cut_done = 1;
                break;
            }
            j->in = b;
            j->in_cap = len;
        }
        memcpy(j->in, z->scan + (z->seg_start - z->scan_base), len);
        j->in_len = len;
        j->start = z->seg_start;
        z->seg_start = cut;
        if (z->eof && cut == z->scan_base + z->scan_len)
            z->cut_done = 1;
        pthread_mutex_lock(&z->mu);
        j->done = 0;
        z->seq_next++;
        pthread_cond_signal(&z->cv_work);
        pthread_mutex_unlock(&z->mu);
    }
}

/* From offset x (a segment's start, all before it handed out) the one
 * decoder reads the input: the threads stop, and the segments cut from x
 * on and the unread rest of scan become its first compressed bytes; then
 * the read goes on through it (comp_read's result). */
static int par_to_one(dmvf_cli_src *s, uint64_t x, unsigned char *buf, size_t cap, size_t *n, int *eof)
{
    struct dmvf_cli_zpar *z = s->par;
    par_stop(z);
    size_t tail = z->scan_len - (size_t)(z->seg_start - z->scan_base), len = tail;
    for (uint64_t q = z->seq_take; q < z->seq_next; q++)
        len += z->jobs[q % z->njobs].in_len;
    size_t raw_cap = len > RAW_CAP ? len : RAW_CAP;
    unsigned char *raw = malloc(raw_cap);
    if (!raw) {
        par_free(s);
        return src_fail(s, DMVF_EXIT_NOMEM, "out of memory");
    }
    size_t at = 0;
    for (uint64_t q = z->seq_take; q < z->seq_next; q++) {
        par_job *j = &z->jobs[q % z->njobs];
        memcpy(raw + at, j->in, j->in_len);
        at += j->in_len;
    }
    memcpy(raw + at, z->scan + (z->seg_start - z->scan_base), tail);
    free(s->raw);
    s->raw = raw;
    s->raw_cap = raw_cap;
    s->raw_len = len;
    s->raw_base = x;
    s->raw_eof = z->eof;
    s->zin.src = raw;
    s->zin.size = len;
    s->zin.pos = 0;
    s->dec_origin = x;
    par_report(s, z, x);
    par_free(s);
    return comp_read(s, buf, cap, n, eof);
}

static int par_read(dmvf_cli_src *s, unsigned char *buf, size_t cap, size_t *n, int *eof)
{
    struct dmvf_cli_zpar *z = s->par;
    for (;;) {
        if (z->cur) {
            if (z->cur_pos < z->cur->out_len) {
                size_t k = z->cur->out_len - z->cur_pos;
                k = k < cap ? k : cap;
                memcpy(buf, z->cur->out + z->cur_pos, k);
                z->cur_pos += k;
                *n = k;
                s->bytes_out += k;
                return 0;
            }
            z->seq_take++; /* only the reader reads it */
            z->cur = NULL;
        }
        par_cut(s, z);
        if (z->seq_take == z->seq_next) {
            if (z->seg_start == z->scan_base + z->scan_len && z->eof) {
                *eof = 1;
                return 0;
            }
            /* a segment that could not be cut: the one decoder from here */
            return par_to_one(s, z->seg_start, buf, cap, n, eof);
        }
        par_job *j = &z->jobs[z->seq_take % z->njobs];
        pthread_mutex_lock(&z->mu);
        while (!j->done)
            pthread_cond_wait(&z->cv_done, &z->mu);
        pthread_mutex_unlock(&z->mu);
        /* not whole members, or past the inflate limit somewhere inside:
           the one decoder from its start (it reports the limit where it
           stands when it passes it) */
        int ok = j->ok;
        for (unsigned i = 0; ok && i < j->ns; i++) {
            char m[300];
            ok = dmvf__cz_limit(z->total + j->s_out[i], j->start + j->s_in[i], s->max_inflate, m, sizeof m) == 0;
        }
        if (!ok)
            return par_to_one(s, j->start, buf, cap, n, eof);
        z->total += j->out_len;
        z->handed++;
        z->cur = j;
        z->cur_pos = 0;
    }
}

static void par_close(dmvf_cli_src *s)
{
    if (s->par)
        par_report(s, s->par, UINT64_MAX);
    par_free(s);
}
