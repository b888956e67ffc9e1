/* The least work a recording relay can do on Linux, as a yardstick for
 * reel's recorder (bench/floor.sh): per direction, one thread reads the
 * socket into one of RING page-aligned buffers and writes it on, a second
 * writes each buffer (padded to whole pages) with O_DIRECT to a file that
 * is unlinked at once. No framing, checksums, timestamps, ordering across
 * connections or copies: not a recorder, a floor.
 *
 *   recorder LISTEN_PORT UPSTREAM_PORT DIR      (both ports on 127.0.0.1)
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

#define CHUNK (256 * 1024)
#define PAGE 4096
#define RING 4

static const char *dir_path;
static int file_seq;

struct dir {
    int in, out, fd;
    char *buf[RING];
    size_t len[RING];
    unsigned head, tail; /* head: next buffer to fill; tail: next to write */
    int done;
    pthread_mutex_t m;
    pthread_cond_t c;
};

static void *pump(void *arg);

#include "common.h"

static void *writer(void *arg)
{
    struct dir *d = arg;
    off_t off = 0;
    for (;;) {
        pthread_mutex_lock(&d->m);
        while (d->head == d->tail && !d->done) pthread_cond_wait(&d->c, &d->m);
        if (d->head == d->tail) { pthread_mutex_unlock(&d->m); break; }
        unsigned i = d->tail % RING;
        size_t len = (d->len[i] + PAGE - 1) & ~(size_t)(PAGE - 1);
        pthread_mutex_unlock(&d->m);
        if (pwrite(d->fd, d->buf[i], len, off) != (ssize_t)len) { perror("pwrite"); exit(1); }
        off += (off_t)len;
        pthread_mutex_lock(&d->m);
        d->tail++;
        pthread_cond_broadcast(&d->c);
        pthread_mutex_unlock(&d->m);
    }
    return NULL;
}

static void *pump(void *arg)
{
    struct dir *d = arg;
    char path[4096];
    pthread_t w;
    snprintf(path, sizeof path, "%s/floor-%d", dir_path, __sync_fetch_and_add(&file_seq, 1));
    d->fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_DIRECT, 0600);
    if (d->fd < 0) { perror(path); exit(1); }
    unlink(path);
    for (int i = 0; i < RING; i++)
        if (posix_memalign((void **)&d->buf[i], PAGE, CHUNK) != 0) { perror("posix_memalign"); exit(1); }
    pthread_mutex_init(&d->m, NULL);
    pthread_cond_init(&d->c, NULL);
    pthread_create(&w, NULL, writer, d);
    for (;;) {
        pthread_mutex_lock(&d->m);
        while (d->head - d->tail == RING) pthread_cond_wait(&d->c, &d->m);
        pthread_mutex_unlock(&d->m);
        unsigned i = d->head % RING;
        ssize_t n = read(d->in, d->buf[i], CHUNK);
        if (n <= 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t m = write(d->out, d->buf[i] + done, (size_t)(n - done));
            if (m <= 0) goto out;
            done += m;
        }
        pthread_mutex_lock(&d->m);
        d->len[i] = (size_t)n;
        d->head++;
        pthread_cond_broadcast(&d->c);
        pthread_mutex_unlock(&d->m);
    }
out:
    shutdown(d->out, SHUT_WR);
    pthread_mutex_lock(&d->m);
    d->done = 1;
    pthread_cond_broadcast(&d->c);
    pthread_mutex_unlock(&d->m);
    pthread_join(w, NULL);
    close(d->fd);
    for (int i = 0; i < RING; i++) free(d->buf[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: recorder LISTEN_PORT UPSTREAM_PORT DIR\n"); return 2; }
    dir_path = argv[3];
    return serve(atoi(argv[1]), atoi(argv[2]));
}
