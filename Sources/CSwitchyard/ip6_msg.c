// IPv6 datagrams with their header's words beside them, for the raw VRRP socket: sendmsg with
// IPV6_PKTINFO naming the source address and interface, recvmsg handing back the source, the
// destination (IPV6_RECVPKTINFO) and the hop limit (IPV6_RECVHOPLIMIT) that a raw IPv6 socket
// does not put in front of the payload. Each one syscall, errno as the call left it.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

int sy_ipv6_receive_info(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) return -1;
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
}

ssize_t sy_ipv6_send(int fd, const void *buf, size_t len, const uint8_t source[16], const uint8_t destination[16],
                     int ifindex) {
    struct sockaddr_in6 to;
    memset(&to, 0, sizeof to);
    to.sin6_family = AF_INET6;
    memcpy(&to.sin6_addr, destination, 16);
    // Needed for a link-scope destination (ff02::12, fe80::/10); ignored for a global one.
    to.sin6_scope_id = (uint32_t)ifindex;
    struct iovec iov = {(void *)buf, len};
    union {
        char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
    struct in6_pktinfo info;
    memset(&info, 0, sizeof info);
    memcpy(&info.ipi6_addr, source, 16);
    info.ipi6_ifindex = (unsigned)ifindex;
    memcpy(CMSG_DATA(c), &info, sizeof info);
    return sendmsg(fd, &msg, 0);
}

ssize_t sy_ipv6_receive(int fd, void *buf, size_t len, uint8_t source[16], uint8_t destination[16], int *hop_limit) {
    struct sockaddr_in6 from;
    memset(&from, 0, sizeof from);
    struct iovec iov = {buf, len};
    union {
        char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return n;
    memcpy(source, &from.sin6_addr, 16);
    memset(destination, 0, 16);
    *hop_limit = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
            struct in6_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof info);
            memcpy(destination, &info.ipi6_addr, 16);
        } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            memcpy(hop_limit, CMSG_DATA(c), sizeof(int));
        }
    }
    return n;
}
