// AF_XDP receive path (`switchyard run --io af_xdp`): our own small XDP program, attached in
// generic (skb) mode through a BPF link, redirects to an AF_XDP socket exactly the frames the
// engine forwards (IPv4 to a VIP, and for NAT the real servers' replies and ICMP errors) and
// passes every other frame to the kernel. The program is assembled here instruction by
// instruction, so nothing has to be compiled for the BPF target at build time. libbpf creates
// the maps, loads the program and makes the link; libxdp's xsk API makes the socket.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
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

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX(size, d, s, o) INSN(BPF_LDX | (size) | BPF_MEM, d, s, o, 0)
#define STX(size, d, s, o) INSN(BPF_STX | (size) | BPF_MEM, d, s, o, 0)
#define ST(size, d, o, i) INSN(BPF_ST | (size) | BPF_MEM, d, 0, o, i)
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU_IMM(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU_REG(op, d, s) INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define JMP_IMM(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define JMP_REG(op, d, s, o) INSN(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

// Jumps name their target; offsets are resolved once the program is complete.
enum { L_NONE, L_PASS, L_REDIRECT, L_NAT_KEY, L_DROP, L_COUNT };

struct asm_state {
    struct bpf_insn insns[96];
    int label_at[L_COUNT];
    int target[96];
    int n;
};

static void emit(struct asm_state *a, struct bpf_insn insn, int target) {
    a->target[a->n] = target;
    a->insns[a->n++] = insn;
}
static void label(struct asm_state *a, int l) { a->label_at[l] = a->n; }
static void emit_map_fd(struct asm_state *a, int reg, int fd) {
    emit(a, INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd), L_NONE);
    emit(a, INSN(0, 0, 0, 0, 0), L_NONE);
}

// Fills in the jumps' offsets once every label is placed; returns the instruction count.
static int resolve_jumps(struct asm_state *a) {
    for (int i = 0; i < a->n; i++) {
        if (a->target[i] != L_NONE) a->insns[i].off = (int16_t)(a->label_at[a->target[i]] - i - 1);
    }
    return a->n;
}

// Looks up the key at r10 + key_offset in map `fd` and jumps to `target` if it was found
// (found != 0) or not found (found == 0). Clobbers r0-r5.
static void emit_lookup(struct asm_state *a, int fd, int key_offset, int found, int target) {
    emit_map_fd(a, BPF_REG_1, fd);
    emit(a, MOV_REG(BPF_REG_2, BPF_REG_10), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_2, key_offset), L_NONE);
    emit(a, CALL(BPF_FUNC_map_lookup_elem), L_NONE);
    emit(a, JMP_IMM(found ? BPF_JNE : BPF_JEQ, BPF_REG_0, 0, 0), target);
}

// r6 ctx, r7 data, r8 data_end. Frames: Ethernet (untagged) + IPv4. Redirected: to a VIP; else,
// unless addressed to a local address, from a NAT real server's service port or ICMP from it.
static int assemble(struct asm_state *a, int vips_fd, int nat_fd, int locals_fd, int xsks_fd) {
    memset(a, 0, sizeof *a);
    emit(a, MOV_REG(BPF_REG_6, BPF_REG_1), L_NONE);
    emit(a, LDX(BPF_W, BPF_REG_7, BPF_REG_6, offsetof(struct xdp_md, data)), L_NONE);
    emit(a, LDX(BPF_W, BPF_REG_8, BPF_REG_6, offsetof(struct xdp_md, data_end)), L_NONE);
    // Ethernet + a minimal IPv4 header must be there.
    emit(a, MOV_REG(BPF_REG_4, BPF_REG_7), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_4, 34), L_NONE);
    emit(a, JMP_REG(BPF_JGT, BPF_REG_4, BPF_REG_8, 0), L_PASS);
    // Ethertype 0x0800 (the bytes 08 00, read as a little-endian half word).
    emit(a, LDX(BPF_H, BPF_REG_5, BPF_REG_7, 12), L_NONE);
    emit(a, JMP_IMM(BPF_JNE, BPF_REG_5, htons(0x0800), 0), L_PASS);
    // To a VIP? Key: the destination address as it is on the wire.
    emit(a, LDX(BPF_W, BPF_REG_5, BPF_REG_7, 30), L_NONE);
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_5, -4), L_NONE);
    emit_lookup(a, vips_fd, -4, 1, L_REDIRECT);
    // Addressed to this machine itself (a health check's answer, ssh): the kernel's, always.
    emit_lookup(a, locals_fd, -4, 1, L_PASS);
    // A NAT reply? Key: source address, protocol, source port (0 for ICMP).
    emit(a, LDX(BPF_B, BPF_REG_5, BPF_REG_7, 14), L_NONE);
    emit(a, ALU_IMM(BPF_AND, BPF_REG_5, 0x0f), L_NONE);
    emit(a, ALU_IMM(BPF_LSH, BPF_REG_5, 2), L_NONE);
    emit(a, JMP_IMM(BPF_JLT, BPF_REG_5, 20, 0), L_PASS);
    emit(a, MOV_REG(BPF_REG_4, BPF_REG_7), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_4, 14), L_NONE);
    emit(a, ALU_REG(BPF_ADD, BPF_REG_4, BPF_REG_5), L_NONE);
    emit(a, MOV_REG(BPF_REG_9, BPF_REG_4), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_9, 4), L_NONE);
    emit(a, JMP_REG(BPF_JGT, BPF_REG_9, BPF_REG_8, 0), L_PASS);
    emit(a, LDX(BPF_B, BPF_REG_1, BPF_REG_7, 23), L_NONE);
    emit(a, LDX(BPF_H, BPF_REG_2, BPF_REG_4, 0), L_NONE);
    emit(a, JMP_IMM(BPF_JNE, BPF_REG_1, IPPROTO_ICMP, 0), L_NAT_KEY);
    emit(a, MOV_IMM(BPF_REG_2, 0), L_NONE);
    label(a, L_NAT_KEY);
    emit(a, LDX(BPF_W, BPF_REG_3, BPF_REG_7, 26), L_NONE);
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_3, -16), L_NONE);
    emit(a, STX(BPF_B, BPF_REG_10, BPF_REG_1, -12), L_NONE);
    emit(a, ST(BPF_B, BPF_REG_10, -11, 0), L_NONE);
    emit(a, STX(BPF_H, BPF_REG_10, BPF_REG_2, -10), L_NONE);
    emit_lookup(a, nat_fd, -16, 0, L_PASS);
    label(a, L_REDIRECT);
    // To the socket of this queue; with no socket there, the frame goes to the kernel.
    emit_map_fd(a, BPF_REG_1, xsks_fd);
    emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct xdp_md, rx_queue_index)), L_NONE);
    emit(a, MOV_IMM(BPF_REG_3, XDP_PASS), L_NONE);
    emit(a, CALL(BPF_FUNC_redirect_map), L_NONE);
    emit(a, EXIT, L_NONE);
    label(a, L_PASS);
    emit(a, MOV_IMM(BPF_REG_0, XDP_PASS), L_NONE);
    emit(a, EXIT, L_NONE);
    return resolve_jumps(a);
}

