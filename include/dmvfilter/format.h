/*
 * dmvfilter/format.h - records as JSON Lines and CSV, in and out, through
 * the same filter.
 *
 * The rewriter reads and writes DriverRecord wire bytes only. A codec turns
 * each JSON Lines line or CSV row into those bytes, passes them through a
 * filter (filter.h: the same decision, plan, counts and errors as
 * dmvf_filter_record) and writes the released bytes back in the output
 * format, so a record's release is the same in every format:
 *
 *   c = dmvf_codec_create(f, &(dmvf_codec_options){.in = DMVF_FORMAT_CSV,
 *                                                  .out = DMVF_FORMAT_CSV}, &err);
 *   dmvf_codec_stream(c, &out, &in, end, &err)      as dmvf_filter_stream
 *   dmvf_codec_unknown_count(c), dmvf_codec_unknown(c, i)   what was dropped
 *   dmvf_codec_free(c)
 *
 * JSON Lines (DMVF_FORMAT_JSONL): one dmv.v1.DriverRecord a line (LF, or
 * CRLF), in the proto3 JSON mapping. Read: keys are proto field names
 * ("family_name") or their lowerCamelCase JSON names ("familyName"); enums
 * by value name ("SEX_FEMALE") or number (a JSON number or a string of
 * one); int32 and uint32 (the dates, YYYYMMDD) as JSON numbers (a real of
 * integral value, 1e3, is taken as protobuf takes it) or as strings of a
 * decimal integer ("-?[0-9]+"); bools true/false; bytes as base64
 * (standard or URL-safe, padded or not); sub-messages as objects ({} is a
 * present, empty message); repeated fields as arrays; null means absent
 * (but not as an array element). A key that names no field is dropped and
 * counted, never released (dmvf_codec_unknown). A record is malformed when
 * it is not one JSON object (RFC 8259) on its line, has a key twice (also
 * as its two names), a known key with a value of the wrong JSON type, a
 * number out of its field's range or not integral, an unknown enum name,
 * bad base64, text that is not UTF-8, a \u escape of a lone surrogate, or
 * unknown values nested deeper than 64 levels; an empty line is malformed.
 * Written: proto field names, fields in field-number order, defaults
 * omitted, enums by name (a number when the schema names none), bytes in
 * the standard alphabet padded, minimal numbers, no spaces, strings
 * escaped as the library writes every JSON string (control bytes escaped,
 * bytes that are not UTF-8 as \ufffd): equal releases are equal lines.
 *
 * CSV (DMVF_FORMAT_CSV, RFC 4180; LF or CRLF line ends): a header row of
 * column names, then one row per record. A column is a dotted path of
 * proto field names to a scalar field, with an element index after each
 * repeated field: "person.family_name", "license.restrictions.0",
 * "vehicles.1.registered_address.city" (dmvf_columns below). A cell holds
 * the JSON mapping's value without JSON quoting (SEX_MALE, true, 19470326,
 * base64); an empty cell is absent, and a quoted empty cell ("") is a
 * present empty value: an empty repeated-string element, or, in a field of
 * a sub-message, the sub-message present. Elements of a repeated field are
 * the non-empty cells of its columns in index order (gaps close up). A
 * cell that starts with an apostrophe followed by = + - @ TAB CR or an
 * apostrophe loses that apostrophe (the formula guard the writer adds).
 * A header column that names no field (an unknown path, a message, a
 * repeated field without its index, an index with leading zeros or past
 * the element limit) is dropped and counted once. A row is malformed when
 * its quoting is wrong (a quote inside an unquoted field, text after a
 * closing quote, a CR without LF outside quotes, the input ending inside
 * quotes), it has more or fewer cells than the header, or a cell does not
 * parse as its field's type (as for JSON; strings must be UTF-8). Quoted
 * line breaks are part of the cell. A UTF-8 byte order mark at the very
 * start of the input is skipped (for JSON Lines too).
 * Written: the header, then one row per record; the columns are fixed
 * before the first record (dmvf_codec_options.columns, or computed, see
 * there) and never depend on record content, in schema order; a record
 * with more elements than its field has column groups, or a value whose
 * column is not in the list, is an error (DMVF_ETOOBIG), never cut. Cells
 * are quoted when they hold a comma, quote, CR or LF; string and bytes
 * cells a spreadsheet would run as a formula are guarded with an
 * apostrophe (and quoted). Lines end in LF.
 *
 * Positions in errors: err->line and err->column are the 1-based line of
 * the input and byte column in that line where the record is wrong,
 * err->offset its byte offset in the stream, err->record the record's
 * 0-based index in the request (dmvf_filter_counts' records_in at that
 * record; for CSV the header is not a record); the message starts with
 * "line L, column C: ".
 *
 * Limits: a line or row longer than the filter's max_record_bytes
 * (filter.h) is DMVF_ETOOBIG; at most DMVF_MAX_COLUMNS columns; a JSON
 * array of more than 10,000 elements is DMVF_ETOOBIG, as in protobuf
 * input. Memory stays bounded by the record limit whatever the input size.
 */
