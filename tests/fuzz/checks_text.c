/*
 * checks_text.c - the checks of the jsonl and csv targets: the codec of
 * dmvfilter/format.h fed fuzzed JSON Lines or CSV. Included by checks.c
 * (one translation unit: the walkers, feeding and shared state are its).
 *
 *   convert   the input read as records (no filter), whole and in pieces:
 *             the same status, error line, column, offset and record, and
 *             the same records, each canonical on the wire (walk_wire,
 *             schema only); each record written as JSON and as a CSV row
 *             (the whole schema's columns, as many element groups as the
 *             record needs) reads back as exactly its bytes
 *   cut       the input cut at a record boundary (dmvf_text_boundary) and
 *             read by two codecs, the second told its first line: the
 *             records and the error of one run
 *   filter    through the police request (records, JSON and CSV out, with
 *             and without drop_malformed): every released record passes
 *             the release walkers under the police plan; the JSON output
 *             reads back as exactly the released records, the CSV output
 *             as records that write as exactly that CSV again
 *   messages  every error message is one line and names its line
 */

static int call_codec(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_codec_stream(h, out, in, end, err);
}

/* The police plan's CSV columns (three element groups), made once: they do
 * not depend on the input. */
static const dmvf_columns *police_columns(dmvf_filter *f)
{
    static dmvf_columns *cols;
    dmvf_columns_options co = {"3"};
    dmvf_error err;
    if (!cols && dmvf_columns_for_filter(f, &co, &cols, &err) != DMVF_OK)
        fail("police columns: %s", err.msg);
    return cols;
}

/* The codec for one run: f NULL converts. */
static int codec_run(dmvf_filter *f, dmvf_format in, dmvf_format out, const dmvf_columns *in_cols,
                     uint64_t first_line, const uint8_t *data, size_t n, uint64_t *rng, fbuf *ob, dmvf_error *err,
                     const char *what)
{
    dmvf_codec_options o;
    memset(&o, 0, sizeof o);
    o.in = in;
    o.out = out;
    o.input_columns = in_cols;
    if (f && out == DMVF_FORMAT_CSV && in != DMVF_FORMAT_CSV)
        o.columns = police_columns(f);
    o.first_line = first_line;
    o.column_options.elements = "3";
    dmvf_codec *c = dmvf_codec_create(f, &o, err);
    if (!c) {
        fail("%s: dmvf_codec_create: %s", what, err->msg);
        return DMVF_ESTATE;
    }
    int rc = feed(call_codec, c, data, n, rng, ob, err, what);
    if (rc != DMVF_OK && rc != DMVF_ESTATE) {
        dmvf_error kept;
        if (dmvf_codec_last_error(c, &kept) != rc && rc != DMVF_EREFUSED)
            fail("%s: %s is not the codec's kept error", what, dmvf_strerror(rc));
        if (!one_line(err->msg))
            fail("%s: error message empty or not one line: %s", what, err->msg);
        /* a record's error says its line (a refusal is the request's, not a record's) */
        if (in != DMVF_FORMAT_RECORDS && rc != DMVF_ENOMEM && rc != DMVF_EREFUSED &&
            strncmp(err->msg, "line ", 5) != 0)
            fail("%s: the message does not say its line: %s", what, err->msg);
    }
    dmvf_codec_free(c);
    return rc;
}

/* The delimited records of p[0..n): each bare record in turn. */
typedef struct recs {
    const uint8_t *p, *e;
} recs;

static int next_rec(recs *r, const uint8_t **rec, size_t *len)
{
    if (r->p >= r->e)
        return 0;
    uint64_t l;
    size_t k = get_varint(r->p, r->e, &l);
    if (!k || l > (uint64_t)(r->e - r->p - (ptrdiff_t)k)) {
        fail("text: the codec wrote a bad length prefix");
        return 0;
    }
    *rec = r->p + k;
    *len = (size_t)l;
    r->p += k + (size_t)l;
    return 1;
}

