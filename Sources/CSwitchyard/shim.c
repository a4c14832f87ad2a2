// The helpers CSwitchyard.h declares for AF_PACKET rings and sockets, interfaces, the control
// socket and threads: each one syscall or one field access, with errno as the call left it.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sched.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/sockios.h>

_Static_assert(sizeof(struct tpacket3_hdr) == 48, "tpacket3_hdr layout changed");

// Maps a packet socket's ring, locked and populated where the limits allow.
static void *map_ring(int fd, size_t size) {
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        // MAP_LOCKED can fail under a low RLIMIT_MEMLOCK; the ring works without it.
        map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) return NULL;
    }
    return map;
}

void *sy_rx_ring_setup(int fd, uint32_t block_size, uint32_t block_nr, uint32_t frame_size,
                       uint32_t retire_tov_ms) {
    int version = TPACKET_V3;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) return NULL;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block_size;
    req.tp_block_nr = block_nr;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = (block_size / frame_size) * block_nr;
    req.tp_retire_blk_tov = retire_tov_ms;
    req.tp_feature_req_word = 0;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) return NULL;
    return map_ring(fd, (size_t)block_size * block_nr);
}

void *sy_rx_ring_setup_v2(int fd, uint32_t block_size, uint32_t block_nr, uint32_t frame_size) {
    int version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) return NULL;
    struct tpacket_req req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block_size;
    req.tp_block_nr = block_nr;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = (block_size / frame_size) * block_nr;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) return NULL;
    return map_ring(fd, (size_t)block_size * block_nr);
}

_Static_assert(sizeof(struct sock_filter) == 8, "sock_filter layout changed");

int sy_fanout_join_cbpf(int fd, uint16_t group_id, const void *insns, uint32_t count) {
    int arg = (int)group_id | (PACKET_FANOUT_CBPF << 16);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) return -1;
    return sy_fanout_set_program(fd, insns, count);
}

int sy_fanout_set_program(int fd, const void *insns, uint32_t count) {
    struct sock_fprog prog;
    prog.len = (unsigned short)count;
    prog.filter = (struct sock_filter *)insns;
    return setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog);
}

int sy_peer_uid(int fd, uint32_t *uid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *uid = cred.uid;
    return 0;
}

int sy_qdisc_bypass(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
}

int sy_attach_filter(int fd, const void *insns, uint32_t count) {
    struct sock_fprog prog;
    prog.len = (unsigned short)count;
    prog.filter = (struct sock_filter *)insns;
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int sy_packet_bind(int fd, int ifindex, uint16_t protocol_host_order) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons(protocol_host_order);
    return bind(fd, (struct sockaddr *)&sll, sizeof sll);
}

int sy_packet_send_only(int fd) {
    /* bind() with protocol 0 keeps a packet socket's protocol, so a socket opened for
       ETH_P_ALL keeps receiving. Put a socket opened for no protocol in its place instead. */
    int fresh = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fresh < 0) return -1;
    int rc = dup3(fresh, fd, O_CLOEXEC);
    // dup3's errno is the caller's answer: keep it across the close.
    int saved = errno;
    close(fresh);
    errno = saved;
    return rc < 0 ? -1 : 0;
}

int sy_ipv6_group(int fd, int ifindex, const uint8_t group[16], int join) {
    struct ipv6_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    memcpy(&mreq.ipv6mr_multiaddr, group, 16);
    mreq.ipv6mr_interface = (unsigned)ifindex;
    return setsockopt(fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &mreq, sizeof mreq);
}

int sy_packet_copy_large(int fd, int rcvbuf) {
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one) != 0) return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0
        && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) return -1;
    return 0;
}

int sy_packet_ignore_outgoing(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
}

int sy_packet_vnet_hdr(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one);
}

int sy_send_vnet(int fd, const void *header, const void *frame, size_t length) {
    struct iovec iov[2] = {{(void *)header, 10}, {(void *)frame, length}};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    for (int retries = 0;; retries++) {
        ssize_t n = sendmsg(fd, &msg, 0);
        if (n >= 0) return 0;
        if (errno == EINTR || ((errno == ENOBUFS || errno == EAGAIN) && retries < 16)) continue;
        return -1;
    }
}

