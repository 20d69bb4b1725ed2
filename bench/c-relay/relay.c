/* Minimal epoll UDP relay: the reference for ActorRelay's benchmark (what the kernel path costs with
 * almost nothing on top). Channel i owns ports BASE+2i (left) and BASE+2i+1 (right); the first packet on
 * a side latches it; a packet is forwarded out of the sibling's socket to the sibling's latched source.
 * Usage: relay BASE_PORT CHANNELS [BIND_ADDRESS]. Runs until SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct side { int fd; int latched; struct sockaddr_in peer; struct side *sibling; };

static volatile sig_atomic_t running = 1;
static void stop(int sig) { (void)sig; running = 0; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "Usage: relay BASE_PORT CHANNELS [BIND_ADDRESS]\n"); return 1; }
    int base = atoi(argv[1]), channels = atoi(argv[2]);
    const char *bind_address = argc > 3 ? argv[3] : "127.0.0.1";
    int sides = channels * 2;
    struct side *s = calloc((size_t)sides, sizeof *s);
    int ep = epoll_create1(0);
    for (int i = 0; i < sides; i++) {
        s[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(base + i)) };
        inet_pton(AF_INET, bind_address, &a.sin_addr);
        if (bind(s[i].fd, (struct sockaddr *)&a, sizeof a) != 0) { fprintf(stderr, "Failed to bind on port %d\n", base + i); return 1; }
        s[i].sibling = &s[i ^ 1];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
    }
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    fprintf(stderr, "All set.\n");
    struct epoll_event events[256];
    unsigned char buf[65536];
    while (running) {
        int n = epoll_wait(ep, events, 256, 200);
        for (int e = 0; e < n; e++) {
            struct side *in = events[e].data.ptr;
            for (;;) {
                struct sockaddr_in from; socklen_t len = sizeof from;
                ssize_t got = recvfrom(in->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
                if (got < 0) break; /* EAGAIN: drained */
                if (!in->latched) { in->peer = from; in->latched = 1; }
                else if (from.sin_addr.s_addr != in->peer.sin_addr.s_addr || from.sin_port != in->peer.sin_port) continue;
                struct side *out = in->sibling;
                if (out->latched) sendto(out->fd, buf, (size_t)got, 0, (struct sockaddr *)&out->peer, sizeof out->peer);
            }
        }
    }
    return 0;
}
