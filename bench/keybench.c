/*
 * keybench.c - what a request's keys cost (keys/keys.h): dmvf__keyctx_create
 * and dmvf__keyctx_free of the police plan's four pseudonymized paths, over
 * requests spread across S scopes in turn, for S = 1, 64 (the keyring's
 * cache holds 64 contexts: every request a hit), 200 and 100,000 (every
 * request a miss that recycles an evicted context's block).
 *
 * usage: keybench [--runs R] [--requests K] [--keyring F]
 *
 * Without --keyring a seeded keyring is written to a temp dir and removed.
 * R runs (default 5) of K requests (default 20,000) per row; the median
 * µs per create + free is printed. One thread; run it nice'd on a shared
 * machine: `nice -n 10 build/keybench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

static void die(const char *msg)
{
    fprintf(stderr, "keybench: %s\n", msg);
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned runs = 5, requests = 20000;
    const char *path = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("usage: keybench [--runs R] [--requests K] [--keyring F]");
        if (strcmp(a, "--runs") == 0)
            runs = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--requests") == 0)
            requests = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--keyring") == 0)
            path = v;
        else
            die("usage: keybench [--runs R] [--requests K] [--keyring F]");
    }
    if (runs < 1 || runs > 64 || requests < 1)
        die("--runs is 1..64, --requests at least 1");
    char dir[] = "/tmp/dmvf-keybench-XXXXXX", own[64];
    dmvf_error err;
    if (!path) {
        if (!mkdtemp(dir))
            die("mkdtemp failed");
        snprintf(own, sizeof own, "%s/kr", dir);
        uint8_t seed[32];
        memset(seed, 7, sizeof seed);
        if (dmvf__keyring_create_seeded(own, seed, 2, &err) != DMVF_OK)
            die(err.msg);
        path = own;
    }
    dmvf_keyring *kr = dmvf_keyring_load(path, NULL, &err);
    if (!kr)
        die(err.msg);
    static const char *const paths[] = {"record_id", "person.family_name", "license.number", "vehicle.vin"};
    static const unsigned scopes[] = {1, 64, 200, 100000};
    printf("| scopes in turn | µs per create + free (median of %u runs of %u) |\n|--:|--:|\n", runs, requests);
    for (size_t s = 0; s < sizeof scopes / sizeof scopes[0]; s++) {
        double t[64];
        for (unsigned r = 0; r < runs; r++) {
            double t0 = now_us();
            for (unsigned i = 0; i < requests; i++) {
                char scope[16];
                snprintf(scope, sizeof scope, "NY%07u", (i + r * 7919u) % scopes[s]);
                dmvf_keyctx *kc = dmvf__keyctx_create(kr, scope, paths, 4);
                if (!kc)
                    die("out of memory");
                dmvf__keyctx_free(kc);
            }
            t[r] = (now_us() - t0) / requests;
        }
        qsort(t, runs, sizeof t[0], by_value);
        printf("| %u | %.2f |\n", scopes[s], t[runs / 2]);
    }
    dmvf_keyring_free(kr);
    if (path == own) {
        unlink(own);
        rmdir(dir);
    }
    return 0;
}