/* One canonical record through JSON and a CSV row and back: its bytes. */
static void text_round_trip(const char *what, const uint8_t *rec, size_t len)
{
    dmvf__text t = dmvf__text_mem();
    dmvf_error err;
    int rc = dmvf__json_encode(rec, len, &t, &err);
    if (rc != DMVF_OK) {
        fail("%s: a read record does not write as JSON: %s", what, err.msg);
        dmvf__text_free(&t);
        return;
    }
    dmvf__jdec d;
    memset(&d, 0, sizeof d);
    dmvf__wbuf w = {0};
    rc = dmvf__json_decode(&d, t.p ? (const uint8_t *)t.p : g_none, t.len, &w, &err);
    if (rc != DMVF_OK || w.len != len || (len && memcmp(w.p, rec, len) != 0)) {
        fail("%s: record -> JSON -> record is not the identity (%s)", what, rc ? err.msg : "other bytes");
        hexdump("record", rec, len);
        if (!dmvf__fuzz_quiet)
            fprintf(stderr, "  JSON: %.*s\n", (int)(t.len < 400 ? t.len : 400), t.p ? t.p : "");
    }
    dmvf__text_free(&t);
    dmvf__jdec_free(&d);

    /* CSV: the schema's columns with enough element groups for this record */
    uint32_t most = 1;
    {
        /* the largest element count of any repeated field, at any depth */
        const uint8_t *stack_p[4], *stack_e[4];
        unsigned depth = 0;
        uint32_t last[4] = {0}, run[4] = {0};
        const dmvf_snode *node[4];
        stack_p[0] = rec;
        stack_e[0] = rec + len;
        node[0] = dmvf__schema_root();
        while (1) {
            if (stack_p[depth] >= stack_e[depth]) {
                if (!depth)
                    break;
                depth--;
                continue;
            }
            uint32_t num, vlen;
            unsigned wt;
            const uint8_t *val;
            size_t used = dmvf__wire_field(stack_p[depth], stack_e[depth], &num, &wt, &val, &vlen);
            if (!used)
                break;
            stack_p[depth] += used;
            run[depth] = num == last[depth] ? run[depth] + 1 : 1;
            last[depth] = num;
            if (run[depth] > most)
                most = run[depth];
            const dmvf_sfield *sf = dmvf__schema_child(node[depth], num);
            if (sf && sf->type == DMVF_T_MESSAGE && depth + 1 < 4) {
                depth++;
                stack_p[depth] = val;
                stack_e[depth] = val + vlen;
                node[depth] = sf->child;
                last[depth] = run[depth] = 0;
            }
        }
    }
    if (most > 50)
        return;   /* wide enough to be slow: JSON covered it */
    /* the schema's columns for `most` elements, made once per count */
    static dmvf_columns *cached[51];
    dmvf_columns *cols = cached[most];
    if (!cols) {
        char spec[16];
        snprintf(spec, sizeof spec, "%u", (unsigned)most);
        if (dmvf__columns_from_plan(NULL, spec, &cols, &err) != DMVF_OK) {
            fail("%s: columns for %s elements: %s", what, spec, err.msg);
            return;
        }
        cached[most] = cols;
    }
    dmvf__cenc ce;
    memset(&ce, 0, sizeof ce);
    t = dmvf__text_mem();
    dmvf__csv_header(cols, &t);
    size_t hdr = t.len;
    rc = dmvf__csv_encode(cols, rec, len, &ce, &t, &err);
    if (rc != DMVF_OK) {
        fail("%s: a read record does not write as a CSV row: %s", what, err.msg);
    } else {
        dmvf__row row = {0};
        size_t used = 0;
        dmvf__wbuf tmp = {0};
        w.len = 0;
        int got = dmvf__csv_row((const uint8_t *)t.p + hdr, t.len - hdr, 1, cols->ncells, &row, &used, &err);
        rc = got == 1 ? dmvf__csv_decode(cols, (const uint8_t *)t.p + hdr, &row, &w, &tmp, &err) : DMVF_EMALFORMED;
        if (rc != DMVF_OK || used != t.len - hdr || w.len != len || (len && memcmp(w.p, rec, len) != 0)) {
            fail("%s: record -> CSV -> record is not the identity (%s)", what, rc ? err.msg : "other bytes");
            hexdump("record", rec, len);
            hexdump("again", NONNULL(w.p), w.len);
        }
        dmvf__row_free(&row);
        dmvf__wbuf_free(&tmp);
    }
    dmvf__wbuf_free(&w);
    dmvf__text_free(&t);
    dmvf__cenc_free(&ce);
}

/* Text output read back: JSON gives exactly the released records want;
 * CSV, which cannot carry a present but empty sub-message that has no
 * column of its own, is a fixed point: its records, written with its own
 * header, give its bytes again. */
