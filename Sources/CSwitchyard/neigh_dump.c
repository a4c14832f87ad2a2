// The kernel's IPv6 neighbour table as netlink gives it (RTM_GETNEIGH, a dump): IPv6 has no
// /proc file for it, as IPv4 has /proc/net/arp. The bytes are handed back as they came, for
// NeighbourTable6 (Swift) to read; nothing is parsed here.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

ssize_t sy_neigh6_dump(uint8_t *buf, size_t len) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct {
        struct nlmsghdr header;
        struct ndmsg neighbour;
    } request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = RTM_GETNEIGH;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = 1;
    request.neighbour.ndm_family = AF_INET6;
    if (send(fd, &request, sizeof request, 0) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    size_t used = 0;
    for (;;) {
        if (used == len) break;  // full: what fitted is returned
        ssize_t n = recv(fd, buf + used, len - used, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0) break;
        // The dump ends with NLMSG_DONE (or an error) as the last message of a datagram.
        int done = 0;
        int left = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)(buf + used); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
        }
        used += (size_t)n;
        if (done) break;
    }
    close(fd);
    return (ssize_t)used;
}
