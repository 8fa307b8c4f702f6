/*
 * cli.h - what the parts of the dmvfilter command share.
 *
 *   main.c        dispatch, top-level help, --version, exit codes
 *   args.c        flag scanning, request flags, messages
 *   passphrase.c  reading a passphrase (read(2) into sodium_malloc memory)
 *   io.c          input (plain, gzip or zstd, detected); pipe sizes
 *   compress.c    gzip (ISA-L or zlib) and zstd members out, decoders in
 *   sink.c        output: a temp file renamed on success, or a spool copied
 *                 to stdout, a pipe or a device when the release may leave;
 *                 optionally gzip
 *   progress.c    the progress line on a terminal
 *   parallel.c    the records pipeline: chunks rewritten on worker threads,
 *                 written in input order, optionally as gzip members
 *   parallel_text.c  its text side: a CSV header, output columns, codecs
 *   cmd_filter.c  `filter` (records format), its flags and messages
 *   pump.c        the one-thread stream pump; framed requests leave at
 *                 their trailers
 *   filter_framed.c `filter --format framed`
 *   members.c     gzip members that follow the released bytes
 *   formats.c     JSON Lines and CSV: format names, CSV headers, unknown keys
 *   cmd_policy.c  `policy check|explain`
 *   cmd_keys.c    `keys init|rotate|list|export-public`, `reveal`
 *   cmd_review.c  `review keygen|list|show|approve|deny` (the review queue)
 *   cmd_notices.c `notices due|sent` (the subject notice queue)
 *   cmd_verify.c  `verify` (signed framed releases)
 *   cmd_audit.c   `audit verify|query|report` (the audit log)
 *   cmd_serve.c   `serve` (the service: filter/serve/)
 *
 * The command line uses the public API (<dmvfilter/dmvfilter.h>), the
 * exported headers of the library's layers (its "cli" view, see
 * cmake/DmvfLayers.cmake: core's dates, text and hex helpers), libc, POSIX
 * threads, zlib, ISA-L, libzstd and libsodium's secure memory (passphrases only). It links the internal static library.
 */
#ifndef DMVF_CLI_H
#define DMVF_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include <dmvfilter/dmvfilter.h>
#include "filter/account/request_acct.h"
#include "filter/cli/compress.h"

#if defined(__GNUC__)
#  define DMVF_CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define DMVF_CLI_PRINTF(a, b)
#endif

/* Exit codes (sysexits.h where one fits). */
enum {
    DMVF_EXIT_RELEASED = 0,   /* released (also zero records) */
    DMVF_EXIT_REFUSED = 3,    /* refused: deny, unmet requirement, record limit */
    DMVF_EXIT_REVIEW = 4,     /* held for review */
    DMVF_EXIT_TAMPER = 5,     /* an audit log or signed release does not verify */
    DMVF_EXIT_USAGE = 64,     /* EX_USAGE: bad command line */
    DMVF_EXIT_DATAERR = 65,   /* EX_DATAERR: bad input data */
    DMVF_EXIT_SOFTWARE = 70,  /* EX_SOFTWARE: internal error */
    DMVF_EXIT_NOMEM = 71,     /* EX_OSERR: out of memory */
    DMVF_EXIT_IOERR = 74,     /* EX_IOERR: cannot open, read, write, rename */
    DMVF_EXIT_POLICY = 78,    /* EX_CONFIG: bad policy */
    DMVF_EXIT_KEYRING = 79    /* bad keyring: missing, too open, corrupt, wrong passphrase */
};

/* ---- messages (args.c) ---- */

/* "dmvfilter: <message>\n" on stderr. */
void dmvf__cli_err(const char *fmt, ...) DMVF_CLI_PRINTF(1, 2);
/* The exit code for a library status code. */
int dmvf__cli_exit_for(int code);

/* ---- flag scanning (args.c) ---- */

