/*
 * checks.c - the check logic of the fuzz targets (see checks.h).
 *
 * Output walkers. A released record is checked twice, independently of the
 * code under test:
 *
 *   on the wire     (walk_wire, a parser of its own, not dmvf__wire_field)
 *     message := field*       every field known to the schema at its
 *                             position, with the schema's wire type,
 *                             in field-number order, a singular field once,
 *                             varints minimal, singular proto3 defaults absent,
 *                             with a plan: no field whose action is REDACT,
 *                             and values shaped by their action (pseudonym
 *                             32 bytes "P...", token "E...", generalized
 *                             dates ending in zeros, ZIP3 at most 3 bytes,
 *                             constants equal to the plan's)
 *   unpacked        (walk_msg, protobuf_c_message_unpack)
 *                             no unknown field at any depth; every present
 *                             field known, not REDACT under the plan
 *   both: unless the plan (or the framed request's rule) says marking:
 *   release, no marking (M) or marking-correlated (C) field is present.
 *
 * The twin (DESIGN.md, filter.h "the twin rule"). For a plan without
 * marking: release, twins of the record made by alter_marking must be
 * rewritten exactly as the record is: the same status and message, and on
 * success the same bytes. One twin has every M and C field removed at
 * every depth; another has each of them removed, replaced by other bytes
 * (any wire type, a group), split in pieces, given unknown groups, kept or
 * doubled, and new ones added, as drawn from the input's hash. Both follow
 * the record's fields as far as they step (dmvf__wire_field), recursing
 * into known sub-messages (their length prefixes rewritten), and copy
 * whatever follows a field that does not step as it is.
 *
 * The framed target's input chooses its configuration: byte 0 is a
 * header, the stream from byte 1 (0xff: the example policy with
 * max_record_bytes FZ_MAX_RECORD and nothing else, what the committed
 * regressions, made before the header, begin with; else its bits:
 * 0x01 drop_malformed, 0x02 count_fields and collect_subjects, 0x04 at
 * most 2 record frames a request, 0x18 an audit hook (1 that passes, 2
 * that fails at its third call, 3 at the first end of a request), 0x20
 * max_record_bytes 200, 0x40 the framed variant policy (record limits,
 * not-found refusals), 0x80 hold_for_review).
 *
 * The rewrite target's input chooses its plan: byte 0 is a header,
 *
 *   0xff          every plan of the set, the record from byte 1 (the
 *                 committed regressions, made before the header, begin
 *                 with it)
 *   else          plan (h & 0x3f) mod the set; with 0x40 set, byte 1 is a
 *                 mask over the requested-field groups of fz_groups, and
 *                 the plan is restricted to them (dmvf__plan_restrict,
 *                 keys made for it), the record from byte 2; else from 1
 *
 * and the set holds the example policy's requesters (police, also
 * restricted; immigration with a warrant; researcher; DMV internal), a plan
 * using every action, a plan releasing everything it may (whole messages
 * copied), one normalizing four fields (drops, maps, longer replacements),
 * one releasing every M and C field (marking: release), and the plan that
 * redacts everything (a refused request's records are checked with it).
 *
 * Chunking. The stream readers are run twice on the same bytes: whole, with
 * a large output buffer, and in pieces whose sizes (input chunks, output
 * windows, gzip reads) come from an xorshift generator seeded with the
 * input's FNV-1a hash, so a crash input replays the same pieces. Both runs
 * must agree on the status, the error's offset and record index, and, on
 * success, on every output byte.
 *
 * The jsonl and csv targets (checks_text.c, included below) run the codec
 * of dmvfilter/format.h: the same whole-and-pieces comparison, every read
 * record canonical and given back exactly by JSON and by CSV, the input cut
 * at a record boundary read by two codecs as by one, and the police
 * request's releases checked as above in every output format.
 *
 * The gzip target reads its input through gzread.c, a copy of the command
 * line's input code (filter/cli/io.c), whole and in short reads; the two
 * must inflate to the same bytes, which then go through the records stream
 * as the command line sends them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "checks.h"
#include "gzread.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/varint.h"
#include "filter/policy/decide.h"
#include "filter/wire/count.h"
#include "filter/release/format_int.h"
#include "filter/serve/decode.h"
#include "filter/wire/plan.h"
#include "filter/wire/reference.h"
#include "filter/wire/rewrite.h"
#include "keys/keys.h"
#include "dmv/v1/record.pb-c.h"
#include "dmv/v1/request.pb-c.h"
#include "dmv/v1/keyring.pb-c.h"

#ifndef DMVF_FUZZ_SRC_DIR
#define DMVF_FUZZ_SRC_DIR "."
#endif

#define MC (DMVF_CLASS_M | DMVF_CLASS_C)
#define FZ_MAX_RECORD 3000u               /* stream targets: small, so ETOOBIG is reachable */
#define FZ_GZ_MAX ((uint64_t)1 << 20)     /* the gzip target's --max-inflate */
#define FZ_NPLANS 12
#define FZ_NFIXED 6

int dmvf__fuzz_quiet;

const char *const dmvf__fuzz_targets[] = {"rewrite", "framed", "gzip", "policy", "keyring", "jsonl", "csv",
                                          "serve", NULL};

/* ------------------------------------------------------------ failures */

static unsigned g_fails;

static void fail(const char *fmt, ...) DMVF_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
    g_fails++;
    if (dmvf__fuzz_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz check failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
    if (dmvf__fuzz_quiet)
        return;
    fprintf(stderr, "  %s (%zu bytes):", label, n);
    size_t show = n < 512 ? n : 512;
    for (size_t i = 0; i < show; i++)
        fprintf(stderr, "%s%02x", i % 32 ? "" : "\n    ", p[i]);
    fprintf(stderr, "%s\n", show < n ? " ..." : "");
}

/* ------------------------------------------------------------ small tools */

typedef struct fbuf {
    uint8_t *p;
    size_t n, cap;
} fbuf;

static void fbuf_put(fbuf *b, const void *v, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, v, n);
    b->n += n;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* A piece size in 1..max, mostly small. */
size_t dmvf__fuzz_piece(uint64_t *s, size_t max)
{
    uint64_t r = rnd(s);
    size_t lim = (r & 3) == 0 ? max : (r & 3) == 1 ? 64 : 8;
    if (lim > max)
        lim = max;
    return lim ? 1 + (size_t)((r >> 8) % lim) : 1;
}

/* libFuzzer may pass NULL for an empty input, and an empty fbuf has no
 * bytes: pointer arithmetic and memcpy need a real address. */
static const uint8_t g_none[1];
#define NONNULL(p) ((p) ? (p) : g_none)

/* Messages are one line (common.h): no line break or other control byte
 * (tab aside) that could forge a line in a log or drive a terminal. With
 * DMVF_FUZZ_LAX_MESSAGES set in the environment only emptiness is checked,
 * so that fuzzing can go on past a known, reported message bug. */
static int g_lax_messages = -1;

