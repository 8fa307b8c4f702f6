/*
 * pipeio.c - the two ends of the pipe->pipe benchmark, made cheap so that
 * they are not what is measured:
 *
 *   pipeio src FILE   FILE -> stdout (a pipe): splice(2), no copy through
 *                     user space; read/write in 1 MiB blocks where splice
 *                     is refused
 *   pipeio sink       stdin (a pipe) -> nowhere: splice to /dev/null, or
 *                     1 MiB reads; prints "pipeio: B bytes" on stderr
 *
 * Both grow their pipe to 1 MiB (F_SETPIPE_SZ, best effort), the size of
 * the CLI's reads and writes. Exit: 0, 64 usage, 66 no input, 74 I/O.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)

static int copy_rw(int in, int out, unsigned long long *total)
{
    char *buf = malloc(BLOCK);
    if (!buf)
        return EX_OSERR;
    for (;;) {
        ssize_t r = read(in, buf, BLOCK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return EX_IOERR;
        }
        if (r == 0)
            break;
        *total += (unsigned long long)r;
        for (ssize_t off = 0; out >= 0 && off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                free(buf);
                return EX_IOERR;
            }
            off += w;
        }
    }
    free(buf);
    return 0;
}

/* splice in -> out until the end; falls back to read/write if refused. */
static int pump(int in, int out, unsigned long long *total)
{
    for (;;) {
        ssize_t n = splice(in, NULL, out, NULL, BLOCK, SPLICE_F_MOVE | SPLICE_F_MORE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS) && *total == 0)
            return copy_rw(in, out, total);
        if (n < 0)
            return EX_IOERR;
        if (n == 0)
            return 0;
        *total += (unsigned long long)n;
    }
}

int main(int argc, char **argv)
{
    unsigned long long total = 0;
    int rc;
    if (argc == 3 && strcmp(argv[1], "src") == 0) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "pipeio: %s: %s\n", argv[2], strerror(errno));
            return EX_NOINPUT;
        }
        (void)fcntl(STDOUT_FILENO, F_SETPIPE_SZ, (int)BLOCK);
        rc = pump(fd, STDOUT_FILENO, &total);
        close(fd);
    } else if (argc == 2 && strcmp(argv[1], "sink") == 0) {
        (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, (int)BLOCK);
        int null = open("/dev/null", O_WRONLY);
        rc = pump(STDIN_FILENO, null, &total);
        if (null >= 0)
            close(null);
        fprintf(stderr, "pipeio: %llu bytes\n", total);
    } else {
        fputs("usage: pipeio src FILE | pipeio sink\n", stderr);
        return EX_USAGE;
    }
    if (rc)
        fprintf(stderr, "pipeio: %s\n", strerror(errno));
    return rc;
}