/* A cursor over one command's arguments (after the command words). */
typedef struct dmvf_cli_args {
    int argc;
    char **argv;
    int i;              /* index of the current argument */
    const char *cmd;    /* "filter", "keys init", ... for messages */
    const char *usage;  /* the usage line(s), printed on a usage error */
    int bad;            /* a usage error was reported */
    int no_more_flags;  /* "--" was seen */
} dmvf_cli_args;

void dmvf__cli_args_init(dmvf_cli_args *a, int argc, char **argv, const char *cmd,
                         const char *usage);
/* Reports a usage error (message, usage line, hint) and marks a->bad.
 * Returns DMVF_EXIT_USAGE. */
int dmvf__cli_usage_error(dmvf_cli_args *a, const char *fmt, ...) DMVF_CLI_PRINTF(2, 3);
/* 1 when the current argument is "--" (flags end here; skip it). */
int dmvf__cli_end_of_flags(dmvf_cli_args *a);
/* 1 when the current argument is a positional one (not a flag; "-" is one). */
int dmvf__cli_is_positional(const dmvf_cli_args *a);
/* 1 when "--help" or "-h" appears among the flags (before any "--"). */
int dmvf__cli_wants_help(int argc, char **argv);
/* 1 when the current argument is the switch `name`. */
int dmvf__cli_switch(dmvf_cli_args *a, const char *name);
/* 1 when the current argument is `name VALUE` or `name=VALUE`; *val is set,
 * and a->i moved past the value. A missing value is a usage error (a->bad
 * set, *val NULL, still 1). */
int dmvf__cli_value(dmvf_cli_args *a, const char *name, const char **val);
/* Parses a byte size: digits with an optional K, M or G (binary) suffix. */
int dmvf__cli_parse_size(const char *s, size_t *out);

/* ---- request flags, shared by `filter` and `policy explain` (args.c) ---- */
typedef struct dmvf_cli_request {
    dmvf_request req;
    const char **tags;       /* argc slots */
    const char **fields;     /* argc slots */
    uint32_t as_of;          /* --date: the day to judge on (YYYYMMDD), 0 = today */
    int have_ori;
    int any;                 /* some request flag (not --date) was given */
} dmvf_cli_request;

/* Returns DMVF_EXIT_NOMEM or 0. */
int dmvf__cli_request_init(dmvf_cli_request *r, int argc);
void dmvf__cli_request_free(dmvf_cli_request *r);
/* 1 when the current argument is a request flag (consumed, a->bad on a bad
 * value), 0 when it is not one. */
int dmvf__cli_request_flag(dmvf_cli_args *a, dmvf_cli_request *r);
/* The request flags, one per line, for --help texts. */
#define DMVF_CLI_REQUEST_HELP \
    "request flags (who asks, and why; who the requester is, the policy's requester\n" \
    "directory says, never the request):\n" \
    "  --ori ORI               requester ORI: exactly 9 characters A-Z or 0-9 (a\n" \
    "                          lowercase or padded ORI is refused, not repaired)\n" \
    "  --agency-kind KIND      what the request says the agency is: federal, state,\n" \
    "                          local, tribal, foreign, court, research, commercial or\n" \
    "                          internal; refused when the directory says otherwise\n" \
    "  --agency-name S         the name the request gives (recorded beside the\n" \
    "                          directory's)\n" \
    "  --tag T                 a tag the request says it has, repeatable\n" \
    "                          ([a-z0-9][a-z0-9-]*); refused unless the tags given\n" \
    "                          are the directory's set\n" \
    "  --jurisdiction XX       the jurisdiction it says (two letters A-Z); refused\n" \
    "                          when the directory says otherwise\n" \
    "  --purpose N             DPPA permissible use, 18 U.S.C. 2721(b)(N), 1..14\n" \
    "  --legal-process KIND    none, administrative_subpoena, judicial_subpoena,\n" \
    "                          court_order or judicial_warrant\n" \
    "  --legal-reference S     the docket, order or warrant reference\n" \
    "  --query-kind KIND       by_license, by_name_dob, by_plate, by_vin, by_name_only,\n" \
    "                          by_address, by_attribute, partial_plate or list\n" \
    "  --request-id ID         the request's id (echoed in trailers and logs)\n" \
    "  --operator ID           the requester's operator user id\n" \
    "  --field PATH            release only these field paths, repeatable\n" \
    "                          (the release is the intersection with the profile)\n" \
    "  --channel S             the channel the request came through (e.g. nlets)\n" \
    "  --date YYYY-MM-DD       the DMV's own replays and tests: judge as of this day\n" \
    "                          (default: today, UTC, the DMV's clock); recorded in the\n" \
    "                          audit log as judged_as_of\n"

