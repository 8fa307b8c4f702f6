/*
 * test_alloc_fail.c - allocation-failure torture (curl's torture mode).
 *
 * malloc, calloc, realloc and free are defined (and exported) in this
 * executable, so they replace the C library's for every shared library too (libyaml,
 * protobuf-c, zlib, libc's own helpers); they forward to the next
 * definition (libc's, or the sanitizer's) and keep a set of the blocks
 * they handed out. A scenario is one whole life of the library:
 *
 *   policy load -> keyring load -> filter (or framed) create ->
 *   stream the records in small chunks through a small output buffer ->
 *   finish -> free everything
 *
 * It is run once to count its allocations (after a warm-up run that lets
 * one-time initialisation happen), then once for every N, with the Nth
 * allocation failing. Every run must
 *   - return: no crash (a crash fails the test executable);
 *   - either succeed with exactly the bytes of the clean run, or fail with
 *     an error code and a message;
 *   - leave no block allocated (every block handed out was freed);
 *   - when it failed, have put out only whole messages that the clean run
 *     also put out (a prefix, ending at a message boundary), nothing at all
 *     for a request whose output is held (record limit), and no trailer for
 *     the request that failed.
 *
 * Scenarios: records with the research rule (pseudonyms, encryption,
 * generalization) over 100 records; records with the police rule, whose
 * record limit holds the output; a framed stream of police, research and a
 * refused immigration request. sodium_malloc memory (keys) comes from mmap
 * and is not failed here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

/* ---- the allocator shim ---- */

/* The build hides symbols by default; these must be exported so that the
 * shared libraries bind to them. */
#define EXPORTED __attribute__((visibility("default")))

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);

/* Allocations before main (the dynamic loader, a sanitizer runtime starting
 * up: its shadow memory may not exist yet, so nothing instrumented may run)
 * and those dlsym makes while the next allocator is looked up are served
 * from here and never freed. */
static _Alignas(16) unsigned char boot[1 << 20];
static size_t boot_used;
static int resolving;
static volatile int ready;   /* set by main */
#define NOSAN __attribute__((no_sanitize_address)) __attribute__((no_sanitize_undefined))

static atomic_flag lock = ATOMIC_FLAG_INIT;
static int tracking;          /* count and track allocations */
static long alloc_count;      /* allocations while tracking */
static long fail_at;          /* the allocation number that fails, 0 = none */
static int failed;            /* it was failed */
static long live;             /* tracked blocks not yet freed */

/* An open-addressing set of live tracked blocks (linear probing, deletion
 * by backward shift). */
#define SET_BITS 18
#define SET_SIZE ((size_t)1 << SET_BITS)
static void *set[SET_SIZE];
static long set_num[SET_SIZE];  /* the allocation number of each block */
static void *set_caller[SET_SIZE]; /* the code that asked for it */
static int set_overflow;
static long trace_at;           /* DMVF_ALLOC_TRACE=K: backtrace of allocation K */

static size_t slot_of(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - SET_BITS));
}

static void set_add(void *p, void *caller)
{
    if ((size_t)live >= SET_SIZE / 2) {
        set_overflow = 1;
        return;
    }
    size_t i = slot_of(p);
    while (set[i])
        i = (i + 1) & (SET_SIZE - 1);
    set[i] = p;
    set_num[i] = alloc_count;
    set_caller[i] = caller;
    live++;
}

static int set_del(void *p)
{
    size_t i = slot_of(p);
    while (set[i] && set[i] != p)
        i = (i + 1) & (SET_SIZE - 1);
    if (!set[i])
        return 0;
    set[i] = NULL;
    live--;
    /* shift back the entries of the run that follows */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (SET_SIZE - 1);
        if (!set[j])
            break;
        size_t k = slot_of(set[j]);
        /* move set[j] to the hole unless its home lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        set[i] = set[j];
        set_num[i] = set_num[j];
        set_caller[i] = set_caller[j];
        set[j] = NULL;
        i = j;
    }
    return 1;
}

static void take(void)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
}

static void give(void)
{
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

static void resolve(void)
{
    if (next_free)
        return;
    resolving = 1;
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
    if (!next_malloc || !next_calloc || !next_realloc || !next_free) {
        static const char m[] = "test_alloc_fail: cannot find the next allocator\n";
        if (write(2, m, sizeof m - 1) < 0) {
            /* nothing more to do */
        }
        _exit(99);
    }
}

NOSAN static void *boot_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof boot - boot_used)
        return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p;
}

NOSAN static int from_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

