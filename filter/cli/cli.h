/*
 * cli.h - what the parts of the dmvfilter command share.
 *
 *   main.c        dispatch, top-level help, --version, exit codes
 *   args.c        flag scanning, request flags, messages
 *   passphrase.c  reading a passphrase (read(2) into sodium_malloc memory)
 *   io.c          input (plain or gzip, detected) and output (stdout or a
 *                 temp file renamed on success, optionally gzip); pipe sizes
 *   progress.c    the progress line on a terminal
 *   parallel.c    the records pipeline: chunks rewritten on worker threads,
 *                 written in input order, optionally as gzip members
 *   cmd_filter.c  `filter`
 *   cmd_policy.c  `policy check|explain`
 *   cmd_keys.c    `keys init|rotate|list|export-public`, `reveal`
 *   cmd_review.c  `review keygen|list|show|approve|deny` (the review queue)
 *   cmd_notices.c `notices due|sent` (the subject notice queue)
 *   cmd_verify.c  `verify` (signed framed releases)
 *   cmd_audit.c   `audit verify|query|report` (the audit log)
 *
 * The command line uses the public API (<dmvfilter/dmvfilter.h>), the
 * exported headers of the library's layers (its "cli" view, see
 * cmake/DmvfLayers.cmake: core's dates, text and hex helpers), libc, POSIX
 * threads, zlib and libsodium's secure memory (passphrases only). It links the internal static library.
 */
#ifndef DMVF_CLI_H
#define DMVF_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <zlib.h>
#include <dmvfilter/dmvfilter.h>

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
    int gzip;                /* detected gzip */
    z_stream zs;
    int zinit;
    int member_end;          /* inflate reached the end of a gzip member */
    int raw_eof;
    unsigned char *raw;      /* compressed bytes (gzip), or the bytes read ahead (plain) */
    size_t raw_cap, raw_len, raw_pos;   /* plain: raw_pos..raw_len still to serve */
    uint64_t raw_base;       /* compressed bytes before raw[0] */
    uint64_t bytes_in;       /* bytes read from the file */
    uint64_t bytes_out;      /* bytes handed out (inflated) */
    uint64_t max_inflate;    /* gzip: the most bytes the input may inflate to;
                                0: the default rule (below) */
    int defer_errors;        /* 1: keep a read error's message in errmsg */
    char errmsg[600];        /* the kept message, "" if none */
} dmvf_cli_src;

/* A gzip input is refused (DMVF_EXIT_DATAERR, "inflates past") when its
 * inflated bytes exceed max_inflate or, when max_inflate is 0, exceed both
 * DMVF_CLI_INFLATE_FLOOR and DMVF_CLI_INFLATE_RATIO times the compressed
 * bytes consumed so far: a small file that inflates to many GB (a gzip bomb)
 * is stopped early, while ordinary inputs of any size pass. */
#define DMVF_CLI_INFLATE_FLOOR ((uint64_t)1 << 30)
#define DMVF_CLI_INFLATE_RATIO 1000u

/* Opens path (NULL or "-": stdin) and detects gzip from its first bytes.
 * Set max_inflate after it (it is zeroed here). Returns 0 or an exit code
 * (message printed). */
int dmvf__cli_src_open(dmvf_cli_src *s, const char *path);
/* Reads up to cap bytes into buf; *n is the count, *eof set at the end of
 * the input (then *n may be 0). Returns 0 or an exit code (message printed). */
int dmvf__cli_src_read(dmvf_cli_src *s, void *buf, size_t cap, size_t *n, int *eof);
/* Prints the message of a read error kept while defer_errors was set (a
 * pipeline reads ahead of what it has written: an earlier failure may have
 * to be reported instead), then forgets it. */
void dmvf__cli_src_report(dmvf_cli_src *s);
void dmvf__cli_src_close(dmvf_cli_src *s);

/* ---- output (io.c) ---- */
typedef struct dmvf_cli_sink {
    int fd;
    const char *path;        /* the named output, NULL for stdout */
    int direct;              /* the named output is not a regular file (a device,
                                a FIFO): written in place, never replaced */
    int anon;                /* the named output is written to an unnamed
                                O_TMPFILE file, linked into place at commit */
    int gzip;
    z_stream zs;
    int zinit;
    unsigned char *zbuf;
    size_t zcap;
    uint64_t payload;        /* bytes given to dmvf__cli_sink_write since open/rewind */
    uint64_t written;        /* bytes written to the file descriptor */
} dmvf_cli_sink;

/* Opens the output: stdout (path NULL or "-"), a 0600 temp file in path's
 * directory, or, when path names something that is not a regular file (e.g.
 * /dev/null, a FIFO), that file itself. The temp file is an unnamed
 * O_TMPFILE file where the file system supports it (a killed process leaves
 * nothing behind), else a hidden .NAME.tmp.XXXXXX file beside path.
 * Returns 0 or an exit code (message printed). */
int dmvf__cli_sink_open(dmvf_cli_sink *k, const char *path, int gzip);
int dmvf__cli_sink_write(dmvf_cli_sink *k, const void *buf, size_t n);
/* Throws away everything written so far (a refusal after output started):
 * possible for a named output only. Returns 0 or an exit code. */
int dmvf__cli_sink_rewind(dmvf_cli_sink *k);
/* Finishes gzip, flushes, and for a named output fsyncs the temp file and
 * puts it in place: an unnamed file is linked to a fresh hidden name beside
 * path, a named one has one already; that name is renamed over path, and
 * the directory is fsync'd. Returns 0 or an exit code (message printed); on
 * failure the temp file is removed and path is left as it was. */