// ---- the guard's fast drop (tcx ingress) ----
//
// In AF_PACKET mode the kernel gets every frame after the packet taps. The kernel guard's
// nftables chain drops the VIP's frames at netdev ingress; this program drops them one step
// earlier, at tc ingress (tcx, Linux 6.6+), for a fraction of the cost: no netfilter hook walk,
// no rule evaluation, one hash lookup. Everything else goes on (TCX_NEXT) to the nftables
// chain, which stays as it is and also drops the VIPs' frames where this program is missing.

#ifndef SY_BPF_TCX_INGRESS
#define SY_BPF_TCX_INGRESS 46 /* enum bpf_attach_type, Linux 6.6; Debian 12's headers lack it */
#endif
#define SY_TCX_NEXT (-1)
#define SY_TCX_DROP 2

struct sy_tcx_guard {
    int vips_fd, drops_fd, prog_fd, link_fd;
};

// r6 ctx. The frame starts at the Ethernet header (tcx ingress pushes it back); its IPv4
// header may be in the skb's fragments, so the address is read with skb_load_bytes.
static int assemble_guard(struct asm_state *a, int vips_fd, int drops_fd) {
    memset(a, 0, sizeof *a);
    emit(a, MOV_REG(BPF_REG_6, BPF_REG_1), L_NONE);
    emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, protocol)), L_NONE);
    emit(a, JMP_IMM(BPF_JNE, BPF_REG_2, htons(0x0800), 0), L_PASS);
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_6), L_NONE);
    emit(a, MOV_IMM(BPF_REG_2, 14 + 16), L_NONE);
    emit(a, MOV_REG(BPF_REG_3, BPF_REG_10), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_3, -4), L_NONE);
    emit(a, MOV_IMM(BPF_REG_4, 4), L_NONE);
    emit(a, CALL(BPF_FUNC_skb_load_bytes), L_NONE);
    emit(a, JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), L_PASS);
    emit_lookup(a, vips_fd, -4, 0, L_PASS);
    // Count it (a per-CPU counter, no atomics), then drop.
    emit(a, ST(BPF_W, BPF_REG_10, -8, 0), L_NONE);
    emit_lookup(a, drops_fd, -8, 0, L_DROP);
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0), L_NONE);
    emit(a, ALU_IMM(BPF_ADD, BPF_REG_1, 1), L_NONE);
    emit(a, STX(BPF_DW, BPF_REG_0, BPF_REG_1, 0), L_NONE);
    label(a, L_DROP);
    emit(a, MOV_IMM(BPF_REG_0, SY_TCX_DROP), L_NONE);
    emit(a, EXIT, L_NONE);
    label(a, L_PASS);
    emit(a, MOV_IMM(BPF_REG_0, SY_TCX_NEXT), L_NONE);
    emit(a, EXIT, L_NONE);
    return resolve_jumps(a);
}

