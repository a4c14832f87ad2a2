// AF_XDP receive path (`switchyard run --io af_xdp`): our own small XDP program, attached in
// generic (skb) mode through a BPF link, redirects to an AF_XDP socket exactly the frames the
// engine forwards (IPv4 to a VIP, and for NAT the real servers' replies and ICMP errors) and
// passes every other frame to the kernel; this file holds the program, the socket and its
// batches. The program is written with the assembler in bpf_asm.c, so nothing has to be
// compiled for the BPF target at build time. libbpf creates the maps, loads the program and
// makes the link; libxdp's xsk API makes the socket. (The kernel guard's tcx program is in
// tcx_guard.c.)
#define _GNU_SOURCE
#include "CSwitchyard.h"
#include "bpf_asm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

// Newer than Debian 12's kernel headers: multi-buffer AF_XDP (Linux 6.6).
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

#define SY_XDP_FRAMES 4096
#define SY_XDP_FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define SY_XDP_BATCH 64

struct sy_xdp {
    int vips_fd, nat_fd, locals_fd, xsks_fd, prog_fd, link_fd;
    void *umem_area;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    struct xsk_ring_cons rx;
    uint32_t rx_index; // the batch's first descriptor
    uint32_t rx_count; // descriptors in the batch
    uint32_t rx_used;  // descriptors read so far
    // A frame larger than one umem chunk (a GSO super-packet from a local sender) arrives as
    // several descriptors (XDP_USE_SG) and is gathered here.
    uint8_t *scratch;
};

#define SY_XDP_SCRATCH (256 * 1024)

// ---- the program ----

// r6 ctx, r7 data, r8 data_end. Frames: Ethernet (untagged) + IPv4. Redirected: to a VIP; else,
// unless addressed to a local address, from a NAT real server's service port or ICMP from it.
static int assemble(struct asm_state *a, int capacity, int vips_fd, int nat_fd, int locals_fd, int xsks_fd) {
    sy_asm_start(a, capacity);
    sy_asm_emit(a, MOV_REG(BPF_REG_6, BPF_REG_1), L_NONE);
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_7, BPF_REG_6, offsetof(struct xdp_md, data)), L_NONE);
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_8, BPF_REG_6, offsetof(struct xdp_md, data_end)), L_NONE);
    // Ethernet + a minimal IPv4 header must be there.
    sy_asm_emit(a, MOV_REG(BPF_REG_4, BPF_REG_7), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_4, 34), L_NONE);
    sy_asm_emit(a, JMP_REG(BPF_JGT, BPF_REG_4, BPF_REG_8, 0), L_PASS);
    // Ethertype 0x0800 (the bytes 08 00, read as a little-endian half word).
    sy_asm_emit(a, LDX(BPF_H, BPF_REG_5, BPF_REG_7, 12), L_NONE);
    sy_asm_emit(a, JMP_IMM(BPF_JNE, BPF_REG_5, htons(0x0800), 0), L_PASS);
    // To a VIP? Key: the destination address as it is on the wire.
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_5, BPF_REG_7, 30), L_NONE);
    sy_asm_emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_5, -4), L_NONE);
    sy_asm_emit_lookup(a, vips_fd, -4, 1, L_REDIRECT);
    // Addressed to this machine itself (a health check's answer, ssh): the kernel's, always.
    sy_asm_emit_lookup(a, locals_fd, -4, 1, L_PASS);
    // A NAT reply? Key: source address, protocol, source port (0 for ICMP).
    sy_asm_emit(a, LDX(BPF_B, BPF_REG_5, BPF_REG_7, 14), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_AND, BPF_REG_5, 0x0f), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_LSH, BPF_REG_5, 2), L_NONE);
    sy_asm_emit(a, JMP_IMM(BPF_JLT, BPF_REG_5, 20, 0), L_PASS);
    sy_asm_emit(a, MOV_REG(BPF_REG_4, BPF_REG_7), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_4, 14), L_NONE);
    sy_asm_emit(a, ALU_REG(BPF_ADD, BPF_REG_4, BPF_REG_5), L_NONE);
    sy_asm_emit(a, MOV_REG(BPF_REG_9, BPF_REG_4), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_9, 4), L_NONE);
    sy_asm_emit(a, JMP_REG(BPF_JGT, BPF_REG_9, BPF_REG_8, 0), L_PASS);
    sy_asm_emit(a, LDX(BPF_B, BPF_REG_1, BPF_REG_7, 23), L_NONE);
    sy_asm_emit(a, LDX(BPF_H, BPF_REG_2, BPF_REG_4, 0), L_NONE);
    sy_asm_emit(a, JMP_IMM(BPF_JNE, BPF_REG_1, IPPROTO_ICMP, 0), L_NAT_KEY);
    sy_asm_emit(a, MOV_IMM(BPF_REG_2, 0), L_NONE);
    sy_asm_label(a, L_NAT_KEY);
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_3, BPF_REG_7, 26), L_NONE);
    sy_asm_emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_3, -16), L_NONE);
    sy_asm_emit(a, STX(BPF_B, BPF_REG_10, BPF_REG_1, -12), L_NONE);
    sy_asm_emit(a, ST(BPF_B, BPF_REG_10, -11, 0), L_NONE);
    sy_asm_emit(a, STX(BPF_H, BPF_REG_10, BPF_REG_2, -10), L_NONE);
    sy_asm_emit_lookup(a, nat_fd, -16, 0, L_PASS);
    sy_asm_label(a, L_REDIRECT);
    // To the socket of this queue; with no socket there, the frame goes to the kernel.
    sy_asm_emit_map_fd(a, BPF_REG_1, xsks_fd);
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct xdp_md, rx_queue_index)), L_NONE);
    sy_asm_emit(a, MOV_IMM(BPF_REG_3, XDP_PASS), L_NONE);
    sy_asm_emit(a, CALL(BPF_FUNC_redirect_map), L_NONE);
    sy_asm_emit(a, EXIT, L_NONE);
    sy_asm_label(a, L_PASS);
    sy_asm_emit(a, MOV_IMM(BPF_REG_0, XDP_PASS), L_NONE);
    sy_asm_emit(a, EXIT, L_NONE);
    return sy_asm_finish(a);
}