long sy_packet_recv(int fd, void *buffer, size_t capacity) {
    ssize_t n;
    do {
        n = recv(fd, buffer, capacity, MSG_DONTWAIT | MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    return (long)n;
}

int sy_allowed_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int sy_packet_drops(int fd, uint32_t *packets, uint32_t *drops) {
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return -1;
    *packets = st.tp_packets;
    *drops = st.tp_drops;
    return 0;
}

struct sy_tx_batch *sy_tx_batch_create(uint32_t capacity) {
    struct sy_tx_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->capacity = capacity;
    b->iov = calloc(capacity, sizeof(struct iovec));
    b->msgs = calloc(capacity, sizeof(struct mmsghdr));
    if (!b->iov || !b->msgs) { sy_tx_batch_destroy(b); return NULL; }
    struct mmsghdr *msgs = b->msgs;
    for (uint32_t i = 0; i < capacity; i++) {
        msgs[i].msg_hdr.msg_iov = &b->iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    return b;
}

void sy_tx_batch_destroy(struct sy_tx_batch *b) {
    if (!b) return;
    free(b->iov);
    free(b->msgs);
    free(b);
}

int sy_tx_batch_flush(int fd, struct sy_tx_batch *b) {
    struct mmsghdr *msgs = b->msgs;
    uint32_t count = b->count, sent = 0;
    int retries = 0, saved = 0;
    b->count = 0;
    while (sent < count) {
        int n = sendmmsg(fd, msgs + sent, count - sent, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // A full device queue: retry a few times, then count the rest as TX drops.
            if ((errno == ENOBUFS || errno == EAGAIN) && retries++ < 16) continue;
            saved = errno;
            break;
        }
        sent += (uint32_t)n;
    }
    if (sent < count) errno = saved;
    return (int)sent;
}

struct sy_tx_ring *sy_tx_ring_create(int fd, uint32_t frame_size, uint32_t frame_nr) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || frame_size < TPACKET_ALIGNMENT || (frame_size & (frame_size - 1)) != 0 || frame_nr == 0) {
        errno = EINVAL;
        return NULL;
    }
    // A block holds whole frames: a page, or one frame when frames are larger (jumbo MTUs).
    uint32_t block = frame_size > (uint32_t)page ? frame_size : (uint32_t)page;
    int version = TPACKET_V2, one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) return NULL;
    // A frame the kernel refuses is skipped (marked available) instead of stalling the ring.
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) != 0) return NULL;
    // A virtio_net_hdr before each frame (see sy_tx_ring_put); must be set before the ring.
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) return NULL;
    uint32_t per_block = block / frame_size;
    struct tpacket_req req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block;
    req.tp_block_nr = (frame_nr + per_block - 1) / per_block;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = req.tp_block_nr * per_block;
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0) return NULL;
    size_t size = (size_t)req.tp_block_size * req.tp_block_nr;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) return NULL;
    struct sy_tx_ring *r = calloc(1, sizeof *r);
    if (!r) {
        munmap(map, size);
        errno = ENOMEM;
        return NULL;
    }
    r->map = map;
    r->map_size = size;
    r->frame_size = frame_size;
    r->frame_nr = req.tp_frame_nr;
    // Without PACKET_TX_HAS_OFF the kernel reads a V2 frame's data right after the aligned header.
    r->data_offset = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
    return r;
}

void sy_tx_ring_destroy(struct sy_tx_ring *r) {
    if (!r) return;
    munmap(r->map, r->map_size);
    free(r);
}

int sy_tx_ring_kick(int fd, struct sy_tx_ring *r) {
    r->pending = 0;
    for (int tries = 0;; tries++) {
        if (send(fd, NULL, 0, MSG_DONTWAIT) >= 0) return 0;
        if (errno == EINTR) continue;
        if ((errno == ENOBUFS || errno == EAGAIN) && tries < 16) continue;
        return -1;
    }
}

static int ifreq_socket(const char *name, struct ifreq *ifr) {
    memset(ifr, 0, sizeof *ifr);
    if (strlen(name) >= IFNAMSIZ) { errno = ENAMETOOLONG; return -1; }
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

int sy_interface_info(const char *name, int *index, uint8_t mac[6], int *mtu, uint32_t *ipv4) {
    struct ifreq ifr;
    int s = ifreq_socket(name, &ifr);
    if (s < 0) return -1;
    int rc = -1;
    if (ioctl(s, SIOCGIFINDEX, &ifr) != 0) goto out;
    *index = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0) goto out;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(s, SIOCGIFMTU, &ifr) != 0) goto out;
    *mtu = ifr.ifr_mtu;
    *ipv4 = 0;
    if (ioctl(s, SIOCGIFADDR, &ifr) == 0) {
        *ipv4 = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
    }
    rc = 0;
out:;
    // The failed ioctl's errno is the caller's answer: keep it across the close.
    int saved = errno;
    close(s);
    errno = saved;
    return rc;
}

static int ethtool_value(const char *name, uint32_t cmd, uint32_t *value) {
    struct ifreq ifr;
    int s = ifreq_socket(name, &ifr);
    if (s < 0) return -1;
    struct ethtool_value ev;
    ev.cmd = cmd;
    ev.data = *value;
    ifr.ifr_data = (void *)&ev;
    int rc = ioctl(s, SIOCETHTOOL, &ifr);
    // The ioctl's errno is the caller's answer: keep it across the close.
    int saved = errno;
    close(s);
    errno = saved;
    if (rc == 0) *value = ev.data;
    return rc;
}

int sy_gro_get(const char *name) {
    uint32_t v = 0;
    if (ethtool_value(name, ETHTOOL_GGRO, &v) != 0) return -1;
    return v ? 1 : 0;
}

int sy_gro_set(const char *name, int on) {
    uint32_t v = on ? 1 : 0;
    return ethtool_value(name, ETHTOOL_SGRO, &v);
}

void sy_thread_set_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

int sy_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}
