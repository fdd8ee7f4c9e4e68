/* The round-trip floor of this machine: the least a server can do per request. One
 * thread, epoll, keep-alive, a fixed {"ok":true} answer to every request, no parsing beyond
 * finding where a request ends. bench/side-by-side/run.sh builds it with cc and loads it
 * with the same wrk script as GET /api/auth/ok of the real servers, so the report can say
 * how much of a one-connection figure is the loopback round trip itself.
 *
 *   floor_server PORT      (0: any free port; prints "listening on http://127.0.0.1:PORT")
 *
 * GET requests only (wrk's), which carry no body. Not a server for anything else. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_FDS = 4096, BUF = 16384 };

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 11\r\n\r\n{\"ok\":true}";

/* Bytes of a request whose end ("\r\n\r\n") has not arrived yet, per connection. */
static char *pending[MAX_FDS];
static size_t pendingLen[MAX_FDS];

static void closeConnection(int epoll, int fd)
{
    epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(pending[fd]);
    pending[fd] = NULL;
    pendingLen[fd] = 0;
}

/* Answers every complete request in the connection's buffer; keeps the incomplete tail. */
static int answer(int fd)
{
    char *buf = pending[fd];
    size_t start = 0;
    for (size_t i = 3; i < pendingLen[fd]; ++i) {
        if (memcmp(buf + i - 3, "\r\n\r\n", 4) != 0)
            continue;
        if (write(fd, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
            return -1; /* a 70-byte answer that does not fit an empty socket: give up */
        start = i + 1;
    }
    memmove(buf, buf + start, pendingLen[fd] - start);
    pendingLen[fd] -= start;
    return pendingLen[fd] == BUF ? -1 : 0; /* a "request" longer than the buffer */
}

int main(int argc, char **argv)
{
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)
        || getsockname(listener, (struct sockaddr *)&address, &length)) {
        perror("floor_server");
        return 1;
    }
    printf("listening on http://127.0.0.1:%d\n", ntohs(address.sin_port));
    fflush(stdout);

    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    for (;;) {
        struct epoll_event ready[64];
        int n = epoll_wait(epoll, ready, 64, -1);
        for (int i = 0; i < n; ++i) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int connection;
                while ((connection = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (connection >= MAX_FDS) {
                        close(connection);
                        continue;
                    }
                    setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    pending[connection] = malloc(BUF);
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = connection};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, connection, &e);
                }
                continue;
            }
            ssize_t got = read(fd, pending[fd] + pendingLen[fd], BUF - pendingLen[fd]);
            if (got < 0 && errno == EAGAIN)
                continue;
            if (got <= 0) {
                closeConnection(epoll, fd);
                continue;
            }
            pendingLen[fd] += (size_t)got;
            if (answer(fd) != 0)
                closeConnection(epoll, fd);
        }
    }
}