int sy_xdp_program_length(int capacity) {
    struct asm_state a;
    // Placeholder map descriptors: the assembler only copies them into the instructions.
    return assemble(&a, capacity, 3, 4, 5, 6);
}

// ---- setup ----

void sy_xdp_close(struct sy_xdp *x) {
    if (!x) return;
    // Closing the link detaches the program; the kernel also does this if we die.
    if (x->link_fd >= 0) close(x->link_fd);
    if (x->xsk) xsk_socket__delete(x->xsk);
    if (x->umem) xsk_umem__delete(x->umem);
    if (x->umem_area) munmap(x->umem_area, (size_t)SY_XDP_FRAMES * SY_XDP_FRAME_SIZE);
    if (x->prog_fd >= 0) close(x->prog_fd);
    if (x->xsks_fd >= 0) close(x->xsks_fd);
    if (x->nat_fd >= 0) close(x->nat_fd);
    if (x->locals_fd >= 0) close(x->locals_fd);
    if (x->vips_fd >= 0) close(x->vips_fd);
    free(x->scratch);
    free(x);
}

struct sy_xdp *sy_xdp_open(const char *ifname, int ifindex, char *err, size_t errlen) {
    struct sy_xdp *x = calloc(1, sizeof *x);
    if (!x) {
        sy_set_error(err, errlen, "out of memory");
        return NULL;
    }
    x->vips_fd = x->nat_fd = x->locals_fd = x->xsks_fd = x->prog_fd = x->link_fd = -1;
    // One after another, stopping at the first that fails: errno is then that one's.
    if ((x->vips_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_vips", 4, 4, 1024, NULL)) < 0 ||
        (x->nat_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_nat", sizeof(struct sy_xdp_key), 4, 4096, NULL)) < 0 ||
        (x->locals_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_locals", 4, 4, 1024, NULL)) < 0 ||
        (x->xsks_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "sy_xsks", 4, 4, 1, NULL)) < 0) {
        sy_set_error(err, errlen, "creating BPF maps: %s", strerror(errno));
        goto fail;
    }
    struct asm_state a;
    int n = assemble(&a, SY_ASM_MAX, x->vips_fd, x->nat_fd, x->locals_fd, x->xsks_fd);
    if (n < 0) {
        sy_set_error(err, errlen, "assembling the XDP program: more than %d instructions", SY_ASM_MAX);
        goto fail;
    }
    static char log[16384];
    // HAS_FRAGS: generic XDP then hands over a large skb in pieces instead of linearizing it,
    // and the socket takes it as several descriptors (XDP_USE_SG below).
    LIBBPF_OPTS(bpf_prog_load_opts, prog_opts, .log_buf = log, .log_size = sizeof log, .log_level = 0,
                .prog_flags = BPF_F_XDP_HAS_FRAGS);
    x->prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "switchyard", "GPL", a.insns, (size_t)n, &prog_opts);
    if (x->prog_fd < 0) {
        int e = errno;
        // Load again with the verifier's log, to say why.
        log[0] = 0;
        LIBBPF_OPTS(bpf_prog_load_opts, verbose, .log_buf = log, .log_size = sizeof log, .log_level = 1,
                    .prog_flags = BPF_F_XDP_HAS_FRAGS);
        int again = bpf_prog_load(BPF_PROG_TYPE_XDP, "switchyard", "GPL", a.insns, (size_t)n, &verbose);
        if (again >= 0) close(again);
        sy_set_error(err, errlen, "loading the XDP program: %s%s%.400s", strerror(e), log[0] ? "; verifier: " : "", log);
        goto fail;
    }
    x->scratch = malloc(SY_XDP_SCRATCH);
    if (!x->scratch) {
        sy_set_error(err, errlen, "out of memory");
        goto fail;
    }
    size_t size = (size_t)SY_XDP_FRAMES * SY_XDP_FRAME_SIZE;
    x->umem_area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (x->umem_area == MAP_FAILED) {
        x->umem_area = NULL;
        sy_set_error(err, errlen, "mapping the AF_XDP frame area: %s", strerror(errno));
        goto fail;
    }
    int rc = xsk_umem__create(&x->umem, x->umem_area, size, &x->fill, &x->comp, NULL);
    if (rc) {
        sy_set_error(err, errlen, "xsk_umem__create: %s", strerror(-rc));
        goto fail;
    }
    struct xsk_socket_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = 0;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; // our program, not libxdp's
    cfg.xdp_flags = XDP_FLAGS_SKB_MODE;
    cfg.bind_flags = XDP_COPY | XDP_USE_SG;
    rc = xsk_socket__create(&x->xsk, ifname, 0, x->umem, &x->rx, NULL, &cfg);
    if (rc) {
        sy_set_error(err, errlen, "xsk_socket__create(%s): %s", ifname, strerror(-rc));
        goto fail;
    }
    // Every frame but those in flight starts in the fill ring.
    uint32_t idx = 0;
    uint32_t reserved = xsk_ring_prod__reserve(&x->fill, XSK_RING_PROD__DEFAULT_NUM_DESCS, &idx);
    for (uint32_t i = 0; i < reserved; i++) {
        *xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * SY_XDP_FRAME_SIZE;
    }
    xsk_ring_prod__submit(&x->fill, reserved);
    uint32_t queue = 0;
    int fd = xsk_socket__fd(x->xsk);
    if (bpf_map_update_elem(x->xsks_fd, &queue, &fd, BPF_ANY) != 0) {
        sy_set_error(err, errlen, "registering the AF_XDP socket: %s", strerror(errno));
        goto fail;
    }
    LIBBPF_OPTS(bpf_link_create_opts, link_opts, .flags = XDP_FLAGS_SKB_MODE);
    x->link_fd = bpf_link_create(x->prog_fd, ifindex, BPF_XDP, &link_opts);
    if (x->link_fd < 0) {
        sy_set_error(err, errlen, "attaching the XDP program to %s: %s", ifname, strerror(errno));
        goto fail;
    }
    return x;
fail:
    sy_xdp_close(x);
    return NULL;
}

int sy_xdp_fd(const struct sy_xdp *x) { return xsk_socket__fd(x->xsk); }

int sy_xdp_set_vips(struct sy_xdp *x, const uint32_t *vips_network_order, uint32_t count) {
    return sy_bpf_set_keys(x->vips_fd, vips_network_order, count, 4);
}

int sy_xdp_set_locals(struct sy_xdp *x, const uint32_t *addresses_network_order, uint32_t count) {
    return sy_bpf_set_keys(x->locals_fd, addresses_network_order, count, 4);
}

int sy_xdp_set_nat(struct sy_xdp *x, const struct sy_xdp_key *keys, uint32_t count) {
    return sy_bpf_set_keys(x->nat_fd, keys, count, sizeof(struct sy_xdp_key));
}

uint32_t sy_xdp_receive(struct sy_xdp *x) {
    x->rx_used = 0;
    x->rx_count = xsk_ring_cons__peek(&x->rx, SY_XDP_BATCH, &x->rx_index);
    return x->rx_count;
}

void *sy_xdp_next(struct sy_xdp *x, uint32_t *length) {
    if (x->rx_used >= x->rx_count) return NULL;
    const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, x->rx_index + x->rx_used);
    if (!(d->options & XDP_PKT_CONTD)) {
        x->rx_used += 1;
        *length = d->len;
        return xsk_umem__get_data(x->umem_area, d->addr);
    }
    // Several descriptors: gather them, if the batch holds the whole frame.
    uint32_t i = x->rx_used, total = 0;
    for (;;) {
        if (i >= x->rx_count) {
            // The rest is not in this batch: leave these descriptors for the next one.
            xsk_ring_cons__cancel(&x->rx, x->rx_count - x->rx_used);
            x->rx_count = x->rx_used;
            return NULL;
        }
        d = xsk_ring_cons__rx_desc(&x->rx, x->rx_index + i);
        if (total + d->len <= SY_XDP_SCRATCH) memcpy(x->scratch + total, xsk_umem__get_data(x->umem_area, d->addr), d->len);
        total += d->len;
        i += 1;
        if (!(d->options & XDP_PKT_CONTD)) break;
    }
    x->rx_used = i;
    // Larger than the scratch (not possible for IPv4): report it whole, so it is counted as
    // oversize and dropped, never sent in part.
    *length = total <= SY_XDP_SCRATCH ? total : SY_XDP_SCRATCH + 1;
    return x->scratch;
}