/* ---- passphrases (passphrase.c) ---- */

#define DMVF__CLI_PASS_MAX 4096u   /* bytes a passphrase may have */
#define DMVF__CLI_ENV_PASS "DMVFILTER_PASSPHRASE"
#define DMVF__CLI_ENV_REVIEW_PASS "DMVFILTER_REVIEW_PASSPHRASE"

/* The passphrase: the first line of file (read with read(2), never
 * through stdio; its LF or CRLF stripped) or, when file is NULL, the
 * environment variable env (NULL: none). *out is in sodium_malloc memory
 * (free it with dmvf__cli_passphrase_free), or NULL when neither is given.
 * Returns 0 or an exit code (message printed): 64 for an empty passphrase,
 * one over DMVF__CLI_PASS_MAX bytes or one holding a NUL byte; 74 when the
 * file cannot be opened or read; 71 out of memory. */
int dmvf__cli_passphrase(const char *file, const char *env, char **out);
/* Wipes and frees a passphrase; NULL accepted. */
void dmvf__cli_passphrase_free(char *p);

/* Loads a keyring, printing the error naming the file. NULL with *code set
 * to the exit code on failure. */
dmvf_keyring *dmvf__cli_keyring_load(const char *path, const char *passphrase_file, int *code);
/* Loads a policy, printing the error. NULL with *code set on failure. */
dmvf_policy *dmvf__cli_policy_load(const char *path, int *code);

/* ---- input (io.c) ---- */
typedef struct dmvf_cli_src {
    int fd;
    const char *name;        /* for messages */
    dmvf_cz_format comp;     /* detected: gzip, zstd, or none (plain) */
    dmvf_cz_dec *dec;        /* its decoder */
    dmvf_cz_in zin;          /* compressed: raw[zin.pos..zin.size) still to decode */
    int raw_eof;
    unsigned char *raw;      /* compressed bytes, or the bytes read ahead (plain) */
    size_t raw_cap, raw_len, raw_pos;   /* plain: raw_pos..raw_len still to serve */
    uint64_t raw_base;       /* compressed bytes before raw[0] */
    uint64_t dec_origin;     /* the compressed offset where the decoder's input starts */
    uint64_t bytes_in;       /* bytes read from the file */
    uint64_t bytes_out;      /* bytes handed out (inflated) */
    uint64_t max_inflate;    /* compressed: the most bytes the input may inflate to;
                                0: the default rule (below) */
    int defer_errors;        /* 1: keep a read error's message in errmsg */
    char errmsg[600];        /* the kept message, "" if none */
    struct dmvf_cli_zpar *par; /* gzip members inflated on threads (io.c), or NULL */
    int failed;              /* the exit code of the first failed read, else 0 */
} dmvf_cli_src;

/* A compressed input (gzip or zstd, every decoder) is refused
 * (DMVF_EXIT_DATAERR, "inflates past") when its inflated bytes exceed
 * max_inflate or, when max_inflate is 0, exceed both DMVF_CLI_INFLATE_FLOOR
 * and DMVF_CLI_INFLATE_RATIO times the compressed bytes consumed so far: a
 * small file that inflates to many GB (a gzip bomb) is stopped early, while
 * ordinary inputs of any size pass (dmvf__cz_limit). */
#define DMVF_CLI_INFLATE_FLOOR DMVF_CZ_BOMB_FLOOR
#define DMVF_CLI_INFLATE_RATIO DMVF_CZ_BOMB_RATIO

/* Opens path (NULL or "-": stdin) and detects gzip or zstd from its first
 * bytes (decoded with the engine dmvf__cz_engine names).
 * Set max_inflate after it (it is zeroed here). Returns 0 or an exit code
 * (message printed). */
