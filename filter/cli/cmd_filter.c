/*
 * cmd_filter.c - `dmvfilter filter`: one request over a record stream (here),
 * or a framed stream carrying its own requests (filter_framed.c).
 *
 * Order of work, each step with its own exit code, so that nothing is ever
 * written before policy and keyring have loaded:
 *
 *   flags (64) -> policy (78) -> keyring (79) -> input (74)
 *     -> filter: the decision (records format) -> output -> stream
 *
 * A released records request without a record limit goes through the
 * chunked pipeline (parallel.c) on --threads workers; its output is the
 * same bytes for every thread count. A request with a record limit (its
 * output is held until the end) and framed streams (requests in sequence)
 * are streamed on one thread by the pump (pump.c).
 *
 * Write-ahead, on every kind of output (account.c has the steps): nothing
 * of a request leaves before its notices and its RELEASE entry are on disk.
 * A named file is written aside and renamed at the end; stdout, a pipe, a
 * FIFO or a device is written through the sink's spool (sink.c), copied
 * out by the commit, or for a framed stream by a release after each
 * request's trailer (pump.c). A failure before that (malformed input after good
 * records, a gzip input cut short, a notice queue that cannot be written)
 * drops the spool: nothing left, and the audit log (no RELEASE entry) says
 * so.
 *
 * stderr is the DMV's side: it names the decision, the rule, the reason and
 * the reply form, including when the requester is shown a plain miss.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "filter/cli/cli.h"

const char dmvf__cli_filter_help[] =
    "usage: dmvfilter filter --policy P --keyring K [--passphrase-file F] [--in F] [--out F]\n"
    "         [--spool-dir DIR] [--format records|framed|jsonl|csv]\n"
    "         [--output-format records|jsonl|csv] [--csv-elements SPEC]\n"
    "         [--compress gzip|zstd|none] [--gzip] [--gzip-level N] [--max-record-bytes N]\n"
    "         [--max-inflate N] [--max-request-frames N] [--drop-malformed] [--threads N]\n"
    "         [--quiet] [--audit DIR] [--audit-subjects] [--notices F] [--review-spool DIR]\n"
    "         [--review-public-key F] [--date YYYY-MM-DD] --ori ORI [request flags]\n"
    "\n"
    "Filters a stream of records for one request (--format records, the default:\n"
    "varint-delimited dmv.v1.DriverRecord, the request from the flags), or a framed\n"
    "stream of dmv.v1.Frame carrying its own requests (--format framed: no request\n"
    "flags but --date). The decision is made before any record is read: a refused\n"
    "request releases nothing. Who the requester is, the policy's requester\n"
    "directory says: an ORI it does not hold, a bad request (a malformed ORI, tag\n"
    "or jurisdiction; a request dated another day) and a claim the directory\n"
    "contradicts are refused (exit 3) and audited. Requests are judged on the\n"
    "DMV's clock (today, UTC), or on --date for the DMV's own replays.\n"
    "\n"
    "flags:\n"
    "  --policy P              the release policy (YAML)\n"
    "  --keyring K             the DMV keyring\n"
    "  --passphrase-file F     the keyring passphrase is the first line of F\n"
    "                          (default: env DMVFILTER_PASSPHRASE; none: unsealed)\n"
    "  --in F                  input file (default: stdin); gzip and zstd are\n"
    "                          detected (multi-member too)\n"
    "  --out F                 output file (default: stdout), written aside and\n"
    "                          renamed into place only when the run succeeds.\n"
    "                          stdout, a pipe, a FIFO or a device (written in place)\n"
    "                          get nothing until the request is complete and\n"
    "                          accounted for (its notices and audit RELEASE entry\n"
    "                          on disk), then all of it; framed: request by request,\n"
    "                          each at its trailer. Meanwhile it is held in a spool\n"
    "  --spool-dir DIR         where that spool lives: an unnamed 0600 file, gone\n"
    "                          when the run ends (default: $TMPDIR, else /tmp)\n"
    "  --format FMT            the input format: records (default), framed, jsonl\n"
    "                          (JSON Lines: a dmv.v1.DriverRecord per line, proto3\n"
    "                          JSON mapping) or csv (a header row of dotted field\n"
    "                          paths, then a row per record). A JSON key or CSV\n"
    "                          column that names no field is dropped, counted and\n"
    "                          named on stderr and in the audit RELEASE entry\n"
    "  --output-format FMT     records, jsonl or csv (default: the input format;\n"
    "                          framed input: records only). CSV output's columns are\n"
    "                          the released paths (of a CSV input's header, or of the\n"
    "                          profile), the header before the first record; a\n"
    "                          release of no record, like a refusal, is empty\n"
    "  --csv-elements SPEC     CSV output from records or jsonl input: the columns\n"
    "                          per repeated field, \"N\" or \"path=N\", comma-separated\n"
    "                          (default: aliases 4, restrictions and endorsements 6,\n"
    "                          documents and vehicles 4, history 10); a record with\n"
    "                          more elements is an error (65), never cut\n"
    "  --compress gzip|zstd|none  compress the output (default: none): a new gzip\n"
    "                          member (zstd frame) after each 1 MiB of released\n"
    "                          output (framed: also after each request), the same\n"
    "                          bytes for every --threads N; any gunzip (zstd -d)\n"
    "                          reads the members whole. gzip goes through ISA-L's\n"
    "                          igzip where the build has it, else zlib\n"
    "  --gzip                  the same as --compress gzip\n"
    "  --gzip-level N          gzip level 0..9 (default 1): zlib takes it as it is;\n"
    "                          ISA-L maps 0 to its level 0, 1 to 1, 2..5 to 2,\n"
    "                          6..9 to 3\n"
    "  --max-record-bytes N    refuse larger records (suffix K, M, G; default 16M)\n"
    "  --max-inflate N         refuse a gzip or zstd input that inflates past N bytes\n"
    "                          (suffix K, M, G; default: refuse one that inflates\n"
    "                          past both 1G and 1000 times the compressed bytes read\n"
    "                          so far, a bomb); exit 65, nothing written to --out\n"
    "  --max-request-frames N  --format framed: refuse a request carrying more than\n"
    "                          N record frames (default 10000000); exit 65\n"
    "  --drop-malformed        drop and count malformed records instead of failing\n"
    "                          (a dropped record is not released: it does not count\n"
    "                          toward the rule's record limit)\n"
    "  --threads N             rewrite records on N threads, 1..256 (default: the cores\n"
    "                          available, at most 32); the input is cut into chunks\n"
    "                          written in input order, so the output is the same\n"
    "                          bytes for every N; a reader and a writer run beside\n"
    "                          the workers (N = 1 too); a gzip input of many members\n"
    "                          inflates on N threads too (at most 8). A request with a\n"
    "                          record limit (max_records) and --format framed run on\n"
    "                          one thread.\n"
    "  --quiet                 no progress line, no summary (refusals and errors\n"
    "                          are still reported)\n"
    "\n"
    "accountability (defaults from the policy's audit, notices and review sections):\n"
    "  --audit DIR             log every request to the audit log in DIR before\n"
    "                          anything is released (created if missing); if the log\n"
    "                          cannot be written, nothing is released\n"
    "  --audit-subjects        also log keyed hashes of the released record_ids\n"
    "  --notices F             the subject notice queue (rules with notify_subject)\n"
    "  --review-spool DIR      where requests held for review are sealed\n"
    "  --review-public-key F   the reviewers' public key (dmvfilter review keygen)\n"
    "\n"
    DMVF_CLI_REQUEST_HELP
    "  (--ori is required with --format records; the directory says the rest)\n"
    "\n"
    "exit: 0 released, 3 refused, 4 held for review, 64 usage, 65 bad input (also a\n"
    "      record without a record_id under a rule that notifies subjects: nothing\n"
    "      is released),\n"
    "      5 the audit log does not verify, 70 internal, 71 out of memory, 74 I/O\n"
    "      (also: the audit log, notice queue or review spool cannot be written),\n"
    "      78 bad policy, 79 bad keyring.\n"
    "      framed: 0 if every request was released, else 3 if any was refused,\n"
    "      else 4 if any was held for review.\n";

static const char filter_usage[] =
    "usage: dmvfilter filter --policy P --keyring K [--passphrase-file F] [--in F] [--out F]\n"
    "         [--spool-dir DIR] [--format records|framed|jsonl|csv]\n"
    "         [--output-format records|jsonl|csv] [--csv-elements SPEC]\n"
    "         [--compress gzip|zstd|none] [--gzip] [--gzip-level N] [--max-record-bytes N]\n"
    "         [--max-inflate N] [--max-request-frames N] [--drop-malformed] [--threads N]\n"
    "         [--quiet] [--audit DIR] [--audit-subjects] [--notices F] [--review-spool DIR]\n"
    "         [--review-public-key F] [--date YYYY-MM-DD] --ori ORI [request flags]\n";

/* ---- messages ---- */