/* 1 when this allocation is to fail. Called with the lock held. */
static int inject(void)
{
    if (!tracking)
        return 0;
    alloc_count++;
    if (trace_at && alloc_count == trace_at) {
        void *frames[32];
        int k = backtrace(frames, 32);
        backtrace_symbols_fd(frames, k, 2);
    }
    if (fail_at && alloc_count == fail_at) {
        failed = 1;
        return 1;
    }
    return 0;
}

/* Names the allocation numbers of the blocks still live. */
static void print_live(void)
{
    fprintf(stderr, "    live blocks from allocations:");
    for (size_t i = 0; i < SET_SIZE; i++)
        if (set[i])
            fprintf(stderr, " %ld", set_num[i]);
    fprintf(stderr, " (DMVF_ALLOC_TRACE=<number> DMVF_ALLOC_FAIL=<N> prints where)\n");
}

/* 1 when every live block was allocated by libyaml itself. libyaml 0.2.5
 * leaks a node's pair or item stack when yaml_parser_load fails to push the
 * node for want of memory (loader.c: yaml_parser_load_mapping and
 * _sequence free only the tag on that path); that is not ours to fix, and
 * it happens only when the process is out of memory anyway. */
static int live_all_libyaml(void)
{
    int any = 0;
    for (size_t i = 0; i < SET_SIZE; i++) {
        if (!set[i])
            continue;
        Dl_info di;
        if (!dladdr(set_caller[i], &di) || !di.dli_fname || !strstr(di.dli_fname, "libyaml"))
            return 0;
        any = 1;
    }
    return any;
}

/* The same leak, for LeakSanitizer in sanitizer builds. */
EXPORTED const char *__lsan_default_suppressions(void);
EXPORTED const char *__lsan_default_suppressions(void)
{
    return "leak:yaml_parser_load\n";
}

static void *shim_malloc(size_t n, void *caller);
static void *shim_calloc(size_t k, size_t n, void *caller);
static void *shim_realloc(void *old, size_t n, void *caller);
static void shim_free(void *p);

EXPORTED NOSAN void *malloc(size_t n)
{
    if (!ready || resolving)
        return boot_alloc(n);
    return shim_malloc(n, __builtin_return_address(0));
}

static void *shim_malloc(size_t n, void *caller)
{
    resolve();
    take();
    if (inject()) {
        give();
        errno = ENOMEM;
        return NULL;
    }
    void *p = next_malloc(n);
    if (p && tracking)
        set_add(p, caller);
    give();
    return p;
}

EXPORTED NOSAN void *calloc(size_t k, size_t n)
{
    if (!ready || resolving) {
        if (n && k > SIZE_MAX / n)
            return NULL;
        return boot_alloc(k * n); /* static memory is zero */
    }
    return shim_calloc(k, n, __builtin_return_address(0));
}

static void *shim_calloc(size_t k, size_t n, void *caller)
{
    resolve();
    take();
    if (inject()) {
        give();
        errno = ENOMEM;
        return NULL;
    }
    void *p = next_calloc(k, n);
    if (p && tracking)
        set_add(p, caller);
    give();
    return p;
}

EXPORTED NOSAN void *realloc(void *old, size_t n)
{
    if (!ready || resolving) {
        if (old && !from_boot(old))
            return NULL; /* cannot happen: nothing else exists yet */
        void *p = boot_alloc(n);
        if (p && old)
            __builtin_memmove(p, old, n); /* boot blocks only grow, within boot */
        return p;
    }
    return shim_realloc(old, n, __builtin_return_address(0));
}

static void *shim_realloc(void *old, size_t n, void *caller)
{
    resolve();
    if (old && from_boot(old)) {
        /* grow a boot block into a real one */
        void *p = shim_malloc(n, caller);
        if (p)
            memcpy(p, old, n < (size_t)(boot + sizeof boot - (unsigned char *)old)
                               ? n : (size_t)(boot + sizeof boot - (unsigned char *)old));
        return p;
    }
    take();
    if (n && inject()) {
        give();
        errno = ENOMEM;
        return NULL;
    }
    int was = old ? set_del(old) : 0;
    void *p = next_realloc(old, n);
    if (p && (tracking || was))
        set_add(p, caller);
    else if (!p && was && n)
        set_add(old, caller); /* a failed realloc leaves the block allocated */
    give();
    return p;
}

EXPORTED NOSAN void free(void *p)
{
    if (!p || from_boot(p))
        return;
    shim_free(p);
}

static void shim_free(void *p)
{
    resolve();
    take();
    set_del(p);
    give();
    next_free(p);
}

/* ---- scenarios ---- */

static char policy_path[4096], keyring_path[4096];