int dmvf__cli_src_open(dmvf_cli_src *s, const char *path);
/* Reads up to cap bytes into buf; *n is the count, *eof set at the end of
 * the input (then *n may be 0). Returns 0 or an exit code (message printed).
 * After a failure every later read returns the same code at once (nothing
 * read, no second message): the input's state past a failure is not one to
 * read on from. */
int dmvf__cli_src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof);
/* Prints the message of a read error kept while defer_errors was set (a
 * pipeline reads ahead of what it has written: an earlier failure may have
 * to be reported instead), then forgets it. */
void dmvf__cli_src_report(dmvf_cli_src *s);
/* Inflates a gzip input's members on n threads (n >= 2, before the first
 * read; otherwise, or for another input, nothing changes): the reader
 * finds where members start, each thread inflates a run of whole members,
 * and the bytes are handed out in order, the same bytes and the same
 * errors as one decoder gives (io.c says how). When memory or threads are
 * short for it, the input stays with the one decoder (the same bytes, more
 * slowly). */
void dmvf__cli_src_inflaters(dmvf_cli_src *s, unsigned n);
void dmvf__cli_src_close(dmvf_cli_src *s);

/* ---- output (sink.c) ---- */
typedef struct dmvf_cli_sink {
    int fd;                  /* the temp file beside a named output, or the spool */
    const char *path;        /* the named output, NULL for stdout */
    int spool;               /* the output cannot be taken back once written
                                (stdout, a FIFO, a device): fd is an unnamed
                                spool, copied to out_fd by release and commit */
    int out_fd;              /* spool: stdout, or the named node opened */
    const char *spool_dir;   /* spool: where it lives */
    int direct;              /* the named output is not a regular file (a device,
                                a FIFO): written in place, never replaced */
    int anon;                /* the named output is written to an unnamed
                                O_TMPFILE file, linked into place at commit */
    dmvf_cz_enc *enc;        /* compressed output (gzip or zstd members), else NULL */
    int zmember;             /* compressed: bytes went into the member being written */
    uint64_t members;        /* compressed: members ended since open/rewind */
    unsigned char *zbuf;     /* compressed bytes not yet written */
    size_t zcap, zlen;
    unsigned char *cbuf;     /* spool: the copy buffer */
    uint64_t payload;        /* bytes given to dmvf__cli_sink_write since open/rewind */
    uint64_t written;        /* bytes written to fd (spool: and not yet sent) */
    uint64_t sent;           /* spool: bytes that reached the output */
    uint64_t started;        /* named file: bytes of fd whose writeback was started */
} dmvf_cli_sink;

/* Opens the output. A named regular file (path, or one not there yet) is
 * written to a 0600 temp file in path's directory, put in place by commit:
 * an unnamed O_TMPFILE file where the file system supports it (a killed
 * process leaves nothing behind), else a hidden .NAME.tmp.XXXXXX file
 * beside path. Anything else, stdout (path NULL or "-") and a named node
 * that is not a regular file (e.g. /dev/null, a FIFO), is written through
 * a spool: an unnamed 0600 file in spool_dir (NULL: $TMPDIR, else /tmp),
 * copied to the output only by dmvf__cli_sink_release and commit, so that
 * nothing leaves before the caller says it may. Returns 0 or an exit code
 * (message printed). */
int dmvf__cli_sink_open(dmvf_cli_sink *k, const char *path, const dmvf_cz_opts *cz, const char *spool_dir);
int dmvf__cli_sink_write(dmvf_cli_sink *k, const void *buf, size_t n);
/* Everything written so far may leave: with gzip the member being written
 * ends (a named file gets the same members); a spool is copied to the
 * output and emptied (a named file is still put in place only by commit).
 * Returns 0 or an exit code (message printed: a copy that fails part way
 * says how many bytes had left, k->sent). */
int dmvf__cli_sink_release(dmvf_cli_sink *k);
/* Throws away everything written so far (a refusal after output started):
 * possible while nothing has left (k->sent 0). Returns 0 or an exit code. */