void dmvf__cli_rule_text(const dmvf_filter *f, char *buf, size_t cap)
{
    const char *rule = dmvf_filter_rule(f);
    if (rule)
        snprintf(buf, cap, "rule '%s'", rule);
    else if (dmvf_filter_precheck(f) != DMVF_PRECHECK_PASSED)
        snprintf(buf, cap, "the requester check, before any rule");
    else
        snprintf(buf, cap, "no matching rule (default deny)");
}

void dmvf__cli_report_refusal(const char *prefix, const dmvf_filter *f, const char *why)
{
    char rule[300];
    dmvf__cli_rule_text(f, rule, sizeof rule);
    const char *reason = why ? why : dmvf_filter_reason(f);
    /* the rule is named once: drop it from the reason when the reason starts with it */
    size_t rn = strlen(rule);
    if (reason && dmvf_filter_rule(f) && strncmp(reason, rule, rn) == 0 && reason[rn] == ':')
        reason += rn + 1 + (reason[rn + 1] == ' ');
    const char *what = dmvf_filter_decision(f) == DMVF_DECISION_REVIEW ? "held for review" : "refused";
    dmvf__cli_err("%s%s by %s: %s; nothing released", prefix, what, rule, reason ? reason : "");
    if (dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND)
        dmvf__cli_err("%sreply form: not-found: the request was %s, although the requester "
                      "sees a miss (no record found)", prefix, what);
    else
        dmvf__cli_err("%sreply form: refused: the requester is told the request was refused", prefix);
}

