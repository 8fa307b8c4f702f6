/*
 * test_fuzz_regressions.c - replays every fuzz input that is committed
 * (tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/)
 * through the fuzz targets' own checks, without libFuzzer, so that the
 * ordinary build (any compiler) and the sanitizer build run them on every
 * ctest run. A crash input the fuzzer found stays fixed once it is here.
 *
 * The check logic is tests/fuzz/checks.c and gzread.c, compiled into this
 * executable (tests/CMakeLists.txt builds one source file per test).
 *
 * The gzip inputs also go through the command line (`dmvfilter filter`,
 * $DMVF_CLI), which must agree with the target's mirror of its input code.
 *
 * Besides the files: each target must have a seed corpus of at least a few
 * files, and a few inputs built here must fail their checks' preconditions
 * the way the contracts say (a keyring readable by others is refused; a
 * known-good keyring, policy and record pass), so that a runner that checks
 * nothing cannot pass.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "fuzz/checks.c"
#include "fuzz/gzread.c"

static uint8_t *read_all(const char *path, size_t *n)
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
    *n = b.n;
    return b.p ? b.p : calloc(1, 1);
}

/* ---- the gzip target's mirror of the command line's input against the
 * command line itself: on every gzip input, `dmvfilter filter` (police
 * request, the same keyring and record limit) must succeed exactly when the
 * mirror and the records stream do, and then write the same bytes. This
 * catches the mirror drifting from filter/cli/io.c. ---- */

static const char *g_cli;
static char g_cli_dir[64], g_cli_keyring[96];
static unsigned g_cli_compared, g_cli_agreed;

static void cli_setup(void)
{
    const char *cli = getenv("DMVF_CLI");
    if (!cli || access(cli, X_OK) != 0) {
        printf("DMVF_CLI not set or not executable: the command-line cross-check is skipped\n");
        return;
    }
    snprintf(g_cli_dir, sizeof g_cli_dir, "/tmp/dmvf-fuzzcli-XXXXXX");
    if (!mkdtemp(g_cli_dir))
        return;
    snprintf(g_cli_keyring, sizeof g_cli_keyring, "%s/keyring", g_cli_dir);
    uint8_t seed[32];
    dmvf_error err;
    fz_seed(seed);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(g_cli_keyring, seed, FZ_EPOCHS, &err), DMVF_OK);
    g_cli = cli;
}

static void cli_cleanup(void)
{
    if (!g_cli_dir[0])
        return;
    char p[128];
    unlink(g_cli_keyring);
    snprintf(p, sizeof p, "%s/out", g_cli_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/err", g_cli_dir);
    unlink(p);
    rmdir(g_cli_dir);
}

static void cli_compare(const char *path, const uint8_t *data, size_t n)
{
    if (!g_cli || strchr(path, '\'') || strchr(g_cli, '\''))
        return;
    fbuf z = {0}, o = {0};
    char msg[160];
    dmvf_error e;
    uint64_t count = 0;
    memset(&e, 0, sizeof e);
    int rc = dmvf__fuzz_gunzip(data, n, NULL, FZ_GZ_MAX, &z.p, &z.n, msg, sizeof msg);
    if (rc == DMVF_OK)
        rc = plain_run(NONNULL(z.p), z.n, NULL, &o, &e, &count);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' filter --policy '%s/examples/policy.yaml' --keyring '%s' --in '%s' --out '%s/out' "
             "--threads 1 --quiet --max-record-bytes %u --max-inflate %llu --ori NY0303000 --agency-kind local --jurisdiction NY "
             "--purpose 1 --query-kind by_license --date 2026-01-01 2>'%s/err'",
             g_cli, getenv("DMVF_SRC"), g_cli_keyring, path, g_cli_dir, FZ_MAX_RECORD,
             (unsigned long long)FZ_GZ_MAX, g_cli_dir);
    char out_path[128];
    snprintf(out_path, sizeof out_path, "%s/out", g_cli_dir);
    unlink(out_path);
    int st = system(cmd);
    int exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    g_cli_compared++;
    int agree = (rc == DMVF_OK) == (exit_code == 0);
    if (agree && rc == DMVF_OK) {
        size_t cn = 0;
        uint8_t *cb = read_all(out_path, &cn);
        agree = cb && cn == o.n && (cn == 0 || memcmp(cb, o.p, cn) == 0);
        free(cb);
    }
    CHECK_MSG(agree, "%s: the gzip mirror and stream give %s, `dmvfilter filter` exits %d (or writes other bytes)",
              path, dmvf_strerror(rc), exit_code);
    g_cli_agreed += agree;
    free(z.p);
    free(o.p);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file in dir through target; returns the number of
 * files (-1 when the directory does not exist). */
static long replay_dir(const char *target, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                abort();
        }
        names[nn] = strdup(de->d_name);
        if (!names[nn])
            abort();
        nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, by_name);
    long files = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            size_t n = 0;
            uint8_t *data = read_all(path, &n);
            CHECK_MSG(data != NULL, "cannot read %s", path);
            if (data) {
                int fails = dmvf__fuzz_run(target, data, n);
                CHECK_MSG(fails == 0, "%s: %d check(s) failed for target %s", path, fails, target);
                if (strcmp(target, "gzip") == 0)
                    cli_compare(path, data, n);
                files++;
            }
            free(data);
        }
        free(names[i]);
    }
    free(names);
    return files;
}