// ---- setup ----

static void set_error(char *err, size_t len, const char *fmt, ...) {
    if (!err || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

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
        set_error(err, errlen, "out of memory");
        return NULL;
    }
    x->vips_fd = x->nat_fd = x->locals_fd = x->xsks_fd = x->prog_fd = x->link_fd = -1;
    x->vips_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_vips", 4, 4, 1024, NULL);
    x->nat_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_nat", sizeof(struct sy_xdp_key), 4, 4096, NULL);
    x->locals_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_locals", 4, 4, 1024, NULL);
    x->xsks_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "sy_xsks", 4, 4, 1, NULL);
    if (x->vips_fd < 0 || x->nat_fd < 0 || x->locals_fd < 0 || x->xsks_fd < 0) {
        set_error(err, errlen, "creating BPF maps: %s", strerror(errno));
        goto fail;
    }
    struct asm_state a;
    int n = assemble(&a, x->vips_fd, x->nat_fd, x->locals_fd, x->xsks_fd);
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
        set_error(err, errlen, "loading the XDP program: %s%s%.400s", strerror(e), log[0] ? "; verifier: " : "", log);
        goto fail;
    }
    x->scratch = malloc(SY_XDP_SCRATCH);
    if (!x->scratch) {
        set_error(err, errlen, "out of memory");
        goto fail;
    }
    size_t size = (size_t)SY_XDP_FRAMES * SY_XDP_FRAME_SIZE;
    x->umem_area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (x->umem_area == MAP_FAILED) {
        x->umem_area = NULL;
        set_error(err, errlen, "mapping the AF_XDP frame area: %s", strerror(errno));
        goto fail;
    }
    int rc = xsk_umem__create(&x->umem, x->umem_area, size, &x->fill, &x->comp, NULL);
    if (rc) {
        set_error(err, errlen, "xsk_umem__create: %s", strerror(-rc));
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
        set_error(err, errlen, "xsk_socket__create(%s): %s", ifname, strerror(-rc));
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
        set_error(err, errlen, "registering the AF_XDP socket: %s", strerror(errno));
        goto fail;
    }
    LIBBPF_OPTS(bpf_link_create_opts, link_opts, .flags = XDP_FLAGS_SKB_MODE);
    x->link_fd = bpf_link_create(x->prog_fd, ifindex, BPF_XDP, &link_opts);
    if (x->link_fd < 0) {
        set_error(err, errlen, "attaching the XDP program to %s: %s", ifname, strerror(errno));
        goto fail;
    }
    return x;
fail:
    sy_xdp_close(x);
    return NULL;
}

int sy_xdp_fd(const struct sy_xdp *x) { return xsk_socket__fd(x->xsk); }

