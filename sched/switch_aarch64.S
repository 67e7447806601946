/* switch_aarch64.S: internal to gochan. The context switch for AArch64
 * (AAPCS64), see context.h for the contract.
 *
 * A context is the stack pointer of a suspended stack whose top holds the
 * registers the procedure call standard makes the callee preserve, in this
 * 176-byte frame (offsets from the saved stack pointer):
 *
 *      0  x19, x20         80  x29 (frame pointer), x30 (link register)
 *     16  x21, x22         96  d8, d9
 *     32  x23, x24        112  d10, d11
 *     48  x25, x26        128  d12, d13
 *     64  x27, x28        144  d14, d15
 *                         160  FPCR (8 bytes), then 8 bytes of padding
 *
 * Only the low 64 bits of v8-v15 (d8-d15) are callee-saved; the rest of the
 * SIMD registers and x0-x18 are the caller's to save. sp is always 16-byte
 * aligned on AArch64 (a misaligned sp faults on access) and 176 = 11 * 16
 * keeps it so. FPCR (rounding mode, flush-to-zero, trap enables) is per
 * context, as it is per thread for pthreads; FPSR (sticky flags) is not
 * callee-saved and is left alone.
 *
 * Not handled: BTI and pointer authentication. This object carries no GNU
 * property note, so a binary that links it runs without BTI; x30 is saved and
 * restored as the caller left it, so a caller's signed return address stays
 * valid.
 */
#if defined(__aarch64__) && defined(__ELF__)

    .text

/* void sched__ctx_switch(void **save, void *to)
 * x0: where to store the current context; x1: the context to resume. */
    .globl  sched__ctx_switch
    .hidden sched__ctx_switch
    .type   sched__ctx_switch, %function
    .p2align 2
sched__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp     x19, x20, [sp, #0]      /* callee-saved general registers */
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]     /* frame pointer; where we return to */
    stp     d8, d9, [sp, #96]       /* callee-saved FP/SIMD (low halves) */
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr                /* x9 is a scratch register */
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]                /* *save = this context */
    mov     sp, x1                  /* now on the other stack, same frame */
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    .cfi_adjust_cfa_offset -176
    ret                             /* to x30: where the other one called us */
    .cfi_endproc
    .size   sched__ctx_switch, . - sched__ctx_switch

/* uint64_t sched__ctx_fpcontrol(void)
 * The caller's FPCR, as the frame's FPCR slot holds it. */
    .globl  sched__ctx_fpcontrol
    .hidden sched__ctx_fpcontrol
    .type   sched__ctx_fpcontrol, %function
    .p2align 2
sched__ctx_fpcontrol:
    .cfi_startproc
    mrs     x0, fpcr
    ret
    .cfi_endproc
    .size   sched__ctx_fpcontrol, . - sched__ctx_fpcontrol

/* void *sched__ctx_make(void *top, void (*entry)(void *), void *arg,
 *                       uint64_t fpcontrol)
 * x0: one past the highest byte of the new stack; x1, x2: what the new
 * context runs; x3: the FPCR it starts with (from sched__ctx_fpcontrol).
 * Returns (x0) a context that, when switched to, calls entry(arg) on that
 * stack. entry must never return. The frame is the one sched__ctx_switch
 * pops, with entry and arg in x19 and x20, x29 zero (the end of the frame
 * chain) and the trampoline in x30. */
    .globl  sched__ctx_make
    .hidden sched__ctx_make
    .type   sched__ctx_make, %function
    .p2align 2
sched__ctx_make:
    .cfi_startproc
    and     x9, x0, #0xfffffffffffffff0 /* 16-byte alignment */
    sub     x0, x9, #176
    stp     x1, x2, [x0, #0]        /* x19 = entry, x20 = arg */
    stp     xzr, xzr, [x0, #16]     /* x21-x28 = 0 */
    stp     xzr, xzr, [x0, #32]
    stp     xzr, xzr, [x0, #48]
    stp     xzr, xzr, [x0, #64]
    adr     x10, sched__ctx_trampoline
    stp     xzr, x10, [x0, #80]     /* x29 = 0, x30 = trampoline */
    stp     xzr, xzr, [x0, #96]     /* d8-d15 = 0 */
    stp     xzr, xzr, [x0, #112]
    stp     xzr, xzr, [x0, #128]
    stp     xzr, xzr, [x0, #144]
    stp     x3, xzr, [x0, #160]     /* FPCR, padding */
    ret
    .cfi_endproc
    .size   sched__ctx_make, . - sched__ctx_make

/* The first code of every context: the switch's ret jumped here with sp at
 * the (aligned) top. The return address is marked undefined: unwinders stop
 * here. */
    .type   sched__ctx_trampoline, %function
    .p2align 2
sched__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20                 /* entry(arg) */
    blr     x19
    brk     #0x3e8                  /* entry returned: a bug */
    .cfi_endproc
    .size   sched__ctx_trampoline, . - sched__ctx_trampoline

#endif /* __aarch64__ && __ELF__ */

#if defined(__ELF__)
    .section .note.GNU-stack, "", %progbits /* the stack is not executable */
#endif