int main(void)
{
    const char *src = getenv("DMVF_SRC");
    CHECK_MSG(src != NULL, "DMVF_SRC must be set");
    if (!src)
        CHECK_DONE();
    CHECK_EQ_INT(dmvf__fuzz_init(), 0);
    if (!G.ready || !G.kr)
        CHECK_DONE();

    cli_setup();
    long total = 0;
    for (size_t t = 0; dmvf__fuzz_targets[t]; t++) {
        const char *target = dmvf__fuzz_targets[t];
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src, target);
        long seeds = replay_dir(target, dir);
        CHECK_MSG(seeds >= 5, "%s: %ld seed files (want a seed corpus of at least 5)", dir, seeds);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", src, target);
        long crashes = replay_dir(target, dir);
        printf("%-8s %4ld seeds, %3ld regressions\n", target, seeds, crashes < 0 ? 0 : crashes);
        total += (seeds > 0 ? seeds : 0) + (crashes > 0 ? crashes : 0);
    }
    CHECK(total > 0);
    if (g_cli)
        printf("gzip inputs through dmvfilter filter: %u compared, %u agree\n", g_cli_compared, g_cli_agreed);
    cli_cleanup();

    /* the checks can fail: a record whose output would carry a redacted
     * field is caught by the walker, and broken contracts are counted */
    {
        dmvf__fuzz_quiet = 1;
        g_fails = 0;
        /* field 4 (marking) with program "AB60": present in a police output is a failure */
        static const uint8_t marked[] = {0x0a, 0x02, 'i', 'd', 0x22, 0x06, 0x1a, 0x04, 'A', 'B', '6', '0'};
        check_released("self-test", G.plans[0].plan->root, 0, marked, sizeof marked);
        CHECK_MSG(g_fails > 0, "the walker passes a marking field in a police release");
        g_fails = 0;
        /* an unknown field 30 */
        static const uint8_t unknown[] = {0xf0, 0x01, 0x01};
        check_released("self-test", NULL, 1, unknown, sizeof unknown);
        CHECK_MSG(g_fails > 0, "the walker passes an unknown field");
        g_fails = 0;
        /* fields out of order */
        static const uint8_t order[] = {0x1a, 0x02, 0x0a, 0x00, 0x0a, 0x01, 'x'};
        check_released("self-test", NULL, 1, order, sizeof order);
        CHECK_MSG(g_fails > 0, "the walker passes fields out of order");
        g_fails = 0;
        dmvf__fuzz_quiet = 0;
    }

    /* a keyring that group or others may read is refused, whatever it holds */
    {
        char kdir[] = "/tmp/dmvf-fuzzreg-XXXXXX", kpath[64];
        CHECK(mkdtemp(kdir) != NULL);
        snprintf(kpath, sizeof kpath, "%s/kr", kdir);
        uint8_t seed[32] = {1};
        dmvf_error err;
        CHECK_EQ_INT(dmvf__keyring_create_seeded(kpath, seed, 1, &err), DMVF_OK);
        size_t n = 0;
        uint8_t *data = read_all(kpath, &n);
        CHECK(data != NULL && n > 9);
        if (data) {
            CHECK_EQ_INT(dmvf__fuzz_keyring(data, n), 0);
            CHECK(chmod(kpath, 0644) == 0);
            dmvf_keyring *k = dmvf_keyring_load(kpath, NULL, &err);
            CHECK(k == NULL);
            CHECK_EQ_INT(err.code, DMVF_EKEYRING);
            dmvf_keyring_free(k);
        }
        free(data);
        unlink(kpath);
        rmdir(kdir);
    }

    /* the example policy and the golden records pass their targets */
    {
        char path[4096];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
        uint8_t *data = read_all(path, &n);
        CHECK(data != NULL);
        if (data)
            CHECK_EQ_INT(dmvf__fuzz_policy(data, n), 0);
        free(data);
        for (size_t i = 0; i < G.nfixed; i++) {
            /* header 0xff: every plan of the set */
            uint8_t *in = malloc(G.fixed_len[i] + 1);
            CHECK(in != NULL);
            if (!in)
                continue;
            in[0] = 0xff;
            memcpy(in + 1, G.fixed[i], G.fixed_len[i]);
            CHECK_EQ_INT(dmvf__fuzz_rewrite(in, G.fixed_len[i] + 1), 0);
            free(in);
        }
    }
    dmvf__fuzz_fini();
    CHECK_DONE();
}