int dmvf__cli_sink_rewind(dmvf_cli_sink *k);
/* Finishes gzip (the last member; one empty member when nothing was
 * written), then a spool is copied to the output (a named node closed),
 * a temp file fsync'd and put in place: an unnamed file is linked to a
 * fresh hidden name beside path, a named one has one already; that name is
 * renamed over path, and the directory is fsync'd. Returns 0 or an exit
 * code (message printed); on failure the temp file is removed and path is
 * left as it was. */
int dmvf__cli_sink_commit(dmvf_cli_sink *k);
/* Removes the temp file or spool (if any) and releases everything. Safe
 * after commit. */
void dmvf__cli_sink_abort(dmvf_cli_sink *k);

/* Ignores SIGPIPE; removes a pending named temp output on
 * SIGINT/SIGTERM/SIGHUP (an unnamed one vanishes with the process). */
void dmvf__cli_signals(void);
/* Flushes stdout; an error (EPIPE, disk full) is reported. 0 or exit code. */
int dmvf__cli_flush_stdout(void);
/* When fd is a pipe, asks for a large pipe buffer (1 MiB) so that a pipe
 * moves data in large pieces; failure is ignored. */
void dmvf__cli_pipe_grow(int fd);
/* read(2), retried on EINTR: the bytes read, 0 at the end, -1 (errno). */
ssize_t dmvf__cli_read_retry(int fd, void *buf, size_t cap);

/* ---- JSON Lines and CSV (formats.c) ---- */

/* A format name of --format / --output-format: records, jsonl, csv (and,
 * with framed_ok, framed: *framed set). 0, or -1 for another name. */
int dmvf__cli_format_arg(const char *v, int framed_ok, dmvf_format *fmt, int *framed);
/* The CSV header row of cols into *buf (grown): 0 or an exit code
 * (message printed). */
int dmvf__cli_csv_header(const dmvf_columns *cols, unsigned char **buf, size_t *cap, size_t *len);
/* "N unknown keys dropped, never released: a.b, c.d" (CSV: columns) for
 * what u gathered; "" when nothing (u NULL too). */
void dmvf__cli_unknown_text(const dmvf_codec *u, dmvf_format fmt, char *buf, size_t cap);

/* ---- progress on a terminal (progress.c) ---- */
typedef struct dmvf_cli_progress {
    int on, shown;
    struct timespec start, last;
} dmvf_cli_progress;

/* On when not quiet and stderr is a terminal. */
void dmvf__cli_progress_start(dmvf_cli_progress *pg, int quiet);
/* Redraws the line, at most twice a second. */
void dmvf__cli_progress_tick(dmvf_cli_progress *pg, uint64_t records, uint64_t bytes);
/* Erases the line if it was drawn. */
void dmvf__cli_progress_clear(dmvf_cli_progress *pg);

/* ---- gzip members that follow the released bytes (members.c) ---- */

/* Grows *buf (realloc) to hold at least want bytes: 0, or -1 (no memory). */
int dmvf__cli_grow(unsigned char **buf, size_t *cap, size_t want);

/* The released stream, placed piece by piece in order. */
typedef struct dmvf_cli_members {
    size_t member_bytes;        /* DMVF_CLI_MEMBER_BYTES, or the test override */
    dmvf_format fmt;            /* the released records' format: where they end */
    uint64_t placed;            /* released bytes of the pieces placed */
    unsigned char *carry;
    size_t carry_cap, carry_len; /* released bytes after the last member's end */
} dmvf_cli_members;

/* A piece of released output: whole records (delimited, JSON Lines lines
 * or CSV rows). */
typedef struct dmvf_cli_piece {
    const unsigned char *out;
    size_t len;
    uint64_t base;              /* set by place: its offset in the release */
    dmvf_format fmt;            /* set by place: the records' format */
    unsigned char *head;        /* set by place: the bytes of its first member */
    size_t head_cap, head_len;  /* (the carry, then out up to the first end) */
} dmvf_cli_piece;

