/* context_string.c: String for the native contexts, as Go's context.go
 * writes it: contextName(parent) and a suffix per link (cancelCtx.String,
 * timerCtx.String, valueCtx.String with stringify, withoutCancelCtx.String);
 * timerCtx.String's time.Duration.String is chan_duration_string. backgroundCtx
 * and todoCtx name themselves in context.c, next to emptyCtx.
 */
#include "context_types.h"

#include <gochan/timer.h>

#include <inttypes.h>
#include <stdio.h>

/* Context.String of any context: the vtable's string, which for every native
 * kind but Background and TODO is context__native_string. */
size_t context_string(context_t *ctx, char *buf, size_t n)
{
    if (!ctx) {
        if (buf && n)
            buf[0] = '\0';
        return 0;
    }
    if (!buf)
        n = 0;
    return ctx->vtable_->string(ctx, buf, n);
}

/* One native link of a String: what it appends to its parent's name, and
 * where the name goes on. Returns the suffix's length (written to tmp, of
 * size 128, which always suffices). *next is the parent to name, or NULL with
 * *root set when the parent is named by a fixed string (Go's contextName of a
 * stopCtx, which is no Stringer: its type name). */
static size_t link_suffix(context_t *c, int64_t now, char *tmp,
                          context_t **next, const char **root)
{
    context_kind kind = kind_of(c);
    *root = NULL;
    if (kind == KIND_VALUE) {
        valueCtx *vc = (valueCtx *)c;
        char k[32], val[32];
        if (vc->key)
            snprintf(k, sizeof k, "%p", vc->key);
        else
            snprintf(k, sizeof k, "<nil>");
        if (vc->val)
            snprintf(val, sizeof val, "%p", vc->val);
        else
            snprintf(val, sizeof val, "<nil>");
        *next = vc->Context;
        return (size_t)snprintf(tmp, 128, ".WithValue(%s, %s)", k, val);
    }
    if (kind == KIND_WITHOUT_CANCEL) {
        *next = ((withoutCancelCtx *)c)->c;
        return (size_t)snprintf(tmp, 128, ".WithoutCancel");
    }
    cancelCtx *cc = (cancelCtx *)c;
    if (atomic_load_explicit(&cc->slot, memory_order_relaxed) == SLOT_STOP) {
        *next = NULL;
        *root = "context.stopCtx";
    } else {
        *next = cc->Context;
    }
    if (kind == KIND_TIMER) {
        /* D is the deadline as Go prints a Time's monotonic reading (m=+s),
         * R the time left as Duration.String. */
        int64_t d = ((timerCtx *)c)->deadline;
        uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
        char rb[32];
        chan_duration_string(time_until(d, now), rb, sizeof rb);
        return (size_t)snprintf(
            tmp, 128, ".WithDeadline(m=%c%" PRIu64 ".%09" PRIu64 " [%s])",
            d < 0 ? '-' : '+', ud / 1000000000u, ud % 1000000000u, rb);
    }
    return (size_t)snprintf(tmp, 128, ".WithCancel");
}

/* Whether c is a link of a native String: a kind that names its parent. */
static bool is_link(const context_t *c)
{
    switch (kind_of(c)) {
    case KIND_CANCEL:
    case KIND_TIMER:
    case KIND_AFTER_FUNC:
    case KIND_VALUE:
    case KIND_WITHOUT_CANCEL:
        return true;
    default:
        return false;
    }
}

/* Go's String for the native kinds, contextName(parent) + suffix, without
 * recursion: one pass sums the suffixes (the root last), a second writes each
 * suffix at its place from the end. Time is read once, so both agree. */
size_t context__native_string(context_t *self, char *buf, size_t n)
{
    int64_t now = chan_now();
    char tmp[128];
    context_t *c = self, *next;
    const char *root = NULL;
    size_t total = 0;

    while (c && is_link(c)) {
        total += link_suffix(c, now, tmp, &next, &root);
        c = next;
    }
    /* The root: Background, TODO, a foreign context, or a stopCtx. */
    size_t rootlen = root ? (size_t)snprintf(buf, n, "%s", root)
                          : c->vtable_->string(c, buf, n);
    total += rootlen;
    if (n == 0)
        return total;

    size_t end = total;
    for (c = self; c && is_link(c); c = next) {
        size_t len = link_suffix(c, now, tmp, &next, &root);
        size_t start = end - len;
        for (size_t i = 0; i < len && start + i < n - 1; i++)
            buf[start + i] = tmp[i];
        end = start;
    }
    buf[total < n - 1 ? total : n - 1] = '\0';
    return total;
}