/// Makes `fd` (a hash map) hold exactly `count` keys of `key_size` bytes: adds the new ones
/// first, then deletes the others, so a key in both sets is never missing.
static int set_keys(int fd, const void *keys, uint32_t count, size_t key_size) {
    uint32_t one = 1;
    const uint8_t *k = keys;
    for (uint32_t i = 0; i < count; i++) {
        if (bpf_map_update_elem(fd, k + i * key_size, &one, BPF_ANY) != 0) return -1;
    }
    uint8_t cur[16], next[16];
    void *prev = NULL;
    while (bpf_map_get_next_key(fd, prev, next) == 0) {
        int keep = 0;
        for (uint32_t i = 0; i < count && !keep; i++) keep = memcmp(next, k + i * key_size, key_size) == 0;
        if (!keep) {
            bpf_map_delete_elem(fd, next);
            // Deleting may reorder the walk: start again from the top.
            prev = NULL;
            continue;
        }
        memcpy(cur, next, key_size);
        prev = cur;
    }
    return 0;
}

void sy_tcx_guard_close(struct sy_tcx_guard *g) {
    if (!g) return;
    if (g->link_fd >= 0) close(g->link_fd); // detaches the program
    if (g->prog_fd >= 0) close(g->prog_fd);
    if (g->drops_fd >= 0) close(g->drops_fd);
    if (g->vips_fd >= 0) close(g->vips_fd);
    free(g);
}

struct sy_tcx_guard *sy_tcx_guard_open(int ifindex, char *err, size_t errlen) {
    struct sy_tcx_guard *g = calloc(1, sizeof *g);
    if (!g) {
        set_error(err, errlen, "out of memory");
        return NULL;
    }
    g->prog_fd = g->link_fd = -1;
    g->vips_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_guard_vips", 4, 4, 1024, NULL);
    g->drops_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "sy_guard_drops", 4, 8, 1, NULL);
    if (g->vips_fd < 0 || g->drops_fd < 0) {
        set_error(err, errlen, "creating BPF maps: %s", strerror(errno));
        goto fail;
    }
    struct asm_state a;
    int n = assemble_guard(&a, g->vips_fd, g->drops_fd);
    static char log[8192];
    log[0] = 0;
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof log, .log_level = 0,
                .expected_attach_type = SY_BPF_TCX_INGRESS);
    g->prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "switchyard_grd", "GPL", a.insns, (size_t)n, &opts);
    if (g->prog_fd < 0) {
        set_error(err, errlen, "loading the tc program: %s", strerror(errno));
        goto fail;
    }
    g->link_fd = bpf_link_create(g->prog_fd, ifindex, SY_BPF_TCX_INGRESS, NULL);
    if (g->link_fd < 0) {
        set_error(err, errlen, "attaching it at tcx ingress: %s%s", strerror(errno),
                  errno == EINVAL ? " (tcx needs Linux 6.6 or later)" : "");
        goto fail;
    }
    return g;
fail:
    sy_tcx_guard_close(g);
    return NULL;
}

int sy_tcx_guard_set_vips(struct sy_tcx_guard *g, const uint32_t *vips_network_order, uint32_t count) {
    return set_keys(g->vips_fd, vips_network_order, count, 4);
}

uint64_t sy_tcx_guard_drops(const struct sy_tcx_guard *g) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0 || cpus > 4096) return 0;
    uint64_t values[cpus];
    uint32_t key = 0;
    if (bpf_map_lookup_elem(g->drops_fd, &key, values) != 0) return 0;
    uint64_t total = 0;
    for (int i = 0; i < cpus; i++) total += values[i];
    return total;
}

int sy_xdp_set_vips(struct sy_xdp *x, const uint32_t *vips_network_order, uint32_t count) {
    return set_keys(x->vips_fd, vips_network_order, count, 4);
}

int sy_xdp_set_locals(struct sy_xdp *x, const uint32_t *addresses_network_order, uint32_t count) {
    return set_keys(x->locals_fd, addresses_network_order, count, 4);
}

int sy_xdp_set_nat(struct sy_xdp *x, const struct sy_xdp_key *keys, uint32_t count) {
    return set_keys(x->nat_fd, keys, count, sizeof(struct sy_xdp_key));
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