static void reads_back(const char *what, dmvf_format fmt, const fbuf *text, const fbuf *want)
{
    fbuf back = {0}, again = {0};
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (fmt == DMVF_FORMAT_CSV && text->n == 0) {
        if (want->n)
            fail("%s: records released, but no CSV written", what);
        return;                  /* no header read: nothing is written */
    }
    /* CSV back through JSON: an empty release is a record JSON can carry
     * (the records format reads no empty record) */
    int rc = codec_run(NULL, fmt, fmt == DMVF_FORMAT_JSONL ? DMVF_FORMAT_RECORDS : DMVF_FORMAT_JSONL, NULL, 0,
                       NONNULL(text->p), text->n, NULL, &back, &err, what);
    if (fmt == DMVF_FORMAT_JSONL) {
        if (rc != DMVF_OK || back.n != want->n || (back.n && memcmp(back.p, want->p, back.n) != 0))
            fail("%s: the JSON output does not read back as the released records (%s)", what,
                 rc ? err.msg : "other records");
        free(back.p);
        return;
    }
    size_t hdr_len = 0;
    uint64_t lines;
    dmvf_columns *cols = NULL;
    if (rc != DMVF_OK || dmvf_text_boundary(fmt, NONNULL(text->p), text->n, 0, 1u << 30, &hdr_len, &lines) != 1 ||
        dmvf_columns_parse(text->p, hdr_len, &cols, &err) != DMVF_OK) {
        fail("%s: the CSV output does not read back (%s)", what, err.msg);
    } else {
        dmvf_codec_options o;
        memset(&o, 0, sizeof o);
        o.in = DMVF_FORMAT_JSONL;
        o.out = DMVF_FORMAT_CSV;
        o.columns = cols;
        dmvf_codec *c = dmvf_codec_create(NULL, &o, &err);
        rc = c ? feed(call_codec, c, NONNULL(back.p), back.n, NULL, &again, &err, what) : DMVF_ENOMEM;
        if (rc != DMVF_OK || again.n != text->n || memcmp(again.p, text->p, text->n) != 0)
            fail("%s: the CSV output, read and written again, changes (%s)", what, rc ? err.msg : "other bytes");
        dmvf_codec_free(c);
    }
    dmvf_columns_free(cols);
    free(back.p);
    free(again.p);
}