/* Places pc after the pieces placed before it (called in order, by one
 * thread at a time): its offset, its first member's bytes, the carry it
 * leaves. 0, or -1 (no memory). */
int dmvf__cli_members_place(dmvf_cli_members *m, dmvf_cli_piece *pc);
/* Appends the members that end in the placed piece pc to *gz, compressed
 * with enc, counting them in *members (any thread: reads pc only). 0, or
 * -1 with *rc. */
int dmvf__cli_members_compress(dmvf_cz_enc *enc, size_t member_bytes, const dmvf_cli_piece *pc,
                               unsigned char **gz, size_t *gz_cap, size_t *gz_len, uint64_t *members,
                               int *rc);
/* The last member, after every piece: the carry, or one empty member when
 * none was written (written: the members so far). Nothing when the carry
 * is empty and members were written. 0, or -1 with *rc. */
int dmvf__cli_members_finish(dmvf_cli_members *m, dmvf_cz_enc *enc, uint64_t written, unsigned char **gz,
                             size_t *cap, size_t *len, int *rc);
void dmvf__cli_members_free(dmvf_cli_members *m);

/* ---- the records pipeline (parallel.c) ---- */

/* The default chunk: a chunk ends at the first record boundary at or after
 * this many bytes of (decompressed) input. The hidden environment variable
 * DMVF_CHUNK_BYTES (a size, e.g. 4K) overrides it, for tests. */
#define DMVF_CLI_CHUNK_BYTES ((size_t)1 << 20)
/* gzip output: a member ends after the released record that reaches or
 * crosses each multiple of this many bytes of released output (parallel.c),
 * so members follow what is released, never the input. The hidden
 * environment variable DMVF_GZIP_MEMBER_BYTES overrides it, for tests. */
#define DMVF_CLI_MEMBER_BYTES ((size_t)1 << 20)
/* --threads: the most, and the most taken by default. */
#define DMVF_CLI_MAX_THREADS 256
#define DMVF_CLI_AUTO_THREADS_MAX 32

typedef struct dmvf_cli_par {
    /* in */
    const dmvf_policy *policy;
    const dmvf_keyring *keyring;
    const dmvf_request *req;
    dmvf_filter_options fo;    /* as f was created with */
    unsigned threads;          /* workers (beside the reader and the writer) */
    size_t chunk_bytes;        /* 0: DMVF_CLI_CHUNK_BYTES */
    dmvf_cz_opts cz;           /* compressed (cz.format not none): members per
                                  DMVF_CLI_MEMBER_BYTES released */
    int quiet;
    /* formats: text input or output goes through a codec per worker */
    dmvf_format in_fmt, out_fmt;
    const char *csv_elements;  /* CSV output from other input: element groups (NULL: defaults) */
    dmvf_codec *unknown;       /* text input: gathers what the input named that the schema
                                  does not know (a codec of the caller's, f NULL) */
    /* out */
    int status;                /* library status of the first failing chunk, DMVF_OK */
    dmvf_error err;            /* its error; offset and record count from the stream start */
    uint64_t records_in, records_out, records_dropped;
} dmvf_cli_par;

/* The number of cores this process may run on (at least 1). */
unsigned dmvf__cli_cores(void);
/* Streams the whole input (p->in_fmt) through the released request f (no
 * record limit) into sink (p->out_fmt), which must have been opened
 * without gzip. Text input is cut between records (dmvf_text_boundary); a
 * CSV input's header is read first, and CSV output's header written before
 * the first record (a release of no record is empty, as a refusal is).
 * Returns 0 when every chunk was read, rewritten and written (then p->status
 * is DMVF_OK), 0 with p->status/p->err set when the library failed on a
 * chunk (nothing of that chunk or after it was written), or an exit code
 * (message printed) for a read, write, memory or thread failure. */
int dmvf__cli_par_run(dmvf_cli_par *p, dmvf_filter *f, dmvf_cli_src *src, dmvf_cli_sink *sink);