#ifndef DMVFILTER_FORMAT_H
#define DMVFILTER_FORMAT_H

#include "common.h"
#include "filter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dmvf_format {
    DMVF_FORMAT_RECORDS = 0,    /* varint-delimited DriverRecord (filter.h) */
    DMVF_FORMAT_JSONL = 1,      /* JSON Lines */
    DMVF_FORMAT_CSV = 2         /* CSV with a header row */
} dmvf_format;

/* A format by name: "records", "jsonl" or "csv".
 * @return  DMVF_OK with *out set; DMVF_EINVAL for any other name.
 * Threads: thread-safe.
 * NULL:    name and out abort.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_format_parse(const char *name, dmvf_format *out);

/* The name dmvf_format_parse reads for f.
 * @return  "records", "jsonl" or "csv"; "?" for a value that is none.
 * Threads: thread-safe.
 * NULL:    (no pointer arguments)
 * Owns:    static storage. */
DMVF_API const char *dmvf_format_name(dmvf_format f);

/* ---- CSV columns ----
 * A column list: the paths of a CSV header, in order. Immutable once
 * made: any number of codecs on any threads may share one. */
typedef struct dmvf_columns dmvf_columns;

#define DMVF_MAX_COLUMNS 100000u

/* How many column groups (elements) a repeated field gets in computed
 * columns: "N" for every repeated field, "path=N" for one ("vehicles=2",
 * "license.restrictions=6"), comma-separated, later entries winning; N
 * from 1 to 10,000. NULL or "" gives the defaults: aliases 4, restrictions
 * and endorsements 6, documents and vehicles 4, history 10, any other
 * repeated field 4. */
typedef struct dmvf_columns_options {
    const char *elements;
} dmvf_columns_options;

/* Reads a CSV header row (one record of s[0..n), its line break
 * optional; a byte order mark first is skipped).
 * @return  DMVF_OK with *out the columns (dmvf_columns_count of them
 *            known; the others dmvf_columns_unknown); an empty line is
 *            the header of no column, whose rows are empty lines (empty
 *            records: what a release of none of its input's columns is);
 *          DMVF_EMALFORMED with *err: bad quoting, more than one row, no
 *            bytes at all, a column named twice;
 *          DMVF_ETOOBIG: more than DMVF_MAX_COLUMNS columns;
 *          DMVF_ENOMEM.
 * Threads: thread-safe.
 * NULL:    s may be NULL only with n 0; out aborts; err may be NULL.
 * Owns:    the caller owns *out (dmvf_columns_free); s is not kept. */
DMVF_API int dmvf_columns_parse(const void *s, size_t n, dmvf_columns **out, dmvf_error *err);

/* The columns a request releases: every leaf of the schema the filter's
 * plan does not redact (requested fields applied), in schema order, each
 * repeated field with its element groups (opts). With f NULL: every leaf
 * of the schema (a layout for a release already made).
 * @return  DMVF_OK with *out; DMVF_EINVAL for a bad opts->elements;
 *          DMVF_EREFUSED when f rewrites no records (its decision is not a
 *          release, nor a review held with hold_for_review); DMVF_ENOMEM.
 * Threads: thread-safe for a given f (f is only read).
 * NULL:    f NULL: see above; opts NULL: the defaults; out aborts; err may
 *          be NULL.
 * Owns:    the caller owns *out; f is not kept. */
DMVF_API int dmvf_columns_for_filter(const dmvf_filter *f, const dmvf_columns_options *opts,
                                     dmvf_columns **out, dmvf_error *err);

