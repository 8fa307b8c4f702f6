/*
 * dirbench.c - what the requester directory costs: loading a policy whose
 * directory has N entries, and deciding one request against it.
 *
 * usage: dirbench [--entries N] [--runs R] [--requests K] [--dir D]
 *
 * Writes, under D (default: a new directory in /tmp, removed at the end), a
 * policy (the rules of a state's police profile) with a generated directory
 * (nine in ten entries exact ORIs, one in ten 7-character ORI prefixes, and
 * an ICE prefix) three times: 10 entries inline; as many entries inline as
 * the 1 MiB policy limit leaves room for; N entries (default 100,000) in a
 * requesters_file (CSV).
 * Then, R runs each (default 5), the median printed:
 *
 *   load      dmvf_policy_load_file, whole (read, parse, index, compile)
 *   request   per request, K requests (default 100,000) over ORIs of the
 *             directory (exact ORIs, ORIs under a prefix, and one in ten not
 *             in it): dmvf_filter_create (the check, the lookup, the rules,
 *             the plan and the per-request keys), dmvf_filter_decision and
 *             dmvf_filter_free
 *   decide    per request, the decision alone (dmvf__policy_decide: the
 *             request's check, the lookup and the rules)
 *
 * Deterministic data (no randomness but a fixed LCG), one thread. Run it
 * nice'd on a shared machine: `nice -n 10 build/dirbench`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dmvfilter/dmvfilter.h"
#include "filter/policy/decide.h"
#include "keys/keys.h"

static const char rules[] =
    "version: 1\n"
    "jurisdiction: NY\n"
    "profiles:\n"
    "  police:\n"
    "    default: redact\n"
    "    fields:\n"
    "      record_id: pseudonymize\n"
    "      person.family_name: release\n"
    "      person.residence.*: release\n"
    "      license.number: release\n"
    "rules:\n"
    "  - name: immigration enforcement\n"
    "    match: {tags: [immigration-enforcement]}\n"
    "    decision: deny\n"
    "    refusal: not-found\n"
    "  - name: in-state police\n"
    "    match: {agency_kind: [state, local], jurisdiction: [NY]}\n"
    "    purposes: [1]\n"
    "    decision: release\n"
    "    profile: police\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, dcmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "dirbench: %s\n", what);
    exit(1);
}

/* Entry i of the generated directory: exact ORIs NY + 7 digits for nine in
 * ten, prefixes P + 6 digits (7 characters) for the tenth. */
static int is_prefix(unsigned i)
{
    return i % 10 == 9;
}

static void write_csv(const char *path, unsigned n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the CSV directory");
    fputs("ori,ori_prefix,name,kind,jurisdiction,tags,certified_until,scope\n", f);
    for (unsigned i = 0; i < n; i++) {
        if (is_prefix(i))
            fprintf(f, ",P%06u,Prefix agency %u,local,NY,,,\n", i / 10, i);
        else
            fprintf(f, "NY%07u,,Agency %u,local,NY,,2027-12-31,\n", i, i);
    }
    fputs(",DCICE,ICE ERO,federal,,immigration-enforcement,,\n", f);
    if (fclose(f) != 0)
        die("cannot write the CSV directory");
}

/* The policy with its directory inline: n entries, or as many as fit in
 * `room` bytes; returns how many. */
static unsigned write_yaml(const char *path, unsigned n, size_t room)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the YAML policy");
    fprintf(f, "%srequesters:\n", rules);
    size_t used = sizeof rules + 12;
    unsigned k = 0;
    char line[160];
    for (; k < n; k++) {
        int w = is_prefix(k) ? snprintf(line, sizeof line, "  - {ori_prefix: P%06u, name: Prefix agency %u, kind: "
                                        "local, jurisdiction: NY}\n", k / 10, k)
                             : snprintf(line, sizeof line, "  - {ori: NY%07u, name: Agency %u, kind: local, "
                                        "jurisdiction: NY, certified_until: 2027-12-31}\n", k, k);
        if (used + (size_t)w + 200 > room)
            break;
        fputs(line, f);
        used += (size_t)w;
    }
    fputs("  - {ori_prefix: DCICE, name: ICE ERO, kind: federal, tags: [immigration-enforcement]}\n", f);
    if (fclose(f) != 0)
        die("cannot write the YAML policy");
    return k;
}

static void write_text(const char *path, const char *a, const char *b)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(a, f) < 0 || fputs(b, f) < 0 || fclose(f) != 0)
        die("cannot write a policy");
}

static double load_seconds(const char *path, unsigned runs)
{
    double t[64];
    for (unsigned r = 0; r < runs; r++) {
        dmvf_error err;
        double t0 = now();
        dmvf_policy *p = dmvf_policy_load_file(path, &err);
        t[r] = now() - t0;
        if (!p) {
            fprintf(stderr, "dirbench: %s\n", err.msg);
            exit(1);
        }
        dmvf_policy_free(p);
    }
    return median(t, runs);
}

/* The ORI of request j over a directory of n generated entries: exact ORIs,
 * ORIs under a prefix, and one in ten that no entry holds. */
static void ori_of(uint64_t *lcg, unsigned n, char out[16])
{
    *lcg = *lcg * 6364136223846793005u + 1442695040888963407u;
    unsigned x = (unsigned)(*lcg >> 33), i = (n ? x % n : 0) % 10000000u;
    if (x % 10 == 0)
        snprintf(out, 16, "XX%07u", x % 10000000u);
    else if (is_prefix(i))
        snprintf(out, 16, "P%06u%02u", i / 10 % 1000000u, x % 100);
    else
        snprintf(out, 16, "NY%07u", i);
}