typedef struct scenario {
    const char *name;
    int framed;
    dmvf_request req;
    int held;                 /* the rule's record limit holds all output to the end */
    unsigned requests;        /* framed: requests in the stream */
    unsigned char *in;
    size_t in_len;
} scenario;

typedef struct result {
    int rc;                   /* DMVF_OK or the first error */
    dmvf_error err;
    const char *step;         /* where it failed */
    unsigned char *out;       /* preallocated, untracked */
    size_t out_len, out_cap;
} result;

#define IN_CHUNK 777          /* records split across chunks: the reader's gathering path */
#define OUT_CHUNK 1000        /* a small output buffer: the ESPACE path */

static void append(result *r, const void *p, size_t n)
{
    if (r->out_len + n > r->out_cap) {
        fprintf(stderr, "output larger than its buffer\n");
        exit(1);
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

typedef int (*stream_fn)(void *h, dmvf_out_buffer *out, dmvf_in_buffer *in, int end, dmvf_error *err);

static int s_filter(void *h, dmvf_out_buffer *o, dmvf_in_buffer *i, int end, dmvf_error *e)
{
    return dmvf_filter_stream(h, o, i, end, e);
}

static int s_framed(void *h, dmvf_out_buffer *o, dmvf_in_buffer *i, int end, dmvf_error *e)
{
    return dmvf_framed_stream(h, o, i, end, e);
}

static int pump(void *h, stream_fn fn, const scenario *s, result *r)
{
    unsigned char tmp[OUT_CHUNK];
    size_t pos = 0;
    for (;;) {
        size_t take_n = s->in_len - pos < IN_CHUNK ? s->in_len - pos : IN_CHUNK;
        int end = pos + take_n == s->in_len;
        dmvf_in_buffer in = {s->in + pos, take_n, 0};
        int rc;
        for (;;) {
            dmvf_out_buffer ob = {tmp, sizeof tmp, 0};
            rc = fn(h, &ob, &in, end, &r->err);
            append(r, tmp, ob.pos);
            if (rc != DMVF_ESPACE)
                break;
        }
        if (rc)
            return rc;
        if (in.pos != take_n) {
            fprintf(stderr, "stream returned OK without consuming its input\n");
            exit(1);
        }
        pos += take_n;
        if (end)
            return DMVF_OK;
    }
}

/* Requests are judged as of the day they are dated (dmvf_filter_options.as_of):
 * a request dated another day than the one it is judged on is refused. */
static const dmvf_filter_options judged = {.as_of = 20261122};

static void run(const scenario *s, result *r)
{
    r->rc = DMVF_OK;
    r->out_len = 0;
    r->step = "";
    memset(&r->err, 0, sizeof r->err);
    dmvf_policy *pol = NULL;
    dmvf_keyring *kr = NULL;
    dmvf_filter *f = NULL;
    dmvf_framed *fr = NULL;

    pol = dmvf_policy_load_file(policy_path, &r->err);
    if (!pol) {
        r->rc = r->err.code;
        r->step = "policy load";
        goto out;
    }
    kr = dmvf_keyring_load(keyring_path, NULL, &r->err);
    if (!kr) {
        r->rc = r->err.code;
        r->step = "keyring load";
        goto out;
    }
    if (s->framed) {
        fr = dmvf_framed_create(pol, kr, &judged, &r->err);
        if (!fr) {
            r->rc = r->err.code;
            r->step = "framed create";
            goto out;
        }
        r->rc = pump(fr, s_framed, s, r);
        r->step = "framed stream";
        goto out;
    }
    f = dmvf_filter_create(pol, kr, &s->req, &judged, &r->err);
    if (!f) {
        r->rc = r->err.code;
        r->step = "filter create";
        goto out;
    }
    if (dmvf_filter_decision(f) != DMVF_DECISION_RELEASE) {
        r->rc = DMVF_EREFUSED;
        r->step = "decision";
        goto out;
    }
    r->rc = pump(f, s_filter, s, r);
    r->step = "stream";
    if (r->rc == DMVF_OK) {
        dmvf_trailer t;
        r->rc = dmvf_filter_finish(f, &t);
        r->step = "finish";
        if (r->rc == DMVF_OK && t.records_in != 100 && t.records_in != 20) {
            fprintf(stderr, "%s: trailer counts %llu records\n", s->name, (unsigned long long)t.records_in);
            r->rc = -1;
        }
    }
out:
    dmvf_filter_free(f);
    dmvf_framed_free(fr);
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
}

/* Whole delimited messages in p[0..n): their number, or -1 if the bytes
 * end inside one. *trailers counts Frame{trailer} messages. */
static long messages(const unsigned char *p, size_t n, long *trailers)
{
    size_t i = 0;
    long k = 0;
    *trailers = 0;
    while (i < n) {
        uint64_t len = 0;
        unsigned shift = 0;
        while (i < n && (p[i] & 0x80) && shift < 63) {
            len |= (uint64_t)(p[i++] & 0x7f) << shift;
            shift += 7;
        }
        if (i >= n)
            return -1;
        len |= (uint64_t)p[i++] << shift;
        if (len > n - i)
            return -1;
        if (len && p[i] == 0x1a)
            (*trailers)++;
        i += (size_t)len;
        k++;
    }
    return k;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        size_t got = fread(b + len, 1, cap - len, fp);
        if (got == 0)
            break;
        len += got;
    }
    fclose(fp);
    *n = len;
    return b;
}

static void torture(const scenario *s)
{
    result clean = {0}, r = {0};
    clean.out_cap = r.out_cap = s->in_len * 4 + 65536;
    clean.out = malloc(clean.out_cap);
    r.out = malloc(r.out_cap);

    /* warm-up, then the clean run that counts */
    run(s, &clean);
    tracking = 1;
    alloc_count = 0;
    fail_at = 0;
    live = 0;
    run(s, &clean);
    tracking = 0;
    long total = alloc_count;
    CHECK_MSG(clean.rc == DMVF_OK, "%s: the clean run fails at %s: %s", s->name, clean.step, clean.err.msg);
    CHECK_MSG(clean.out_len > 0, "%s: the clean run releases nothing", s->name);
    CHECK_MSG(live == 0, "%s: the clean run leaks %ld blocks", s->name, live);
    CHECK_MSG(total > 20, "%s: only %ld allocations counted: is the shim active?", s->name, total);
    long clean_trailers;
    messages(clean.out, clean.out_len, &clean_trailers);
    if (s->framed)
        CHECK_EQ_INT(clean_trailers, s->requests);

    long ok = 0, errs = 0, bad = 0, nomem = 0, first = 1, yaml_leaks = 0;
    const char *only = getenv("DMVF_ALLOC_FAIL");
    if (only) {
        first = atol(only);
        total = first;
        trace_at = getenv("DMVF_ALLOC_TRACE") ? atol(getenv("DMVF_ALLOC_TRACE")) : 0;
        void *warm[2];
        backtrace(warm, 2); /* loads the unwinder now, not under the lock */
    }
    for (long n = first; n <= total; n++) {
        tracking = 1;
        alloc_count = 0;
        fail_at = n;
        failed = 0;
        live = 0;
        set_overflow = 0;
        memset(set, 0, sizeof set);
        run(s, &r);
        tracking = 0;
        int this_bad = 0;
        if (set_overflow) {
            fprintf(stderr, "%s: N=%ld: more live blocks than the set holds\n", s->name, n);
            this_bad = 1;
        } else if (live != 0 && live_all_libyaml()) {
            yaml_leaks++;
        } else if (live != 0) {
            fprintf(stderr, "%s: N=%ld: %ld blocks leaked (%s, rc %d: %s)\n", s->name, n, live,
                    r.step, r.rc, r.err.msg);
            print_live();
            this_bad = 1;
        }
        if (!failed) {
            fprintf(stderr, "%s: N=%ld: only %ld allocations this time\n", s->name, n, alloc_count);
            this_bad = 1;
        }
        if (r.rc == DMVF_OK) {
            ok++;
            if (r.out_len != clean.out_len || memcmp(r.out, clean.out, r.out_len) != 0) {
                fprintf(stderr, "%s: N=%ld: succeeded with different output\n", s->name, n);
                this_bad = 1;
            }
        } else {
            errs++;
            nomem += r.rc == DMVF_ENOMEM;
            long trailers;
            long msgs = messages(r.out, r.out_len, &trailers);
            if (r.rc < 0 || r.err.code != r.rc || !r.err.msg[0]) {
                fprintf(stderr, "%s: N=%ld: %s failed with rc %d but error %d \"%s\"\n", s->name, n,
                        r.step, r.rc, r.err.code, r.err.msg);
                this_bad = 1;
            }
            if (r.out_len > clean.out_len || memcmp(r.out, clean.out, r.out_len) != 0 || msgs < 0) {
                fprintf(stderr, "%s: N=%ld: failed output (%zu bytes) is not whole messages of the "
                        "clean output\n", s->name, n, r.out_len);
                this_bad = 1;
            }
            if (s->held && r.out_len != 0) {
                fprintf(stderr, "%s: N=%ld: a held request released %zu bytes and failed\n", s->name, n,
                        r.out_len);
                this_bad = 1;
            }
            if (s->framed && trailers >= (long)s->requests) {
                fprintf(stderr, "%s: N=%ld: failed, yet every request has its trailer\n", s->name, n);
                this_bad = 1;
            }
            /* the error must say what happened: out of memory, by code or
             * (for an I/O call that failed for want of memory) by message */
            if (r.rc != DMVF_ENOMEM && !strstr(r.err.msg, strerror(ENOMEM))) {
                fprintf(stderr, "%s: N=%ld: %s failed with %s, not out of memory: %s\n", s->name,
                        n, r.step, dmvf_strerror(r.rc), r.err.msg);
                this_bad = 1;
            }
        }
        bad += this_bad;
    }
    printf("%s: %ld allocations; failing each: %ld succeeded, %ld failed (%ld out of memory), %ld bad"
           " (%ld runs with libyaml's own leak)\n", s->name, total, ok, errs, nomem, bad, yaml_leaks);
    CHECK_MSG(bad == 0, "%s: %ld runs misbehaved", s->name, bad);
    CHECK_MSG(errs > 0, "%s: no run failed: injection had no effect", s->name);
    free(clean.out);
    free(r.out);
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

int main(void)
{
    ready = 1;
    const char *src = getenv("DMVF_SRC"), *gen = getenv("DMVF_GEN");
    char dir[] = "/tmp/dmvf-allocfail-XXXXXX", cmd[8192], path[4096];
    CHECK(src && gen);
    if (!src || !gen || !mkdtemp(dir))
        CHECK_DONE();
    static const uint8_t seed[32] = "dmvfilter torture test keyring!";
    dmvf_error err;
    snprintf(keyring_path, sizeof keyring_path, "%s/keyring", dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(keyring_path, seed, 2, &err), DMVF_OK);
    snprintf(policy_path, sizeof policy_path, "%s/examples/policy.yaml", src);

    snprintf(cmd, sizeof cmd,
             "'%s' --count 100 --seed 11 --marked 0.3 --out '%s/r100.bin' && "
             "'%s' --count 20 --seed 12 --marked 0.3 --out '%s/r20.bin' && "
             "'%s' --framed --count 20 --requests 2 --request-id pol --seed 13 --date 20261122 --out '%s/f1' && "
             "'%s' --framed --count 10 --seed 14 --request-id res --ori NYUNIV000 --agency-kind research "
             "--purpose 5 --query-kind list --date 20261122 --out '%s/f2' && "
             "'%s' --framed --count 5 --seed 15 --request-id ice --ori DCICE0100 --agency-kind federal "
             "--tag immigration-enforcement --legal-process administrative_subpoena --date 20261122 "
             "--out '%s/f3' && cat '%s/f1' '%s/f2' '%s/f3' > '%s/framed.bin'",
             gen, dir, gen, dir, gen, dir, gen, dir, gen, dir, dir, dir, dir, dir);
    CHECK(sh(cmd) == 0);

    scenario sc[3];
    memset(sc, 0, sizeof sc);
    sc[0].name = "records/research";
    sc[0].req = (dmvf_request){.request_id = "t-research", .ori = "NYUNIV000",
                               .agency_kind = DMVF_AGENCY_RESEARCH, .purpose = 5,
                               .query_kind = DMVF_QUERY_LIST, .date = 20261122};
    snprintf(path, sizeof path, "%s/r100.bin", dir);
    sc[0].in = slurp(path, &sc[0].in_len);
    sc[1].name = "records/police (held)";
    sc[1].req = (dmvf_request){.request_id = "t-police", .ori = "NY0300000",
                               .agency_kind = DMVF_AGENCY_LOCAL, .jurisdiction = "NY", .purpose = 1,
                               .query_kind = DMVF_QUERY_BY_LICENSE, .date = 20261122};
    sc[1].held = 1;
    snprintf(path, sizeof path, "%s/r20.bin", dir);
    sc[1].in = slurp(path, &sc[1].in_len);
    sc[2].name = "framed";
    sc[2].framed = 1;
    sc[2].requests = 4;
    snprintf(path, sizeof path, "%s/framed.bin", dir);
    sc[2].in = slurp(path, &sc[2].in_len);

    for (int i = 0; i < 3; i++) {
        CHECK_MSG(sc[i].in && sc[i].in_len > 100, "%s: input", sc[i].name);
        if (sc[i].in && sc[i].in_len > 100)
            torture(&sc[i]);
        free(sc[i].in);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    CHECK_DONE();
}