void dmvf__cli_report_stream_error(const dmvf_cli_src *src, const char *what, const char *unit,
                                   const dmvf_error *err)
{
    const char *kind;
    switch (err->code) {
    case DMVF_EMALFORMED: kind = what; break;
    case DMVF_ETOOBIG: kind = strcmp(unit, "frame") == 0 ? "over a limit" : "record too large"; break;
    default: kind = dmvf_strerror(err->code); break;
    }
    char rec[48] = "";
    if (err->record != UINT64_MAX)
        snprintf(rec, sizeof rec, " (%s %llu)", unit, (unsigned long long)err->record);
    dmvf__cli_err("input: %s at %sbyte offset %llu%s: %s", kind, src->comp != DMVF_CZ_NONE ? "uncompressed " : "",
                  (unsigned long long)err->offset, rec, err->msg[0] ? err->msg : dmvf_strerror(err->code));
}

/* ---- records format ---- */

/* A stream that failed: the error, and for a record without a subject its
 * audit entry. Returns the exit code. */
static int records_failed(dmvf_cli_acct *ac, const dmvf_filter *f, uint64_t seq,
                          const dmvf_cli_src *src, int st, const dmvf_error *err)
{
    dmvf__cli_report_stream_error(src, "malformed record", "record", err);
    if (st == DMVF_ENOSUBJECT) {
        int rc = dmvf__cli_acct_no_subject(ac, f, seq, err->record != UINT64_MAX ? err->record : 0);
        if (rc)
            return rc;
    }
    return dmvf__cli_exit_for(st);
}

/* A request that is not released: with notify_subject its records are read
 * (nothing released) so that the subjects it asked for are notified; held
 * for review, its would-be release is sealed into the review spool. The
 * reply is an empty release, as a miss is. */
