/*
 * parallel.c - the records pipeline: the input cut into chunks of whole
 * records, each chunk rewritten on a worker thread, the results written in
 * input order.
 *
 *            reader (calling thread)              workers (N)          writer
 *   input --> read, cut at record ----> slot ring ---> dmvf_filter_stream --> in sequence
 *             boundaries                (2N+2)         [+ one gzip member]    order, to
 *                                                                            the sink
 *   slot:  FREE --reader--> FILLED --worker--> BUSY --> DONE --writer--> FREE
 *
 * The cut. A chunk ends at the first record boundary at or after chunk_bytes
 * (1 MiB) of decompressed input counted from its start:
 *
 *   | varint len | record | varint len | record | ... | varint len | record |
 *   ^ chunk start                         chunk_bytes ^               ^ cut
 *
 * so where chunks end depends on the bytes alone, never on read sizes,
 * timing or the thread count, and the output is the same bytes for every
 * thread count. Only the last chunk can end inside a record, and a length
 * prefix that cannot be cut at (bad varint, 0, over the record limit) ends
 * the reading: the chunk holding it is the last, and the library then
 * reports the error at the same place as for one unbroken stream.
 *
 * gzip members follow the released bytes, not the input (members.c): each
 * chunk, once rewritten, is placed in the released stream in sequence order
 * (the placing token, passed from chunk to chunk: a chunk's offset is the
 * bytes released before it), then the members that end in it are
 * compressed by its worker, in parallel with the others. The writer writes
 * them in order, and the last member (what follows the last end) after
 * everything; so the gzip file is the same for every thread count and
 * chunk size, and for two inputs that release the same bytes. With one
 * worker the writer places and compresses each chunk itself, just before
 * writing it: the compression of one chunk then overlaps the rewrite of
 * the next, where on the worker the two would run one after the other
 * (the same members, so the same bytes).
 *
 * Workers. Each worker owns a dmvf_filter for the same request (policy and
 * keyring are shared, immutable). Per chunk: dmvf_filter_stream(end = 1) on
 * whole records, dmvf_filter_counts, dmvf_filter_reset; with gzip, placing
 * and compressing its members. Chunk buffers are
 * kept and reused: no allocation per record, none per chunk once the ring is
 * warm.
 *
 * Errors. The writer takes chunks in sequence order; the first failing chunk
 * in that order decides: its error's byte offset gets the chunk's base offset
 * added and its record index the records of all earlier chunks, so messages
 * are those of one unbroken stream; nothing of that chunk or after it is
 * written and the reader stops. A read error (I/O, corrupt gzip) is
 * attached to a last chunk holding what was read before it, and is reported
 * only when everything before it succeeded.
 *
 * Text. JSON Lines and CSV input is cut the same way, at the first record
 * end (an LF; for CSV one outside quotes) at or after chunk_bytes
 * (dmvf_text_boundary), and each chunk starts on a line the reader counts,
 * so error lines are those of one stream. A worker rewrites a chunk of
 * text, or rewrites records into text, through its codec (format.h) on its
 * filter. A CSV input's header is read before the first chunk and shared
 * by the codecs; CSV output's header goes before the first released
 * record (a release of none is empty, as a refusal is). What the input
 * names that the schema does not know is gathered chunk by chunk in
 * sequence order, so the paths kept are the same for every thread count.
 *
 * Overlap. Reading, rewriting and writing run at the same time for every
 * thread count, one worker included: the calling thread reads (large
 * reads, straight into a free slot's buffer), the workers rewrite, the
 * writer writes each chunk's output (or members) as one large write, from
 * the slot's own buffer. A run takes about the longest of the three, not
 * their sum, and memory is the ring's: 2N+2 slots, whatever the input's
 * size. Only where the threads cannot start (or DMVF_NO_OVERLAP, hidden,
 * for tests and the bench) does one worker run inline: the calling thread
 * reads, rewrites and writes each chunk in turn, through the same code and
 * with the same output.
 */
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "filter/cli/cli.h"
#include "filter/cli/parallel_int.h"