/* The columns of in that the filter's plan releases, in schema order: the
 * output of a CSV input. in's unknown columns are not carried over, and
 * element indexes are numbered from 0 in their order (the reader closes
 * gaps between elements, so in's header "vehicles.1.plate,vehicles.3.plate"
 * gives "vehicles.0.plate,vehicles.1.plate", room for every row). For the
 * same reason a path at element k also gets a column at every lower
 * element ("vehicles.0.plate_year,vehicles.1.plate" gives
 * "vehicles.0.plate,vehicles.0.plate_year,vehicles.1.plate": a row whose
 * element 0 is empty reads as a record whose vehicles[0] has the plate).
 * @return  DMVF_OK with *out; DMVF_EREFUSED when f rewrites no records;
 *          DMVF_ETOOBIG when that would be more than DMVF_MAX_COLUMNS
 *          columns; DMVF_ENOMEM.
 * Threads: thread-safe (in and f are only read).
 * NULL:    in, f and out abort; err may be NULL.
 * Owns:    the caller owns *out; in and f are not kept. */
DMVF_API int dmvf_columns_released(const dmvf_columns *in, const dmvf_filter *f,
                                   dmvf_columns **out, dmvf_error *err);

/* The number of known columns, and the i-th one's path (i < count).
 * @return  the count; the path ("vehicles.1.plate").
 * Threads: thread-safe.
 * NULL:    c aborts; i out of range aborts.
 * Owns:    c owns the strings (valid until dmvf_columns_free). */
DMVF_API size_t dmvf_columns_count(const dmvf_columns *c);
DMVF_API const char *dmvf_columns_name(const dmvf_columns *c, size_t i);

/* The header columns that name no field (dmvf_columns_parse only), and
 * the i-th one's name as it was given, control bytes escaped as \xNN.
 * Only the first 64 names are kept; the count is of all of them.
 * @return  the count; the name (i < min(count, 64)).
 * Threads: thread-safe.
 * NULL:    c aborts; i out of range aborts.
 * Owns:    c owns the strings. */
DMVF_API size_t dmvf_columns_unknown_count(const dmvf_columns *c);
DMVF_API const char *dmvf_columns_unknown(const dmvf_columns *c, size_t i);

/* Frees c (NULL is accepted). No codec may still use it. */
DMVF_API void dmvf_columns_free(dmvf_columns *c);

/* ---- the codec ---- */
typedef struct dmvf_codec dmvf_codec;

typedef struct dmvf_codec_options {
    dmvf_format in;             /* the input format (0: records) */
    dmvf_format out;            /* the output format (0: records) */
    /* CSV output: the columns, borrowed (must outlive the codec). NULL:
     * computed when the stream starts: from CSV input, the released
     * columns of its header (dmvf_columns_released); from other input, the
     * filter's (dmvf_columns_for_filter with column_options). */
    const dmvf_columns *columns;
    dmvf_columns_options column_options;
    /* CSV input: its header, already read (borrowed): the input then
     * starts with the first row, as a chunk of a parallel pipeline does. */
    const dmvf_columns *input_columns;
    int omit_header;            /* 1: CSV output without its header row */
    uint64_t first_line;        /* the line the input starts on (0: 1) */
    /* Records input: 1 reads a 0-length record as the empty DriverRecord
     * it is. A release writes one for a record whose every field was
     * redacted; converting a release made before (a held release at
     * review approval) needs this. Requester input keeps 0 (a 0-length
     * record there is refused as malformed: a framing fault upstream). */
    int empty_records;
} dmvf_codec_options;

/* Makes a codec for the records of f's request. With f NULL the codec only
 * converts: records are written as they are read (records input must then
 * be canonical, as a release is: filter.h).
 * @return  the codec, or NULL with *err: DMVF_EINVAL (a format that is not
 *          one of the three, a bad column_options), DMVF_EREFUSED (CSV
 *          output with columns to compute from a filter that rewrites no
 *          records), DMVF_ENOMEM.
 * Threads: thread-safe.
 * NULL:    f: conversion only; opts NULL: records in and out; err may be
 *          NULL.
 * Owns:    the caller owns the codec (dmvf_codec_free). It borrows f (its
 *          thread's: a codec belongs to the thread of its filter) and the
 *          columns of opts; f must outlive it. */
DMVF_API dmvf_codec *dmvf_codec_create(dmvf_filter *f, const dmvf_codec_options *opts,
                                       dmvf_error *err);

/* Frees c. NULL is accepted. */
DMVF_API void dmvf_codec_free(dmvf_codec *c);