uint32_t sy_xdp_position(const struct sy_xdp *x) { return x->rx_used; }

void *sy_xdp_peek(const struct sy_xdp *x, uint32_t i, uint32_t *length) {
    if (i >= x->rx_count) return NULL;
    const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, x->rx_index + i);
    // A batch starts on a frame's first descriptor (sy_xdp_next gives back a frame the batch
    // holds only part of), so descriptor i - 1 tells whether i continues a frame.
    if ((d->options & XDP_PKT_CONTD) ||
        (i > 0 && (xsk_ring_cons__rx_desc(&x->rx, x->rx_index + i - 1)->options & XDP_PKT_CONTD)))
        return NULL;
    *length = d->len;
    return xsk_umem__get_data(x->umem_area, d->addr);
}

void sy_xdp_release(struct sy_xdp *x) {
    uint32_t count = x->rx_used;
    if (count == 0) return;
    uint32_t idx = 0;
    // The fill ring has room for every frame we hold: it was sized for all of them.
    while (xsk_ring_prod__reserve(&x->fill, count, &idx) != count) {
    }
    for (uint32_t i = 0; i < count; i++) {
        *xsk_ring_prod__fill_addr(&x->fill, idx + i) = xsk_ring_cons__rx_desc(&x->rx, x->rx_index + i)->addr;
    }
    xsk_ring_prod__submit(&x->fill, count);
    xsk_ring_cons__release(&x->rx, count);
    x->rx_used = x->rx_count = 0;
}
