/*
 * public_file.c - the one-line public key files (keyfile_int.h): the
 * keyring's signing key ("dmvfilter-ed25519 <hex>", sign.c) and the
 * reviewers' key ("dmvfilter-x25519-public <hex>", review_keys.c).
 *
 *   prefix, then the key's 64 lowercase hex digits, then "\n"
 *
 * Read back, what follows the digits from a '\r' or '\n' on is ignored.
 */
#include <stdio.h>
#include <string.h>
#include "filter/core/hex.h"
#include "keys/keyfile_int.h"

size_t dmvf__public_line(char *line, const char *prefix, const uint8_t key[32])
{
    char hex[65];
    DMVF_REQUIRE(strlen(prefix) + sizeof hex + 1 <= DMVF__PUBLIC_LINE_MAX, "public key prefix too long");
    dmvf__hex_encode(hex, key, 32);
    int n = snprintf(line, DMVF__PUBLIC_LINE_MAX, "%s%s\n", prefix, hex);
    return (size_t)n;
}

int dmvf__public_read(const char *path, const char *prefix, uint8_t key[32])
{
    memset(key, 0, 32);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return DMVF__PUBLIC_OPEN;
    char line[256];
    char *got = fgets(line, sizeof line, fp);
    int rd_err = ferror(fp);
    fclose(fp);
    if (rd_err)
        return DMVF__PUBLIC_READ;
    size_t plen = strlen(prefix);
    if (!got || strncmp(line, prefix, plen) != 0)
        return DMVF__PUBLIC_NOTKEY;
    const char *hex = line + plen;
    size_t hl = strcspn(hex, "\r\n");
    if (dmvf__hex_decode(key, 32, hex, hl, 0) != 0) {
        memset(key, 0, 32);
        return DMVF__PUBLIC_HEX;
    }
    return DMVF__PUBLIC_OK;
}