typedef struct per_request {
    double create, decide;      /* microseconds per request */
    unsigned released;
} per_request;

static per_request request_cost(const dmvf_policy *p, const dmvf_keyring *kr, unsigned n, unsigned k,
                                unsigned runs)
{
    double tc[64], td[64];
    per_request pr = {0, 0, 0};
    char ori[16];
    dmvf_request q;
    memset(&q, 0, sizeof q);
    q.ori = ori;
    q.purpose = 1;
    q.query_kind = DMVF_QUERY_BY_LICENSE;
    for (unsigned r = 0; r < runs; r++) {
        uint64_t lcg = 42;
        unsigned released = 0;
        double t0 = now();
        for (unsigned j = 0; j < k; j++) {
            ori_of(&lcg, n, ori);
            dmvf_error err;
            dmvf_filter *f = dmvf_filter_create(p, kr, &q, NULL, &err);
            if (!f)
                die("dmvf_filter_create failed");
            released += dmvf_filter_decision(f) == DMVF_DECISION_RELEASE;
            dmvf_filter_free(f);
        }
        tc[r] = (now() - t0) / k * 1e6;
        lcg = 42;
        unsigned sink = 0;
        t0 = now();
        for (unsigned j = 0; j < k; j++) {
            ori_of(&lcg, n, ori);
            dmvf_verdict v;
            dmvf__policy_decide(p, &q, 20261201, &v);
            sink += v.decision == DMVF_DECISION_RELEASE;
        }
        td[r] = (now() - t0) / k * 1e6;
        if (sink != released)
            die("the decision alone and the filter disagree");
        pr.released = released;
    }
    pr.create = median(tc, runs);
    pr.decide = median(td, runs);
    return pr;
}

int main(int argc, char **argv)
{
    unsigned entries = 100000, runs = 5, requests = 100000;
    const char *dir = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("usage: dirbench [--entries N] [--runs R] [--requests K] [--dir D]");
        if (strcmp(a, "--entries") == 0)
            entries = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--runs") == 0)
            runs = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--requests") == 0)
            requests = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--dir") == 0)
            dir = v;
        else
            die("usage: dirbench [--entries N] [--runs R] [--requests K] [--dir D]");
    }
    if (runs < 1 || runs > 64 || requests < 1 || entries < 10 || entries > 9000000)
        die("--runs is 1..64, --requests at least 1, --entries 10..9000000");
    char tmp[] = "/tmp/dmvf-dirbench-XXXXXX", path[5][600];
    int own = !dir;
    if (own && !(dir = mkdtemp(tmp)))
        die("mkdtemp failed");
    snprintf(path[0], sizeof path[0], "%s/small.yaml", dir);
    snprintf(path[1], sizeof path[1], "%s/orion.csv", dir);
    snprintf(path[2], sizeof path[2], "%s/csv.yaml", dir);
    snprintf(path[3], sizeof path[3], "%s/inline.yaml", dir);
    snprintf(path[4], sizeof path[4], "%s/keyring", dir);
    unsigned small_n = write_yaml(path[0], 10, (size_t)1 << 20);
    write_csv(path[1], entries);
    write_text(path[2], rules, "requesters: []\nrequesters_file: orion.csv\n");
    unsigned inline_n = write_yaml(path[3], entries, (size_t)1 << 20);

    static const uint8_t seed[32] = "dmvfilter directory benchmark.";
    dmvf_error err;
    if (dmvf__keyring_create_seeded(path[4], seed, 1, &err) != DMVF_OK)
        die(err.msg);
    dmvf_keyring *kr = dmvf_keyring_load(path[4], NULL, &err);
    if (!kr)
        die(err.msg);
    struct stat st;
    stat(path[1], &st);
    long long csv_bytes = (long long)st.st_size;
    stat(path[3], &st);
    long long yaml_bytes = (long long)st.st_size;

    printf("dirbench: %u runs each, the median; %u requests per run; one thread\n", runs, requests);
    printf("%-44s %12s %14s %14s %9s\n", "directory", "load (ms)", "request (us)", "decide (us)", "released");
    stat(path[0], &st);
    long long small_bytes = (long long)st.st_size;
    const char *paths[3] = {path[0], path[3], path[2]};
    unsigned ns[3] = {small_n, inline_n, entries};
    char what[3][80];
    snprintf(what[0], sizeof what[0], "%u entries inline (%lld bytes)", small_n + 1, small_bytes);
    snprintf(what[1], sizeof what[1], "%u entries inline (%lld bytes)", inline_n + 1, yaml_bytes);
    snprintf(what[2], sizeof what[2], "%u entries, requesters_file (%lld bytes)", entries + 1, csv_bytes);
    for (int c = 0; c < 3; c++) {
        double load = load_seconds(paths[c], runs) * 1e3;
        dmvf_policy *p = dmvf_policy_load_file(paths[c], &err);
        if (!p)
            die(err.msg);
        /* the same mix for every directory: exact ORIs, ORIs under a prefix, misses */
        per_request pr = request_cost(p, kr, ns[c], requests, runs);
        printf("%-44s %12.2f %14.3f %14.3f %8.1f%%\n", what[c], load, pr.create, pr.decide,
               100.0 * pr.released / requests);
        dmvf_policy_free(p);
    }
    dmvf_keyring_free(kr);
    if (own) {
        for (int i = 0; i < 5; i++)
            unlink(path[i]);
        rmdir(dir);
    }
    return 0;
}
