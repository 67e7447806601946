/* traceback.c: Go's traceback for the goroutine dump (traceback.h).
 *
 * A goroutine that is not running has its callee-saved registers at the top
 * of its stack, where its last switch left them (switch_x86_64.S and
 * switch_aarch64.S draw the frame). From those and a copy of the stack,
 * elfutils' libdwfl unwinds as it would a stopped thread of another process:
 * its memory_read callback answers from the copy only, so a bad frame ends
 * the walk instead of faulting, and the goroutine may run again meanwhile
 * without harm. The copy is taken with process_vm_readv on our own pid (an
 * unmapped stack gives EFAULT, not a fault; ASan, TSan and valgrind see a
 * system call writing our buffer) between two reads of the goroutine's
 * sequence count (proc.h, schedgen): the same even count before and after
 * means it neither ran nor was remade while we copied.
 */
#include "internal/traceback.h"

#if GOCHAN_HAVE_STACKS

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <execinfo.h>
#endif

#include "proc.h"

/* Bytes of a goroutine's stack copied, from its saved stack pointer up:
 * deeper frames than fit are not shown. */
enum { COPY_MAX = 128 * 1024 };

struct sched_traceback {
    Dwfl *dwfl;
    bool attached; /* dwfl_attach_state done */
    uintptr_t sp;  /* the copy: the stack's bytes [sp, sp + len) */
    size_t len;
    unsigned char *buf; /* COPY_MAX bytes */
};

/* Local files only: never debuginfod over the network from a dump. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
                          const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc;
    *debuginfo_file_name = NULL;
    return -1;
}

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_debuginfo,
};

/* ---- the unwinder's view of one copied stack -------------------------- */

static pid_t next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
    (void)dwfl;
    if (*thread_argp)
        return 0; /* one thread: the stack copied last */
    *thread_argp = dwfl_arg;
    return 1;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg,
                       void **thread_argp)
{
    (void)dwfl;
    *thread_argp = dwfl_arg;
    return tid == 1;
}

/* Reads a word of the copy; false (the walk ends) anywhere else. */
static bool copy_read(const sched_traceback_t *tb, uintptr_t addr,
                      uint64_t *word)
{
    if (addr < tb->sp || tb->len < sizeof *word ||
        addr - tb->sp > tb->len - sizeof *word)
        return false;
    memcpy(word, tb->buf + (addr - tb->sp), sizeof *word);
    return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
                        void *dwfl_arg)
{
    (void)dwfl;
    uint64_t word;
    if (!copy_read(dwfl_arg, (uintptr_t)addr, &word))
        return false;
    *result = word;
    return true;
}

/* The registers the switch saved, as the caller of sched__ctx_switch sees
 * them after it returns: frame 0 is sched__fiber_switch. */
static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
    const sched_traceback_t *tb = thread_arg;
    uint64_t w[12];
#if defined(__x86_64__)
    /* 8 r15, 16 r14, 24 r13, 32 r12, 40 rbx, 48 rbp, 56 return address */
    for (int i = 0; i < 8; i++)
        if (!copy_read(tb, tb->sp + 8u * (unsigned)i, &w[i]))
            return false;
    Dwarf_Word rbx = w[5], rbp_rsp[2] = {w[6], tb->sp + 64};
    Dwarf_Word r12_15[4] = {w[4], w[3], w[2], w[1]};
    /* DWARF numbers: 3 rbx, 6 rbp, 7 rsp, 12-15 r12-r15. */
    if (!dwfl_thread_state_registers(thread, 3, 1, &rbx) ||
        !dwfl_thread_state_registers(thread, 6, 2, rbp_rsp) ||
        !dwfl_thread_state_registers(thread, 12, 4, r12_15))
        return false;
    dwfl_thread_state_register_pc(thread, w[7]);
    return true;
