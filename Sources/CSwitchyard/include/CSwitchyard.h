// The kernel structs, constants and ioctls that Swift's Glibc module does not expose.
// Swift cannot see <linux/if_packet.h>, <linux/ethtool.h> or <linux/filter.h>, and the
// tpacket block/frame headers are unions that are clumsy to walk from Swift. Each helper
// here is one syscall or one field access; policy stays in Swift.
#ifndef CSWITCHYARD_H
#define CSWITCHYARD_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
// epoll and eventfd for the health checkers' loop: Swift's Glibc module does not import them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/types.h>

// ---- constants (macros built from shifts and casts do not import into Swift) ----
static const uint32_t SY_TP_STATUS_KERNEL = TP_STATUS_KERNEL;
static const uint32_t SY_TP_STATUS_USER = TP_STATUS_USER;
static const uint32_t SY_TP_STATUS_CSUMNOTREADY = TP_STATUS_CSUMNOTREADY;
static const uint32_t SY_TP_STATUS_CSUM_VALID = TP_STATUS_CSUM_VALID;
static const uint32_t SY_TP_STATUS_VLAN_VALID = TP_STATUS_VLAN_VALID;
static const uint32_t SY_TP_STATUS_LOSING = TP_STATUS_LOSING;
static const uint32_t SY_TP_STATUS_COPY = TP_STATUS_COPY;
static const uint16_t SY_ETH_P_ALL = ETH_P_ALL;
static const uint16_t SY_ETH_P_ARP = ETH_P_ARP;
static const uint16_t SY_ETH_P_IPV6 = ETH_P_IPV6;
static const uint8_t SY_PACKET_HOST = PACKET_HOST;
static const uint8_t SY_PACKET_OUTGOING = PACKET_OUTGOING;

// ---- process descriptors ----
/// pidfd_open(2) by its syscall number (glibc has a wrapper only from 2.36): a descriptor that
/// turns readable when the process exits, or -1 with errno set (ENOSYS before Linux 5.3).
int sy_pidfd_open(pid_t pid);

// ---- TPACKET_V3 RX ring ----
/// Sets TPACKET_V3 and maps an RX ring of block_nr blocks of block_size bytes.
/// Returns the mapping or NULL with errno set.
void *sy_rx_ring_setup(int fd, uint32_t block_size, uint32_t block_nr, uint32_t frame_size,
                       uint32_t retire_tov_ms);
/// The same with TPACKET_V2 frames (frame_nr = block_size / frame_size * block_nr). Mapping or NULL.
void *sy_rx_ring_setup_v2(int fd, uint32_t block_size, uint32_t block_nr, uint32_t frame_size);
/// Joins fanout group `group_id` with PACKET_FANOUT_CBPF and sets the group's classic BPF
/// program (`count` 8-byte struct sock_filter instructions) that returns the member index.
/// Members are numbered in the order they joined.
int sy_fanout_join_cbpf(int fd, uint16_t group_id, const void *insns, uint32_t count);
/// PACKET_QDISC_BYPASS on a TX socket: frames go straight to the driver.
int sy_qdisc_bypass(int fd);
/// Attaches a classic BPF program (as compiled by pcap_compile) with SO_ATTACH_FILTER.
int sy_attach_filter(int fd, const void *insns, uint32_t count);
/// Binds a packet socket to an interface for a protocol (0 = receive nothing).
int sy_packet_bind(int fd, int ifindex, uint16_t protocol_host_order);
// Replaces packet socket fd with one opened for no protocol: it sends and never receives.
int sy_packet_send_only(int fd);
/// Joins (join != 0) or leaves an IPv6 multicast group on an interface through an AF_INET6
/// socket: the kernel takes the group's frames and answers MLD queries for it (so a switch
/// that snoops MLD forwards the group here) while the socket holds the membership.
int sy_ipv6_group(int fd, int ifindex, const uint8_t group[16], int join);
/// Dumps the kernel's IPv6 neighbour table (RTM_GETNEIGH over NETLINK_ROUTE) into `buf`: the
/// netlink messages as received, up to NLMSG_DONE; their length, or -1 and errno.
ssize_t sy_neigh6_dump(uint8_t *buf, size_t len);

/// Makes a tun device named by `pattern` ("syann%d": the kernel picks the number), brings it up
/// and writes its name to `name`. Returns the descriptor that keeps it (closing it deletes the
/// device and the routes through it), or -1 with errno set. (announce_link.c)
int sy_announce_link_open(const char *pattern, char name[16]);
/// IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT on: sy_ipv6_receive can say a datagram's destination
/// and hop limit.
int sy_ipv6_receive_info(int fd);
/// Sends one datagram to `destination` from `source` out of interface `ifindex` (IPV6_PKTINFO;
/// the scope of a link-local or link-scope multicast destination is that interface).
ssize_t sy_ipv6_send(int fd, const void *buf, size_t len, const uint8_t source[16], const uint8_t destination[16],
                     int ifindex);
