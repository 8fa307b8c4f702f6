/*
 * fixture.h - what the tests over generated data share: a temp directory
 * removed at exit (g_dir), the example policy, a seeded keyring, running
 * dmv-gen ($DMVF_GEN) and reading whole files. Include after check.h.
 */
#ifndef DMVF_TEST_FIXTURE_H
#define DMVF_TEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

static char g_dir[200];

static inline void fixture_cleanup(void)
{
    if (!g_dir[0])
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

/* Runs $DMVF_GEN with args (a shell fragment); its exit status, -1 if unset. */
static inline int run_gen(const char *args)
{
    const char *gen = getenv("DMVF_GEN");
    char cmd[4096];
    if (!gen) {
        fprintf(stderr, "DMVF_GEN is not set\n");
        return -1;
    }
    snprintf(cmd, sizeof cmd, "'%s' %s", gen, args);
    return system(cmd);
}

/* The whole file, NUL-terminated (not counted in *n); NULL if unreadable. */
static inline uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *p = malloc(cap + 1);
    while (p && (got = fread(p + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap)
            p = realloc(p, (cap *= 2) + 1);
    }
    fclose(f);
    if (p)
        p[len] = 0;
    *n = len;
    return p;
}

/* Makes g_dir (/tmp/dmvf-TAG-XXXXXX, removed at exit), loads
 * $DMVF_SRC/examples/policy.yaml and a keyring seeded from `seed` with
 * `nepochs` epochs, each step CHECKed. 0 when both loaded (free them). */
static inline int fixture_open(const char *tag, const uint8_t seed[32], uint32_t nepochs,
                               dmvf_policy **pol, dmvf_keyring **kr)
{
    const char *src = getenv("DMVF_SRC");
    *pol = NULL;
    *kr = NULL;
    CHECK_MSG(src != NULL && getenv("DMVF_GEN") != NULL, "DMVF_SRC and DMVF_GEN must be set");
    if (!src || !getenv("DMVF_GEN"))
        return -1;
    snprintf(g_dir, sizeof g_dir, "/tmp/dmvf-%s-XXXXXX", tag);
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        CHECK_MSG(0, "mkdtemp failed");
        return -1;
    }
    atexit(fixture_cleanup);

    char path[512];
    dmvf_error err;
    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    *pol = dmvf_policy_load_file(path, &err);
    CHECK_MSG(*pol != NULL, "policy: %s", *pol ? "" : err.msg);
    snprintf(path, sizeof path, "%s/keyring", g_dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, nepochs, &err), DMVF_OK);
    *kr = dmvf_keyring_load(path, NULL, &err);
    CHECK_MSG(*kr != NULL, "keyring: %s", *kr ? "" : err.msg);
    return *pol && *kr ? 0 : -1;
}

#endif
