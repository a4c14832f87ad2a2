// The BPF instruction assembler our XDP and tcx programs are written with (so nothing has to
// be compiled for the BPF target at build time), with a bound on every write, and the map and
// error helpers xdp.c and tcx_guard.c share.
#include "bpf_asm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

void sy_asm_start(struct asm_state *a, int capacity) {
    memset(a, 0, sizeof *a);
    a->capacity = capacity < 0 ? 0 : capacity > SY_ASM_MAX ? SY_ASM_MAX : capacity;
}

void sy_asm_emit(struct asm_state *a, struct bpf_insn insn, int target) {
    // The bound: an instruction past the array is not written, and the program is refused in
    // sy_asm_finish (a program cut short must never be loaded).
    if (a->n >= a->capacity) {
        a->overflowed = 1;
        return;
    }
    a->target[a->n] = target;
    a->insns[a->n++] = insn;
}

void sy_asm_label(struct asm_state *a, int l) { a->label_at[l] = a->n; }

void sy_asm_emit_map_fd(struct asm_state *a, int reg, int fd) {
    sy_asm_emit(a, INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd), L_NONE);
    sy_asm_emit(a, INSN(0, 0, 0, 0, 0), L_NONE);
}

void sy_asm_emit_lookup(struct asm_state *a, int fd, int key_offset, int found, int target) {
    sy_asm_emit_map_fd(a, BPF_REG_1, fd);
    sy_asm_emit(a, MOV_REG(BPF_REG_2, BPF_REG_10), L_NONE);
    sy_asm_emit(a, ALU_IMM(BPF_ADD, BPF_REG_2, key_offset), L_NONE);
    sy_asm_emit(a, CALL(BPF_FUNC_map_lookup_elem), L_NONE);
    sy_asm_emit(a, JMP_IMM(found ? BPF_JNE : BPF_JEQ, BPF_REG_0, 0, 0), target);
}

int sy_asm_finish(struct asm_state *a) {
    if (a->overflowed) {
        errno = E2BIG;
        return -1;
    }
    for (int i = 0; i < a->n; i++) {
        if (a->target[i] != L_NONE) a->insns[i].off = (int16_t)(a->label_at[a->target[i]] - i - 1);
    }
    return a->n;
}

int sy_bpf_set_keys(int fd, const void *keys, uint32_t count, size_t key_size) {
    uint32_t one = 1;
    const uint8_t *k = keys;
    if (key_size > 16) {
        errno = EINVAL;
        return -1;
    }
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

void sy_set_error(char *err, size_t len, const char *fmt, ...) {
    if (!err || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}