/// Receives one datagram without blocking: its length, with its source, destination and hop limit
/// (-1, all-zero: not given); -1 and errno when none is waiting.
ssize_t sy_ipv6_receive(int fd, void *buf, size_t len, uint8_t source[16], uint8_t destination[16], int *hop_limit);
/// TPACKET_V1/V2 only: a frame larger than a ring slot still takes its slot, cut short and
/// marked TP_STATUS_COPY, and the whole frame is queued on the socket (PACKET_COPY_THRESH) for
/// recv(); the receive buffer is raised to `rcvbuf` bytes (SO_RCVBUFFORCE, else SO_RCVBUF).
int sy_packet_copy_large(int fd, int rcvbuf);
/// PACKET_IGNORE_OUTGOING: the socket does not see frames sent on its interface (Linux 4.20+).
int sy_packet_ignore_outgoing(int fd);
/// A spinning loop's pause (x86 PAUSE, arm YIELD): lets a sibling hyperthread run and saves
/// power while a worker busy-polls its rings.
static inline void sy_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
/// PACKET_VNET_HDR: a struct virtio_net_hdr (10 bytes) before every frame received (in a ring
/// slot just before the frame; ahead of it in recv()) or sent. Set it before a ring.
int sy_packet_vnet_hdr(int fd);
/// Sends one frame after its 10-byte virtio_net_hdr on a PACKET_VNET_HDR socket that has no TX
/// ring (a super-packet for the kernel to segment). A full device queue is retried a few
/// times. Returns 0, or -1 with errno set.
int sy_send_vnet(int fd, const void *header, const void *frame, size_t length);
/// Reads the next frame queued on the socket without waiting. Returns its whole length (which
/// may exceed `capacity`: then only `capacity` bytes were copied) or -1 (nothing queued).
long sy_packet_recv(int fd, void *buffer, size_t capacity);
/// How many CPUs this process may run on (sched_getaffinity: taskset, systemd's CPUAffinity,
/// a cgroup cpuset), or -1.
int sy_allowed_cpus(void);
/// Reads the ring's drop counter (PACKET_STATISTICS resets it on read).
int sy_packet_drops(int fd, uint32_t *packets, uint32_t *drops);

// Starts loading a flow-table slot (36 bytes, so it may cross into a second cache line), for
// writing: a hit updates the slot's last-seen time.
static inline void sy_prefetch_slot(const void *slot) {
    __builtin_prefetch(slot, 1, 3);
    __builtin_prefetch((const char *)slot + 35, 1, 3);
}

