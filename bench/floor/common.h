/* What bench/floor's two programs share: the listening loop, the upstream
 * connection (both on 127.0.0.1) and a client's two directions, each run by
 * the program's own `pump` on a `struct dir` whose first fields are `in` and
 * `out`: a thread per client and one more for its answers. Included after
 * both are declared. */
static int upstream_port;

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    return sa;
}

static int dial_upstream(void)
{
    struct sockaddr_in sa = loopback(upstream_port);
    int u = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(u, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect upstream");
        close(u);
        return -1;
    }
    return u;
}

static void *conn(void *arg)
{
    int c = (int)(long)arg, u = dial_upstream();
    if (u >= 0) {
        struct dir up = { .in = c, .out = u }, down = { .in = u, .out = c };
        pthread_t t;
        pthread_create(&t, NULL, pump, &down);
        pump(&up);
        pthread_join(t, NULL);
        close(u);
    }
    close(c);
    return NULL;
}

static int serve(int listen_port, int up_port)
{
    struct sockaddr_in sa = loopback(listen_port);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    upstream_port = up_port;
    signal(SIGPIPE, SIG_IGN);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 128) != 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int c = accept(l, NULL, NULL);
        pthread_t t;
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_create(&t, NULL, conn, (void *)(long)c);
        pthread_detach(t);
    }
}
