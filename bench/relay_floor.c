// The floor of a user-space AF_PACKET relay on the bench's lab: what the engine's mechanism
// alone costs, with none of the engine's own work. It receives IPv4 frames to one VIP on the
// same kind of ring the engine uses by default (TPACKET_V2, 32 x 256 KiB, 2 KiB frames, no
// fanout group, PACKET_IGNORE_OUTGOING), drops the kernel's copies with the engine's own tcx
// guard, rewrites the two MAC addresses (real server by the frame's UDP source port, 2 of
// them), and sends through the engine's own TX ring code (PACKET_TX_RING with a
// virtio_net_hdr, PACKET_QDISC_BYPASS), one kick per batch of up to 64 ready frames, poll()
// when none is ready: the engine's loop without its pipeline (no parsing beyond two offsets,
// no flow table, no hints, no counters, no clock). Built from the engine's C shim.
//
//   relay_floor IFNAME VIP RS1-MAC RS2-MAC [spin]   (runs until SIGINT/SIGTERM; prints counts)
//
// With "spin" it never sleeps in poll(): it checks the ring again at once, so the sending core
// never has a sleeping reader to wake (the bound on what wake-ups cost).
// bench/run.sh runs it as the paths "floor" and "floor-spin" next to "dr". Not part of the product.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int parse_mac(const char *s, uint8_t mac[6]) {
    return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static void die(const char *what) {
    fprintf(stderr, "relay_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "spin") != 0)) {
        fprintf(stderr, "usage: relay_floor IFNAME VIP RS1-MAC RS2-MAC [spin]\n");
        return 2;
    }
    const char *ifname = argv[1];
    const int spin = argc == 6;
    struct in_addr vip;
    uint8_t rs[2][6], own[6];
    if (inet_pton(AF_INET, argv[2], &vip) != 1 || parse_mac(argv[3], rs[0]) || parse_mac(argv[4], rs[1])) {
        fprintf(stderr, "relay_floor: bad VIP or MAC\n");
        return 2;
    }
    int ifindex, mtu;
    uint32_t ipv4;
    if (sy_interface_info(ifname, &ifindex, own, &mtu, &ipv4) != 0) die("interface");

    // RX: the engine's filter reduced to its one VIP (IPv4, destination address).
    int rx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (rx < 0) die("socket");
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 30),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(vip.s_addr), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 262144),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    if (sy_attach_filter(rx, filter, sizeof filter / sizeof filter[0]) != 0) die("SO_ATTACH_FILTER");
    if (sy_packet_ignore_outgoing(rx) != 0) die("PACKET_IGNORE_OUTGOING");
    const uint32_t frame_size = 2048, frame_nr = (1u << 18) / 2048 * 32;
    uint8_t *ring = sy_rx_ring_setup_v2(rx, 1u << 18, 32, frame_size);
    if (!ring) die("PACKET_RX_RING");
    if (sy_packet_bind(rx, ifindex, ETH_P_ALL) != 0) die("bind RX");

    // TX: the engine's PacketSender (a ring of 512 slots of 2 KiB).
    int tx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (tx < 0) die("socket TX");
    struct sy_tx_ring *txr = sy_tx_ring_create(tx, 2048, 512);
    if (!txr) die("PACKET_TX_RING");
    if (sy_packet_bind(tx, ifindex, 0) != 0) die("bind TX");
    if (sy_qdisc_bypass(tx) != 0) die("PACKET_QDISC_BYPASS");

    // The kernel's copies of the VIP's frames: dropped by the engine's tcx guard.
    char err[256] = "";
    struct sy_tcx_guard *guard = sy_tcx_guard_open(ifindex, err, sizeof err);
    if (!guard) {
        fprintf(stderr, "relay_floor: tcx guard: %s\n", err);
        return 1;
    }
    if (sy_tcx_guard_set_vips(guard, &vip.s_addr, 1) != 0) die("guard VIPs");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("ready: %s VIP %s\n", ifname, argv[2]);
    fflush(stdout);

    unsigned long long relayed = 0, tx_full = 0, kicks = 0, polls = 0;
    uint32_t next = 0;
    struct pollfd pfd = {.fd = rx, .events = POLLIN | POLLERR};
    while (!stop) {
        int count = 0;
        while (count < 64) {
            uint8_t *frame = ring + (size_t)((next + count) % frame_nr) * frame_size;
            if (!(sy_v2_status(frame) & TP_STATUS_USER)) break;
            count++;
        }
        if (count == 0) {
            if (spin) {
                __builtin_ia32_pause();
                continue;
            }
            polls++;
            poll(&pfd, 1, 50);
            continue;
        }
        for (int i = 0; i < count; i++) {
            uint8_t *frame = ring + (size_t)next * frame_size;
            uint8_t *data = frame + sy_v2_mac_offset(frame);
            uint32_t length = sy_v2_snaplen(frame);
            if (length >= 42) {
                // The real server by the low bit of the UDP source port (IPv4 without options).
                const uint8_t *to = rs[data[35] & 1];
                memcpy(data, to, 6);
                memcpy(data + 6, own, 6);
                if (sy_tx_ring_put(txr, data, length) == 0) relayed++;
                else tx_full++;
            }
            sy_v2_release(frame);
            next = next + 1 == frame_nr ? 0 : next + 1;
        }
        sy_tx_ring_kick(tx, txr);
        kicks++;
    }
    uint32_t packets = 0, drops = 0;
    sy_packet_drops(rx, &packets, &drops);
    printf("totals: relayed=%llu tx_full=%llu kicks=%llu polls=%llu ring_drops=%u guard_dropped=%llu\n", relayed,
           tx_full, kicks, polls, drops, (unsigned long long)sy_tcx_guard_drops(guard));
    sy_tcx_guard_close(guard);
    return 0;
}