static int refuse_records(const dmvf_cli_filter_cfg *cfg, dmvf_cli_acct *ac, dmvf_filter *f, uint64_t seq,
                          dmvf_cli_src *src, dmvf_cli_sink *sink)
{
    dmvf_decision d = dmvf_filter_decision(f);
    int hold = d == DMVF_DECISION_REVIEW;
    int rc = 0;
    dmvf_audit_counts c;
    memset(&c, 0, sizeof c);
    dmvf_cli_membuf mem = {NULL, 0, 0, DMVF_CLI_HOLD_MAX};
    if (hold || dmvf_filter_notify_subject(f)) {
        dmvf_error err;
        memset(&err, 0, sizeof err);
        int st;
        size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
        dmvf_cli_pump_out po = {NULL, hold ? &mem : NULL, NULL};
        if (cfg->in_fmt == DMVF_FORMAT_RECORDS) {
            rc = dmvf__cli_pump_filter(f, src, &po, maxrec, cfg->quiet, &st, &err);
        } else {
            /* text is read as text; a held release is kept as records, the
               review queue's format, written in any format at approval */
            dmvf_codec_options co = {.in = cfg->in_fmt, .out = DMVF_FORMAT_RECORDS};
            dmvf_codec *codec = dmvf_codec_create(f, &co, &err);
            if (!codec) {
                st = err.code;
            } else {
                rc = dmvf__cli_pump_codec(codec, f, src, &po, maxrec, cfg->quiet, &st, &err);
                dmvf_codec_free(codec);
            }
        }
        if (!rc && st == DMVF_EREFUSED && hold) {
            /* the held release passed the rule's record limit: it would be refused */
            mem.len = 0;
            st = DMVF_OK;
        }
        if (!rc && st != DMVF_OK)
            rc = records_failed(ac, f, seq, src, st, &err);
        if (!rc) {
            dmvf_filter_counts(f, &c.records_in, &c.records_out, &c.records_dropped);
            if (!hold)
                c.records_out = 0;
            rc = dmvf__cli_acct_notify(ac, f, &c.notices);
        }
        if (!rc && hold) {
            char id[DMVF_REVIEW_ID_LEN + 1];
            rc = dmvf__cli_acct_hold(ac, f, mem.p, mem.len, &c, seq, id);
            if (!rc && !cfg->quiet)
                dmvf__cli_err("held for review as %s (%llu records would be released)", id,
                              (unsigned long long)c.records_out);
        } else if (!rc && c.notices) {
            rc = dmvf__cli_acct_event(ac, f, DMVF_AUDIT_RELEASE, &c, seq, NULL,
                                      "refused: nothing released; subjects notified");
        }
        free(mem.p);
        if (rc) {
            dmvf__cli_sink_abort(sink);
            return rc;
        }
    }
    dmvf__cli_report_refusal("", f, NULL);
    rc = dmvf__cli_sink_commit(sink);
    if (rc)
        return rc;
    return d == DMVF_DECISION_REVIEW ? DMVF_EXIT_REVIEW : DMVF_EXIT_REFUSED;
}

/* The commit of a release failed: a spool whose copy failed part way has
 * sent some of it, and the audit log counts all of it. */
static void report_commit_failure(const dmvf_cli_acct *ac, const dmvf_cli_sink *sink, uint64_t records)
{
    if (!sink->spool)
        return;
    if (sink->sent == 0)
        dmvf__cli_err("output %s: nothing of the release left", sink->path ? sink->path : "<stdout>");
    else if (ac->where.audit)
        dmvf__cli_err("output %s: the audit log's RELEASE entry counts the whole release (%llu "
                      "records); only the first %llu bytes of it left", sink->path ? sink->path : "<stdout>",
                      (unsigned long long)records, (unsigned long long)sink->sent);
}