#elif defined(__aarch64__)
    /* 0..72 x19-x28, 80 x29, 88 x30 (the return address); 176 bytes. */
    for (int i = 0; i < 12; i++)
        if (!copy_read(tb, tb->sp + 8u * (unsigned)i, &w[i]))
            return false;
    Dwarf_Word x19_30[12];
    for (int i = 0; i < 12; i++)
        x19_30[i] = w[i];
    Dwarf_Word sp = tb->sp + 176;
    /* DWARF numbers: x19-x30 are 19-30, sp 31. */
    if (!dwfl_thread_state_registers(thread, 19, 12, x19_30) ||
        !dwfl_thread_state_registers(thread, 31, 1, &sp))
        return false;
    dwfl_thread_state_register_pc(thread, w[11]);
    return true;
#else
    (void)thread, (void)tb, (void)w;
    return false;
#endif
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

/* ---- sessions ---------------------------------------------------------- */

sched_traceback_t *sched_traceback_begin(void)
{
    sched_traceback_t *tb = calloc(1, sizeof *tb);
    if (!tb)
        return NULL;
    tb->buf = malloc(COPY_MAX);
    tb->dwfl = dwfl_begin(&proc_callbacks);
    if (!tb->buf || !tb->dwfl) {
        sched_traceback_end(tb);
        return NULL;
    }
    dwfl_report_begin(tb->dwfl);
    int err = dwfl_linux_proc_report(tb->dwfl, getpid());
    if (dwfl_report_end(tb->dwfl, NULL, NULL) != 0 || err != 0) {
        sched_traceback_end(tb);
        return NULL;
    }
    tb->attached =
        dwfl_attach_state(tb->dwfl, NULL, getpid(), &thread_callbacks, tb);
    return tb;
}

void sched_traceback_end(sched_traceback_t *tb)
{
    if (!tb)
        return;
    if (tb->dwfl)
        dwfl_end(tb->dwfl);
    free(tb->buf);
    free(tb);
}

/* ---- goroutines -------------------------------------------------------- */

struct frames {
    sched_gtrace_t *t;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
    sched_gtrace_t *t = arg;
    Dwarf_Addr pc;
    if (!dwfl_frame_pc(state, &pc, NULL) || pc == 0)
        return DWARF_CB_ABORT;
    t->pcs[t->npcs++] = (uintptr_t)pc;
    return t->npcs < SCHED_TRACEBACK_MAX ? DWARF_CB_OK : DWARF_CB_ABORT;
}

/* Copies gp's fields and stack into t and tb; false when gp changed
 * meanwhile (try again) . Reads another thread's goroutine without locks:
 * the sequence count, not the sanitizers, says whether what it read holds. */
#if defined(__clang__) || __GNUC__ >= 8
__attribute__((no_sanitize("thread", "address")))
#endif
static bool
snapshot(sched_g *gp, sched_gtrace_t *t, sched_traceback_t *tb, bool *dead)
{
    uint32_t gen = atomic_load_explicit(&gp->schedgen, memory_order_acquire);
    uint32_t status = sched__gstatus(gp);
    *dead = false;
    t->state = SCHED_GSTATE_RUNNING;
    t->npcs = 0;
    t->unavailable = true;
    tb->len = 0;
    if ((gen & 1) || status == SCHED__Grunning) {
        t->state = SCHED_GSTATE_RUNNING;
    } else if (status == SCHED__Grunnable || status == SCHED__Gwaiting) {
        t->state = status == SCHED__Gwaiting ? SCHED_GSTATE_WAITING
                                             : SCHED_GSTATE_RUNNABLE;
        uintptr_t sp = (uintptr_t)gp->fiber.ctx;
        uintptr_t lo = (uintptr_t)gp->stack.lo, hi = lo + gp->stack.size;
        if (sp >= lo && sp < hi) {
            size_t len = hi - sp < COPY_MAX ? hi - sp : COPY_MAX;
            struct iovec local = {tb->buf, len};
            struct iovec remote = {(void *)sp, len};
            ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
            if (got > 0) {
                tb->sp = sp;
                tb->len = (size_t)got;
            }
        }
    } else {
        *dead = true;
    }
    t->goid = gp->goid;
    t->parentgoid = gp->parentgoid;
    t->reason = gp->wait_reason;
    t->gopc = (uintptr_t)gp->gopc;
    atomic_thread_fence(memory_order_acquire);
    uint32_t gen2 = atomic_load_explicit(&gp->schedgen, memory_order_relaxed);
    if (gen2 != gen && !(gen & 1))
        return false;
    if (t->state != SCHED_GSTATE_RUNNING && tb->len > 0)
        t->unavailable = false;
    return true;
}