/* ---- accountability: audit log, notices, review holds (account.c) ---- */
typedef struct dmvf_cli_acct {
    dmvf__reqacct_where where;  /* the audit log (NULL: not audited), the notice
                                   queue (NULL: none), the review spool */
    const char *dir;
    int subjects;
    dmvf_policy_notices ns;
} dmvf_cli_acct;

/* 1 when the current argument is one of the flags that override the
 * policy's accountability sections, shared by `filter` and `serve`
 * (--audit DIR, --audit-subjects, --notices F, --review-spool DIR,
 * --review-public-key F): consumed into *fl (a missing value: a->bad);
 * 0 when it is not one. */
int dmvf__cli_acct_flag(dmvf_cli_args *a, dmvf__reqacct_flags *fl);
/* Settings from the policy and the flags; opens the audit log. Returns 0 or
 * an exit code (message printed). */
int dmvf__cli_acct_open(dmvf_cli_acct *ac, const dmvf__reqacct_flags *fl, const dmvf_policy *pol,
                        const dmvf_keyring *kr);
/* Writes the closing checkpoint. 0 or an exit code. */
int dmvf__cli_acct_close(dmvf_cli_acct *ac);
/* The filter options the accountability needs. */
void dmvf__cli_acct_options(const dmvf_cli_acct *ac, dmvf_filter_options *fo);
/* The exit code of ra's failure, its message printed (nothing may be
 * released). */
int dmvf__cli_acct_failed(const dmvf_cli_acct *ac, const dmvf__reqacct *ra);
/* Each returns 0 or an exit code (message printed, nothing may be released). */
int dmvf__cli_acct_request(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t *seq);
int dmvf__cli_acct_notify(dmvf_cli_acct *ac, const dmvf_filter *f, uint32_t *queued);
/* note: what else the RELEASE entry says (unknown keys dropped), NULL: none. */
int dmvf__cli_acct_release(dmvf_cli_acct *ac, const dmvf_filter *f, const dmvf_audit_counts *c,
                           uint64_t seq, const char *note);
int dmvf__cli_acct_event(dmvf_cli_acct *ac, const dmvf_filter *f, dmvf_audit_kind kind,
                         const dmvf_audit_counts *c, uint64_t seq, const char *review_id,
                         const char *note);
int dmvf__cli_acct_hold(dmvf_cli_acct *ac, const dmvf_filter *f, const void *release, size_t len,
                        const dmvf_audit_counts *c, uint64_t seq, char id[DMVF_REVIEW_ID_LEN + 1]);
/* The RELEASE entry of a request refused for record (its 0-based index),
 * which has no record_id under a rule that notifies subjects. */
int dmvf__cli_acct_no_subject(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t seq, uint64_t record);

/* ---- the filter command's parts (cmd_filter.c, pump.c, filter_framed.c) ---- */
typedef struct dmvf_cli_filter_cfg {
    const char *policy, *keyring, *passfile, *in, *out, *spool_dir;
    int framed, drop_malformed, quiet;
    dmvf_cz_opts cz;            /* --compress, --gzip-level (format none: plain) */
    dmvf_format in_fmt, out_fmt; /* --format (not framed), --output-format (default: in_fmt) */
    const char *csv_elements;   /* --csv-elements: CSV output's element groups */
    size_t max_record_bytes;
    uint64_t max_inflate;       /* 0: the default rule (dmvf__cli_src_open) */
    uint64_t max_request_frames; /* 0: the library's default */
    unsigned threads;           /* 0: the cores available */
    uint32_t as_of;             /* --date: judge on this day (YYYYMMDD); 0: today */
    dmvf__reqacct_flags acct;   /* --audit, --notices, ... (NULL/0: the policy's) */
} dmvf_cli_filter_cfg;

/* Messages on stderr (cmd_filter.c): the rule that decided ("rule 'X'",
 * the requester check, or the default deny); why nothing was released and
 * how the reply looks; a stream error with its byte offset and index. */
void dmvf__cli_rule_text(const dmvf_filter *f, char *buf, size_t cap);
void dmvf__cli_report_refusal(const char *prefix, const dmvf_filter *f, const char *why);
/* "input: <what> at byte offset N (<unit> I): why"; unit is "record" (the
 * records format: the record index) or "frame" (framed: the frame index). */