/* Streams in's bytes (the input format) through the filter into out (the
 * output format), with dmvf_filter_stream's contract: the same return
 * codes, the same holding of output until end when the rule has a record
 * limit, the same handling of a request that is not released (nothing
 * written; with collect_subjects the records are still read and checked),
 * drop_malformed applying to text records that do not parse. A line or
 * row split across calls is kept (up to the record limit). CSV output
 * starts with its header (unless omit_header) before the first record, or
 * at end when there is none; a refusal writes nothing.
 * @return  DMVF_OK (all input consumed, output flushed); DMVF_ESPACE (drain
 *          out and call again); DMVF_EREFUSED; DMVF_EMALFORMED (with
 *          drop_malformed only a bad CSV header: rows are dropped),
 *          DMVF_ETOOBIG, DMVF_ENOMEM: sticky on c (common.h) and, for a
 *          record's error, on f as well; DMVF_ESTATE while c holds a
 *          sticky error.
 * Threads: c's thread.
 * NULL:    c, out and in abort; err may be NULL.
 * Owns:    the caller owns both buffers. */
DMVF_API int dmvf_codec_stream(dmvf_codec *c, dmvf_out_buffer *out, dmvf_in_buffer *in, int end,
                               dmvf_error *err);

/* The first sticky error c holds.
 * @return  its code, DMVF_OK when none; *out receives its record.
 * Threads: reads c only.
 * NULL:    c aborts; out may be NULL.
 * Owns:    the caller owns *out. */
DMVF_API int dmvf_codec_last_error(const dmvf_codec *c, dmvf_error *out);

/* Clears c's sticky error, its partial record, its output not yet flushed
 * and its counts; the next input is read from its start (a CSV header
 * first, unless input_columns), starting on line first_line (0: 1). The
 * filter is not reset: dmvf_filter_reset it too.
 * @return  nothing.
 * Threads: c's thread.
 * NULL:    c aborts.
 * Owns:    unknown names obtained before become invalid. */
DMVF_API void dmvf_codec_reset(dmvf_codec *c, uint64_t first_line);

/* What the input named that the schema does not know and was dropped:
 * JSON keys (each occurrence counted) or CSV header columns (each once),
 * and the first 64 distinct paths: "person.favorite_color",
 * "vehicles.1.paint" (the key escaped, \xNN for control bytes), or the
 * CSV column's name.
 * @return  the count; the i-th path (i < min(count of distinct, 64)).
 * Threads: reads c only.
 * NULL:    c aborts; i out of range aborts.
 * Owns:    c owns the strings (valid until reset or free). */
DMVF_API uint64_t dmvf_codec_unknown_count(const dmvf_codec *c);
DMVF_API size_t dmvf_codec_unknown_paths(const dmvf_codec *c);
DMVF_API const char *dmvf_codec_unknown(const dmvf_codec *c, size_t i);

/* Adds src's unknown counts and paths to dst (a pipeline's workers
 * gathered). Paths past the first 64 distinct ones are counted only.
 * @return  DMVF_OK; DMVF_ENOMEM (dst keeps what it had).
 * Threads: dst's thread; nobody writes src meanwhile.
 * NULL:    dst and src abort.
 * Owns:    dst copies what it takes. */
DMVF_API int dmvf_codec_merge(dmvf_codec *dst, const dmvf_codec *src);

/* For callers that cut text input into pieces of whole records (a
 * parallel pipeline): p[0] is the start of a record (a JSON Lines line, a
 * CSV row or header). Scans p[0..n) record by record.
 * @return  1 with *cut the end (after its line break) of the first record
 *            that ends at or after offset from, and *lines the line breaks
 *            in p[0..*cut) (CSV: quoted ones too);
 *          0 when p[0..n) ends first (read more and call again);
 *          -1 when no record ending within max_record bytes of its start
 *            was found (too long; for CSV perhaps an unclosed quote): make
 *            the piece that holds it the last one, whose codec then
 *            reports the error where one unbroken stream would.
 *          Records input (DMVF_FORMAT_RECORDS) is not text: -1 at once
 *          (use dmvf_stream_prefix).
 * Threads: thread-safe.
 * NULL:    p may be NULL only with n 0; cut and lines abort.
 * Owns:    nothing is kept. */
DMVF_API int dmvf_text_boundary(dmvf_format fmt, const void *p, size_t n, size_t from,
                                size_t max_record, size_t *cut, uint64_t *lines);

#ifdef __cplusplus
}
#endif
#endif