size_t sched_traceback_goroutines(sched_traceback_t *tb,
                                  void (*fn)(const sched_gtrace_t *t,
                                             void *arg),
                                  void *arg)
{
    /* allgs only grows, at its head, and a g's alllink never changes once
     * it is in: the list from the head read under the lock can be walked
     * without it. */
    sched__lock(&sched__state.allglock);
    sched_g *head = sched__state.allgs;
    sched__unlock(&sched__state.allglock);
    size_t n = 0;
    for (sched_g *gp = head; gp; gp = gp->alllink)
        n++;
    sched_g **gs = malloc((n ? n : 1) * sizeof *gs);
    sched_gtrace_t *t = malloc(sizeof *t);
    size_t listed = 0;
    if (!gs || !t) {
        free(gs);
        free(t);
        return 0;
    }
    size_t i = 0;
    for (sched_g *gp = head; gp && i < n; gp = gp->alllink)
        gs[i++] = gp;
    while (i-- > 0) { /* oldest first */
        bool dead = false, ok = false;
        for (int tries = 0; tries < 4 && !ok; tries++)
            ok = snapshot(gs[i], t, tb, &dead);
        if (dead)
            continue;
        if (!ok) { /* it kept running: header only */
            t->state = SCHED_GSTATE_RUNNING;
            t->unavailable = true;
        }
        if (!t->unavailable && tb->attached) {
            if (dwfl_getthread_frames(tb->dwfl, 1, frame_cb, t) != 0 &&
                t->npcs == 0)
                t->unavailable = true;
        }
        fn(t, arg);
        listed++;
    }
    free(gs);
    free(t);
    return listed;
}

/* ---- naming frames ----------------------------------------------------- */

/* dwfl_module_getsrc finds a CU through .debug_aranges, which clang does
 * not emit (elfutils before 0.191 does not make them up): look through the
 * module's CUs for the one that covers pc. */
static void find_line(Dwfl_Module *mod, Dwarf_Addr pc, const char **file,
                      int *line)
{
    Dwarf_Addr bias = 0;
    for (Dwarf_Die *cu = NULL; (cu = dwfl_module_nextcu(mod, cu, &bias));) {
        if (dwarf_haspc(cu, pc - bias) <= 0)
            continue;
        Dwarf_Line *l = dwarf_getsrc_die(cu, pc - bias);
        if (l && (*file = dwarf_linesrc(l, NULL, NULL)) != NULL)
            dwarf_lineno(l, line);
        return;
    }
}

/* The function at a return address and its file:line; false when no module
 * covers it. */
static bool symbolize(sched_traceback_t *tb, uintptr_t ret, const char **name,
                      uintptr_t *off, const char **file, int *line,
                      const char **module)
{
    Dwarf_Addr pc = ret - 1; /* inside the call instruction */
    Dwfl_Module *mod = dwfl_addrmodule(tb->dwfl, pc);
    if (!mod)
        return false;
    GElf_Off symoff = 0;
    GElf_Sym sym;
    *name = dwfl_module_addrinfo(mod, pc, &symoff, &sym, NULL, NULL, NULL);
    *off = (uintptr_t)symoff + 1;
    *file = NULL;
    *line = 0;
    Dwfl_Line *l = dwfl_module_getsrc(mod, pc);
    if (l)
        *file = dwfl_lineinfo(l, NULL, line, NULL, NULL, NULL);
    else
        find_line(mod, pc, file, line);
    Dwarf_Addr base = 0;
    *module = dwfl_module_info(mod, NULL, &base, NULL, NULL, NULL, NULL, NULL);
    if (!*name)
        *off = (uintptr_t)(ret - base);
    return true;
}