// Block and frame accessors for the V3 ring.
static inline uint32_t sy_block_status(const void *block) {
    return __atomic_load_n(&((const struct tpacket_block_desc *)block)->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
}
static inline void sy_block_release(void *block) {
    __atomic_store_n(&((struct tpacket_block_desc *)block)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}
static inline uint32_t sy_block_num_pkts(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.num_pkts;
}
static inline uint32_t sy_block_first_offset(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.offset_to_first_pkt;
}
static inline uint32_t sy_frame_next_offset(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->tp_next_offset;
}
static inline uint32_t sy_frame_status(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->tp_status;
}
static inline uint32_t sy_frame_snaplen(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->tp_snaplen;
}
static inline uint32_t sy_frame_wirelen(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->tp_len;
}
static inline uint16_t sy_frame_mac_offset(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->tp_mac;
}
/// The sockaddr_ll the kernel puts right after the aligned tpacket3_hdr.
static inline uint8_t sy_frame_pkttype(const void *frame) {
    const struct sockaddr_ll *sll =
        (const struct sockaddr_ll *)((const uint8_t *)frame + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
    return sll->sll_pkttype;
}

// Frame accessors for the TPACKET_V2 ring: each frame has its own status word, handed to user
// space as soon as the kernel has written it (no block to fill, no retire timer).
static inline uint32_t sy_v2_status(const void *frame) {
    return __atomic_load_n(&((const struct tpacket2_hdr *)frame)->tp_status, __ATOMIC_ACQUIRE);
}
static inline void sy_v2_release(void *frame) {
    __atomic_store_n(&((struct tpacket2_hdr *)frame)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}
static inline uint32_t sy_v2_snaplen(const void *frame) { return ((const struct tpacket2_hdr *)frame)->tp_snaplen; }
static inline uint32_t sy_v2_wirelen(const void *frame) { return ((const struct tpacket2_hdr *)frame)->tp_len; }
static inline uint16_t sy_v2_mac_offset(const void *frame) { return ((const struct tpacket2_hdr *)frame)->tp_mac; }
static inline uint8_t sy_v2_pkttype(const void *frame) {
    const struct sockaddr_ll *sll =
        (const struct sockaddr_ll *)((const uint8_t *)frame + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
    return sll->sll_pkttype;
}

// ---- batched TX ----
/// A batch of frames for one sendmmsg. struct mmsghdr needs _GNU_SOURCE, which the Swift
/// importer does not set, so the message headers stay behind an opaque pointer.
struct sy_tx_batch {
    uint32_t count;
    uint32_t capacity;
    struct iovec *iov;
    void *msgs;
};
/// Allocates a batch once, at worker start (never on the hot path). NULL on ENOMEM.
struct sy_tx_batch *sy_tx_batch_create(uint32_t capacity);
void sy_tx_batch_destroy(struct sy_tx_batch *batch);
/// Queues a frame; the caller flushes when `count == capacity` and at the end of every RX block.
static inline void sy_tx_batch_add(struct sy_tx_batch *b, void *frame, size_t length) {
    b->iov[b->count].iov_base = frame;
    b->iov[b->count].iov_len = length;
    b->count += 1;
}
/// Sends the queued frames with sendmmsg (retrying on EINTR and partial sends) and empties the
/// batch. Returns how many were sent; errno is set if fewer than queued.
int sy_tx_batch_flush(int fd, struct sy_tx_batch *batch);

// ---- TX ring (PACKET_TX_RING, TPACKET_V2 frames) ----
/// Frames are copied into a mapped ring and handed to the kernel with one send() per batch:
/// no per-frame message headers, no per-frame copy from user memory inside the syscall.
struct sy_tx_ring {
    uint8_t *map;
    size_t map_size;
    uint32_t frame_size;
    uint32_t frame_nr;
    uint32_t head;
    uint32_t pending;
    uint32_t data_offset;
};
/// struct virtio_net_hdr (10 bytes, little-endian fields), as PACKET_VNET_HDR puts it before
/// each frame.
struct sy_vnet_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};
_Static_assert(sizeof(struct sy_vnet_hdr) == 10, "virtio_net_hdr is 10 bytes");
/// Sets TPACKET_V2, PACKET_LOSS and PACKET_VNET_HDR on `fd` and maps a TX ring of frame_nr frames of frame_size
/// bytes (frame_size a power of two). NULL with errno set if it cannot.
struct sy_tx_ring *sy_tx_ring_create(int fd, uint32_t frame_size, uint32_t frame_nr);
void sy_tx_ring_destroy(struct sy_tx_ring *ring);
/// Copies a frame into the next free slot and marks it for sending. Returns 0, or -1 if the
/// slot is still the kernel's (the ring is full: kick and try again) or the frame too large.
static inline int sy_tx_ring_put(struct sy_tx_ring *r, const void *data, uint32_t length) {
    uint8_t *slot = r->map + (size_t)r->head * r->frame_size;
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
    uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if ((status != TP_STATUS_AVAILABLE && status != TP_STATUS_WRONG_FORMAT) ||
        length > r->frame_size - r->data_offset - sizeof(struct sy_vnet_hdr)) return -1;
    // A virtio_net_hdr leads each frame: no offloads, and hdr_len = the whole frame, which
    // makes the kernel copy the frame into the skb's linear part. Without it the kernel maps
    // everything after the Ethernet header as page fragments of the ring, and veth must then
    // copy those into a freshly allocated page for every frame (skb_copy_ubufs).
    struct sy_vnet_hdr *v = (struct sy_vnet_hdr *)(slot + r->data_offset);
    *v = (struct sy_vnet_hdr){0, 0, (uint16_t)length, 0, 0, 0};
    __builtin_memcpy(slot + r->data_offset + sizeof(struct sy_vnet_hdr), data, length);
    h->tp_len = length + (uint32_t)sizeof(struct sy_vnet_hdr);
    h->tp_snaplen = h->tp_len;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    r->head = r->head + 1 == r->frame_nr ? 0 : r->head + 1;
    r->pending += 1;
    return 0;
}
/// Asks the kernel to send every frame marked so far (send with MSG_DONTWAIT). Returns 0, or
/// -1 with errno set.
int sy_tx_ring_kick(int fd, struct sy_tx_ring *ring);

// ---- AF_XDP receive (xdp.c) ----
/// Assembles the XDP program (with placeholder maps) into room for `capacity` instructions:
/// its length, or -1 (errno E2BIG) if it does not fit. For tests: the program always gets
/// the assembler's full room.
int sy_xdp_program_length(int capacity);
/// An XDP program on one interface plus an AF_XDP socket on its queue 0.
struct sy_xdp;
/// A NAT reply key as the XDP program builds it: source address and port in network order,
/// the IP protocol, port 0 for ICMP.
struct sy_xdp_key {
    uint32_t address;
    uint8_t proto;
    uint8_t pad;
    uint16_t port;
};
/// Attaches the program (generic XDP, through a BPF link that goes away with the process) and
/// opens the socket. NULL with a message in err if it cannot.
struct sy_xdp *sy_xdp_open(const char *ifname, int ifindex, char *err, size_t errlen);
void sy_xdp_close(struct sy_xdp *x);
/// The socket, for poll().
int sy_xdp_fd(const struct sy_xdp *x);
/// Replaces the sets the program redirects: VIPs (network order) and NAT reply keys.
int sy_xdp_set_vips(struct sy_xdp *x, const uint32_t *vips_network_order, uint32_t count);
int sy_xdp_set_nat(struct sy_xdp *x, const struct sy_xdp_key *keys, uint32_t count);
/// This machine's own addresses: frames to them always go to the kernel.
int sy_xdp_set_locals(struct sy_xdp *x, const uint32_t *addresses_network_order, uint32_t count);
/// Takes a batch of up to 64 descriptors; returns how many (0: nothing arrived). Read its
/// frames with sy_xdp_next until it returns NULL, then give them back with sy_xdp_release.
uint32_t sy_xdp_receive(struct sy_xdp *x);
/// The batch's next whole frame (a frame spread over several descriptors is gathered into
/// scratch memory, valid until the next call), or NULL at the end of the batch.
void *sy_xdp_next(struct sy_xdp *x, uint32_t *length);
/// Gives the frames read from the batch back to the kernel.
void sy_xdp_release(struct sy_xdp *x);
/// How many of the batch's descriptors sy_xdp_next has taken so far.
uint32_t sy_xdp_position(const struct sy_xdp *x);
/// Descriptor `i` of the batch, read ahead without taking it: its frame's data if the frame is
/// in that descriptor alone, else NULL (past the batch, or part of a multi-descriptor frame).
void *sy_xdp_peek(const struct sy_xdp *x, uint32_t i, uint32_t *length);

// ---- the kernel guard's fast drop (tcx_guard.c) ----
/// The same for the guard's tc program.
int sy_tcx_guard_program_length(int capacity);
/// The kernel guard's fast drop: a BPF program at tcx ingress (Linux 6.6+) that drops IPv4
/// frames to the VIPs in its set, counted; NULL (and a reason in err) where it cannot attach.
struct sy_tcx_guard;
struct sy_tcx_guard *sy_tcx_guard_open(int ifindex, char *err, size_t errlen);
void sy_tcx_guard_close(struct sy_tcx_guard *g);
int sy_tcx_guard_set_vips(struct sy_tcx_guard *g, const uint32_t *vips_network_order, uint32_t count);
uint64_t sy_tcx_guard_drops(const struct sy_tcx_guard *g);

// ---- interfaces ----
/// Index, MAC, MTU and primary IPv4 address (network order) of an interface. 0 or -1/errno.
int sy_interface_info(const char *name, int *index, uint8_t mac[6], int *mtu, uint32_t *ipv4);
/// GRO state: get returns 0/1 (or -1), set returns 0 (or -1), via SIOCETHTOOL.
int sy_gro_get(const char *name);
int sy_gro_set(const char *name, int on);

/// Replaces a fanout group's classic BPF program (any member socket may do it).
int sy_fanout_set_program(int fd, const void *insns, uint32_t count);

// ---- control socket ----
/// The user ID of the process at the other end of a connected Unix socket (SO_PEERCRED;
/// struct ucred needs _GNU_SOURCE, which the Swift importer does not set).
int sy_peer_uid(int fd, uint32_t *uid);

// ---- threads ----
/// Names the calling thread (prctl PR_SET_NAME); Glibc's pthread_setname_np is not imported.
void sy_thread_set_name(const char *name);

// ---- scripts ----
/// Forks and execs `path` with `argv` and `envp`: in a process group of its own, stdin and
/// stdout on /dev/null, and (with change_identity) as uid/gid with gid as its only
/// supplementary group. 0 and *pid_out set on success; a positive errno if fork failed; a
/// negative errno if the child could not change its identity or exec (it has exited; reap it).
int sy_spawn_script(const char *path, char *const argv[], char *const envp[], int change_identity,
                    uid_t uid, gid_t gid, pid_t *pid_out);

#endif