int dmvf__cli_sink_commit(dmvf_cli_sink *k);
/* Removes the temp file (if any) and releases everything. Safe after commit. */
void dmvf__cli_sink_abort(dmvf_cli_sink *k);

/* Ignores SIGPIPE; removes a pending named temp output on
 * SIGINT/SIGTERM/SIGHUP (an unnamed one vanishes with the process). */
void dmvf__cli_signals(void);
/* Flushes stdout; an error (EPIPE, disk full) is reported. 0 or exit code. */
int dmvf__cli_flush_stdout(void);
/* When fd is a pipe, asks for a large pipe buffer (1 MiB) so that a pipe
 * moves data in large pieces; failure is ignored. */
void dmvf__cli_pipe_grow(int fd);

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

/* ---- the records pipeline (parallel.c) ---- */

/* The default chunk: a chunk ends at the first record boundary at or after
 * this many bytes of (decompressed) input. The hidden environment variable
 * DMVF_CHUNK_BYTES (a size, e.g. 4K) overrides it, for tests. */
#define DMVF_CLI_CHUNK_BYTES ((size_t)1 << 20)
/* --threads: the most, and the most taken by default. */
#define DMVF_CLI_MAX_THREADS 256
#define DMVF_CLI_AUTO_THREADS_MAX 32

typedef struct dmvf_cli_par {
    /* in */
    const dmvf_policy *policy;
    const dmvf_keyring *keyring;
    const dmvf_request *req;
    dmvf_filter_options fo;    /* as f was created with */
    unsigned threads;          /* workers; 1 runs everything on the calling thread */
    size_t chunk_bytes;        /* 0: DMVF_CLI_CHUNK_BYTES */
    int gzip;                  /* one gzip member per chunk with output */
    int quiet;
    /* out */
    int status;                /* library status of the first failing chunk, DMVF_OK */
    dmvf_error err;            /* its error; offset and record count from the stream start */
    uint64_t records_in, records_out, records_dropped;
} dmvf_cli_par;

/* The number of cores this process may run on (at least 1). */
unsigned dmvf__cli_cores(void);
/* Streams the whole records input through the released request f (no
 * record limit) into sink, which must have been opened without gzip.
 * Returns 0 when every chunk was read, rewritten and written (then p->status
 * is DMVF_OK), 0 with p->status/p->err set when the library failed on a
 * chunk (nothing of that chunk or after it was written), or an exit code
 * (message printed) for a read, write, memory or thread failure. */
int dmvf__cli_par_run(dmvf_cli_par *p, dmvf_filter *f, dmvf_cli_src *src, dmvf_cli_sink *sink);

/* ---- accountability: audit log, notices, review holds (account.c) ---- */
typedef struct dmvf_cli_acct_flags {
    const char *audit_dir;      /* --audit */
    int audit_subjects;         /* --audit-subjects */
    const char *notices;        /* --notices */
    const char *review_spool;   /* --review-spool */
    const char *review_pub;     /* --review-public-key */
} dmvf_cli_acct_flags;

typedef struct dmvf_cli_acct {
    dmvf_audit *audit;          /* NULL: not audited */
    const char *dir;
    int subjects;
    const char *notices;        /* the notice queue, NULL: none */
    dmvf_policy_notices ns;
    const char *spool, *review_pub;
} dmvf_cli_acct;

/* Settings from the policy and the flags; opens the audit log. Returns 0 or
 * an exit code (message printed). */
int dmvf__cli_acct_open(dmvf_cli_acct *ac, const dmvf_cli_acct_flags *fl, const dmvf_policy *pol,
                        const dmvf_keyring *kr);
/* Writes the closing checkpoint. 0 or an exit code. */
int dmvf__cli_acct_close(dmvf_cli_acct *ac);
/* The filter options the accountability needs. */
void dmvf__cli_acct_options(const dmvf_cli_acct *ac, dmvf_filter_options *fo);
/* Each returns 0 or an exit code (message printed, nothing may be released). */
int dmvf__cli_acct_request(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t *seq);
int dmvf__cli_acct_notify(dmvf_cli_acct *ac, const dmvf_filter *f, uint32_t *queued);
int dmvf__cli_acct_release(dmvf_cli_acct *ac, const dmvf_filter *f, const dmvf_audit_counts *c,
                           uint64_t seq);
int dmvf__cli_acct_event(dmvf_cli_acct *ac, const dmvf_filter *f, dmvf_audit_kind kind,
                         const dmvf_audit_counts *c, uint64_t seq, const char *review_id,
                         const char *note);
int dmvf__cli_acct_hold(dmvf_cli_acct *ac, const dmvf_filter *f, const void *release, size_t len,
                        const dmvf_audit_counts *c, uint64_t seq, char id[DMVF_REVIEW_ID_LEN + 1]);

/* ---- commands ---- */
int dmvf__cli_cmd_filter(int argc, char **argv);
int dmvf__cli_cmd_policy(int argc, char **argv);
int dmvf__cli_cmd_keys(int argc, char **argv);
int dmvf__cli_cmd_reveal(int argc, char **argv);
int dmvf__cli_cmd_review(int argc, char **argv);
int dmvf__cli_cmd_notices(int argc, char **argv);
int dmvf__cli_cmd_verify(int argc, char **argv);
int dmvf__cli_cmd_audit(int argc, char **argv);

extern const char dmvf__cli_filter_help[];
extern const char dmvf__cli_policy_help[];
extern const char dmvf__cli_keys_help[];
extern const char dmvf__cli_reveal_help[];
extern const char dmvf__cli_review_help[];
extern const char dmvf__cli_notices_help[];
extern const char dmvf__cli_verify_help[];
extern const char dmvf__cli_audit_help[];

#endif