static void print_where(FILE *out, const char *file, int line,
                        const char *module, uintptr_t off)
{
    if (file)
        fprintf(out, "\t%s:%d +0x%" PRIxPTR "\n", file, line, off);
    else
        fprintf(out, "\t%s +0x%" PRIxPTR "\n", module ? module : "?", off);
}

void sched_traceback_print(sched_traceback_t *tb, FILE *out,
                           const uintptr_t *pcs, size_t n)
{
    bool inner = true; /* still in gochan's switch frames */
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *file = NULL, *module = NULL;
        uintptr_t off = 0;
        int line = 0;
        if (!symbolize(tb, pcs[i], &name, &off, &file, &line, &module)) {
            fprintf(out, "?()\n\t? pc=0x%" PRIxPTR "\n", pcs[i]);
            continue;
        }
        if (name && strcmp(name, "goroutine_main") == 0)
            break; /* the goroutine's entry: "created by" follows */
        if (inner && name && strncmp(name, "sched__", 7) == 0)
            continue;
        inner = false;
        fprintf(out, "%s()\n", name ? name : "?");
        print_where(out, file, line, module, off);
    }
    if (n == SCHED_TRACEBACK_MAX)
        fputs("...additional frames elided...\n", out);
}

void sched_traceback_print_creator(sched_traceback_t *tb, FILE *out,
                                   uintptr_t gopc, uint64_t parentgoid)
{
    const char *name = NULL, *file = NULL, *module = NULL;
    uintptr_t off = 0;
    int line = 0;
    if (!gopc || !symbolize(tb, gopc, &name, &off, &file, &line, &module))
        return;
    fprintf(out, "created by %s", name ? name : "?");
    if (parentgoid)
        fprintf(out, " in goroutine %" PRIu64, parentgoid);
    fputc('\n', out);
    print_where(out, file, line, module, off);
}

size_t sched_traceback_here(uintptr_t *pcs, size_t max, size_t skip)
{
    enum { HERE_MAX = SCHED_TRACEBACK_MAX + 8 };
    void *raw[HERE_MAX];
    int got = 0;
#if defined(__GLIBC__)
    /* glibc's, through libgcc's unwinder. Not libunwind's: its validation
     * of each address (a write() of it to a pipe) trips valgrind. */
    got = backtrace(raw, HERE_MAX);
#endif
    skip++; /* this function */
    size_t n = 0;
    for (int i = (int)skip; i < got && n < max; i++)
        pcs[n++] = (uintptr_t)raw[i];
    return n;
}

#else /* !GOCHAN_HAVE_STACKS: the dump keeps its one-line form */

sched_traceback_t *sched_traceback_begin(void)
{
    return NULL;
}

void sched_traceback_end(sched_traceback_t *tb)
{
    (void)tb;
}

size_t sched_traceback_goroutines(sched_traceback_t *tb,
                                  void (*fn)(const sched_gtrace_t *t,
                                             void *arg),
                                  void *arg)
{
    (void)tb, (void)fn, (void)arg;
    return 0;
}

void sched_traceback_print(sched_traceback_t *tb, FILE *out,
                           const uintptr_t *pcs, size_t n)
{
    (void)tb, (void)out, (void)pcs, (void)n;
}

void sched_traceback_print_creator(sched_traceback_t *tb, FILE *out,
                                   uintptr_t gopc, uint64_t parentgoid)
{
    (void)tb, (void)out, (void)gopc, (void)parentgoid;
}

size_t sched_traceback_here(uintptr_t *pcs, size_t max, size_t skip)
{
    (void)pcs, (void)max, (void)skip;
    return 0;
}

#endif /* GOCHAN_HAVE_STACKS */