static int one_line(const char *s)
{
    if (g_lax_messages < 0) {
        const char *e = getenv("DMVF_FUZZ_LAX_MESSAGES");
        g_lax_messages = e && *e && strcmp(e, "0") != 0;
    }
    if (!s || !s[0])
        return 0;
    if (g_lax_messages)
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

/* Decodes a varint; returns its length, 0 if malformed (more than 10 bytes
 * or cut short). */
static size_t get_varint(const uint8_t *p, const uint8_t *e, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 10 && p + i < e; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ shared state */

typedef struct fz_plan {
    const char *name;
    const char *scope;
    const dmvf_plan *plan;
    dmvf_keyctx *kc;
} fz_plan;

static struct {
    int ready;
    dmvf_policy *fvariant;             /* the framed target's variant policy */
    char dir[64];
    char kr_input[96];
    dmvf_keyring *kr;
    dmvf_policy *example, *every, *variety, *mrelease;
    dmvf_plan *restricted;
    fz_plan plans[FZ_NPLANS];
    size_t nplans;
    uint8_t *fixed_data;               /* golden records, for plans of fuzzed policies */
    const uint8_t *fixed[FZ_NFIXED];
    size_t fixed_len[FZ_NFIXED], nfixed;
    FILE *devnull;
} G;

/* A policy using every action on every field type that a requester without
 * marking: release may have, with normalization tables. */
static const char every_yaml[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "refusal: refused\n"
    "profiles:\n"
    "  every:\n"
    "    default: release\n"
    "    fields:\n"
    "      record_id: encrypt\n"
    "      person.given_name: {mask: {keep_first: 1}}\n"
    "      person.middle_name: {mask: {keep_first: 1, keep_last: 1}}\n"
    "      person.aliases: pseudonymize\n"
    "      person.birth_date: {generalize: decade}\n"
    "      person.sex: {constant: SEX_X}\n"
    "      person.height_cm: {constant: 180}\n"
    "      person.eye_color: {constant: \"n/a\"}\n"
    "      person.phone: {mask: {keep_last: 4}}\n"
    "      person.organ_donor: {constant: true}\n"
    "      person.residence.postal_code: {generalize: zip3}\n"
    "      person.residence.street: pseudonymize\n"
    "      person.mailing: redact\n"
    "      license.number: encrypt\n"
    "      license.issue_date: {generalize: month}\n"
    "      license.endorsements: {mask: {keep_first: 1}}\n"
    "      license.status: {constant: valid}\n"
    "      photo.image: {constant: no-image}\n"
    "      photo.capture_date: {generalize: year}\n"
    "      vehicles.vin: pseudonymize\n"
    "      vehicles.plate: {mask: {keep_last: 2}}\n"
    "      vehicles.registered_address.postal_code: {generalize: zip3}\n"
    "      history.points: {constant: -2}\n"
    "      history.description: encrypt\n"
    "marking:\n"
    "  normalize:\n"
    "    license.class_code: {map: {DP: D, TV: \"\"}, allow: [\"\", A, B, C, CDL-A, CDL-B, D, E, M]}\n"
    "    license.restrictions: {drop: [FLA, TVDL], map: {LP: L}, allow: [B, C, D, E, F, G, I, J, K, L, W],\n"
    "                           otherwise: W}\n"
    "    license.endorsements: {allow: [H, M, N, P, S, T, X]}\n"
    "requesters:\n"
    "  - {ori: NY0303000, name: Albany County Sheriff, kind: local, jurisdiction: NY}\n"
    "rules:\n"
    "  - name: every action\n"
    "    match: {agency_kind: [local]}\n"
    "    decision: release\n"
    "    profile: every\n";

/* Plans the example policy has not: everything released that may be (whole
 * messages copied), and normalization of four fields. By ORI. */
static const char variety_yaml[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "profiles:\n"
    "  whole:\n"
    "    default: release\n"
    "  norm:\n"
    "    default: redact\n"
    "    fields:\n"
    "      record_id: {mask: {keep_first: 2, keep_last: 2}}\n"
    "      person.aliases: release\n"
    "      person.given_name: {constant: \"\"}\n"
    "      license.class_code: release\n"
    "      license.restrictions: release\n"
    "      license.endorsements: {mask: {keep_last: 1}}\n"
    "      license.status: {constant: 0}\n"
    "      history.*: release\n"
    "marking:\n"
    "  normalize:\n"
    "    license.class_code: {map: {DP: D, TV: \"\", C: COMMERCIAL-CLASS-C},\n"
    "                         allow: [\"\", A, B, CDL-A, CDL-B, CDL-C, COMMERCIAL-CLASS-C, D, DJ, E, M, MJ]}\n"
    "    license.restrictions: {drop: [FLA, TVDL, \"\"], map: {LP: L, B: BB},\n"
    "                           allow: [A, BB, C, D, E, F, G, I, J, K, L, W]}\n"
    "    license.endorsements: {drop: [X], map: {H: HAZMAT}, allow: [HAZMAT, M, N, P, S, T], otherwise: T}\n"
    "    person.aliases: {drop: [DP, \"\"], map: {AB60: A}}\n"
    "requesters:\n"
    "  - {ori: XWHOLE000, name: Whole, kind: local, jurisdiction: NY}\n"
    "  - {ori: XNORM0000, name: Norm, kind: local, jurisdiction: NY}\n"
    "rules:\n"
    "  - name: whole\n"
    "    match: {ori: [XWHOLE000]}\n"
    "    decision: release\n"
    "    profile: whole\n"
    "  - name: norm\n"
    "    match: {ori: [XNORM0000]}\n"
    "    decision: release\n"
    "    profile: norm\n";

/* The framed target's variant policy: the example's requesters under
 * other rules (small record limits, not-found and refused refusals). */
static const char fvariant_yaml[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "refusal: not-found\n"
    "profiles:\n"
    "  all:\n"
    "    default: release\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      license.number: encrypt\n"
    "marking:\n"
    "  normalize:\n"
    "    license.class_code: {map: {DP: D}, allow: [A, B, C, CDL-A, CDL-B, CDL-C, D, DJ, E, M, MJ]}\n"
    "    license.restrictions: {drop: [FLA], allow: [A, B, C, D, E, F, G, I, J, K, W]}\n"
    "    license.endorsements: {allow: [H, M, N, P, S, T, X]}\n"
    "requesters:\n"
    "  - {ori: NY0303000, name: Albany County Sheriff's Office, kind: local, jurisdiction: NY}\n"
    "  - {ori_prefix: NY0, name: New York local police agency, kind: local, jurisdiction: NY}\n"
    "  - {ori_prefix: DCICE, name: ICE ERO, kind: federal, jurisdiction: DC, tags: [immigration-enforcement]}\n"
    "  - {ori: NYRES0001, name: SUNY Traffic Safety Study, kind: research, jurisdiction: NY}\n"
    "rules:\n"
    "  - name: police, two at most\n"
    "    match: {agency_kind: [state, local]}\n"
    "    decision: release\n"
    "    max_records: 2\n"
    "    refusal: not-found\n"
    "    profile: all\n"
    "  - name: federal, one at most\n"
    "    match: {agency_kind: [federal]}\n"
    "    decision: release\n"
    "    max_records: 1\n"
    "    refusal: refused\n"
    "    profile: all\n"
    "  - name: research, refused\n"
    "    match: {agency_kind: [research]}\n"
    "    decision: deny\n"
    "    refusal: refused\n";

/* The groups of requested fields a rewrite input may pick (header 0x40). */
static const char *const fz_groups[8][3] = {
    {"record_id"},
    {"person.family_name", "person.given_name", "person.aliases"},
    {"person.residence"},
    {"person.*"},
    {"license.*"},
    {"license.class_code", "license.restrictions"},
    {"vehicles.plate", "vehicles.registered_address"},
    {"history.*", "photo", "marking"},
};

static const char *const tag_imm[] = {"immigration-enforcement"};
static const char *const restrict_fields[] = {"record_id", "person.family_name", "person.residence",
                                              "license.*", "vehicles.plate"};

/* The requesters whose plans the rewrite target runs, and for which the
 * policy target decides a fuzzed policy. */
static dmvf_request req_police(void)
{
    dmvf_request r = {0};
    r.ori = "NY0303000";
    r.agency_kind = DMVF_AGENCY_LOCAL;
    r.jurisdiction = "NY";
    r.purpose = 1;
    r.query_kind = DMVF_QUERY_BY_LICENSE;
    return r;
}

static dmvf_request req_ice(void)
{
    dmvf_request r = {0};
    r.ori = "DCICE0000";
    r.agency_kind = DMVF_AGENCY_FEDERAL;
    r.tags = tag_imm;
    r.ntags = 1;
    r.legal_process = DMVF_LEGAL_JUDICIAL_WARRANT;
    r.query_kind = DMVF_QUERY_BY_LICENSE;
    r.purpose = 1;
    return r;
}

static dmvf_request req_research(void)
{
    dmvf_request r = {0};
    r.ori = "NYRES0001";
    r.agency_kind = DMVF_AGENCY_RESEARCH;
    r.purpose = 5;
    return r;
}

static dmvf_request req_internal(void)
{
    dmvf_request r = {0};
    r.ori = "NYDMV0001";
    r.agency_kind = DMVF_AGENCY_INTERNAL;
    r.jurisdiction = "NY";
    return r;
}

/* The day the checks judge requests on (dmvf_filter_options.as_of). */
#define CHECK_AS_OF 20260101u

static const dmvf_plan *decide(const dmvf_policy *p, const dmvf_request *r)
{
    dmvf_verdict v;
    memset(&v, 0, sizeof v);
    dmvf__policy_decide(p, r, CHECK_AS_OF, &v);
    return v.decision == DMVF_DECISION_RELEASE ? v.plan : NULL;
}

static int add_plan(const char *name, const char *scope, const dmvf_plan *plan)
{
    if (!plan) {
        fprintf(stderr, "fuzz setup: plan %s: the request is not released\n", name);
        return -1;
    }
    fz_plan *fp = &G.plans[G.nplans];
    fp->name = name;
    fp->scope = scope;
    fp->plan = plan;
    fp->kc = dmvf__keyctx_create(G.kr, scope, plan->pseudo_paths, plan->npseudo);
    if (!fp->kc) {
        fprintf(stderr, "fuzz setup: plan %s: no key context\n", name);
        return -1;
    }
    G.nplans++;
    return 0;
}

/* A policy whose one rule (the DMV's own, marking: release) releases every
 * marking and marking-correlated leaf, each named as marking: release
 * wants, with actions that fit: strings masked, pseudonymized or released,
 * dates generalized, the rest released. */
static dmvf_policy *marking_release_policy(dmvf_error *err)
{
    fbuf y = {0};
    static const char head[] = "version: 1\njurisdiction: NY\nprofiles:\n  dmv:\n    default: release\n"
                               "    fields:\n";
    fbuf_put(&y, head, sizeof head - 1);
    for (size_t i = 0, k = 0; i < dmvf__schema_npaths(); i++) {
        const dmvf_sfield *sf = dmvf__schema_field(i);
        if (!(sf->klass & MC) || sf->type == DMVF_T_MESSAGE)
            continue;
        const char *a = "release";
        k++;
        if (sf->type == DMVF_T_STRING && k % 3 == 0)
            a = sf->repeated ? "pseudonymize" : "{mask: {keep_last: 3}}";
        else if (sf->is_date && k % 2)
            a = "{generalize: month}";
        char line[160];
        snprintf(line, sizeof line, "      %s: %s\n", sf->path, a);
        fbuf_put(&y, line, strlen(line));
    }
    static const char tail[] = "requesters:\n  - {ori: NYDMV0001, name: New York DMV Investigations, kind: internal,"
                               " jurisdiction: NY}\n"
                               "rules:\n  - name: dmv internal\n    match: {agency_kind: [internal]}\n"
                               "    decision: release\n    marking: release\n    profile: dmv\n";
    fbuf_put(&y, tail, sizeof tail - 1);
    dmvf_policy *p = dmvf_policy_load_buffer((const char *)y.p, y.n, "<marking-release>", err);
    free(y.p);
    return p;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    fbuf b = {0};
    if (!f)
        return NULL;
    uint8_t tmp[8192];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        fbuf_put(&b, tmp, got);
    fclose(f);
    fbuf_put(&b, "", 0);
    *n = b.n;
    return b.p ? b.p : calloc(1, 1);
}

/* The seeded keyring the targets use (FZ_EPOCHS epochs). */
#define FZ_EPOCHS 2u
static void fz_seed(uint8_t seed[32])
{
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0x5a ^ (i * 7));
}

void dmvf__fuzz_fini(void)
{
    if (!G.ready)
        return;
    for (size_t i = 0; i < G.nplans; i++)
        dmvf__keyctx_free(G.plans[i].kc);
    dmvf__plan_free(G.restricted);
    dmvf_policy_free(G.example);
    dmvf_policy_free(G.every);
    dmvf_policy_free(G.variety);
    dmvf_policy_free(G.mrelease);
    dmvf_policy_free(G.fvariant);
    dmvf_keyring_free(G.kr);
    free(G.fixed_data);
    if (G.devnull)
        fclose(G.devnull);
    unlink(G.kr_input);
    rmdir(G.dir);
    memset(&G, 0, sizeof G);
}

int dmvf__fuzz_init(void)
{
    if (G.ready)
        return 0;
    const char *src = getenv("DMVF_SRC");
    if (!src || !*src)
        src = DMVF_FUZZ_SRC_DIR;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    if (sodium_init() < 0) {
        fprintf(stderr, "fuzz setup: sodium_init failed\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(G.dir, sizeof G.dir, "%s/dmvf-fuzz-XXXXXX",
             tmp && *tmp && strlen(tmp) < sizeof G.dir - 24 ? tmp : "/tmp");
    if (!mkdtemp(G.dir)) {
        fprintf(stderr, "fuzz setup: mkdtemp %s failed\n", G.dir);
        return -1;
    }
    G.ready = 1;
    atexit(dmvf__fuzz_fini);
    snprintf(G.kr_input, sizeof G.kr_input, "%s/input", G.dir);

    char path[4096];
    uint8_t seed[32];
    fz_seed(seed);
    snprintf(path, sizeof path, "%s/seeded", G.dir);
    int rc = dmvf__keyring_create_seeded(path, seed, FZ_EPOCHS, &err);
    G.kr = rc == DMVF_OK ? dmvf_keyring_load(path, NULL, &err) : NULL;
    unlink(path);
    if (!G.kr) {
        fprintf(stderr, "fuzz setup: seeded keyring: %s\n", err.msg);
        return -1;
    }

    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    G.example = dmvf_policy_load_file(path, &err);
    if (!G.example) {
        fprintf(stderr, "fuzz setup: %s (set DMVF_SRC to the source tree)\n", err.msg);
        return -1;
    }
    G.every = dmvf_policy_load_buffer(every_yaml, sizeof every_yaml - 1, "<every-action>", &err);
    if (G.every)
        G.variety = dmvf_policy_load_buffer(variety_yaml, sizeof variety_yaml - 1, "<variety>", &err);
    if (G.variety)
        G.mrelease = marking_release_policy(&err);
    if (G.mrelease)
        G.fvariant = dmvf_policy_load_buffer(fvariant_yaml, sizeof fvariant_yaml - 1, "<framed-variant>", &err);
    if (!G.fvariant) {
        fprintf(stderr, "fuzz setup: %s\n", err.msg);
        return -1;
    }

    dmvf_request r = req_police();
    const dmvf_plan *police = decide(G.example, &r);
    if (add_plan("example/police", "NY0303000", police))
        return -1;
    G.restricted = dmvf__plan_restrict(police, restrict_fields,
                                       sizeof restrict_fields / sizeof restrict_fields[0], &err);
    if (add_plan("example/police+fields", "NY0303000", G.restricted))
        return -1;
    r = req_ice();
    if (add_plan("example/immigration-warrant", "DCICE0000", decide(G.example, &r)))
        return -1;
    r = req_research();
    if (add_plan("example/researcher", "NYRES0001", decide(G.example, &r)))
        return -1;
    r = req_internal();
    if (add_plan("example/dmv-internal", "NYDMV0001", decide(G.example, &r)))
        return -1;
    r = req_police();
    if (add_plan("synthetic/every-action", "NY0303000", decide(G.every, &r)))
        return -1;
    r.ori = "XWHOLE000";
    if (add_plan("variety/whole", "XWHOLE000", decide(G.variety, &r)))
        return -1;
    r.ori = "XNORM0000";
    if (add_plan("variety/normalize", "XNORM0000", decide(G.variety, &r)))
        return -1;
    r = req_internal();
    if (add_plan("synthetic/marking-release-all", "NYDMV0001", decide(G.mrelease, &r)))
        return -1;
    if (add_plan("none (a refused request's check)", "NY0303000", dmvf__plan_none()))
        return -1;

    /* the first golden records (some marked) */
    size_t n = 0;
    snprintf(path, sizeof path, "%s/tests/data/golden/records.bin", src);
    G.fixed_data = slurp(path, &n);
    if (!G.fixed_data) {
        fprintf(stderr, "fuzz setup: cannot read %s\n", path);
        return -1;
    }
    const uint8_t *p = G.fixed_data, *e = G.fixed_data + n;
    while (p < e && G.nfixed < FZ_NFIXED) {
        uint64_t len;
        size_t k = get_varint(p, e, &len);
        if (!k || len > (uint64_t)(e - p - (ptrdiff_t)k))
            break;
        G.fixed[G.nfixed] = p + k;
        G.fixed_len[G.nfixed++] = (size_t)len;
        p += k + (size_t)len;
    }
    G.devnull = fopen("/dev/null", "w");
    if (G.nfixed == 0 || !G.devnull) {
        fprintf(stderr, "fuzz setup: no golden records in %s, or no /dev/null\n", path);
        return -1;
    }
    return 0;
}

static void need_init(void)
{
    if (dmvf__fuzz_init() != 0) {
        fprintf(stderr, "fuzz setup failed\n");
        abort();
    }
}

/* ------------------------------------------------------------ output walkers */

static const dmvf_sfield *sfield_of(const dmvf_snode *sn, uint32_t num)
{
    for (size_t i = 0; i < sn->nfields; i++)
        if (sn->fields[i].number == num)
            return &sn->fields[i];
    return NULL;
}

static unsigned wire_type_of(const dmvf_sfield *sf)
{
    switch (sf->type) {
    case DMVF_T_STRING:
    case DMVF_T_BYTES:
    case DMVF_T_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

/* Checks one released message on the wire; pn may be NULL (schema only). */
static void walk_wire(const char *what, const dmvf_snode *sn, const dmvf_pnode *pn, int marking_ok,
                      const uint8_t *p, size_t n, unsigned depth)
{
    const uint8_t *e = p + n, *start = p;
    uint32_t prev = 0;
    if (depth > 8) {
        fail("%s: output nests deeper than the schema", what);
        return;
    }
    while (p < e) {
        uint64_t key, v = 0, len = 0;
        size_t k = get_varint(p, e, &key);
        if (!k || key > UINT32_MAX) {
            fail("%s: output byte %zu: bad field key", what, (size_t)(p - start));
            return;
        }
        if (k != varint_len(key))
            fail("%s: output byte %zu: key varint not minimal", what, (size_t)(p - start));
        p += k;
        uint32_t num = (uint32_t)(key >> 3);
        unsigned wt = (unsigned)(key & 7);
        const uint8_t *val = p;
        if (wt == 0) {
            k = get_varint(p, e, &v);
            if (!k) {
                fail("%s: field %u: bad varint", what, num);
                return;
            }
            if (k != varint_len(v))
                fail("%s: field %u: varint not minimal", what, num);
            p += k;
        } else if (wt == 2) {
            k = get_varint(p, e, &len);
            if (!k || len > (uint64_t)(e - p - (ptrdiff_t)k)) {
                fail("%s: field %u: bad length", what, num);
                return;
            }
            if (k != varint_len(len))
                fail("%s: field %u: length varint not minimal", what, num);
            val = p + k;
            p = val + len;
        } else {
            fail("%s: field %u: wire type %u in output", what, num, wt);
            return;
        }
        const dmvf_sfield *sf = sfield_of(sn, num);
        if (!sf) {
            fail("%s: unknown field %u in output", what, num);
            continue;
        }
        if (wt != wire_type_of(sf))
            fail("%s: %s has wire type %u", what, sf->path, wt);
        if (num < prev || (num == prev && !sf->repeated))
            fail("%s: %s out of order or repeated (after field %u)", what, sf->path, prev);
        prev = num;
        if (!marking_ok && (sf->klass & MC))
            fail("%s: %s field %s released without marking: release", what,
                 (sf->klass & DMVF_CLASS_M) ? "marking" : "marking-correlated", sf->path);
        if (!sf->repeated && ((wt == 0 && v == 0) || (wt == 2 && len == 0 && sf->type != DMVF_T_MESSAGE)))
            fail("%s: %s: a proto3 default is emitted", what, sf->path);
        const dmvf_fplan *fp = NULL;
        if (pn) {
            if (num > pn->max_number) {
                fail("%s: %s beyond the plan's table", what, sf->path);
                continue;
            }
            fp = &pn->f[num];
            if (fp->action == DMVF_ACT_REDACT) {
                fail("%s: redacted field %s is in the output", what, sf->path);
                continue;
            }
            if ((sf->type == DMVF_T_MESSAGE) != (fp->action == DMVF_ACT_DESCEND))
                fail("%s: %s: action %u does not fit its type", what, sf->path, fp->action);
        }
        if (sf->type == DMVF_T_MESSAGE) {
            if (wt == 2)
                walk_wire(what, sf->child, fp ? fp->child : NULL, marking_ok, val, (size_t)len, depth + 1);
            continue;
        }
        if (!fp)
            continue;
        switch (fp->action) {
        case DMVF_ACT_PSEUDONYMIZE:
            if (wt != 2 || len != DMVF_PSEUDONYM_LEN || val[0] != 'P' || val[5] != '.')
                fail("%s: %s: not a pseudonym", what, sf->path);
            break;
        case DMVF_ACT_ENCRYPT:
            if (wt != 2 || len < 7 || val[0] != 'E' || val[5] != '.')
                fail("%s: %s: not an encryption token", what, sf->path);
            break;
        case DMVF_ACT_GENERALIZE:
            if (fp->gen == DMVF_GEN_ZIP3 ? (wt != 2 || len > 3)
                : fp->gen == DMVF_GEN_YEAR ? (v % 10000u != 0)
                : fp->gen == DMVF_GEN_MONTH ? (v % 100u != 0)
                : fp->gen == DMVF_GEN_DECADE ? (v % 100000u != 0) : 1)
                fail("%s: %s: value not generalized", what, sf->path);
            break;
        case DMVF_ACT_CONSTANT:
            if (wt == 2 ? (len != fp->clen || (len && memcmp(val, fp->cval, (size_t)len) != 0))
                : (sf->type == DMVF_T_UINT32 ? v != (uint32_t)fp->cnum : v != fp->cnum))
                fail("%s: %s: not the plan's constant", what, sf->path);
            break;
        case DMVF_ACT_MASK:
            break;
        default:
            break;
        }
    }
}

static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd, size_t *count)
{
    const char *base = (const char *)m;
    const void *mem = base + fd->offset;
    *count = 1;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        memcpy(count, base + fd->quantifier_offset, sizeof *count);
        return *count > 0;
    }
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
        fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE) {
        protobuf_c_boolean has;
        memcpy(&has, base + fd->quantifier_offset, sizeof has);
        return has != 0;
    }
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s;
        memcpy(&s, mem, sizeof s);
        return s && s[0];
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b;
        memcpy(&b, mem, sizeof b);
        return b.len > 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const void *sub;
        memcpy(&sub, mem, sizeof sub);
        return sub != NULL;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b;
        memcpy(&b, mem, sizeof b);
        return b != 0;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: {
        uint64_t x;
        memcpy(&x, mem, sizeof x);
        return x != 0;
    }
    default: {
        uint32_t x;
        memcpy(&x, mem, sizeof x);
        return x != 0;
    }
    }
}

/* Checks an unpacked released message; pn may be NULL (schema only). */
static void walk_msg(const char *what, const ProtobufCMessage *m, const dmvf_snode *sn, const dmvf_pnode *pn,
                     int marking_ok)
{
    if (m->descriptor != sn->desc) {
        fail("%s: message at %s has the wrong type", what, sn->path[0] ? sn->path : "<record>");
        return;
    }
    if (m->n_unknown_fields)
        fail("%s: %u unknown field(s) in %s", what, m->n_unknown_fields, sn->path[0] ? sn->path : "<record>");
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        size_t count;
        if (!present(m, fd, &count))
            continue;
        const dmvf_sfield *sf = sfield_of(sn, fd->id);
        if (!sf) {
            fail("%s: field %u of %s is not in the schema", what, fd->id, d->name);
            continue;
        }
        if (!marking_ok && (sf->klass & MC))
            fail("%s: %s field %s present after unpacking", what,
                 (sf->klass & DMVF_CLASS_M) ? "marking" : "marking-correlated", sf->path);
        const dmvf_fplan *fp = NULL;
        if (pn) {
            fp = fd->id <= pn->max_number ? &pn->f[fd->id] : NULL;
            if (!fp || fp->action == DMVF_ACT_REDACT) {
                fail("%s: redacted field %s present after unpacking", what, sf->path);
                continue;
            }
        }
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *mem = (const char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            ProtobufCMessage **a;
            memcpy(&a, mem, sizeof a);
            for (size_t j = 0; j < count; j++)
                walk_msg(what, a[j], sf->child, fp ? fp->child : NULL, marking_ok);
        } else {
            ProtobufCMessage *sub;
            memcpy(&sub, mem, sizeof sub);
            walk_msg(what, sub, sf->child, fp ? fp->child : NULL, marking_ok);
        }
    }
}

/* Both walkers over one released record; pn NULL: schema only. */
static void check_released(const char *what, const dmvf_pnode *pn, int marking_ok, const uint8_t *p, size_t n)
{
    unsigned before = g_fails;
    walk_wire(what, dmvf__schema_root(), pn, marking_ok, p, n, 0);
    ProtobufCMessage *m = protobuf_c_message_unpack(&dmv__v1__driver_record__descriptor, NULL, n, p);
    if (!m)
        fail("%s: protobuf-c cannot unpack the released record", what);
    else
        walk_msg(what, m, dmvf__schema_root(), pn, marking_ok);
    protobuf_c_message_free_unpacked(m, NULL);
    if (g_fails != before)
        hexdump("released record", p, n);
}

/* ------------------------------------------------------------ rewrite */

static void put_varint_fb(fbuf *b, uint64_t v)
{
    uint8_t t[10];
    fbuf_put(b, t, (size_t)(dmvf__put_varint(t, v) - t));
}

static void put_random(fbuf *b, uint64_t *rng, size_t max)
{
    size_t k = (size_t)(rnd(rng) % (max + 1));
    for (size_t i = 0; i < k; i++) {
        uint8_t c = (uint8_t)rnd(rng);
        fbuf_put(b, &c, 1);
    }
}

/* An M or C field numbered num with other contents: any wire type, a
 * group holding unknown fields among them. */
static void put_other(fbuf *out, uint32_t num, uint64_t *rng)
{
    static const unsigned wts[] = {0, 1, 2, 3, 5};
    unsigned wt = wts[rnd(rng) % 5];
    put_varint_fb(out, (uint64_t)num << 3 | wt);
    switch (wt) {
    case 0: put_varint_fb(out, rnd(rng) >> (rnd(rng) % 64)); break;
    case 1: { uint64_t x = rnd(rng); fbuf_put(out, &x, 8); break; }
    case 5: { uint32_t x = (uint32_t)rnd(rng); fbuf_put(out, &x, 4); break; }
    case 3:
        for (uint64_t k = rnd(rng) % 3; k; k--) {
            put_varint_fb(out, (uint64_t)(100 + rnd(rng) % 50) << 3 | 0);
            put_varint_fb(out, rnd(rng) % 1000);
        }
        put_varint_fb(out, (uint64_t)num << 3 | 4);
        break;
    default: {
        fbuf v = {0};
        put_random(&v, rng, 16);
        put_varint_fb(out, v.n);
        fbuf_put(out, NONNULL(v.p), v.n);
        free(v.p);
    }
    }
}

/* One M or C field [at, next) (number num, wire type wt, value val/vlen)
 * altered as rng draws, into out. */
static void alter_one(fbuf *out, uint32_t num, unsigned wt, const uint8_t *at, const uint8_t *next,
                      const uint8_t *val, uint32_t vlen, uint64_t *rng)
{
    switch (rnd(rng) % 8) {
    case 0: case 1: /* removed */
        break;
    case 2: /* other bytes */
        put_other(out, num, rng);
        break;
    case 3: /* in pieces, cut anywhere */
        if (wt == 2) {
            uint32_t cut = vlen ? (uint32_t)(rnd(rng) % (vlen + 1u)) : 0;
            put_varint_fb(out, (uint64_t)num << 3 | 2);
            put_varint_fb(out, cut);
            fbuf_put(out, val, cut);
            put_varint_fb(out, (uint64_t)num << 3 | 2);
            put_varint_fb(out, vlen - cut);
            fbuf_put(out, val + cut, vlen - cut);
        } else {
            fbuf_put(out, at, (size_t)(next - at));
            fbuf_put(out, at, (size_t)(next - at));
        }
        break;
    case 4: { /* given an unknown group: inside it, or it inside one */
        uint32_t g = 100 + (uint32_t)(rnd(rng) % 50);
        fbuf inner = {0};
        if (wt == 2)
            fbuf_put(&inner, val, vlen);
        put_varint_fb(&inner, (uint64_t)g << 3 | 3);
        put_varint_fb(&inner, (uint64_t)(g + 1) << 3 | 0);
        put_varint_fb(&inner, rnd(rng) % 100000);
        put_varint_fb(&inner, (uint64_t)g << 3 | 4);
        if (wt == 2) {
            put_varint_fb(out, (uint64_t)num << 3 | 2);
            put_varint_fb(out, inner.n);
            fbuf_put(out, inner.p, inner.n);
        } else {
            put_varint_fb(out, (uint64_t)num << 3 | 3);
            fbuf_put(out, at, (size_t)(next - at));
            fbuf_put(out, inner.p, inner.n);
            put_varint_fb(out, (uint64_t)num << 3 | 4);
        }
        free(inner.p);
        break;
    }
    case 5: /* doubled */
        fbuf_put(out, at, (size_t)(next - at));
        /* fall through */
    default: /* kept */
        fbuf_put(out, at, (size_t)(next - at));
        break;
    }
}

/* Writes message p[0..n) (schema node sn) into out with its M and C
 * fields altered: all removed (rng NULL) or each as rng draws, new ones
 * added. Follows the fields as far as they step (dmvf__wire_field, groups
 * included), recursing into known sub-messages; the bytes from a field
 * that does not step on are copied as they are. */
static void alter_marking(const dmvf_snode *sn, const uint8_t *p, size_t n, uint64_t *rng, fbuf *out)
{
    const uint8_t *e = p + n;
    while (p < e) {
        uint32_t num, vlen;
        unsigned wt;
        const uint8_t *val;
        size_t used = dmvf__wire_field(p, e, &num, &wt, &val, &vlen);
        if (!used) {
            fbuf_put(out, p, (size_t)(e - p)); /* the rest does not step: as it is */
            return;
        }
        const uint8_t *next = p + used;
        const dmvf_sfield *sf = sfield_of(sn, num);
        if (sf && (sf->klass & MC)) {
            if (rng)
                alter_one(out, num, wt, p, next, val, vlen, rng);
        } else if (sf && sf->type == DMVF_T_MESSAGE && wt == 2) {
            uint32_t n2;
            unsigned wt2;
            size_t k = dmvf__key_read(p, e, &n2, &wt2);
            fbuf sub = {0};
            alter_marking(sf->child, val, vlen, rng, &sub);
            fbuf_put(out, p, k);
            put_varint_fb(out, sub.n);
            fbuf_put(out, NONNULL(sub.p), sub.n);
            free(sub.p);
        } else {
            fbuf_put(out, p, used);
        }
        p = next;
    }
    if (rng && rnd(rng) % 4 == 0) {
        /* a new M or C field of this message, if it has any */
        const dmvf_sfield *pick = NULL;
        size_t seen = 0;
        for (size_t i = 0; i < sn->nfields; i++)
            if ((sn->fields[i].klass & MC) && rnd(rng) % ++seen == 0)
                pick = &sn->fields[i];
        if (pick)
            put_other(out, pick->number, rng);
    }
}

/* For a plan without marking: release, twins of the record (alter_marking:
 * every M and C field removed; each altered as the input's hash draws)
 * are rewritten as the record was: status rw (with its message) and, on
 * success, the bytes released[0..rlen). */
static void check_twins(const fz_plan *fp, const uint8_t *in, size_t n, int rw, const dmvf_error *ew,
                        const uint8_t *released, size_t rlen)
{
    uint64_t seed = fnv1a(in, n) ^ (uint64_t)(uintptr_t)fp->plan;
    for (int k = 0; k < 3; k++) {
        fbuf twin = {0};
        uint64_t rng = seed + (uint64_t)k * 0x9e3779b97f4a7c15ull;
        alter_marking(dmvf__schema_root(), in, n, k ? &rng : NULL, &twin);
        size_t cap = 2 * twin.n + 256 + fp->plan->max_token_growth, tlen = 0;
        uint8_t *out = malloc(cap);
        dmvf_error et;
        memset(&et, 0, sizeof et);
        if (!out)
            abort();
        int rc = dmvf__rewrite(fp->plan, fp->kc, NONNULL(twin.p), twin.n, out, cap, &tlen, &et);
        if (rc == DMVF_ESPACE) {
            free(out);
            cap = 2 * cap + ((size_t)1 << 20);
            out = malloc(cap);
            if (!out)
                abort();
            rc = dmvf__rewrite(fp->plan, fp->kc, NONNULL(twin.p), twin.n, out, cap, &tlen, &et);
        }
        const char *what = k ? "its twin (M and C fields altered)" : "its twin without M and C fields";
        if (rc != rw || (rc && strcmp(et.msg, ew->msg) != 0))
            fail("plan %s: the record gives %s (%s), %s gives %s (%s)", fp->name, dmvf_strerror(rw),
                 rw ? ew->msg : "", what, dmvf_strerror(rc), rc ? et.msg : "");
        else if (rc == DMVF_OK && (tlen != rlen || (rlen && memcmp(out, released, rlen) != 0)))
            fail("plan %s: the record and %s release different bytes", fp->name, what);
        else {
            free(out);
            free(twin.p);
            continue;
        }
        hexdump("twin", NONNULL(twin.p), twin.n);
        if (rc == DMVF_OK)
            hexdump("twin released", out, tlen);
        free(out);
        free(twin.p);
    }
}

/* Rewriter against reference for one plan; outputs checked. */
static void rewrite_one(const fz_plan *fp, const uint8_t *in, size_t n)
{
    dmvf_error er, ew;
    memset(&er, 0, sizeof er);
    memset(&ew, 0, sizeof ew);
    uint8_t *ro = NULL;
    size_t rlen = 0, wlen = 0;
    int rr = dmvf__reference_record(fp->plan, fp->kc, in, n, &ro, &rlen, &er);

    size_t cap = 2 * n + 256 + fp->plan->max_token_growth;
    uint8_t *out = NULL;
    int rw;
    for (;;) {
        out = malloc(cap);
        if (!out)
            abort();
        rw = dmvf__rewrite(fp->plan, fp->kc, in, n, out, cap, &wlen, &ew);
        if (rw != DMVF_ESPACE || cap > ((size_t)256 << 20))
            break;
        free(out);
        cap *= 4;
    }
    unsigned before = g_fails;
    if (rw == DMVF_ESPACE)
        fail("plan %s: DMVF_ESPACE with %zu bytes of room for a %zu-byte record", fp->name, cap, n);
    if (rw != DMVF_OK && rw != DMVF_EMALFORMED && rw != DMVF_ETOOBIG && rw != DMVF_ESPACE)
        fail("plan %s: the rewriter returns %s", fp->name, dmvf_strerror(rw));
    if (rw != DMVF_OK && !one_line(ew.msg))
        fail("plan %s: the rewriter's error message is empty or not one line", fp->name);
    if (rr != DMVF_EINVAL) {
        if (rr != rw)
            fail("plan %s: reference says %s (%s), rewriter says %s (%s)", fp->name, dmvf_strerror(rr),
                 rr ? er.msg : "", dmvf_strerror(rw), rw ? ew.msg : "");
        else if (rr == DMVF_OK && (rlen != wlen || (wlen && memcmp(ro, out, wlen) != 0))) {
            fail("plan %s: the rewriter and the reference release different bytes", fp->name);
            hexdump("reference", ro, rlen);
            hexdump("rewriter", out, wlen);
        }
    }
    if (!fp->plan->marking_release && rw != DMVF_ESPACE)
        check_twins(fp, in, n, rw, &ew, out, wlen);
    if (rw == DMVF_OK) {
        check_released(fp->name, fp->plan->root, fp->plan->marking_release, out, wlen);
        /* into exactly the released length: the same bytes, or DMVF_ESPACE
         * (the rewriter may want room for a transform's bound before it
         * knows the final size); one byte less: DMVF_ESPACE. The buffers are
         * heap blocks of exactly that size, so that the sanitizers see any
         * write past them. */
        uint8_t *exact = malloc(wlen ? wlen : 1);
        size_t xlen = 0;
        if (!exact)
            abort();
        int rx = dmvf__rewrite(fp->plan, fp->kc, in, n, exact, wlen, &xlen, &ew);
        if (rx != DMVF_ESPACE && (rx != DMVF_OK || xlen != wlen || memcmp(exact, out, wlen) != 0))
            fail("plan %s: rewriting into exactly %zu bytes gives %s, %zu bytes", fp->name, wlen,
                 dmvf_strerror(rx), xlen);
        if (wlen > 0) {
            rx = dmvf__rewrite(fp->plan, fp->kc, in, n, exact, wlen - 1, &xlen, &ew);
            if (rx != DMVF_ESPACE)
                fail("plan %s: %zu bytes of room for %zu gives %s, not DMVF_ESPACE", fp->name, wlen - 1, wlen,
                     dmvf_strerror(rx));
        }
        free(exact);
    }
    if (g_fails != before)
        hexdump("input record", in, n);
    free(ro);
    free(out);
}

int dmvf__fuzz_rewrite(const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    uint8_t h = n ? data[0] : 0xff;
    if (h == 0xff) {
        for (size_t i = 0; i < G.nplans; i++)
            rewrite_one(&G.plans[i], data + (n > 0), n - (n > 0));
        return (int)g_fails;
    }
    const fz_plan *base = &G.plans[(h & 0x3f) % G.nplans];
    if (!(h & 0x40) || n < 2) {
        rewrite_one(base, data + 1, n - 1);
        return (int)g_fails;
    }
    /* the base plan restricted to the requested-field groups byte 1 picks */
    const char *fields[24];
    size_t nf = 0;
    for (unsigned g = 0; g < 8; g++)
        if (data[1] & (1u << g))
            for (unsigned j = 0; j < 3 && fz_groups[g][j]; j++)
                fields[nf++] = fz_groups[g][j];
    dmvf_error err;
    dmvf_plan *sub = dmvf__plan_restrict(base->plan, fields, nf, &err);
    if (!sub) {
        fail("plan %s restricted to %u: %s", base->name, data[1], err.msg);
        return (int)g_fails;
    }
    fz_plan fp = {"restricted", base->scope, sub, NULL};
    fp.kc = dmvf__keyctx_create(G.kr, fp.scope, sub->pseudo_paths, sub->npseudo);
    if (!fp.kc)
        fail("plan %s restricted: no key context", base->name);
    else
        rewrite_one(&fp, data + 2, n - 2);
    dmvf__keyctx_free(fp.kc);
    dmvf__plan_free(sub);
    return (int)g_fails;
}

/* ------------------------------------------------------------ stream feeding */

typedef int (*stream_fn)(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err);

static int call_framed(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_framed_stream(h, out, in, end, err);
}

static int call_filter(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err)
{
    return dmvf_filter_stream(h, out, in, end, err);
}

/* Feeds data[0..n) to a stream processor, whole (rng NULL: one call with
 * end set, output grown on DMVF_ESPACE) or in pieces drawn from rng (input
 * chunks, output windows). Collects the output; returns the final status. */
static int feed(stream_fn fn, void *h, const uint8_t *data, size_t n, uint64_t *rng, fbuf *ob,
                dmvf_error *err, const char *what)
{
    size_t off = 0;
    uint8_t win[4096];
    unsigned long long spins = 0;
    for (;;) {
        size_t chunk = rng ? (n - off ? dmvf__fuzz_piece(rng, n - off) : 0) : n - off;
        int end = off + chunk == n;
        dmvf_in_buffer in = {data + off, chunk, 0};
        int rc;
        for (;;) {
            size_t room = rng ? dmvf__fuzz_piece(rng, sizeof win) : sizeof win;
            dmvf_out_buffer out = {win, room, 0};
            rc = fn(h, &out, &in, end, err);
            if (out.pos > room) {
                fail("%s: out.pos %zu beyond the window of %zu", what, out.pos, room);
                return DMVF_ESTATE;
            }
            if (in.pos > in.size) {
                fail("%s: in.pos %zu beyond the chunk of %zu", what, in.pos, in.size);
                return DMVF_ESTATE;
            }
            fbuf_put(ob, win, out.pos);
            if (rc != DMVF_ESPACE)
                break;
            if (out.pos == 0) {
                fail("%s: DMVF_ESPACE without writing into %zu bytes of room", what, room);
                return DMVF_ESTATE;
            }
            if (++spins > 100000000ull) {
                fail("%s: no end after 1e8 calls", what);
                return DMVF_ESTATE;
            }
        }
        if (rc != DMVF_OK)
            return rc;
        if (in.pos != in.size) {
            fail("%s: DMVF_OK with %zu of %zu input bytes consumed", what, in.pos, in.size);
            return DMVF_ESTATE;
        }
        off += chunk;
        if (end)
            return DMVF_OK;
    }
}

/* The whole-run and the chunked run agree. */
static void compare_runs(const char *what, int r1, const dmvf_error *e1, const fbuf *o1, int r2,
                         const dmvf_error *e2, const fbuf *o2)
{
    if (r1 != r2) {
        fail("%s: whole input gives %s (%s), in pieces %s (%s)", what, dmvf_strerror(r1), r1 ? e1->msg : "",
             dmvf_strerror(r2), r2 ? e2->msg : "");
        return;
    }
    if (r1 == DMVF_OK) {
        if (o1->n != o2->n || (o1->n && memcmp(o1->p, o2->p, o1->n) != 0))
            fail("%s: whole input and pieces give different output (%zu vs %zu bytes)", what, o1->n, o2->n);
        return;
    }
    if (e1->offset != e2->offset || e1->record != e2->record)
        fail("%s: %s at offset %llu record %llu whole, at offset %llu record %llu in pieces (%s / %s)", what,
             dmvf_strerror(r1), (unsigned long long)e1->offset, (unsigned long long)e1->record,
             (unsigned long long)e2->offset, (unsigned long long)e2->record, e1->msg, e2->msg);
    if (!one_line(e1->msg) || !one_line(e2->msg))
        fail("%s: error message empty or not one line", what);
}

/* ------------------------------------------------------------ framed */

#define FZ_MAXREQ 4096

typedef struct fr_log {
    size_t n;
    uint8_t decision[FZ_MAXREQ];
    uint8_t marking_ok[FZ_MAXREQ];
    uint64_t in[FZ_MAXREQ];
    uint64_t out[FZ_MAXREQ];
} fr_log;

static void on_request(void *ud, const dmvf_filter *f, const dmvf_trailer *t)
{
    fr_log *lg = ud;
    if (lg->n < FZ_MAXREQ) {
        const char *rule = dmvf_filter_rule(f);
        uint64_t in, out, dropped;
        dmvf_filter_counts(f, &in, &out, &dropped);
        lg->decision[lg->n] = (uint8_t)dmvf_filter_decision(f);
        /* in the example policy only this rule says marking: release */
        lg->marking_ok[lg->n] = rule && strcmp(rule, "dmv internal") == 0;
        lg->in[lg->n] = in;
        lg->out[lg->n] = out;
    }
    lg->n++;
    (void)t;
}

/* Checks the output of a framed stream that succeeded: the frames, and that
 * it is a signed release that verifies under the keyring's public key (one
 * seal, last). */
static void check_framed_output(const uint8_t *p, size_t n, const fr_log *lg, const dmvf_framed_stats *st)
{
    const uint8_t *e = p + n, *start = p;
    size_t req = 0, seals = 0;
    uint64_t records = 0, total = 0;
    char what[64];
    uint8_t pub[32];
    dmvf_error verr;
    uint64_t vreq = 0;
    dmvf_keyring_public_key(G.kr, pub);
    if (dmvf_release_verify(start, n, pub, &vreq, &verr) != DMVF_OK)
        fail("framed output: the release does not verify: %s", verr.msg);
    else if (vreq != lg->n)
        fail("framed output: the release verifies with %llu requests, %zu finished",
             (unsigned long long)vreq, lg->n);
    while (p < e) {
        uint64_t len, key, blen;
        size_t k = get_varint(p, e, &len);
        if (!k || len > (uint64_t)(e - p - (ptrdiff_t)k)) {
            fail("framed output: bad frame prefix at byte %zu", (size_t)(n - (size_t)(e - p)));
            return;
        }
        const uint8_t *f = p + k, *fe = f + len;
        p = fe;
        Dmv__V1__Frame *fm = dmv__v1__frame__unpack(NULL, (size_t)len, f);
        if (!fm) {
            fail("framed output: a frame does not unpack as dmv.v1.Frame");
            return;
        }
        int body = fm->body_case;
        uint64_t tout = body == DMV__V1__FRAME__BODY_TRAILER ? fm->trailer->records_out : 0;
        uint64_t sreq = body == DMV__V1__FRAME__BODY_SEAL ? fm->seal->requests : 0;
        dmv__v1__frame__free_unpacked(fm, NULL);
        /* exactly one field: the body */
        size_t kk = get_varint(f, fe, &key);
        size_t kl = kk ? get_varint(f + kk, fe, &blen) : 0;
        if (!kk || !kl || f + kk + kl + blen != fe) {
            fail("framed output: a frame is not exactly one body field");
            return;
        }
        if (seals) {
            fail("framed output: a frame after the seal");
            return;
        }
        if (body == DMV__V1__FRAME__BODY_SEAL) {
            seals++;
            if (sreq != lg->n)
                fail("framed output: the seal counts %llu requests, %zu finished",
                     (unsigned long long)sreq, lg->n);
        } else if (body == DMV__V1__FRAME__BODY_RECORD) {
            if (req >= lg->n) {
                fail("framed output: a record frame after the last request's trailer");
                return;
            }
            if (req < FZ_MAXREQ && lg->decision[req] != DMVF_DECISION_RELEASE)
                fail("framed output: request %zu is refused but a record is released", req);
            snprintf(what, sizeof what, "framed request %zu record %llu", req, (unsigned long long)records);
            check_released(what, NULL, req < FZ_MAXREQ ? lg->marking_ok[req] : 0, f + kk + kl, (size_t)blen);
            records++;
            total++;
        } else if (body == DMV__V1__FRAME__BODY_TRAILER) {
            if (records != tout)
                fail("framed output: request %zu: %llu record frames, trailer says %llu", req,
                     (unsigned long long)records, (unsigned long long)tout);
            if (req < lg->n && req < FZ_MAXREQ && records != lg->out[req])
                fail("framed output: request %zu: %llu record frames, the filter counted %llu", req,
                     (unsigned long long)records, (unsigned long long)lg->out[req]);
            records = 0;
            req++;
        } else {
            fail("framed output: a frame of kind %d", body);
        }
    }
    if (records)
        fail("framed output: records after the last trailer");
    if (seals != 1)
        fail("framed output: %zu seal frames (one, last, expected)", seals);
    if (req != lg->n || req != st->requests)
        fail("framed output: %zu trailers, %zu requests finished, %llu counted", req, lg->n,
             (unsigned long long)st->requests);
    if (total != st->records_out)
        fail("framed output: %llu record frames, stats say %llu", (unsigned long long)total,
             (unsigned long long)st->records_out);
}

/* The record frames of each request in an input that was accepted:
 * counts[k] for the k-th request frame. Returns the number of requests. */
/* Skips the value of the field whose key was just read (f is past it), an
 * unknown group's fields included (protobuf parsers skip one so, and the
 * library does): 1, or 0 when f..fe does not hold it whole or key is a
 * group's end. */
static int skip_value(const uint8_t **pf, const uint8_t *fe, uint64_t key, int depth)
{
    const uint8_t *f = *pf;
    uint64_t v;
    size_t k;
    switch (key & 7) {
    case 0:
        if (!(k = get_varint(f, fe, &v)))
            return 0;
        f += k;
        break;
    case 1: f += 8; break;
    case 5: f += 4; break;
    case 2:
        if (!(k = get_varint(f, fe, &v)) || v > (uint64_t)(fe - f - (ptrdiff_t)k))
            return 0;
        f += k + (size_t)v;
        break;
    case 3:   /* to the end key of the same number, nested groups skipped */
        for (;;) {
            uint64_t inner;
            if (depth > 64 || f >= fe || !(k = get_varint(f, fe, &inner)))
                return 0;
            f += k;
            if ((inner & 7) == 4) {
                if ((inner >> 3) != (key >> 3))
                    return 0;
                break;
            }
            if (!skip_value(&f, fe, inner, depth + 1))
                return 0;
        }
        break;
    default:
        return 0;
    }
    if (f > fe)
        return 0;
    *pf = f;
    return 1;
}

static size_t count_input_records(const uint8_t *p, size_t n, uint64_t *counts, size_t max)
{
    const uint8_t *e = p + n;
    size_t req = 0;
    int open = 0;
    while (p < e) {
        uint64_t len, key;
        size_t k = get_varint(p, e, &len);
        if (!k || len > (uint64_t)(e - p - (ptrdiff_t)k))
            return req;
        const uint8_t *f = p + k, *fe = f + len;
        p = fe;
        unsigned body = 0;
        while (f < fe) {
            if (!(k = get_varint(f, fe, &key)))
                return req;
            f += k;
            if (!skip_value(&f, fe, key, 0))
                return req;
            if ((key & 7) != 3 && (key >> 3) >= 1 && (key >> 3) <= 3)
                body = (unsigned)(key >> 3);
        }
        if (body == 1) {
            if (req < max)
                counts[req] = 0;
            req++;
            open = 1;
        } else if (body == 2 && open && req - 1 < max) {
            counts[req - 1]++;
        } else if (body == 3) {
            open = 0;
        }
    }
    return req;
}

/* What a framed input's header byte chooses (see the top of the file). */
typedef struct fr_cfg {
    const dmvf_policy *policy;
    dmvf_filter_options opts;
    uint64_t max_frames;        /* 0: the default */
    unsigned audit;             /* 0 none, 1 passes, 2 fails at call 3, 3 at the first end */
    unsigned calls;             /* audit hook calls so far */
} fr_cfg;

static fr_cfg framed_cfg(uint8_t h)
{
    fr_cfg c;
    memset(&c, 0, sizeof c);
    c.policy = G.example;
    c.opts.max_record_bytes = FZ_MAX_RECORD;
    c.opts.as_of = CHECK_AS_OF;
    if (h == 0xff)
        return c;
    c.opts.drop_malformed = h & 0x01;
    c.opts.count_fields = c.opts.collect_subjects = (h & 0x02) != 0;
    c.max_frames = h & 0x04 ? 2 : 0;
    c.audit = (h >> 3) & 3u;
    if (h & 0x20)
        c.opts.max_record_bytes = 200;
    if (h & 0x40)
        c.policy = G.fvariant;
    c.opts.hold_for_review = (h & 0x80) != 0;
    return c;
}

static int framed_audit(void *ud, dmvf_filter *f, const dmvf_trailer *t)
{
    fr_cfg *c = ud;
    (void)f;
    c->calls++;
    if (c->audit == 2)
        return c->calls == 3;
    if (c->audit == 3)
        return t != NULL;
    return 0;
}

static int framed_run(const fr_cfg *cfg0, const uint8_t *data, size_t n, uint64_t *rng, fbuf *ob, dmvf_error *err,
                      fr_log *lg, dmvf_framed_stats *st)
{
    fr_cfg cfg = *cfg0;
    dmvf_framed *fr = dmvf_framed_create(cfg.policy, G.kr, &cfg.opts, err);
    if (!fr) {
        fail("framed: dmvf_framed_create: %s", err->msg);
        return DMVF_ENOMEM;
    }
    dmvf_framed_set_callback(fr, on_request, lg);
    if (cfg.max_frames)
        dmvf_framed_set_max_request_frames(fr, cfg.max_frames);
    if (cfg.audit)
        dmvf_framed_set_audit(fr, framed_audit, &cfg);
    int rc = feed(call_framed, fr, data, n, rng, ob, err, rng ? "framed (pieces)" : "framed (whole)");
    if (rc != DMVF_OK && rc != DMVF_ESTATE) {
        /* sticky: a further call must say so and write nothing */
        uint8_t tmp[16];
        dmvf_out_buffer o = {tmp, sizeof tmp, 0};
        dmvf_in_buffer i = {data, n, 0};
        dmvf_error e2;
        if (dmvf_framed_stream(fr, &o, &i, 1, &e2) != DMVF_ESTATE || o.pos || i.pos)
            fail("framed: an error is not sticky");
    }
    dmvf_framed_stats_get(fr, st);
    dmvf_framed_free(fr);
    return rc;
}

/* The input read as a signed release (dmvf_release_verify, the reader of
 * framed output): whole and through the incremental verifier in pieces
 * drawn from rng, the two must agree on status, offset and message; the
 * status is a verdict (OK, ETAMPER, EMALFORMED), never anything else. */
static void check_verify_input(const uint8_t *data, size_t n, uint64_t *rng)
{
    uint8_t pub[32];
    dmvf_keyring_public_key(G.kr, pub);
    dmvf_error e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    uint64_t q1 = 0, q2 = 0;
    int r1 = dmvf_release_verify(data, n, pub, &q1, &e1);
    dmvf_release_verifier *v = dmvf_release_verifier_create(pub, &e2);
    if (!v) {
        fail("verify: dmvf_release_verifier_create: %s", e2.msg);
        return;
    }
    int r2 = DMVF_OK;
    for (size_t off = 0; off < n && r2 == DMVF_OK;) {
        size_t k = dmvf__fuzz_piece(rng, n - off);
        r2 = dmvf_release_verifier_update(v, data + off, k, &e2);
        off += k;
    }
    if (r2 == DMVF_OK)
        r2 = dmvf_release_verifier_final(v, &q2, &e2);
    dmvf_release_verifier_free(v);
    if (r1 != DMVF_OK && r1 != DMVF_ETAMPER && r1 != DMVF_EMALFORMED)
        fail("verify: unexpected status %s: %s", dmvf_strerror(r1), e1.msg);
    if (r1 != r2 || q1 != q2 || (r1 && (e1.offset != e2.offset || strcmp(e1.msg, e2.msg) != 0)))
        fail("verify: whole gives %s (%s), pieces %s (%s)", dmvf_strerror(r1), e1.msg,
             dmvf_strerror(r2), e2.msg);
}

int dmvf__fuzz_framed(const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    fr_cfg cfg = framed_cfg(n ? data[0] : 0xff);
    if (n) {
        data++;
        n--;
    }
    static fr_log l1, l2;
    fbuf o1 = {0}, o2 = {0};
    dmvf_error e1, e2;
    dmvf_framed_stats s1, s2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    l1.n = l2.n = 0;
    uint64_t rng = fnv1a(data, n);
    int r1 = framed_run(&cfg, data, n, NULL, &o1, &e1, &l1, &s1);
    int r2 = framed_run(&cfg, data, n, &rng, &o2, &e2, &l2, &s2);
    compare_runs("framed", r1, &e1, &o1, r2, &e2, &o2);
    check_verify_input(data, n, &rng);
    if (r1 == DMVF_OK) {
        check_framed_output(NONNULL(o1.p), o1.n, &l1, &s1);
        /* the true counts (dmvf_filter_counts) see every record frame */
        static uint64_t counted[FZ_MAXREQ];
        size_t nreq = count_input_records(data, n, counted, FZ_MAXREQ);
        if (nreq != l1.n)
            fail("framed: %zu request frames in the input, %zu requests finished", nreq, l1.n);
        for (size_t k = 0; k < nreq && k < l1.n && k < FZ_MAXREQ; k++)
            if (counted[k] != l1.in[k]) {
                fail("framed: request %zu has %llu record frames, dmvf_filter_counts says %llu in", k,
                     (unsigned long long)counted[k], (unsigned long long)l1.in[k]);
                break;
            }
        if (memcmp(&s1, &s2, sizeof s1) != 0)
            fail("framed: whole input and pieces give different statistics");
    } else if (r1 != DMVF_EMALFORMED && r1 != DMVF_ETOOBIG && r1 != DMVF_EINVAL &&
               !(r1 == DMVF_EIO && cfg.audit >= 2) && r1 != DMVF_ENOSUBJECT) {
        /* (ENOSUBJECT: a record without a record_id under the immigration rule) */
        fail("framed: unexpected status %s: %s", dmvf_strerror(r1), e1.msg);
    }
    if (g_fails)
        hexdump("input", data, n < 256 ? n : 256);
    free(o1.p);
    free(o2.p);
    return (int)g_fails;
}

/* ------------------------------------------------------------ gzip */

static int plain_run(const uint8_t *data, size_t n, uint64_t *rng, fbuf *ob, dmvf_error *err,
                     uint64_t *out_count)
{
    dmvf_filter_options opts = {.max_record_bytes = FZ_MAX_RECORD, .as_of = CHECK_AS_OF};
    dmvf_request r = req_police();
    dmvf_filter *f = dmvf_filter_create(G.example, G.kr, &r, &opts, err);
    if (!f) {
        fail("gzip: dmvf_filter_create: %s", err->msg);
        return DMVF_ENOMEM;
    }
    if (dmvf_filter_decision(f) != DMVF_DECISION_RELEASE)
        fail("gzip: the police request is not released");
    int rc = feed(call_filter, f, data, n, rng, ob, err, rng ? "stream (pieces)" : "stream (whole)");
    uint64_t in, dropped;
    dmvf_filter_counts(f, &in, out_count, &dropped);
    dmvf_filter_free(f);
    return rc;
}

int dmvf__fuzz_gzip(const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    fbuf z1 = {0}, z2 = {0}, o1 = {0}, o2 = {0};
    char m1[160], m2[160];
    uint64_t rng = fnv1a(data, n);
    int g1 = dmvf__fuzz_gunzip(data, n, NULL, FZ_GZ_MAX, &z1.p, &z1.n, m1, sizeof m1);
    int g2 = dmvf__fuzz_gunzip(data, n, &rng, FZ_GZ_MAX, &z2.p, &z2.n, m2, sizeof m2);
    if (g1 == DMVF_ESTATE || g2 == DMVF_ESTATE)
        fail("gzip: %s", g1 == DMVF_ESTATE ? m1 : m2);
    if (g1 != g2)
        fail("gzip: whole reads give %s (%s), short reads %s (%s)", dmvf_strerror(g1), m1, dmvf_strerror(g2), m2);
    else if (g1 == DMVF_OK && (z1.n != z2.n || (z1.n && memcmp(z1.p, z2.p, z1.n) != 0)))
        fail("gzip: whole and short reads inflate to different bytes (%zu vs %zu)", z1.n, z2.n);
    else if (g1 == DMVF_EGZIP && strcmp(m1, m2) != 0) /* (past the limit, the offset depends on the pieces) */
        fail("gzip: whole and short reads fail differently: '%s' vs '%s'", m1, m2);
    if (dmvf__cz_have_isal() && n >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        /* the other gzip engine: a valid stream decodes to one thing, and
           both engines refuse the same inputs */
        int e = dmvf__cz_engine();
        dmvf_cz_engine other = e == DMVF_CZ_ISAL ? DMVF_CZ_ZLIB : DMVF_CZ_ISAL;
        fbuf z3 = {0};
        char m3[160];
        int g3 = dmvf__fuzz_gunzip_with(data, n, NULL, FZ_GZ_MAX, other, &z3.p, &z3.n, m3, sizeof m3);
        if ((g1 == DMVF_OK) != (g3 == DMVF_OK))
            fail("gzip: %s gives %s (%s), %s %s (%s)", dmvf__cz_engine_name((dmvf_cz_engine)e),
                 dmvf_strerror(g1), m1, dmvf__cz_engine_name(other), dmvf_strerror(g3), m3);
        else if (g1 == DMVF_OK && (z1.n != z3.n || (z1.n && memcmp(z1.p, z3.p, z1.n) != 0)))
            fail("gzip: %s and %s inflate to different bytes (%zu vs %zu)",
                 dmvf__cz_engine_name((dmvf_cz_engine)e), dmvf__cz_engine_name(other), z1.n, z3.n);
        free(z3.p);
    }
    if (g1 == DMVF_OK && g2 == DMVF_OK) {
        /* what inflated goes through the records stream, as the command line does */
        const fz_plan *police = &G.plans[0];
        dmvf_error e1, e2;
        uint64_t c1 = 0, c2 = 0;
        memset(&e1, 0, sizeof e1);
        memset(&e2, 0, sizeof e2);
        int r1 = plain_run(NONNULL(z1.p), z1.n, NULL, &o1, &e1, &c1);
        int r2 = plain_run(NONNULL(z1.p), z1.n, &rng, &o2, &e2, &c2);
        compare_runs("stream", r1, &e1, &o1, r2, &e2, &o2);
        if (r1 == DMVF_OK) {
            const uint8_t *p = NONNULL(o1.p), *e = p + o1.n;
            uint64_t count = 0;
            while (p < e) {
                uint64_t len;
                size_t k = get_varint(p, e, &len);
                if (!k || len > (uint64_t)(e - p - (ptrdiff_t)k)) {
                    fail("stream output: bad record prefix");
                    break;
                }
                check_released("stream (police)", police->plan->root, 0, p + k, (size_t)len);
                p += k + (size_t)len;
                count++;
            }
            if (count != c1)
                fail("stream output: %llu records, the filter counted %llu", (unsigned long long)count,
                     (unsigned long long)c1);
        } else if (r1 != DMVF_EMALFORMED && r1 != DMVF_ETOOBIG && r1 != DMVF_EREFUSED) {
            fail("stream: unexpected status %s: %s", dmvf_strerror(r1), e1.msg);
        }
    }
    if (g_fails)
        hexdump("input", data, n < 256 ? n : 256);
    free(z1.p);
    free(z2.p);
    free(o1.p);
    free(o2.p);
    return (int)g_fails;
}

/* ------------------------------------------------------------ policy */

/* A compiled plan keeps the marking invariant and its own shape. */
static void check_plan_node(const char *what, const dmvf_pnode *pn, const dmvf_snode *sn, int marking_ok,
                            size_t npseudo, unsigned depth)
{
    if (!pn || pn->schema != sn || depth > 8) {
        fail("%s: plan node for %s does not match the schema", what, sn->path[0] ? sn->path : "<record>");
        return;
    }
    for (uint32_t num = 0; num <= pn->max_number; num++) {
        const dmvf_fplan *fp = &pn->f[num];
        const dmvf_sfield *sf = sfield_of(sn, num);
        if (fp->sf != sf) {
            fail("%s: %s field %u: plan entry and schema disagree", what, sn->path, num);
            continue;
        }
        if (!sf) {
            if (fp->action != DMVF_ACT_REDACT)
                fail("%s: unknown field %u of %s is not redacted", what, num, sn->path);
            continue;
        }
        if (fp->action == DMVF_ACT_REDACT)
            continue;
        if (!marking_ok && (sf->klass & MC))
            fail("%s: %s is %s without marking: release (action %u)", what, sf->path,
                 (sf->klass & DMVF_CLASS_M) ? "a marking field" : "marking-correlated", fp->action);
        if (fp->action > DMVF_ACT_DESCEND)
            fail("%s: %s: action %u", what, sf->path, fp->action);
        if (sf->type == DMVF_T_MESSAGE) {
            if (fp->action != DMVF_ACT_DESCEND || !fp->child)
                fail("%s: message %s is neither redacted nor descended", what, sf->path);
            else
                check_plan_node(what, fp->child, sf->child, marking_ok, npseudo, depth + 1);
        } else if (fp->action == DMVF_ACT_DESCEND) {
            fail("%s: scalar %s descends", what, sf->path);
        }
        if (fp->action == DMVF_ACT_PSEUDONYMIZE && fp->pidx >= npseudo)
            fail("%s: %s: pseudonym key index %u of %zu", what, sf->path, fp->pidx, npseudo);
        if (fp->action == DMVF_ACT_MASK && sf->type != DMVF_T_STRING)
            fail("%s: %s: mask on a field that is not a string", what, sf->path);
    }
}

int dmvf__fuzz_policy(const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_policy *p = dmvf_policy_load_buffer((const char *)data, n, "<fuzz>", &err);
    /* a policy naming a requesters_file reads that file too: its errors name
     * the file, and a file that loads is part of the policy id */
    int has_file = 0;
    for (size_t i = 0; !has_file && i + 15 <= n; i++)
        has_file = memcmp(data + i, "requesters_file", 15) == 0;
    if (!p) {
        if (err.code != DMVF_EPOLICY && err.code != DMVF_ENOMEM)
            fail("policy: refused with %s, not DMVF_EPOLICY", dmvf_strerror(err.code));
        if (!one_line(err.msg))
            fail("policy: the error message is empty or not one line: \"%s\"", err.msg);
        if (strncmp(err.msg, "<fuzz>", 6) != 0 && !has_file)
            fail("policy: the error message does not name the policy: \"%s\"", err.msg);
        if ((err.line > n + 1 || err.column > n + 1) && strncmp(err.msg, "<fuzz>", 6) == 0)
            fail("policy: error at %u:%u in a %zu-byte policy", err.line, err.column, n);
        return (int)g_fails;
    }
    /* the id is BLAKE2b-256 of the bytes */
    uint8_t h[32];
    char hex[65];
    crypto_generichash(h, sizeof h, data, n, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    const char *id = dmvf_policy_id(p);
    if (!id || (!has_file && strcmp(id, hex) != 0) || strlen(id) != 64)
        fail("policy: id %s is not BLAKE2b-256 of the policy (%s)", id ? id : "(null)", hex);
    if (dmvf_policy_describe(p, G.devnull) != DMVF_OK)
        fail("policy: dmvf_policy_describe fails");

    /* decide a spread of requesters; run what a release plan makes of fixed records */
    static const char *const tags2[] = {"immigration-enforcement", "task-force"};
    dmvf_request reqs[10];
    reqs[0] = req_police();
    reqs[1] = req_ice();
    reqs[2] = req_research();
    reqs[3] = req_internal();
    reqs[4] = req_police();
    reqs[4].agency_kind = DMVF_AGENCY_LOCAL;
    reqs[4].jurisdiction = "CA";
    reqs[4].purpose = 0;
    reqs[4].query_kind = DMVF_QUERY_LIST;
    reqs[5] = req_ice();
    reqs[5].tags = tags2;
    reqs[5].ntags = 2;
    reqs[5].legal_process = DMVF_LEGAL_NONE;
    reqs[6] = req_police();
    reqs[6].agency_kind = DMVF_AGENCY_COURT;
    reqs[6].legal_process = DMVF_LEGAL_COURT_ORDER;
    reqs[7] = req_police();
    reqs[7].agency_kind = DMVF_AGENCY_COMMERCIAL;
    reqs[7].ori = "XX1234567";
    reqs[7].purpose = 14;
    reqs[8] = req_police();
    reqs[8].agency_kind = DMVF_AGENCY_FOREIGN;
    reqs[8].ori = NULL;
    reqs[8].jurisdiction = NULL;
    reqs[8].date = 20991231;
    reqs[9] = req_internal();
    reqs[9].agency_kind = DMVF_AGENCY_TRIBAL;
    reqs[9].ori = "";
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        dmvf_verdict v;
        memset(&v, 0, sizeof v);
        dmvf__policy_decide(p, &reqs[i], CHECK_AS_OF, &v);
        char what[64];
        snprintf(what, sizeof what, "fuzzed policy, requester %zu", i);
        if (v.decision != DMVF_DECISION_RELEASE && v.decision != DMVF_DECISION_DENY &&
            v.decision != DMVF_DECISION_REVIEW)
            fail("%s: decision %d", what, (int)v.decision);
        if (!memchr(v.reason, '\0', sizeof v.reason) || !one_line(v.reason))
            fail("%s: the reason is empty or not one line", what);
        if (dmvf_policy_explain_as_of(p, &reqs[i], CHECK_AS_OF, G.devnull) != DMVF_OK)
            fail("%s: dmvf_policy_explain fails", what);
        if (v.decision != DMVF_DECISION_RELEASE)
            continue;
        if (!v.plan) {
            fail("%s: released without a plan", what);
            continue;
        }
        if (v.plan->marking_release && reqs[i].agency_kind != DMVF_AGENCY_INTERNAL)
            fail("%s: marking: release for a requester that is not the DMV's own", what);
        check_plan_node(what, v.plan->root, dmvf__schema_root(), v.plan->marking_release, v.plan->npseudo, 0);
        fz_plan fp = {what, reqs[i].ori ? reqs[i].ori : "", v.plan, NULL};
        fp.kc = dmvf__keyctx_create(G.kr, fp.scope, v.plan->pseudo_paths, v.plan->npseudo);
        if (!fp.kc) {
            fail("%s: no key context", what);
            continue;
        }
        for (size_t k = 0; k < G.nfixed; k++)
            rewrite_one(&fp, G.fixed[k], G.fixed_len[k]);
        dmvf__keyctx_free(fp.kc);
    }
    dmvf_policy_free(p);
    return (int)g_fails;
}

/* ------------------------------------------------------------ keyring */

/* Argon2id at the costs a sealed input asks for is run only when cheap;
 * costs outside the loader's bounds are passed on too (it must refuse them
 * before deriving anything). */
#define FZ_CHEAP_OPS 2u
#define FZ_CHEAP_MEM ((uint64_t)64 << 10)
#define FZ_PASSPHRASE "fuzz passphrase"

static const char *passphrase_for(const uint8_t *data, size_t n)
{
    if (n < 9 || memcmp(data, "DMVFKR1\n", 8) != 0 || data[8] != 1)
        return FZ_PASSPHRASE;
    Dmv__V1__SealedKeyring *s = dmv__v1__sealed_keyring__unpack(NULL, n - 9, data + 9);
    if (!s)
        return FZ_PASSPHRASE;
    int in_range = s->opslimit >= crypto_pwhash_OPSLIMIT_MIN && s->opslimit <= 16u &&
                   s->memlimit >= crypto_pwhash_MEMLIMIT_MIN && s->memlimit <= crypto_pwhash_MEMLIMIT_SENSITIVE;
    int cheap = s->opslimit <= FZ_CHEAP_OPS && s->memlimit <= FZ_CHEAP_MEM;
    dmv__v1__sealed_keyring__free_unpacked(s, NULL);
    return in_range && !cheap ? NULL : FZ_PASSPHRASE;
}

int dmvf__fuzz_keyring(const uint8_t *data, size_t n)
{
    need_init();
    data = NONNULL(data);
    g_fails = 0;
    FILE *f = fopen(G.kr_input, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "keyring: cannot write %s\n", G.kr_input);
        abort();
    }
    if (chmod(G.kr_input, 0600) != 0)
        abort();
    const char *pass = passphrase_for(data, n);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    dmvf_keyring *k = dmvf_keyring_load(G.kr_input, pass, &err);
    unlink(G.kr_input);
    if (!k) {
        if (err.code != DMVF_EKEYRING && err.code != DMVF_EPASSPHRASE && err.code != DMVF_ENOMEM)
            fail("keyring: refused with %s", dmvf_strerror(err.code));
        if (!one_line(err.msg))
            fail("keyring: the error message is empty or not one line");
        if (pass == NULL && err.code != DMVF_EPASSPHRASE)
            fail("keyring: a sealed keyring without a passphrase gives %s", dmvf_strerror(err.code));
        return (int)g_fails;
    }
    if (n < 9 || memcmp(data, "DMVFKR1\n", 8) != 0 || data[8] > 1)
        fail("keyring: loaded from a file without the header");
    else if (dmvf_keyring_is_sealed(k) != (data[8] == 1))
        fail("keyring: is_sealed %d for a file whose byte 8 is %u", dmvf_keyring_is_sealed(k), data[8]);
    size_t ne = dmvf_keyring_epoch_count(k);
    uint32_t prev = 0, ep = 0;
    uint64_t created;
    if (ne == 0)
        fail("keyring: loaded with no epochs");
    for (size_t i = 0; i < ne; i++) {
        if (dmvf_keyring_epoch_info(k, i, &ep, &created) != DMVF_OK || ep <= prev)
            fail("keyring: epoch %zu is %u after %u", i, ep, prev);
        prev = ep;
    }
    if (ne && dmvf_keyring_epoch(k) != prev)
        fail("keyring: current epoch %u, newest %u", dmvf_keyring_epoch(k), prev);
    if (dmvf_keyring_epoch_info(k, ne, &ep, &created) == DMVF_OK)
        fail("keyring: epoch_info past the end succeeds");

    /* the loaded keys work: a token reveals, a pseudonym has its shape */
    static const char *const paths[] = {"record_id"};
    dmvf_keyctx *kc = dmvf__keyctx_create(k, "NY0303000", paths, 1);
    if (!kc) {
        fail("keyring: no key context");
    } else {
        static const uint8_t value[] = "S123-456-789";
        uint8_t tok[256], back[64], ps[DMVF_PSEUDONYM_LEN];
        size_t tl = dmvf__encrypt_len(sizeof value - 1), bl = 0;
        if (tl > sizeof tok) {
            fail("keyring: token length %zu", tl);
        } else {
            dmvf__encrypt(kc, value, sizeof value - 1, tok);
            int rc = dmvf_keyring_reveal(k, "NY0303000", (const char *)tok, tl, back, sizeof back, &bl, &err);
            if (rc != DMVF_OK || bl != sizeof value - 1 || memcmp(back, value, bl) != 0)
                fail("keyring: a token does not reveal: %s", rc ? err.msg : "different value");
            rc = dmvf_keyring_reveal(k, "NY0303001", (const char *)tok, tl, back, sizeof back, &bl, &err);
            if (rc != DMVF_ETOKEN)
                fail("keyring: a token reveals under another scope (%s)", dmvf_strerror(rc));
        }
        dmvf__pseudonym(kc, 0, value, sizeof value - 1, ps);
        char want[8];
        snprintf(want, sizeof want, "P%04x.", (unsigned)(dmvf__keyctx_epoch(kc) & 0xffff));
        if (memcmp(ps, want, 6) != 0 || dmvf__keyctx_epoch(kc) != dmvf_keyring_epoch(k))
            fail("keyring: pseudonym %.32s does not carry epoch %u", (const char *)ps, dmvf_keyring_epoch(k));
        dmvf__keyctx_free(kc);
    }
    dmvf_keyring_free(k);
    return (int)g_fails;
}

/* ------------------------------------------------------------ jsonl, csv */

#include "checks_text.c"

/* ------------------------------------------------------------ serve */

int dmvf__fuzz_serve(const uint8_t *data, size_t n)
{
    g_fails = 0;
    if (n < 1)
        return 0;
    int call = (data[0] & 1) ? DMVF_SERVE_CALL_EXPLAIN : DMVF_SERVE_CALL_RELEASE;
    int json = (data[0] & 2) != 0;
    dmvf_serve_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_records = 64;
    lim.json_depth = 16;
    lim.max_record_bytes = 4096;
    dmvf__serve_limits_default(&lim);
    dmvf_serve_dec d;
    dmvf__serve_dec_init(&d);
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int st = dmvf__serve_decode(&d, call, json, data + 1, n - 1, &lim, &err);
    if (st == DMVF_OK) {
        if (!d.req)
            fail("serve: the body decodes but no request is unpacked");
        if (call == DMVF_SERVE_CALL_RELEASE) {
            size_t frames = 0, i = 0;
            while (i < d.framed_len) {
                uint64_t len;
                size_t pre;
                if (dmvf__varint_prefix(d.framed + i, d.framed_len - i, &len, &pre) != 1 ||
                    len > d.framed_len - i - pre) {
                    fail("serve: the framed stream breaks at byte %zu of %zu", i, d.framed_len);
                    break;
                }
                i += pre + (size_t)len;
                frames++;
            }
            if (i == d.framed_len && frames != d.records + 1)
                fail("serve: %zu frames for %zu records and the request", frames, (size_t)d.records);
            if (d.records > lim.max_records)
                fail("serve: %zu records past the limit of %zu", (size_t)d.records, (size_t)lim.max_records);
        }
    } else if (st != DMVF_EMALFORMED && st != DMVF_ETOOBIG && st != DMVF_ENOMEM) {
        fail("serve: decoding returns %s (%s)", dmvf_strerror(st), err.msg);
    } else if (!one_line(err.msg)) {
        fail("serve: the error message is empty or not one line");
    }
    dmvf__serve_dec_free(&d);
    return (int)g_fails;
}

/* ------------------------------------------------------------ dispatch */

int dmvf__fuzz_run(const char *target, const uint8_t *data, size_t n)
{
    if (strcmp(target, "rewrite") == 0)
        return dmvf__fuzz_rewrite(data, n);
    if (strcmp(target, "framed") == 0)
        return dmvf__fuzz_framed(data, n);
    if (strcmp(target, "gzip") == 0)
        return dmvf__fuzz_gzip(data, n);
    if (strcmp(target, "policy") == 0)
        return dmvf__fuzz_policy(data, n);
    if (strcmp(target, "keyring") == 0)
        return dmvf__fuzz_keyring(data, n);
    if (strcmp(target, "jsonl") == 0)
        return dmvf__fuzz_jsonl(data, n);
    if (strcmp(target, "csv") == 0)
        return dmvf__fuzz_csv(data, n);
    if (strcmp(target, "serve") == 0)
        return dmvf__fuzz_serve(data, n);
    return -1;
}
