/*
 * policy.c - the policy object's life cycle: load (the file read whole, at
 * most 1 MiB; the id; parse.c, then compile.c), the count of the handles
 * that borrow it, free; and what the layers above read of it (id,
 * settings of the accountability sections).
 *
 * The id is the BLAKE2b-256 of the policy's bytes, in lowercase hex: two
 * loads of the same bytes have the same id, whatever their name. A policy
 * with a requesters_file is identified with its directory: the id is then
 * the BLAKE2b-256 of the policy's bytes followed by the file's (what
 * `cat policy.yaml orion.csv | b2sum -l 256` prints), so that a changed
 * directory is a changed policy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "filter/core/hex.h"
#include "filter/policy/policy_int.h"

#define DMVF_POLICY_MAX_BYTES ((size_t)1 << 20)

/* ------------------------------------------------------------------ load */

/* The id: BLAKE2b-256 of the policy's bytes (and its requesters_file's), in hex. */
static void policy_id(dmvf_policy *p, const char *yaml, size_t len)
{
    unsigned char h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)yaml, len);
    if (p->dir.file_bytes)
        crypto_generichash_update(&st, p->dir.file_bytes, p->dir.file_len);
    crypto_generichash_final(&st, h, sizeof h);
    _Static_assert(sizeof ((dmvf_policy *)0)->id == 2 * sizeof h + 1, "policy id size");
    dmvf__hex_encode(p->id, h, sizeof h);
}

/* dir: what relative paths in the policy are resolved against: "" (as
 * given) or a directory ending in '/'; dlen its length. */
static dmvf_policy *load_buffer(const char *yaml, size_t len, const char *name, const char *dir, size_t dlen,
                                dmvf_error *err)
{
    if (len > DMVF_POLICY_MAX_BYTES) {
        dmvf__perr(err, name, 0, 0, "policy is %zu bytes; the limit is 1 MiB", len);
        return NULL;
    }
    if (sodium_init() < 0) {
        dmvf__seterr(err, DMVF_ENOMEM, "%s: libsodium failed to initialize", name);
        return NULL;
    }
    dmvf_policy *p = calloc(1, sizeof *p);
    if (p)
        atomic_init(&p->users, 0);
    if (!p) {
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    p->refusal = DMVF_REFUSAL_REFUSED;
    p->name = dmvf__arena_strndup(&p->arena, name, strlen(name));
    p->base_dir = dmvf__arena_strndup(&p->arena, dir, dlen);
    if (!p->name || !p->base_dir) {
        dmvf__arena_free(&p->arena);
        free(p);
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    int rc = dmvf__policy_parse(p, yaml ? yaml : "", len, err);
    policy_id(p, yaml ? yaml : "", len);
    free(p->dir.file_bytes); /* only the id needs the file's bytes */
    p->dir.file_bytes = NULL;
    if (rc != DMVF_OK || dmvf__policy_compile(p, err) != DMVF_OK) {
        dmvf_policy_free(p);
        return NULL;
    }
    return p;
}

dmvf_policy *dmvf_policy_load_buffer(const char *yaml, size_t len, const char *name, dmvf_error *err)
{
    DMVF_REQUIRE(yaml || len == 0, "yaml is NULL");
    if (!name)
        name = "<policy>";
    return load_buffer(yaml, len, name, "", 0, err);
}

dmvf_policy *dmvf_policy_load_file(const char *path, dmvf_error *err)
{
    DMVF_REQUIRE(path != NULL, "path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        dmvf__seterr(err, DMVF_EIO, "%s: cannot open policy: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = DMVF_POLICY_MAX_BYTES + 1;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        dmvf__seterr(err, DMVF_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, cap, fp);
    int rerr = ferror(fp);
    fclose(fp);
    dmvf_policy *p = NULL;
    if (rerr)
        dmvf__seterr(err, DMVF_EIO, "%s: cannot read policy", path);
    else if (n > DMVF_POLICY_MAX_BYTES)
        dmvf__perr(err, path, 0, 0, "policy is larger than 1 MiB");
    else {
        /* relative paths inside are relative to the file's directory */
        const char *slash = strrchr(path, '/');
        p = load_buffer(buf, n, path, path, slash ? (size_t)(slash - path) + 1 : 0, err);
    }
    free(buf);
    return p;
}

/* ------------------------------------------------------------------ borrowers, free */

void dmvf__policy_acquire(const dmvf_policy *p)
{
    atomic_fetch_add_explicit(&((dmvf_policy *)p)->users, 1, memory_order_relaxed);
}

void dmvf__policy_release(const dmvf_policy *p)
{
    size_t was = atomic_fetch_sub_explicit(&((dmvf_policy *)p)->users, 1, memory_order_release);
    DMVF_REQUIRE(was > 0, "policy released more often than it was acquired");
}

void dmvf_policy_free(dmvf_policy *p)
{
    if (!p)
        return;
    size_t n = atomic_load_explicit(&p->users, memory_order_acquire);
    if (n) {
        char what[128];
        snprintf(what, sizeof what,
                 "policy is still used by %zu filter or framed stream handle(s): free them first", n);
        dmvf__misuse(__func__, what);
    }
    dmvf__policy_release_plans(p);
    dmvf__arena_free(&p->arena);
    free(p);
}

/* ------------------------------------------------------------------ what the layers above read */

const char *dmvf_policy_id(const dmvf_policy *p)
{
    DMVF_REQUIRE(p != NULL, "policy is NULL");
    return p->id;
}

void dmvf_policy_audit_settings(const dmvf_policy *p, dmvf_policy_audit *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->audit;
}

void dmvf_policy_notice_settings(const dmvf_policy *p, dmvf_policy_notices *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->notices;
    if (!p->has_notices)
        out->due_days = 3;
}

void dmvf_policy_review_settings(const dmvf_policy *p, dmvf_policy_review *out)
{
    DMVF_REQUIRE(p != NULL && out != NULL, "NULL argument");
    *out = p->review;
}
