// The BPF instruction assembler that xdp.c and tcx_guard.c write their programs with, and the
// small helpers both share (private to CSwitchyard: not in include/, so Swift does not see it).
#ifndef SY_BPF_ASM_H
#define SY_BPF_ASM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

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

// The most instructions a program may have (ours have a few dozen).
#define SY_ASM_MAX 96

struct asm_state {
    struct bpf_insn insns[SY_ASM_MAX];
    int label_at[L_COUNT];
    int target[SY_ASM_MAX];
    int n;
    // How many instructions emit may write (at most SY_ASM_MAX; less only in tests).
    int capacity;
    // Set when an instruction did not fit: the program is incomplete, and finishing it fails.
    int overflowed;
};

// Starts an empty program of at most `capacity` instructions (clamped to SY_ASM_MAX).
void sy_asm_start(struct asm_state *a, int capacity);
// Appends an instruction whose offset jumps to label `target` (L_NONE: no jump). One that
// does not fit is not written: the program is marked overflowed instead.
void sy_asm_emit(struct asm_state *a, struct bpf_insn insn, int target);
// Places label `l` at the next instruction.
void sy_asm_label(struct asm_state *a, int l);
// Loads map `fd` into `reg` (a two-slot 64-bit immediate).
void sy_asm_emit_map_fd(struct asm_state *a, int reg, int fd);
// Looks up the key at r10 + key_offset in map `fd` and jumps to `target` if it was found
// (found != 0) or not found (found == 0). Clobbers r0-r5.
void sy_asm_emit_lookup(struct asm_state *a, int fd, int key_offset, int found, int target);
// Fills in the jumps' offsets; returns the instruction count, or -1 with errno E2BIG if an
// instruction did not fit.
int sy_asm_finish(struct asm_state *a);

// Makes `fd` (a hash map) hold exactly `count` keys of `key_size` bytes (at most 16): adds the
// new ones first, then deletes the others, so a key in both sets is never missing.
int sy_bpf_set_keys(int fd, const void *keys, uint32_t count, size_t key_size);

// printf into an error buffer the caller passed (nothing if there is none).
void sy_set_error(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
