// The kernel guard's fast drop: a BPF program at tcx ingress (Linux 6.6+) that drops IPv4
// frames to the VIPs in its set and counts them, written with the assembler in bpf_asm.c.
#include "CSwitchyard.h"
#include "bpf_asm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

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
static int assemble_guard(struct asm_state *a, int capacity, int vips_fd, int drops_fd) {
    sy_asm_start(a, capacity);
    sy_asm_emit(a, MOV_REG(BPF_REG_6, BPF_REG_1), L_NONE);
    sy_asm_emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, protocol)), L_NONE);
    sy_asm_emit(a, JMP_IMM(BPF_JNE, BPF_REG_2, htons(0x0800), 0), L_PASS);
    sy_asm_emit(a, MOV_REG(BPF_REG_1, BPF_REG_6), L_NONE);
    sy_asm_emit(a, MOV_IMM(BPF_REG_2, 14 + 16), L_NONE);
    sy_asm_emit(a, MOV_REG(BPF_REG_3, BPF_REG_10), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_3, -4), L_NONE);
    sy_asm_emit(a, MOV_IMM(BPF_REG_4, 4), L_NONE);
    sy_asm_emit(a, CALL(BPF_FUNC_skb_load_bytes), L_NONE);
    sy_asm_emit(a, JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), L_PASS);
    sy_asm_emit_lookup(a, vips_fd, -4, 0, L_PASS);
    // Count it (a per-CPU counter, no atomics), then drop.
    sy_asm_emit(a, ST(BPF_W, BPF_REG_10, -8, 0), L_NONE);
    sy_asm_emit_lookup(a, drops_fd, -8, 0, L_DROP);
    sy_asm_emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_1, 1), L_NONE);
    sy_asm_emit(a, STX(BPF_DW, BPF_REG_0, BPF_REG_1, 0), L_NONE);
    sy_asm_label(a, L_DROP);
    sy_asm_emit(a, MOV_IMM(BPF_REG_0, SY_TCX_DROP), L_NONE);
    sy_asm_emit(a, EXIT, L_NONE);
    sy_asm_label(a, L_PASS);
    sy_asm_emit(a, MOV_IMM(BPF_REG_0, SY_TCX_NEXT), L_NONE);
    sy_asm_emit(a, EXIT, L_NONE);
    return sy_asm_finish(a);
}

int sy_tcx_guard_program_length(int capacity) {
    struct asm_state a;
    // Placeholder map descriptors: the assembler only copies them into the instructions.
    return assemble_guard(&a, capacity, 3, 4);
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
        sy_set_error(err, errlen, "out of memory");
        return NULL;
    }
    g->prog_fd = g->link_fd = -1;
    g->vips_fd = g->drops_fd = -1;
    // One after the other, stopping at the first that fails: errno is then that one's.
    if ((g->vips_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sy_guard_vips", 4, 4, 1024, NULL)) < 0 ||
        (g->drops_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "sy_guard_drops", 4, 8, 1, NULL)) < 0) {
        sy_set_error(err, errlen, "creating BPF maps: %s", strerror(errno));
        goto fail;
    }
    struct asm_state a;
    int n = assemble_guard(&a, SY_ASM_MAX, g->vips_fd, g->drops_fd);
    if (n < 0) {
        sy_set_error(err, errlen, "assembling the tc program: more than %d instructions", SY_ASM_MAX);
        goto fail;
    }
    static char log[8192];
    log[0] = 0;
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof log, .log_level = 0,
                .expected_attach_type = SY_BPF_TCX_INGRESS);
    g->prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "switchyard_grd", "GPL", a.insns, (size_t)n, &opts);
    if (g->prog_fd < 0) {
        sy_set_error(err, errlen, "loading the tc program: %s", strerror(errno));
        goto fail;
    }
    g->link_fd = bpf_link_create(g->prog_fd, ifindex, SY_BPF_TCX_INGRESS, NULL);
    if (g->link_fd < 0) {
        int e = errno;
        sy_set_error(err, errlen, "attaching it at tcx ingress: %s%s", strerror(e),
                     e == EINVAL ? " (tcx needs Linux 6.6 or later)" : "");
        goto fail;
    }
    return g;
fail:
    sy_tcx_guard_close(g);
    return NULL;
}

int sy_tcx_guard_set_vips(struct sy_tcx_guard *g, const uint32_t *vips_network_order, uint32_t count) {
    return sy_bpf_set_keys(g->vips_fd, vips_network_order, count, 4);
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

