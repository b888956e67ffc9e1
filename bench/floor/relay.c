/* The least work a TCP relay can do on Linux, as a yardstick for reel's
 * zero-copy relay (bench/floor.sh): a thread per direction, blocking
 * splice(2) socket -> pipe -> socket through a 1 MiB pipe. No readiness
 * polling, no buffers, no accounting, no limits: not a proxy, a floor.
 *
 *   relay LISTEN_PORT UPSTREAM_PORT      (both on 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct dir { int in, out; };

static void *pump(void *arg);

#include "common.h"

static void *pump(void *arg)
{
    struct dir *d = arg;
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(1); }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    for (;;) {
        ssize_t n = splice(d->in, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_MORE);
        if (n <= 0) break;
        while (n > 0) {
            ssize_t m = splice(p[0], NULL, d->out, NULL, (size_t)n, SPLICE_F_MOVE | SPLICE_F_MORE);
            if (m <= 0) goto out;
            n -= m;
        }
    }
out:
    shutdown(d->out, SHUT_WR);
    close(p[0]);
    close(p[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: relay LISTEN_PORT UPSTREAM_PORT\n"); return 2; }
    return serve(atoi(argv[1]), atoi(argv[2]));
}