void dmvf__cli_report_stream_error(const dmvf_cli_src *src, const char *what, const char *unit,
                                   const dmvf_error *err);

/* Output kept in memory (a would-be release held for review), at most max. */
typedef struct dmvf_cli_membuf {
    unsigned char *p;
    size_t len, cap, max;
} dmvf_cli_membuf;
#define DMVF_CLI_HOLD_MAX ((size_t)256 << 20)

/* Where a framed output may leave: after each whole trailer frame (pump.c). */
enum { DMVF_CLI_CUT_PREFIX, DMVF_CLI_CUT_KEY, DMVF_CLI_CUT_BODY };
typedef struct dmvf_cli_frame_cut {
    int state;
    uint64_t len;               /* the frame's length, while its prefix is read */
    unsigned shift;
    uint64_t need;              /* body bytes still to come */
    int trailer;                /* the frame being read is a trailer */
    uint64_t trailers;          /* trailer frames seen whole */
    uint64_t left;              /* requests whose bytes have left */
    uint64_t left_bytes;        /* and the output bytes that makes */
    const uint64_t *accounted;  /* requests the audit hook has seen to their end */
} dmvf_cli_frame_cut;

/* Where the pump's output goes: the sink (with fc, framed requests leave
 * at their trailers; without, only the commit lets anything leave), else
 * mem (a would-be release held for review), else nowhere (a refused
 * request that only collects its subjects). */
typedef struct dmvf_cli_pump_out {
    dmvf_cli_sink *sink;
    dmvf_cli_membuf *mem;
    dmvf_cli_frame_cut *fc;
} dmvf_cli_pump_out;

/* Streams the whole input through f (records) or fr (framed) into po.
 * Returns 0 on success, a library status in *status (with *err) when the
 * library failed, or an exit code for an I/O or memory failure (message
 * printed, *status 0). */
int dmvf__cli_pump_filter(dmvf_filter *f, dmvf_cli_src *src, const dmvf_cli_pump_out *po, size_t max_record,
                          int quiet, int *status, dmvf_error *err);
/* Text input or output: through codec c on its filter f. */
int dmvf__cli_pump_codec(dmvf_codec *c, dmvf_filter *f, dmvf_cli_src *src, const dmvf_cli_pump_out *po,
                         size_t max_record, int quiet, int *status, dmvf_error *err);
int dmvf__cli_pump_framed(dmvf_framed *fr, dmvf_cli_src *src, const dmvf_cli_pump_out *po, size_t max_record,
                          int quiet, int *status, dmvf_error *err);

/* `filter --format framed` (filter_framed.c). Returns the exit code. */
int dmvf__cli_run_framed(const dmvf_cli_filter_cfg *cfg, const dmvf_policy *pol, const dmvf_keyring *kr,
                         dmvf_cli_src *src, dmvf_cli_acct *ac);

/* ---- commands ---- */
int dmvf__cli_cmd_filter(int argc, char **argv);
int dmvf__cli_cmd_policy(int argc, char **argv);
int dmvf__cli_cmd_keys(int argc, char **argv);
int dmvf__cli_cmd_reveal(int argc, char **argv);
int dmvf__cli_cmd_review(int argc, char **argv);
int dmvf__cli_cmd_notices(int argc, char **argv);
int dmvf__cli_cmd_verify(int argc, char **argv);
int dmvf__cli_cmd_audit(int argc, char **argv);
int dmvf__cli_cmd_serve(int argc, char **argv);

extern const char dmvf__cli_filter_help[];
extern const char dmvf__cli_policy_help[];
extern const char dmvf__cli_keys_help[];
extern const char dmvf__cli_reveal_help[];
extern const char dmvf__cli_review_help[];
extern const char dmvf__cli_notices_help[];
extern const char dmvf__cli_verify_help[];
extern const char dmvf__cli_audit_help[];
extern const char dmvf__cli_serve_help[];

#endif
