/* error.c: errors made at run time (Go's errors.New, fmt.Errorf with %w,
 * errors.Is, errors.Unwrap) and their reference counts.
 *
 * context_error_t is the contract's one-field struct, so a made error
 * carries its count and what it wraps around it: struct made_error, with the
 * public struct inside and the message after it, in one allocation. Which
 * errors are made is known from a registry, a hash set of their addresses
 * under one lock: a static error ({"message"}) is never in it, so retain and
 * release do nothing to it and sentinels and made errors mix freely. Errors
 * are made and dropped at the pace of failures, not of channel operations,
 * so one lock is enough.
 */
#include <gochan/context.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context_types.h"
#include "lock.h"

const context_error_t context_error_out_of_memory = {
    "gochan: out of memory while making an error"};

typedef struct made_error {
    long refs;                      /* under registry.lock */
    const context_error_t *wrapped; /* a reference of its own, or NULL */
    context_error_t pub;            /* what users see */
    char text[];                    /* pub.message */
} made_error_t;

atomic_long context__live_errors;

/* The set of made errors: open addressing on the public address, linear
 * probing, deleted slots marked TOMBSTONE; at most half full. */
#define TOMBSTONE ((made_error_t *)1)
static struct {
    sched__lock_t lock;
    made_error_t **slots;
    size_t cap, used; /* used counts live entries and tombstones */
    size_t live;      /* live entries */
} registry = {.lock = SCHED__LOCK_INIT};

static size_t slot_of(const context_error_t *e, size_t cap)
{
    uintptr_t h = (uintptr_t)e;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15u;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Whether any made error exists: if none, every error is static and the
 * registry need not be asked. An error's maker counted it before anyone
 * could be handed it, so a holder always sees its count. */
static bool any_made(void)
{
    return atomic_load_explicit(&context__live_errors, memory_order_relaxed) >
           0;
}

/* registry.lock held. The made error behind e, or NULL for a static one. */
static made_error_t *find_locked(const context_error_t *e)
{
    if (!registry.cap)
        return NULL;
    for (size_t i = slot_of(e, registry.cap);;
         i = (i + 1) & (registry.cap - 1)) {
        made_error_t *m = registry.slots[i];
        if (!m)
            return NULL;
        if (m != TOMBSTONE && &m->pub == e)
            return m;
    }
}

/* registry.lock held. Rehashes into cap slots; false without memory. */
static bool rehash_locked(size_t cap)
{
    made_error_t **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < registry.cap; i++) {
        made_error_t *m = registry.slots[i];
        if (!m || m == TOMBSTONE)
            continue;
        size_t j = slot_of(&m->pub, cap);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = m;
    }
    free(registry.slots);
    registry.slots = slots;
    registry.cap = cap;
    registry.used = 0;
    for (size_t i = 0; i < cap; i++)
        registry.used += slots[i] != NULL;
    return true;
}

static bool registry_add(made_error_t *m)
{
    sched__lock(&registry.lock);
    size_t cap = 64;
    while (cap < 4 * (registry.live + 1))
        cap *= 2; /* room for twice the live entries: tombstones go */
    if (2 * (registry.used + 1) > registry.cap && !rehash_locked(cap)) {
        sched__unlock(&registry.lock);
        return false;
    }
    size_t i = slot_of(&m->pub, registry.cap);
    while (registry.slots[i] && registry.slots[i] != TOMBSTONE)
        i = (i + 1) & (registry.cap - 1);
    if (!registry.slots[i])
        registry.used++;
    registry.slots[i] = m;
    registry.live++;
    sched__unlock(&registry.lock);
    return true;
}

/* registry.lock held; m is in the set. */
static void remove_locked(made_error_t *m)
{
    size_t i = slot_of(&m->pub, registry.cap);
    while (registry.slots[i] != m)
        i = (i + 1) & (registry.cap - 1);
    registry.slots[i] = TOMBSTONE;
    registry.live--;
}

/* A made error of len message bytes (and a NUL), text not yet written. */
static made_error_t *error_alloc(size_t len, const context_error_t *wrapped)
{
    made_error_t *m = malloc(sizeof *m + len + 1);
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    m->refs = 1;
    m->wrapped = wrapped;
    m->pub.message = m->text;
    return m;
}

/* Publishes m (its text written) as a made error; NULL without memory. */
static const context_error_t *error_publish(made_error_t *m)
{
    if (!registry_add(m)) {
        free(m);
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&context__live_errors, 1, memory_order_relaxed);
    return &m->pub;
}

const context_error_t *context_error_new(const char *message)
{
    if (!message)
        message = "";
    size_t len = strlen(message);
    made_error_t *m = error_alloc(len, NULL);
    if (!m)
        return &context_error_out_of_memory;
    memcpy(m->text, message, len + 1);
    const context_error_t *e = error_publish(m);
    return e ? e : &context_error_out_of_memory;
}

/* The formatted text, then ": " and wrapped's message when there is one. */
static const context_error_t *error_vformat(const context_error_t *wrapped,
                                            const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt ? fmt : "", ap);
    const char *tail = wrapped ? wrapped->message : NULL;
    size_t tail_len = tail ? strlen(tail) : 0;
    made_error_t *m =
        n < 0 ? NULL
              : error_alloc((size_t)n + (tail ? 2 + tail_len : 0), wrapped);
    if (m) {
        vsnprintf(m->text, (size_t)n + 1, fmt ? fmt : "", again);
        if (tail) {
            memcpy(m->text + n, ": ", 2);
            memcpy(m->text + n + 2, tail, tail_len + 1);
        }
    }
    va_end(again);
    return m ? error_publish(m) : NULL;
}

const context_error_t *context_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const context_error_t *e = error_vformat(NULL, fmt, ap);
    va_end(ap);
    return e ? e : &context_error_out_of_memory;
}

const context_error_t *context_error_wrap(const context_error_t *wrapped,
                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const context_error_t *e = error_vformat(wrapped, fmt, ap);
    va_end(ap);
    if (e)
        return e; /* it holds the reference wrapped came with */
    /* No memory: the wrapped error itself, which errors.Is still finds. */
    return wrapped ? wrapped : &context_error_out_of_memory;
}

const context_error_t *context_error_unwrap(const context_error_t *err)
{
    if (!err || !any_made())
        return NULL;
    sched__lock(&registry.lock);
    made_error_t *m = find_locked(err);
    const context_error_t *w = m ? m->wrapped : NULL;
    sched__unlock(&registry.lock);
    return w;
}

bool context_error_is(const context_error_t *err, const context_error_t *target)
{
    if (!target)
        return err == NULL;
    for (; err; err = context_error_unwrap(err))
        if (err == target)
            return true;
    return false;
}

const context_error_t *context_error_retain(const context_error_t *err)
{
    if (!err || !any_made())
        return err;
    sched__lock(&registry.lock);
    made_error_t *m = find_locked(err);
    if (m)
        m->refs++;
    sched__unlock(&registry.lock);
    return err;
}

void context_error_release(const context_error_t *err)
{
    /* A loop, not recursion: freeing a wrapper drops what it wraps. */
    while (err && any_made()) {
        sched__lock(&registry.lock);
        made_error_t *m = find_locked(err);
        bool last = m && --m->refs == 0;
        if (last)
            remove_locked(m);
        sched__unlock(&registry.lock);
        if (!last)
            return;
        err = m->wrapped;
        free(m);
        atomic_fetch_sub_explicit(&context__live_errors, 1,
                                  memory_order_relaxed);
    }
}