static int run_records(const dmvf_cli_filter_cfg *cfg, const dmvf_policy *pol, const dmvf_keyring *kr,
                       const dmvf_request *req, dmvf_cli_src *src, dmvf_cli_acct *ac)
{
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_filter_options fo = {.max_record_bytes = cfg->max_record_bytes,
                              .drop_malformed = cfg->drop_malformed, .as_of = cfg->as_of};
    dmvf__cli_acct_options(ac, &fo);
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, &fo, &err);
    if (f) {
        /* what the rule asks for decides two options: decide, then make the filter */
        dmvf_filter_options want = fo;
        if (dmvf_filter_notify_subject(f))
            want.collect_subjects = 1;
        if (dmvf_filter_decision(f) == DMVF_DECISION_REVIEW)
            want.hold_for_review = want.collect_subjects = want.count_fields = 1;
        if (want.collect_subjects != fo.collect_subjects || want.hold_for_review != fo.hold_for_review ||
            want.count_fields != fo.count_fields) {
            dmvf_filter_free(f);
            fo = want;
            f = dmvf_filter_create(pol, kr, req, &fo, &err);
        }
    }
    if (!f) {
        dmvf__cli_err("request: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
        return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
    }
    /* write-ahead: the request is in the log before a byte of output exists */
    uint64_t seq;
    int rc = dmvf__cli_acct_request(ac, f, &seq);
    if (rc) {
        dmvf_filter_free(f);
        return rc;
    }
    dmvf_decision d = dmvf_filter_decision(f);
    /* the pipeline gzips chunk by chunk itself; the other paths let the sink do it */
    int chunked = d == DMVF_DECISION_RELEASE && dmvf_filter_max_records(f) == 0;
    int textio = cfg->in_fmt != DMVF_FORMAT_RECORDS || cfg->out_fmt != DMVF_FORMAT_RECORDS;
    dmvf_cli_sink sink;
    rc = dmvf__cli_sink_open(&sink, cfg->out, chunked ? NULL : &cfg->cz, cfg->spool_dir);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    if (d != DMVF_DECISION_RELEASE) {
        rc = refuse_records(cfg, ac, f, seq, src, &sink);
        dmvf_filter_free(f);
        return rc;
    }

    int st;
    uint64_t n_in = 0, n_out = 0, n_dropped = 0;
    /* text: the codec that gathers what the input named that the schema does not know */
    dmvf_codec *codec = NULL;
    if (textio) {
        dmvf_codec_options co = {.in = cfg->in_fmt, .out = cfg->out_fmt};
        co.column_options.elements = cfg->csv_elements;
        codec = chunked ? dmvf_codec_create(NULL, NULL, &err) : dmvf_codec_create(f, &co, &err);
        if (!codec) {
            dmvf__cli_err("request: %s", err.msg[0] ? err.msg : dmvf_strerror(err.code));
            dmvf__cli_sink_abort(&sink);
            dmvf_filter_free(f);
            return err.code ? dmvf__cli_exit_for(err.code) : DMVF_EXIT_SOFTWARE;
        }
    }
    if (chunked) {
        dmvf_cli_par par;
        memset(&par, 0, sizeof par);
        par.policy = pol;
        par.keyring = kr;
        par.req = req;
        par.fo = fo;
        par.threads = cfg->threads;
        if (!par.threads) {
            unsigned cores = dmvf__cli_cores();
            par.threads = cores < DMVF_CLI_AUTO_THREADS_MAX ? cores : DMVF_CLI_AUTO_THREADS_MAX;
        }
        par.cz = cfg->cz;
        par.quiet = cfg->quiet;
        par.in_fmt = cfg->in_fmt;
        par.out_fmt = cfg->out_fmt;
        par.csv_elements = cfg->csv_elements;
        par.unknown = codec;
        /* a gzip input's members inflate on as many threads as rewrite */
        dmvf__cli_src_inflaters(src, par.threads);
        rc = dmvf__cli_par_run(&par, f, src, &sink);
        st = par.status;
        err = par.err;
        n_in = par.records_in;
        n_out = par.records_out;
        n_dropped = par.records_dropped;
    } else {
        size_t maxrec = cfg->max_record_bytes ? cfg->max_record_bytes : DMVF_DEFAULT_MAX_RECORD_BYTES;
        dmvf_cli_pump_out po = {&sink, NULL, NULL};
        if (codec)
            rc = dmvf__cli_pump_codec(codec, f, src, &po, maxrec, cfg->quiet, &st, &err);
        else
            rc = dmvf__cli_pump_filter(f, src, &po, maxrec, cfg->quiet, &st, &err);
        dmvf_filter_counts(f, &n_in, &n_out, &n_dropped);
        /* CSV: a release of no record is empty, as a refusal is (no header) */
        if (!rc && st == DMVF_OK && n_out == 0 && cfg->out_fmt == DMVF_FORMAT_CSV)
            rc = dmvf__cli_sink_rewind(&sink);
    }
    char unknown[1024];
    dmvf__cli_unknown_text(codec, cfg->in_fmt, unknown, sizeof unknown);
    dmvf_codec_free(codec);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    if (st == DMVF_EREFUSED) {
        /* the record limit was passed: the request is refused as a whole */
        char why[64];
        snprintf(why, sizeof why, "more than the record limit of %llu records",
                 (unsigned long long)dmvf_filter_max_records(f));
        dmvf_audit_counts c = {n_in, 0, n_dropped, 0};
        rc = dmvf__cli_acct_notify(ac, f, &c.notices);
        if (!rc)
            rc = dmvf__cli_acct_event(ac, f, DMVF_AUDIT_RELEASE, &c, seq, NULL,
                                      "refused: more than the record limit; nothing released");
        if (rc) {
            dmvf__cli_sink_abort(&sink);
            dmvf_filter_free(f);
            return rc;
        }
        dmvf__cli_report_refusal("", f, err.msg[0] ? err.msg : why);
        rc = dmvf__cli_sink_rewind(&sink);
        if (!rc)
            rc = dmvf__cli_sink_commit(&sink);
        else
            dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc ? rc : DMVF_EXIT_REFUSED;
    }
    if (st != DMVF_OK) {
        /* malformed input after good records, a gzip input cut short: the
           spool or the file written aside is dropped, nothing leaves */
        rc = records_failed(ac, f, seq, src, st, &err);
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    dmvf_trailer t;
    memset(&t, 0, sizeof t);
    st = dmvf_filter_finish(f, &t);
    if (st != DMVF_OK) {
        dmvf__cli_err("finishing the request failed: %s", dmvf_strerror(st));
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return dmvf__cli_exit_for(st) ? dmvf__cli_exit_for(st) : DMVF_EXIT_SOFTWARE;
    }
    /* notices and the release entry are on disk before a byte leaves */
    dmvf_audit_counts c = {n_in, n_out, n_dropped, 0};
    rc = dmvf__cli_acct_notify(ac, f, &c.notices);
    if (!rc)
        rc = dmvf__cli_acct_release(ac, f, &c, seq, unknown[0] ? unknown : NULL);
    if (rc) {
        dmvf__cli_sink_abort(&sink);
        dmvf_filter_free(f);
        return rc;
    }
    rc = dmvf__cli_sink_commit(&sink);
    if (rc) {
        report_commit_failure(ac, &sink, n_out);
        dmvf_filter_free(f);
        return rc;
    }
    if (!cfg->quiet) {
        char rule[300], drop[64] = "";
        dmvf__cli_rule_text(f, rule, sizeof rule);
        if (n_dropped)
            snprintf(drop, sizeof drop, "; %llu malformed dropped", (unsigned long long)n_dropped);
        dmvf__cli_err("released %llu of %llu records (%s, policy %.8s)%s",
                      (unsigned long long)n_out, (unsigned long long)n_in, rule,
                      dmvf_policy_id(pol), drop);
    }
    if (unknown[0])
        dmvf__cli_err("input: %s", unknown);
    dmvf_filter_free(f);
    return DMVF_EXIT_RELEASED;
}

/* ---- the command ---- */

/* A decimal number lo..hi (lo >= 0), digits only; -1 when s is not one
 * (or NULL). */
static long parse_in_range(const char *s, long lo, long hi)
{
    char *end = NULL;
    long n = s && s[0] >= '0' && s[0] <= '9' ? strtol(s, &end, 10) : -1;
    return n >= lo && n <= hi && *end == '\0' ? n : -1;
}

/* A positive decimal count. 0, or -1 when s is not one. */
static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* --gzip, --compress F: the output's format; two flags that disagree are
 * a usage error. */
static void set_compress(dmvf_cli_args *a, dmvf_cli_filter_cfg *cfg, dmvf_cz_format f, const char **prev,
                         const char *flag)
{
    if (*prev && cfg->cz.format != f) {
        dmvf__cli_usage_error(a, "%s contradicts %s", flag, *prev);
        return;
    }
    *prev = flag;
    cfg->cz.format = f;
}

int dmvf__cli_cmd_filter(int argc, char **argv)
{
    if (dmvf__cli_wants_help(argc, argv)) {
        fputs(dmvf__cli_filter_help, stdout);
        return dmvf__cli_flush_stdout();
    }
    dmvf_cli_filter_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    dmvf_cli_request rq;
    int rc = dmvf__cli_request_init(&rq, argc);
    if (rc)
        return rc;
    dmvf_cli_args a;
    int out_set = 0;
    dmvf__cli_args_init(&a, argc, argv, "filter", filter_usage);
    const char *comp_flag = NULL;   /* the flag that chose the output's compression */
    int gzip_level = -1;
    for (a.i = 0; a.i < argc && !a.bad; a.i++) {
        const char *v;
        if (dmvf__cli_end_of_flags(&a))
            continue;
        if (dmvf__cli_is_positional(&a)) {
            dmvf__cli_usage_error(&a, "unexpected argument '%s'", argv[a.i]);
        } else if (dmvf__cli_value(&a, "--policy", &v)) {
            cfg.policy = v;
        } else if (dmvf__cli_value(&a, "--keyring", &v)) {
            cfg.keyring = v;
        } else if (dmvf__cli_value(&a, "--passphrase-file", &v)) {
            cfg.passfile = v;
        } else if (dmvf__cli_value(&a, "--in", &v)) {
            cfg.in = v;
        } else if (dmvf__cli_value(&a, "--out", &v)) {
            cfg.out = v;
        } else if (dmvf__cli_value(&a, "--spool-dir", &v)) {
            cfg.spool_dir = v;
        } else if (dmvf__cli_value(&a, "--format", &v)) {
            if (v && dmvf__cli_format_arg(v, 1, &cfg.in_fmt, &cfg.framed) != 0)
                dmvf__cli_usage_error(&a, "--format '%s': records, framed, jsonl or csv expected", v);
        } else if (dmvf__cli_value(&a, "--output-format", &v)) {
            if (v && dmvf__cli_format_arg(v, 0, &cfg.out_fmt, NULL) != 0)
                dmvf__cli_usage_error(&a, "--output-format '%s': records, jsonl or csv expected", v);
            else if (v)
                out_set = 1;
        } else if (dmvf__cli_value(&a, "--csv-elements", &v)) {
            cfg.csv_elements = v;
        } else if (dmvf__cli_switch(&a, "--gzip")) {
            set_compress(&a, &cfg, DMVF_CZ_GZIP, &comp_flag, "--gzip");
        } else if (dmvf__cli_value(&a, "--compress", &v)) {
            if (v && strcmp(v, "gzip") == 0)
                set_compress(&a, &cfg, DMVF_CZ_GZIP, &comp_flag, "--compress gzip");
            else if (v && strcmp(v, "zstd") == 0)
                set_compress(&a, &cfg, DMVF_CZ_ZSTD, &comp_flag, "--compress zstd");
            else if (v && strcmp(v, "none") == 0)
                set_compress(&a, &cfg, DMVF_CZ_NONE, &comp_flag, "--compress none");
            else if (v)
                dmvf__cli_usage_error(&a, "--compress '%s': gzip, zstd or none expected", v);
        } else if (dmvf__cli_value(&a, "--gzip-level", &v)) {
            long n = parse_in_range(v, 0, DMVF_CZ_GZIP_LEVEL_MAX);
            if (v && n < 0)
                dmvf__cli_usage_error(&a, "--gzip-level '%s': a level 0..%d expected", v,
                                      DMVF_CZ_GZIP_LEVEL_MAX);
            else if (v)
                gzip_level = (int)n;
        } else if (dmvf__cli_value(&a, "--max-record-bytes", &v)) {
            if (v && dmvf__cli_parse_size(v, &cfg.max_record_bytes) != 0)
                dmvf__cli_usage_error(&a, "--max-record-bytes '%s': a positive size expected "
                                      "(e.g. 65536, 64K, 16M)", v);
        } else if (dmvf__cli_value(&a, "--max-inflate", &v)) {
            size_t n;
            if (v && dmvf__cli_parse_size(v, &n) != 0)
                dmvf__cli_usage_error(&a, "--max-inflate '%s': a positive size expected "
                                      "(e.g. 1048576, 512M, 4G)", v);
            else if (v)
                cfg.max_inflate = n;
        } else if (dmvf__cli_value(&a, "--max-request-frames", &v)) {
            if (v && parse_count(v, &cfg.max_request_frames) != 0)
                dmvf__cli_usage_error(&a, "--max-request-frames '%s': a positive number "
                                      "of frames expected", v);
        } else if (dmvf__cli_switch(&a, "--drop-malformed")) {
            cfg.drop_malformed = 1;
        } else if (dmvf__cli_value(&a, "--threads", &v)) {
            long n = parse_in_range(v, 1, DMVF_CLI_MAX_THREADS);
            if (v && n < 0)
                dmvf__cli_usage_error(&a, "--threads '%s': a number of threads 1..%d expected", v,
                                      DMVF_CLI_MAX_THREADS);
            else if (v)
                cfg.threads = (unsigned)n;
        } else if (dmvf__cli_acct_flag(&a, &cfg.acct)) {
            /* consumed */
        } else if (dmvf__cli_switch(&a, "--quiet") || dmvf__cli_switch(&a, "-q")) {
            cfg.quiet = 1;
        } else if (dmvf__cli_request_flag(&a, &rq)) {
            /* consumed */
        } else {
            dmvf__cli_usage_error(&a, "unknown flag '%s'", argv[a.i]);
        }
    }
    if (!a.bad) {
        if (!cfg.policy)
            dmvf__cli_usage_error(&a, "--policy is required");
        else if (!cfg.keyring)
            dmvf__cli_usage_error(&a, "--keyring is required");
        else if (cfg.framed && rq.any)
            dmvf__cli_usage_error(&a, "request flags are not used with --format framed: "
                                  "the stream carries its requests");
        else if (!cfg.framed && cfg.max_request_frames)
            dmvf__cli_usage_error(&a, "--max-request-frames is used with --format framed only");
        else if (!cfg.framed && !rq.have_ori)
            dmvf__cli_usage_error(&a, "--ori is required");
        else if (gzip_level >= 0 && cfg.cz.format != DMVF_CZ_GZIP)
            dmvf__cli_usage_error(&a, "--gzip-level is used with --gzip (--compress gzip) only");
        else if (cfg.framed && out_set && cfg.out_fmt != DMVF_FORMAT_RECORDS)
            dmvf__cli_usage_error(&a, "--output-format %s: framed input is written as records only "
                                  "(its trailers are frames)", dmvf_format_name(cfg.out_fmt));
        if (!out_set)
            cfg.out_fmt = cfg.in_fmt;
        if (!a.bad && cfg.csv_elements) {
            dmvf_columns *cols = NULL;
            dmvf_columns_options co = {cfg.csv_elements};
            dmvf_error e;
            if (dmvf_columns_for_filter(NULL, &co, &cols, &e) != DMVF_OK)
                dmvf__cli_usage_error(&a, "--csv-elements '%s': %s", cfg.csv_elements, e.msg);
            dmvf_columns_free(cols);
        }
    }
    if (!a.bad && cfg.cz.format == DMVF_CZ_GZIP) {
        int engine = dmvf__cz_engine();
        if (engine < 0)
            dmvf__cli_usage_error(&a, "DMVFILTER_GZIP '%s': zlib%s expected", getenv("DMVFILTER_GZIP"),
                                  dmvf__cz_have_isal() ? " or isa-l" : " (this build has no ISA-L)");
        cfg.cz.engine = (dmvf_cz_engine)(engine < 0 ? 0 : engine);
        cfg.cz.level = gzip_level >= 0 ? gzip_level : DMVF_CZ_GZIP_LEVEL_DEFAULT;
    }
    cfg.as_of = rq.as_of;
    if (a.bad) {
        dmvf__cli_request_free(&rq);
        return DMVF_EXIT_USAGE;
    }

    dmvf_policy *pol = dmvf__cli_policy_load(cfg.policy, &rc);
    if (!pol) {
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_keyring *kr = dmvf__cli_keyring_load(cfg.keyring, cfg.passfile, &rc);
    if (!kr) {
        dmvf_policy_free(pol);
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_cli_acct ac;
    rc = dmvf__cli_acct_open(&ac, &cfg.acct, pol, kr);
    if (rc) {
        dmvf_keyring_free(kr);
        dmvf_policy_free(pol);
        dmvf__cli_request_free(&rq);
        return rc;
    }
    dmvf_cli_src src;
    rc = dmvf__cli_src_open(&src, cfg.in);
    src.max_inflate = cfg.max_inflate;
    if (!rc)
        rc = cfg.framed ? dmvf__cli_run_framed(&cfg, pol, kr, &src, &ac) : run_records(&cfg, pol, kr, &rq.req, &src, &ac);
    dmvf__cli_src_close(&src);
    int crc = dmvf__cli_acct_close(&ac);
    if (!rc || rc == DMVF_EXIT_REFUSED || rc == DMVF_EXIT_REVIEW)
        rc = crc ? crc : rc;
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    dmvf__cli_request_free(&rq);
    return rc;
}