static int text_target(dmvf_format fmt, const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    const char *name = dmvf_format_name(fmt);
    char what[64];
    uint64_t rng = fnv1a(data, n);

    /* convert: whole and in pieces */
    fbuf o1 = {0}, o2 = {0};
    dmvf_error e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    snprintf(what, sizeof what, "%s convert", name);
    int r1 = codec_run(NULL, fmt, DMVF_FORMAT_RECORDS, NULL, 0, data, n, NULL, &o1, &e1, what);
    int r2 = codec_run(NULL, fmt, DMVF_FORMAT_RECORDS, NULL, 0, data, n, &rng, &o2, &e2, what);
    compare_runs(what, r1, &e1, &o1, r2, &e2, &o2);
    if (r1 != DMVF_OK && r1 == r2 && (e1.line != e2.line || e1.column != e2.column || strcmp(e1.msg, e2.msg) != 0))
        fail("%s: whole: '%s', in pieces: '%s'", what, e1.msg, e2.msg);
    /* every record read: canonical, and JSON and CSV give it back */
    recs rs = {NONNULL(o1.p), NONNULL(o1.p) + o1.n};
    const uint8_t *rec;
    size_t len, count = 0;
    while (next_rec(&rs, &rec, &len) && count++ < 64) {
        walk_wire(what, dmvf__schema_root(), NULL, 1, rec, len, 0);
        text_round_trip(what, rec, len);
    }

    /* cut once at a boundary: two codecs give the records and error of one */
    {
        const uint8_t *p = data;
        size_t left = n, hdr_len = 0, c;
        uint64_t lines = 0;
        dmvf_columns *hdr = NULL;
        int ok = 1;
        if (fmt == DMVF_FORMAT_CSV) {
            ok = dmvf_text_boundary(fmt, p, left, 0, FZ_MAX_RECORD, &hdr_len, &lines) == 1 &&
                 dmvf_columns_parse(p, hdr_len, &hdr, &e2) == DMVF_OK;
            p += hdr_len;
            left -= hdr_len;
        }
        size_t from = left ? (size_t)(rnd(&rng) % left) : 0;
        uint64_t nl = 0;
        int r = ok ? dmvf_text_boundary(fmt, p, left, from, FZ_MAX_RECORD, &c, &nl) : -1;
        if (ok && r == 1 && c < left && r1 != DMVF_ENOMEM) {
            fbuf a = {0};
            dmvf_error ea, eb;
            memset(&ea, 0, sizeof ea);
            memset(&eb, 0, sizeof eb);
            snprintf(what, sizeof what, "%s cut", name);
            uint64_t first = 1 + lines;
            int ra = codec_run(NULL, fmt, DMVF_FORMAT_RECORDS, hdr, first, p, c, NULL, &a, &ea, what);
            int rb = ra;
            if (ra == DMVF_OK)
                rb = codec_run(NULL, fmt, DMVF_FORMAT_RECORDS, hdr, first + nl, p + c, left - c, NULL, &a, &eb,
                               what);
            dmvf_error *e = ra != DMVF_OK ? &ea : &eb;
            if (ra == DMVF_OK && rb != DMVF_OK)
                e->offset += c;
            if (rb != DMVF_OK)
                e->offset += hdr_len;
            if (rb != r1)
                fail("%s: %s in two pieces, %s in one (%s / %s)", what, dmvf_strerror(rb), dmvf_strerror(r1),
                     rb ? e->msg : "", r1 ? e1.msg : "");
            else if (r1 == DMVF_OK && (a.n != o1.n || (a.n && memcmp(a.p, o1.p, a.n) != 0)))
                fail("%s: two pieces give other records than one", what);
            else if (r1 != DMVF_OK && (strcmp(e->msg, e1.msg) != 0 || e->offset != e1.offset))
                fail("%s: '%s' at %llu in two pieces, '%s' at %llu in one", what, e->msg,
                     (unsigned long long)e->offset, e1.msg, (unsigned long long)e1.offset);
            free(a.p);
        }
        dmvf_columns_free(hdr);
    }

    /* through the police request */
    static const dmvf_format outs[] = {DMVF_FORMAT_RECORDS, DMVF_FORMAT_JSONL, DMVF_FORMAT_CSV};
    for (int drop = 0; drop < 2; drop++) {
        dmvf_filter_options fo = {.max_record_bytes = FZ_MAX_RECORD, .drop_malformed = drop, .as_of = CHECK_AS_OF};
        dmvf_request rq = req_police();
        fbuf rel = {0};
        int rrel = DMVF_OK;
        for (int k = 0; k < 3; k++) {
            dmvf_error err;
            dmvf_filter *f = dmvf_filter_create(G.example, G.kr, &rq, &fo, &err);
            if (!f) {
                fail("%s: dmvf_filter_create: %s", name, err.msg);
                break;
            }
            fbuf o = {0};
            snprintf(what, sizeof what, "%s police%s -> %s", name, drop ? " drop" : "", dmvf_format_name(outs[k]));
            int rc = codec_run(f, fmt, outs[k], NULL, 0, data, n, k == 1 ? &rng : NULL, &o, &err, what);
            if (drop && rc == DMVF_EMALFORMED && r1 != DMVF_EMALFORMED)
                fail("%s: malformed with drop_malformed, though it converts", what);
            if (k == 0) {
                rrel = rc;
                rel = o;
                recs r = {NONNULL(rel.p), NONNULL(rel.p) + rel.n};
                size_t m = 0;
                while (next_rec(&r, &rec, &len) && m++ < 64)
                    check_released(what, G.plans[0].plan->root, 0, rec, len);
                uint64_t in, out, dropped;
                dmvf_filter_counts(f, &in, &out, &dropped);
                if (rc == DMVF_OK && !drop && dropped)
                    fail("%s: records dropped without drop_malformed", what);
            } else {
                if (rc != rrel)
                    fail("%s: %s, but %s to records", what, dmvf_strerror(rc), dmvf_strerror(rrel));
                else if (rc == DMVF_OK)
                    reads_back(what, outs[k], &o, &rel);
                free(o.p);
            }
            dmvf_filter_free(f);
        }
        free(rel.p);
    }
    if (g_fails)
        hexdump("input", data, n < 256 ? n : 256);
    free(o1.p);
    free(o2.p);
    return (int)g_fails;
}

int dmvf__fuzz_jsonl(const uint8_t *data, size_t n)
{
    return text_target(DMVF_FORMAT_JSONL, data, n);
}

int dmvf__fuzz_csv(const uint8_t *data, size_t n)
{
    return text_target(DMVF_FORMAT_CSV, data, n);
}