unsigned dmvf__cli_cores(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

/* ---- a worker's chunk ---- */

static void chunk_fail(chunk *c, int rc, const char *why)
{
    c->exit_rc = rc;
    c->why = why;
}

static void process_chunk(worker *w, chunk *c)
{
    c->status = DMVF_OK;
    c->exit_rc = 0;
    c->why = NULL;
    c->out_len = c->gz_len = 0;
    c->rin = c->rout = c->rdropped = 0;
    memset(&c->err, 0, sizeof c->err);
    dmvf_in_buffer in = {c->in, c->in_len, 0};
    if (dmvf__cli_grow(&c->out, &c->out_cap, c->in_len + 4096) != 0) {
        chunk_fail(c, DMVF_EXIT_NOMEM, "out of memory");
        return;
    }
    if (w->codec)
        dmvf_codec_reset(w->codec, c->line);
    for (;;) {
        dmvf_out_buffer o = {c->out + c->out_len, c->out_cap - c->out_len, 0};
        int st = w->codec ? dmvf_codec_stream(w->codec, &o, &in, c->end, &c->err)
                          : dmvf_filter_stream(w->f, &o, &in, c->end, &c->err);
        c->out_len += o.pos;
        if (st != DMVF_ESPACE) {
            c->status = st;
            break;
        }
        /* the filter holds more output: make room and go on */
        if (dmvf__cli_grow(&c->out, &c->out_cap, c->out_cap + 1) != 0) {
            chunk_fail(c, DMVF_EXIT_NOMEM, "out of memory");
            break;
        }
    }
    dmvf_filter_counts(w->f, &c->rin, &c->rout, &c->rdropped);
    dmvf_filter_reset(w->f);
    if (c->unk) {
        dmvf_codec_reset(c->unk, 0);
        if (c->status == DMVF_OK && !c->exit_rc && dmvf_codec_merge(c->unk, w->codec) != DMVF_OK)
            chunk_fail(c, DMVF_EXIT_NOMEM, "out of memory");
    }
}

/* CSV output: the header before c's records, the first released ones
 * (gzip: placed with them, in sequence order). 0, or -1 (no memory). */
static int header_first(pipeline *pl, chunk *c)
{
    if (pl->hdr_done || !pl->hdr_len || !c->out_len)
        return 0;
    pl->hdr_done = 1;
    if (dmvf__cli_grow(&c->out, &c->out_cap, c->out_len + pl->hdr_len) != 0)
        return -1;
    memmove(c->out + pl->hdr_len, c->out, c->out_len);
    memcpy(c->out, pl->hdr, pl->hdr_len);
    c->out_len += pl->hdr_len;
    return 0;
}

/* ---- gzip members: placing a chunk, compressing its members ---- */

/* Waits for the placing token of chunk seq, places c (ok: it was rewritten
 * without error) and passes the token on, also when c failed or is
 * skipped. 1 when c was placed. */
static int place_in_order(pipeline *pl, chunk *c, uint64_t seq, int ok)
{
    if (pl->threaded) {
        pthread_mutex_lock(&pl->mu);
        while (!pl->stop && pl->place_next != seq)
            pthread_cond_wait(&pl->cv_place, &pl->mu);
        int stopped = pl->stop;
        pthread_mutex_unlock(&pl->mu);
        if (stopped)
            return 0;
    }
    int placed = 0;
    if (ok && header_first(pl, c) != 0) {
        chunk_fail(c, DMVF_EXIT_NOMEM, "out of memory");
        ok = 0;
    }
    if (ok) {
        c->pc.out = c->out;
        c->pc.len = c->out_len;
        if (dmvf__cli_members_place(&pl->mem, &c->pc) == 0)
            placed = 1;
        else
            chunk_fail(c, DMVF_EXIT_NOMEM, "gzip: out of memory");
    }
    if (pl->threaded) {
        pthread_mutex_lock(&pl->mu);
        pl->place_next++;
        pthread_cond_broadcast(&pl->cv_place);
        pthread_mutex_unlock(&pl->mu);
    } else {
        pl->place_next++;
    }
    return placed;
}

/* After the rewrite: with gzip, the chunk is placed and its members
 * compressed (a chunk that failed, or is skipped, only passes the token). */
static void finish_chunk(worker *w, chunk *c, uint64_t seq, int rewritten)
{
    pipeline *pl = w->pl;
    c->gz_len = 0;
    c->nmembers = 0;
    if (!w->enc)
        return;
    int ok = rewritten && c->status == DMVF_OK && !c->exit_rc;
    int rc;
    if (place_in_order(pl, c, seq, ok) &&
        dmvf__cli_members_compress(w->enc, pl->mem.member_bytes, &c->pc, &c->gz, &c->gz_cap, &c->gz_len,
                                   &c->nmembers, &rc) != 0)
        chunk_fail(c, rc, rc == DMVF_EXIT_NOMEM ? "out of memory" : "compression failed");
}

/* ---- the writer's chunk: 0 to go on, 1 to stop ---- */

static int write_chunk(pipeline *pl, chunk *c)
{
    if (c->exit_rc) {
        dmvf__cli_progress_clear(&pl->pg);
        dmvf__cli_err("%s", c->why ? c->why : "internal error");
        pl->rc = c->exit_rc;
        return 1;
    }
    if (c->status != DMVF_OK) {
        dmvf_cli_par *p = pl->p;
        p->status = c->status;
        p->err = c->err;
        p->err.offset += c->base;
        if (p->err.record != UINT64_MAX)
            p->err.record += pl->in;
        return 1;
    }
    int rc = 0;
    if (pl->p->cz.format != DMVF_CZ_NONE) {
        if (c->gz_len) {
            rc = dmvf__cli_sink_write(pl->sink, c->gz, c->gz_len);
            pl->members += c->nmembers;
        }
    } else if (c->out_len) {
        if (!pl->hdr_done && pl->hdr_len && c->out_len) {
            pl->hdr_done = 1;
            rc = dmvf__cli_sink_write(pl->sink, pl->hdr, pl->hdr_len);
        }
        if (!rc)
            rc = dmvf__cli_sink_write(pl->sink, c->out, c->out_len);
    }
    if (!rc && c->unk && dmvf_codec_merge(pl->p->unknown, c->unk) != DMVF_OK) {
        dmvf__cli_err("out of memory");
        rc = DMVF_EXIT_NOMEM;
    }
    if (rc) {
        pl->rc = rc;
        return 1;
    }
    pl->in += c->rin;
    pl->out += c->rout;
    pl->dropped += c->rdropped;
    dmvf__cli_progress_tick(&pl->pg, pl->in, c->base + c->in_len);
    if (c->read_rc) {
        pl->rc = c->read_rc;
        pl->read_failed = 1;
        return 1;
    }
    return 0;
}

/* ---- threads ---- */

static void stop_all(pipeline *pl)
{
    pl->stop = 1;
    pthread_cond_broadcast(&pl->cv_reader);
    pthread_cond_broadcast(&pl->cv_worker);
    pthread_cond_broadcast(&pl->cv_writer);
    pthread_cond_broadcast(&pl->cv_place);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pipeline *pl = w->pl;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->stop && pl->next_work == pl->submitted && !pl->reader_done)
            pthread_cond_wait(&pl->cv_worker, &pl->mu);
        if (pl->stop || pl->next_work == pl->submitted)
            break;
        uint64_t seq = pl->next_work++;
        chunk *c = &pl->slots[seq % pl->nslots];
        c->state = SLOT_BUSY;
        int skip = seq > pl->fail_seq;   /* an earlier chunk failed: this one is never written */
        pthread_mutex_unlock(&pl->mu);
        if (!skip)
            process_chunk(w, c);
        if (!pl->writer_compresses)
            finish_chunk(w, c, seq, !skip);
        pthread_mutex_lock(&pl->mu);
        if (!skip && (c->status != DMVF_OK || c->exit_rc) && seq < pl->fail_seq)
            pl->fail_seq = seq;
        c->state = SLOT_DONE;
        pthread_cond_broadcast(&pl->cv_writer);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static void *writer_main(void *arg)
{
    pipeline *pl = arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        chunk *c = &pl->slots[pl->next_write % pl->nslots];
        while (!pl->stop && !(pl->next_write < pl->submitted && c->state == SLOT_DONE) &&
               !(pl->reader_done && pl->next_write == pl->submitted))
            pthread_cond_wait(&pl->cv_writer, &pl->mu);
        if (pl->stop || pl->next_write == pl->submitted)
            break;
        uint64_t seq = pl->next_write;
        int rewritten = seq <= pl->fail_seq;    /* one worker: the chunks come in order */
        pthread_mutex_unlock(&pl->mu);
        if (pl->writer_compresses)
            finish_chunk(&pl->workers[0], c, seq, rewritten);
        int halt = write_chunk(pl, c);
        pthread_mutex_lock(&pl->mu);
        if (halt) {
            stop_all(pl);
            break;
        }
        c->state = SLOT_FREE;
        pl->next_write++;
        pthread_cond_broadcast(&pl->cv_reader);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* The slot for sequence seq, once free; NULL when the pipeline stopped. */
static chunk *acquire(pipeline *pl, uint64_t seq)
{
    chunk *c = &pl->slots[seq % pl->nslots];
    if (!pl->threaded)
        return pl->stop ? NULL : c;
    pthread_mutex_lock(&pl->mu);
    while (!pl->stop && c->state != SLOT_FREE)
        pthread_cond_wait(&pl->cv_reader, &pl->mu);
    int stopped = pl->stop;
    pthread_mutex_unlock(&pl->mu);
    return stopped ? NULL : c;
}

/* Hands a filled chunk on: to the workers, or (one worker) rewrites and
 * writes it now. */
static void submit(pipeline *pl, chunk *c)
{
    if (!pl->threaded) {
        uint64_t seq = pl->submitted++;
        process_chunk(&pl->workers[0], c);
        finish_chunk(&pl->workers[0], c, seq, 1);
        if (write_chunk(pl, c))
            pl->stop = 1;
        pl->next_write++;
        return;
    }
    pthread_mutex_lock(&pl->mu);
    c->state = SLOT_FILLED;
    pl->submitted++;
    pthread_cond_broadcast(&pl->cv_worker);
    pthread_mutex_unlock(&pl->mu);
}

static void reader_finish(pipeline *pl)
{
    if (!pl->threaded) {
        pl->reader_done = 1;
        return;
    }
    pthread_mutex_lock(&pl->mu);
    pl->reader_done = 1;
    pthread_cond_broadcast(&pl->cv_worker);
    pthread_cond_broadcast(&pl->cv_writer);
    pthread_mutex_unlock(&pl->mu);
}

/* ---- the reader ---- */


/* Text: where the chunk c->in[0..len) is cut (*scan, *lines), or bad (a
 * record too long to end within the limit: the last chunk). */
static void scan_text(pipeline *pl, const chunk *c, size_t len, size_t *scan, uint64_t *lines, int *bad)
{
    size_t cut;
    uint64_t nl;
    int b = dmvf_text_boundary(pl->p->in_fmt, c->in, len, pl->chunk_bytes, pl->max_record, &cut, &nl);
    if (b < 0) {
        *bad = 1;
    } else if (b > 0) {
        *scan = cut;
        *lines = nl;
    }
}

/* Reads the input into chunks; slot 0 already holds len0 bytes (what was
 * read past a CSV header), which start at offset base0, on line line0. */
static void read_input(pipeline *pl, dmvf_cli_src *src, size_t len0, uint64_t base0, uint64_t line0)
{
    uint64_t seq = 0, base = base0, line = line0;
    chunk *c = acquire(pl, seq);
    size_t len = len0;  /* bytes in c->in */
    size_t scan = 0;    /* c->in[0..scan) is whole records */
    uint64_t lines = 0; /* text: the line breaks in c->in[0..scan) */
    while (c) {
        /* whole records; cut as soon as the chunk is long enough */
        size_t need = 0;
        int bad = 0;
        if (pl->text)
            scan_text(pl, c, len, &scan, &lines, &bad);
        while (!pl->text && scan < len) {
            uint64_t l;
            size_t pre;
            int pr = dmvf_stream_prefix(c->in + scan, len - scan, &l, &pre);
            if (pr < 0 || (pr > 0 && (l == 0 || l > pl->max_record))) {
                bad = 1;
                break;
            }
            if (pr == 0)
                break;
            if (len - scan - pre < l) {
                need = scan + pre + (size_t)l;
                break;
            }
            scan += pre + (size_t)l;
            if (scan >= pl->chunk_bytes)
                break;
        }
        if (bad) {
            /* the library reports this prefix; nothing after it is read */
            c->base = base;
            c->line = line;
            c->in_len = len;
            c->end = 1;
            c->read_rc = 0;
            submit(pl, c);
            break;
        }
        if (scan >= pl->chunk_bytes) {
            c->base = base;
            c->line = line;
            c->in_len = scan;
            c->end = 1;
            c->read_rc = 0;
            submit(pl, c);
            /* the bytes past the cut start the next chunk; c->in stays as it
               is until the reader takes this slot again */
            chunk *n = acquire(pl, ++seq);
            if (!n)
                break;
            size_t carry = len - scan;
            if (dmvf__cli_grow(&n->in, &n->in_cap, carry + pl->min_read) != 0) {
                n->in_len = 0;
                n->end = 0;
                n->base = base + scan;
                n->line = line + lines;
                n->read_rc = DMVF_EXIT_NOMEM;
                snprintf(src->errmsg, sizeof src->errmsg, "out of memory");
                submit(pl, n);
                break;
            }
            memcpy(n->in, c->in + scan, carry);
            base += scan;
            line += lines;
            c = n;
            len = carry;
            scan = 0;
            lines = 0;
            continue;
        }
        /* read more: at least what completes the record, up to the cut */
        size_t target = pl->chunk_bytes > need ? pl->chunk_bytes : need;
        size_t want = target > len ? target - len : 0;
        if (want < pl->min_read)
            want = pl->min_read;
        if (dmvf__cli_grow(&c->in, &c->in_cap, len + want) != 0) {
            c->base = base;
            c->line = line;
            c->in_len = len;
            c->end = 0;
            c->read_rc = DMVF_EXIT_NOMEM;
            snprintf(src->errmsg, sizeof src->errmsg, "out of memory");
            submit(pl, c);
            break;
        }
        size_t got;
        int eof;
        int rc = dmvf__cli_src_read(src, c->in + len, want, &got, &eof);
        if (rc) {
            /* what was read before the failure is still rewritten (and may
               fail first); then the read failure is reported */
            c->base = base;
            c->line = line;
            c->in_len = len;
            c->end = 0;
            c->read_rc = rc;
            submit(pl, c);
            break;
        }
        len += got;
        if (eof) {
            if (len > 0) {
                c->base = base;
                c->line = line;
                c->in_len = len;
                c->end = 1;
                c->read_rc = 0;
                submit(pl, c);
            }
            break;
        }
    }
    reader_finish(pl);
}

/* ---- setup ---- */

static size_t size_from_env(const char *name, size_t dflt)
{
    const char *e = getenv(name);
    size_t v;
    if (e && e[0] && dmvf__cli_parse_size(e, &v) == 0)
        return v;
    return dflt;
}

static int env_set(const char *name)
{
    const char *e = getenv(name);
    return e && e[0] && strcmp(e, "0") != 0;
}

static void pipeline_free(pipeline *pl)
{
    if (pl->workers) {
        for (unsigned i = 0; i < pl->nworkers; i++) {
            worker *w = &pl->workers[i];
            dmvf_codec_free(w->codec);
            if (w->own)
                dmvf_filter_free(w->f);
            dmvf__cz_enc_free(w->enc);
        }
        free(pl->workers);
    }
    if (pl->slots) {
        for (unsigned i = 0; i < pl->nslots; i++) {
            free(pl->slots[i].in);
            free(pl->slots[i].out);
            free(pl->slots[i].gz);
            free(pl->slots[i].pc.head);
            dmvf_codec_free(pl->slots[i].unk);
        }
        free(pl->slots);
    }
    dmvf__cli_members_free(&pl->mem);
    dmvf_columns_free(pl->in_cols);
    dmvf_columns_free(pl->out_cols);
    free(pl->hdr);
}

/* The mutex and condition variables: 0, or -1 with none left behind. */
static int sync_init(pipeline *pl)
{
    if (pthread_mutex_init(&pl->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&pl->cv_reader, NULL) != 0)
        goto no_reader;
    if (pthread_cond_init(&pl->cv_worker, NULL) != 0)
        goto no_worker;
    if (pthread_cond_init(&pl->cv_writer, NULL) != 0)
        goto no_writer;
    if (pthread_cond_init(&pl->cv_place, NULL) != 0)
        goto no_place;
    return 0;
no_place:
    pthread_cond_destroy(&pl->cv_writer);
no_writer:
    pthread_cond_destroy(&pl->cv_worker);
no_worker:
    pthread_cond_destroy(&pl->cv_reader);
no_reader:
    pthread_mutex_destroy(&pl->mu);
    return -1;
}

static void sync_destroy(pipeline *pl)
{
    pthread_cond_destroy(&pl->cv_reader);
    pthread_cond_destroy(&pl->cv_worker);
    pthread_cond_destroy(&pl->cv_writer);
    pthread_cond_destroy(&pl->cv_place);
    pthread_mutex_destroy(&pl->mu);
}

/* Starts the workers and the writer: 0, or pthread_create's error (EAGAIN:
 * no memory for a stack, or a thread limit); on failure the caller stops
 * and joins those that started. */
static int start_threads(pipeline *pl)
{
    int e;
    for (unsigned i = 0; i < pl->nworkers; i++) {
        if ((e = pthread_create(&pl->workers[i].th, NULL, worker_main, &pl->workers[i])) != 0)
            return e;
        pl->workers[i].started = 1;
    }
    if ((e = pthread_create(&pl->writer, NULL, writer_main, pl)) != 0)
        return e;
    pl->writer_started = 1;
    return 0;
}

static void join_threads(pipeline *pl)
{
    for (unsigned i = 0; i < pl->nworkers; i++)
        if (pl->workers[i].started)
            pthread_join(pl->workers[i].th, NULL);
    if (pl->writer_started)
        pthread_join(pl->writer, NULL);
}

int dmvf__cli_par_run(dmvf_cli_par *p, dmvf_filter *f, dmvf_cli_src *src, dmvf_cli_sink *sink)
{
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.p = p;
    pl.sink = sink;
    p->status = DMVF_OK;
    memset(&p->err, 0, sizeof p->err);
    p->records_in = p->records_out = p->records_dropped = 0;
    pl.chunk_bytes = size_from_env("DMVF_CHUNK_BYTES", p->chunk_bytes ? p->chunk_bytes : DMVF_CLI_CHUNK_BYTES);
    pl.mem.member_bytes = size_from_env("DMVF_GZIP_MEMBER_BYTES", DMVF_CLI_MEMBER_BYTES);
    pl.min_read = pl.chunk_bytes < TAIL_READ ? pl.chunk_bytes : TAIL_READ;
    if (pl.min_read < MIN_READ)
        pl.min_read = MIN_READ;
    pl.max_record = dmvf_stream_record_limit(p->fo.max_record_bytes); /* what a stream holds of one record */
    pl.nworkers = p->threads ? p->threads : 1;
    pl.threaded = pl.nworkers > 1 || !env_set("DMVF_NO_OVERLAP");
    pl.nslots = 2 * pl.nworkers + 2;
    pl.fail_seq = UINT64_MAX;

    int rc = 0;
    pl.slots = calloc(pl.nslots, sizeof *pl.slots);
    pl.workers = calloc(pl.nworkers, sizeof *pl.workers);
    if (!pl.slots || !pl.workers) {
        dmvf__cli_err("out of memory");
        pipeline_free(&pl);
        return DMVF_EXIT_NOMEM;
    }
    for (unsigned i = 0; i < pl.nworkers; i++) {
        worker *w = &pl.workers[i];
        w->pl = &pl;
        int zerr;
        if (p->cz.format != DMVF_CZ_NONE && !(w->enc = dmvf__cz_enc_create(&p->cz, &zerr))) {
            dmvf__cli_err("%s: cannot start compressing: %s", dmvf__cz_format_name(p->cz.format),
                          zerr == DMVF_CZ_ENOMEM ? "out of memory" : "library error");
            pipeline_free(&pl);
            return zerr == DMVF_CZ_ENOMEM ? DMVF_EXIT_NOMEM : DMVF_EXIT_SOFTWARE;
        }
        if (i == 0) {
            w->f = f;
            continue;
        }
        dmvf_error err;
        memset(&err, 0, sizeof err);
        w->f = dmvf_filter_create(p->policy, p->keyring, p->req, &p->fo, &err);
        if (!w->f) {
            dmvf__cli_err("request: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
            pipeline_free(&pl);
            return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
        }
        w->own = 1;
        if (dmvf_filter_decision(w->f) != DMVF_DECISION_RELEASE || dmvf_filter_max_records(w->f) != 0) {
            dmvf__cli_err("request: decided differently on a second filter: %s",
                          dmvf_filter_reason(w->f));
            pipeline_free(&pl);
            return DMVF_EXIT_SOFTWARE;
        }
    }

    pl.text = p->in_fmt != DMVF_FORMAT_RECORDS;
    pl.mem.fmt = p->out_fmt;
    if (pl.text)        /* a text record's limit is the filter's own */
        pl.max_record = p->fo.max_record_bytes ? p->fo.max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
    size_t len0 = 0;
    uint64_t base0 = 0, line0 = 1;
    if (p->in_fmt != DMVF_FORMAT_RECORDS || p->out_fmt != DMVF_FORMAT_RECORDS) {
        rc = dmvf__cli_par_setup_text(&pl, f, src, &len0, &base0, &line0);
        if (rc || p->status != DMVF_OK) {
            pipeline_free(&pl);
            return rc;
        }
    }

    pl.writer_compresses = pl.threaded && pl.nworkers == 1 && p->cz.format != DMVF_CZ_NONE;
    if (pl.threaded) {
        int running = sync_init(&pl) == 0, e = ENOMEM;
        if (running && (e = start_threads(&pl)) != 0) {
            pthread_mutex_lock(&pl.mu);
            stop_all(&pl);
            pthread_mutex_unlock(&pl.mu);
            join_threads(&pl);
            sync_destroy(&pl);
            running = 0;
        }
        if (!running && pl.nworkers == 1) {
            pl.threaded = 0;        /* no overlap: the same work, inline */
            pl.writer_compresses = 0;
            pl.stop = 0;
            for (unsigned i = 0; i < pl.nslots; i++)
                pl.slots[i].state = SLOT_FREE;
        } else if (!running) {
            /* the system's resources, not a fault of ours: EX_OSERR */
            dmvf__cli_err("cannot start %u threads (out of memory or a thread limit): %s; try --threads 1",
                          pl.nworkers, strerror(e));
            pipeline_free(&pl);
            return DMVF_EXIT_NOMEM;
        }
    }
    dmvf__cli_progress_start(&pl.pg, p->quiet);
    src->defer_errors = 1;
    read_input(&pl, src, len0, base0, line0);
    if (pl.threaded)
        join_threads(&pl);
    dmvf__cli_progress_clear(&pl.pg);
    src->defer_errors = 0;

    rc = pl.rc;
    if (rc && pl.read_failed)
        dmvf__cli_src_report(src);
    if (!rc && p->status == DMVF_OK && p->cz.format != DMVF_CZ_NONE) {
        /* the last member: what follows the last end (an empty release is
           still a gzip file: one empty member) */
        unsigned char *gz = NULL;
        size_t cap = 0, len = 0;
        int zrc = 0;
        if (dmvf__cli_members_finish(&pl.mem, pl.workers[0].enc, pl.members, &gz, &cap, &len, &zrc) != 0) {
            dmvf__cli_err("%s", zrc == DMVF_EXIT_NOMEM ? "out of memory" : "compression failed");
            rc = zrc;
        } else if (len) {
            rc = dmvf__cli_sink_write(sink, gz, len);
        }
        free(gz);
    }
    p->records_in = pl.in;
    p->records_out = pl.out;
    p->records_dropped = pl.dropped;
    if (pl.threaded)
        sync_destroy(&pl);
    /* the audit reads field counts and subjects from f: gather the workers' */
    int gather = p->fo.count_fields || p->fo.collect_subjects;
    for (unsigned i = 1; gather && !rc && p->status == DMVF_OK && i < pl.nworkers; i++) {
        dmvf_error merr;
        memset(&merr, 0, sizeof merr);
        if (dmvf_filter_merge(f, pl.workers[i].f, &merr) != DMVF_OK) {
            dmvf__cli_err("gathering the workers' counts: %s", merr.msg[0] ? merr.msg : "out of memory");
            rc = DMVF_EXIT_NOMEM;
        }
    }
    pipeline_free(&pl);
    return rc;
}
