/*
 * passphrase.c - the one way the command line reads a passphrase (a
 * keyring's, a reviewer key's): the first line of --passphrase-file F, or
 * an environment variable (DMVFILTER_PASSPHRASE, DMVFILTER_REVIEW_PASSPHRASE).
 *
 * No stdio: the file is read with read(2), one byte at a time up to the
 * first LF, straight into sodium_malloc memory (guarded, never swapped when
 * the system allows, wiped by sodium_free), so no FILE buffer is left
 * holding a copy and nothing past the first line is taken from a pipe or a
 * terminal. The environment's copy is the environment's; ours is in the
 * same kind of memory.
 *
 *   line := BYTES (LF | CRLF | end of file)     BYTES: 1..DMVF__CLI_PASS_MAX
 *
 * Refused (exit 64): an empty passphrase (an empty file, an empty first
 * line, an empty variable), one longer than DMVF__CLI_PASS_MAX bytes, one
 * holding a NUL byte. A file that cannot be opened or read: exit 74.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "filter/cli/cli.h"

/* The bytes of the first line of fd into buf[0..cap): *len bytes, its line
 * end not included. 0; -1 with errno on a read error; 1 when the line does
 * not fit in cap bytes. */
static int first_line(int fd, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0 || c == '\n')
            break;
        if (*len == cap)
            return 1;
        buf[(*len)++] = c;
    }
    if (*len > 0 && buf[*len - 1] == '\r')
        (*len)--;
    return 0;
}

/* The passphrase buffer: DMVF__CLI_PASS_MAX bytes and a NUL. */
static char *pass_alloc(void)
{
    if (sodium_init() < 0)
        return NULL;
    return sodium_malloc(DMVF__CLI_PASS_MAX + 1);
}

static int from_env(const char *env, char **out)
{
    const char *v = getenv(env);
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n == 0) {
        dmvf__cli_err("%s is set but empty: a passphrase cannot be empty", env);
        return DMVF_EXIT_USAGE;
    }
    if (n > DMVF__CLI_PASS_MAX) {
        dmvf__cli_err("%s is longer than %u bytes", env, (unsigned)DMVF__CLI_PASS_MAX);
        return DMVF_EXIT_USAGE;
    }
    char *p = pass_alloc();
    if (!p) {
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    memcpy(p, v, n + 1);
    *out = p;
    return 0;
}

int dmvf__cli_passphrase(const char *file, const char *env, char **out)
{
    *out = NULL;
    if (!file)
        return env ? from_env(env, out) : 0;
    int fd;
    do
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        dmvf__cli_err("passphrase file %s: cannot open: %s", file, strerror(errno));
        return DMVF_EXIT_IOERR;
    }
    char *p = pass_alloc();
    if (!p) {
        close(fd);
        dmvf__cli_err("out of memory");
        return DMVF_EXIT_NOMEM;
    }
    size_t n = 0;
    int st = first_line(fd, p, DMVF__CLI_PASS_MAX, &n);
    int e = errno;
    close(fd);
    const char *why = NULL;
    if (st < 0) {
        sodium_free(p);
        dmvf__cli_err("passphrase file %s: cannot read: %s", file, strerror(e));
        return DMVF_EXIT_IOERR;
    }
    if (st > 0)
        why = "its first line is longer than the limit";
    else if (n == 0)
        why = "the passphrase (its first line) is empty";
    else if (memchr(p, '\0', n))
        why = "the passphrase holds a NUL byte";
    if (why) {
        sodium_free(p);
        if (st > 0)
            dmvf__cli_err("passphrase file %s: %s of %u bytes", file, why,
                          (unsigned)DMVF__CLI_PASS_MAX);
        else
            dmvf__cli_err("passphrase file %s: %s", file, why);
        return DMVF_EXIT_USAGE;
    }
    p[n] = '\0';
    *out = p;
    return 0;
}

void dmvf__cli_passphrase_free(char *p)
{
    sodium_free(p);
}
