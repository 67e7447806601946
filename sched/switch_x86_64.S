/* switch_x86_64.S: internal to gochan. The context switch for x86-64 (System V
 * ABI), see context.h for the contract.
 *
 * A context is the stack pointer of a suspended stack whose top holds the
 * registers the ABI makes the callee preserve, in this frame (offsets from
 * the saved stack pointer):
 *
 *      0  MXCSR (4 bytes), then the x87 control word (2 bytes, 2 unused)
 *      8  r15
 *     16  r14
 *     24  r13
 *     32  r12
 *     40  rbx
 *     48  rbp
 *     56  return address
 *
 * Caller-saved registers need no saving: the C caller of sched__ctx_switch
 * already assumes a call clobbers them. The floating-point control state is
 * per context (rounding mode, exception masks), as it is per thread for
 * pthreads. The frame is the same shape on every stack, so the CFI below
 * stays true after the stack pointer moves to the other stack.
 *
 * Not handled: CET shadow stacks (this object carries no GNU property note,
 * so a binary that links it runs without them).
 */
#if defined(__x86_64__) && defined(__ELF__)

    .text

/* void sched__ctx_switch(void **save, void *to)
 * rdi: where to store the current context; rsi: the context to resume.
 * At entry rsp = 8 mod 16 (the call pushed the return address); after the six
 * pushes and the 8-byte FP slot it is 0 mod 16, so every saved context is
 * 16-byte aligned. */
    .globl  sched__ctx_switch
    .hidden sched__ctx_switch
    .type   sched__ctx_switch, @function
    .p2align 4
sched__ctx_switch:
    .cfi_startproc
    pushq   %rbp                /* callee-saved; the frame pointer */
    .cfi_adjust_cfa_offset 8
    pushq   %rbx                /* callee-saved */
    .cfi_adjust_cfa_offset 8
    pushq   %r12                /* callee-saved */
    .cfi_adjust_cfa_offset 8
    pushq   %r13                /* callee-saved */
    .cfi_adjust_cfa_offset 8
    pushq   %r14                /* callee-saved */
    .cfi_adjust_cfa_offset 8
    pushq   %r15                /* callee-saved */
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)              /* SSE rounding mode and exception masks */
    fnstcw  4(%rsp)             /* x87 precision, rounding and masks */
    movq    %rsp, (%rdi)        /* *save = this context */
    movq    %rsi, %rsp          /* now on the other stack, same frame shape */
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    ret                         /* to where the other context called us */
    .cfi_endproc
    .size   sched__ctx_switch, . - sched__ctx_switch

/* uint64_t sched__ctx_fpcontrol(void)
 * The caller's floating-point control state as the frame's slot 0 holds it:
 * MXCSR in the low 32 bits, the x87 control word in the next 16. A leaf: it
 * uses the red zone below rsp. */
    .globl  sched__ctx_fpcontrol
    .hidden sched__ctx_fpcontrol
    .type   sched__ctx_fpcontrol, @function
    .p2align 4
sched__ctx_fpcontrol:
    .cfi_startproc
    movq    $0, -8(%rsp)
    stmxcsr -8(%rsp)
    fnstcw  -4(%rsp)
    movq    -8(%rsp), %rax
    ret
    .cfi_endproc
    .size   sched__ctx_fpcontrol, . - sched__ctx_fpcontrol

/* void *sched__ctx_make(void *top, void (*entry)(void *), void *arg,
 *                       uint64_t fpcontrol)
 * rdi: one past the highest byte of the new stack; rsi, rdx: what the new
 * context runs; rcx: the FP control state it starts with (from
 * sched__ctx_fpcontrol). Returns (rax) a context that, when switched to,
 * calls entry(arg) on that stack. entry must never return. The frame is the
 * one sched__ctx_switch pops, with entry and arg in r12 and r13, rbp zero
 * (the end of the frame-pointer chain) and the trampoline as return
 * address. */
    .globl  sched__ctx_make
    .hidden sched__ctx_make
    .type   sched__ctx_make, @function
    .p2align 4
sched__ctx_make:
    .cfi_startproc
    movq    %rdi, %rax
    andq    $-16, %rax          /* the ABI's 16-byte stack alignment */
    subq    $64, %rax           /* the 64-byte frame described above */
    movq    %rcx, (%rax)        /* MXCSR, x87 control word */
    movq    $0, 8(%rax)         /* r15 */
    movq    $0, 16(%rax)        /* r14 */
    movq    %rdx, 24(%rax)      /* r13 = arg */
    movq    %rsi, 32(%rax)      /* r12 = entry */
    movq    $0, 40(%rax)        /* rbx */
    movq    $0, 48(%rax)        /* rbp = 0 */
    leaq    sched__ctx_trampoline(%rip), %rcx
    movq    %rcx, 56(%rax)      /* return address */
    ret
    .cfi_endproc
    .size   sched__ctx_make, . - sched__ctx_make

/* The first code of every context. The switch's ret popped the last slot of
 * the frame, so rsp = top = 0 mod 16 here, and the call below enters entry
 * with rsp = 8 mod 16 as the ABI requires. The return address is marked
 * undefined: unwinders stop here. */
    .type   sched__ctx_trampoline, @function
    .p2align 4
sched__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi          /* entry(arg) */
    callq   *%r12
    ud2                         /* entry returned: a bug */
    .cfi_endproc
    .size   sched__ctx_trampoline, . - sched__ctx_trampoline

#endif /* __x86_64__ && __ELF__ */

#if defined(__ELF__)
    .section .note.GNU-stack, "", @progbits /* the stack is not executable */
#endif
