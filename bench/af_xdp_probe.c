// Probe: can an AF_XDP socket receive from a veth on this kernel, and how fast? Uses libxdp's
// xsk API, which loads its default redirect program on the interface. bench/af_xdp_probe.sh
// builds it and runs it in a namespace lab; docs/benchmark.md has the findings.
//   af_xdp_probe IFNAME [0 native | 1 generic]    (ZEROCOPY=1 asks for zero-copy)
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/if_link.h>
#include <xdp/xsk.h>

#define NUM_FRAMES 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE

int main(int argc, char **argv) {
    const char *ifname = argv[1];
    int mode = argc > 2 ? atoi(argv[2]) : 0;  // 0 = native (driver) XDP, 1 = generic (skb) XDP
    void *buffer = mmap(NULL, NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct xsk_ring_prod fill; struct xsk_ring_cons comp, rx; struct xsk_ring_prod tx;
    struct xsk_umem *umem;
    int rc = xsk_umem__create(&umem, buffer, NUM_FRAMES * FRAME_SIZE, &fill, &comp, NULL);
    if (rc) { printf("xsk_umem__create: %s\n", strerror(-rc)); return 1; }
    struct xsk_socket_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.xdp_flags = mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    cfg.bind_flags = getenv("ZEROCOPY") ? XDP_ZEROCOPY : XDP_COPY;
    struct xsk_socket *xsk;
    rc = xsk_socket__create(&xsk, ifname, 0, umem, &rx, &tx, &cfg);
    if (rc) { printf("xsk_socket__create(%s, %s): %s\n", ifname, mode ? "generic" : "native", strerror(-rc)); return 1; }
    unsigned idx;
    unsigned n = xsk_ring_prod__reserve(&fill, 2048, &idx);
    for (unsigned i = 0; i < n; i++) *xsk_ring_prod__fill_addr(&fill, idx + i) = (unsigned long long)i * FRAME_SIZE;
    xsk_ring_prod__submit(&fill, n);
    printf("AF_XDP socket bound on %s (%s XDP, copy mode); waiting 4 s for frames\n", ifname, mode ? "generic" : "native");
    fflush(stdout);
    unsigned long total = 0;
    time_t end = time(NULL) + 4;
    while (time(NULL) < end) {
        struct pollfd p = { .fd = xsk_socket__fd(xsk), .events = POLLIN };
        poll(&p, 1, 100);
        unsigned rx_idx;
        unsigned got = xsk_ring_cons__peek(&rx, 64, &rx_idx);
        if (got) {
            // Hand exactly the frames just read back to the fill ring.
            unsigned fill_idx;
            while (xsk_ring_prod__reserve(&fill, got, &fill_idx) != got) { }
            for (unsigned i = 0; i < got; i++) {
                *xsk_ring_prod__fill_addr(&fill, fill_idx + i) = xsk_ring_cons__rx_desc(&rx, rx_idx + i)->addr;
            }
            xsk_ring_prod__submit(&fill, got);
            xsk_ring_cons__release(&rx, got);
            total += got;
        }
    }
    printf("received %lu frames on the AF_XDP socket\n", total);
    xsk_socket__delete(xsk);
    xsk_umem__delete(umem);
    return 0;
}
