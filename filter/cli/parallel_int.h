/*
 * parallel_int.h - private to filter/cli/: the records pipeline's chunks,
 * workers and shared state (parallel.c), and its text setup
 * (parallel_text.c: a CSV input's header, the output's columns, a codec
 * per worker).
 */
#ifndef DMVF_CLI_PARALLEL_INT_H
#define DMVF_CLI_PARALLEL_INT_H
#include <pthread.h>
#include "filter/cli/cli.h"

/* Reads ask for what is missing up to the cut, and never less than
 * min(chunk, TAIL_READ): the bytes read past a cut are copied into the next
 * chunk, so that tail read is kept moderate. */
#define MIN_READ ((size_t)4 << 10)
#define TAIL_READ ((size_t)256 << 10)

enum { SLOT_FREE, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

typedef struct chunk {
    int state;
    uint64_t base;              /* offset of in[0] in the decompressed input */
    uint64_t line;              /* text: the line in[0] is on */
    dmvf_codec *unk;            /* text: what its records named that the schema does not know */
    unsigned char *in;
    size_t in_cap, in_len;
    int end;                    /* 1: whole records (the stream's end for the library) */
    int read_rc;                /* a read failure right after this chunk: its exit code */
    unsigned char *out;
    size_t out_cap, out_len;
    unsigned char *gz;
    size_t gz_cap, gz_len;      /* gzip: the members that end in this chunk */
    uint64_t nmembers;
    dmvf_cli_piece pc;          /* gzip: out, placed in the released bytes */
    int status;                 /* library status */
    int exit_rc;                /* a failure outside the library: exit code ... */
    const char *why;            /* ... and its message */
    dmvf_error err;
    uint64_t rin, rout, rdropped;
} chunk;

typedef struct pipeline pipeline;

typedef struct worker {
    pipeline *pl;
    dmvf_filter *f;
    int own;                    /* f was created here */
    dmvf_cz_enc *enc;           /* compressed output: this worker's encoder */
    dmvf_codec *codec;          /* text input or output: the codec on f */
    pthread_t th;
    int started;
} worker;

struct pipeline {
    dmvf_cli_par *p;
    dmvf_cli_sink *sink;
    size_t chunk_bytes, max_record, min_read;
    int text;                   /* text input (cut with dmvf_text_boundary) */
    dmvf_columns *in_cols, *out_cols;   /* CSV: the input's header, the output's columns */
    unsigned char *hdr;         /* CSV output: its header row ... */
    size_t hdr_len, hdr_cap;
    int hdr_done;               /* ... written (or placed, gzip) before the first record */
    unsigned nworkers, nslots;
    int threaded;
    int writer_compresses;      /* one worker, compressed output: the writer compresses */
    chunk *slots;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_reader, cv_worker, cv_writer, cv_place;
    pthread_t writer;
    int writer_started;
    uint64_t submitted, next_work, next_write;
    uint64_t fail_seq;          /* lowest failing sequence a worker has seen */
    int reader_done, stop;
    /* gzip: placing chunks in the released stream, in sequence order */
    dmvf_cli_members mem;
    uint64_t place_next;        /* the chunk that holds the placing token */
    /* the writer's side */
    uint64_t in, out, dropped;
    uint64_t members;
    int rc;                     /* exit code: read, write, memory, zlib failure */
    int read_failed;            /* rc is a read failure kept in the source */
    dmvf_cli_progress pg;
};

/* The text side: the CSV header read, the output's columns and header,
 * a codec per worker, a gatherer of unknown keys per slot. Returns 0 or an
 * exit code (message printed); a bad CSV header sets p->status. */
int dmvf__cli_par_setup_text(pipeline *pl, dmvf_filter *f, dmvf_cli_src *src, size_t *len0, uint64_t *base0,
                             uint64_t *line0);

#endif
