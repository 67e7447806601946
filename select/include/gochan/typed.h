/* gochan/typed.h: typed channels, Go's `chan T`, checked by the compiler.
 *
 *     CHAN_OF(intch, int)            // once per translation unit, at file
 * scope intch_t *c = intch_make(10);   // c := make(chan int, 10) intch_send(c,
 * 42);             // c <- 42 int v; intch_recv(c, &v);             // v = <-c
 *     intch_release(c);
 *
 * CHAN_OF(NAME, T) declares the handle type NAME_t and static inline
 * functions over the untyped chan_t (chan.h, select.h) that take and give T
 * by value. Each is one call of the untyped function it names, so a typed
 * channel costs nothing over chan_t: NAME_t * is the chan_t * itself, behind
 * a type of its own.
 *
 *   NAME_t *NAME_make(size_t cap)        chan_make(sizeof(T), cap)
 *   int NAME_send(NAME_t *c, T v)        chan_send
 *   int NAME_recv(NAME_t *c, T *v)       chan_recv (v may be NULL)
 *   int NAME_try_send(NAME_t *c, T v)    chan_try_send
 *   int NAME_try_recv(NAME_t *c, T *v)   chan_try_recv (v may be NULL)
 *   int NAME_close(NAME_t *c)            chan_close
 *   NAME_t *NAME_retain(NAME_t *c)       chan_retain
 *   void NAME_release(NAME_t *c)         chan_release
 *   size_t NAME_len(NAME_t *c), NAME_cap chan_len, chan_cap
 *   chan_t *NAME_chan(NAME_t *c)         the untyped channel (borrowed: no
 *                                        reference added), for chan_select
 *                                        and any API that takes a chan_t *
 *   chan_case_t NAME_recv_case(NAME_t *c, T *v)        CHAN_RECV_CASE
 *   chan_case_t NAME_send_case(NAME_t *c, const T *v)  CHAN_SEND_CASE
 *
 * Statuses, ownership and blocking are exactly the untyped calls' (chan.h):
 * NAME_make gives one reference, NULL with errno on failure; a NULL NAME_t
 * is Go's nil channel. A send case reads *v when the select runs it, so v
 * must stay valid until chan_select returns, as with CHAN_SEND_CASE.
 *
 * What the compiler checks: each NAME_t is a distinct incomplete struct, so
 * passing one typed channel where another (or a chan_t *) is expected, or a
 * T * of the wrong type to NAME_recv, NAME_try_recv or a case, is an
 * incompatible-pointer constraint violation that every C compiler diagnoses
 * (an error with -Werror, -pedantic-errors or, by default, GCC 14+); a value
 * of a struct or pointer type other than T is an error outright. Plain
 * arithmetic values convert as in any C call (a double sent on an int
 * channel is truncated; -Wconversion reports it). tests/typed/ holds the
 * programs that must not compile.
 *
 * T must be a complete object type that can be passed by value (not an
 * array: wrap one in a struct), written as a type name that a declarator
 * may follow: int, struct point, const char * all work; typedef a function
 * pointer type first. (NAME_send_case's parameter is spelled `T const *`,
 * which is `const T *` for every such T, pointers included.) Use each
 * CHAN_OF(NAME, ...) once per translation unit (in a header with an include
 * guard when several files share it). This header lives with select/ because
 * NAME_recv_case and NAME_send_case give chan_case_t; <gochan.h> includes it.
 */
#ifndef GOCHAN_TYPED_H
#define GOCHAN_TYPED_H

#include <stddef.h>
#include <gochan/chan.h>
#include <gochan/select.h>

/* Static inline, and marked unused: clang warns of an unused static
 * function defined (by this macro) in the file being compiled. */
#if defined(__GNUC__) || defined(__clang__)
#define CHAN__TYPED_FN static inline __attribute__((unused))
#else
#define CHAN__TYPED_FN static inline
#endif

/* The conversions are between a chan_t * and a pointer to an incomplete
 * struct that is never defined or dereferenced: only converted back. */
#define CHAN_OF(NAME, T)                                                       \
    typedef struct NAME##_chan_of_ NAME##_t;                                   \
    CHAN__TYPED_FN chan_t *NAME##_chan(NAME##_t *c)                            \
    {                                                                          \
        return (chan_t *)(void *)c;                                            \
    }                                                                          \
    CHAN__TYPED_FN NAME##_t *NAME##_make(size_t cap)                           \
    {                                                                          \
        return (NAME##_t *)(void *)chan_make(sizeof(T), cap);                  \
    }                                                                          \
    CHAN__TYPED_FN int NAME##_send(NAME##_t *c, T v)                           \
    {                                                                          \
        return chan_send(NAME##_chan(c), &v);                                  \
    }                                                                          \
    CHAN__TYPED_FN int NAME##_recv(NAME##_t *c, T *v)                          \
    {                                                                          \
        return chan_recv(NAME##_chan(c), v);                                   \
    }                                                                          \
    CHAN__TYPED_FN int NAME##_try_send(NAME##_t *c, T v)                       \
    {                                                                          \
        return chan_try_send(NAME##_chan(c), &v);                              \
    }                                                                          \
    CHAN__TYPED_FN int NAME##_try_recv(NAME##_t *c, T *v)                      \
    {                                                                          \
        return chan_try_recv(NAME##_chan(c), v);                               \
    }                                                                          \
    CHAN__TYPED_FN int NAME##_close(NAME##_t *c)                               \
    {                                                                          \
        return chan_close(NAME##_chan(c));                                     \
    }                                                                          \
    CHAN__TYPED_FN NAME##_t *NAME##_retain(NAME##_t *c)                        \
    {                                                                          \
        return (NAME##_t *)(void *)chan_retain(NAME##_chan(c));                \
    }                                                                          \
    CHAN__TYPED_FN void NAME##_release(NAME##_t *c)                            \
    {                                                                          \
        chan_release(NAME##_chan(c));                                          \
    }                                                                          \
    CHAN__TYPED_FN size_t NAME##_len(NAME##_t *c)                              \
    {                                                                          \
        return chan_len(NAME##_chan(c));                                       \
    }                                                                          \
    CHAN__TYPED_FN size_t NAME##_cap(NAME##_t *c)                              \
    {                                                                          \
        return chan_cap(NAME##_chan(c));                                       \
    }                                                                          \
    CHAN__TYPED_FN chan_case_t NAME##_recv_case(NAME##_t *c, T *v)             \
    {                                                                          \
        return CHAN_RECV_CASE(NAME##_chan(c), v);                              \
    }                                                                          \
    CHAN__TYPED_FN chan_case_t NAME##_send_case(NAME##_t *c, T const *v)       \
    {                                                                          \
        return CHAN_SEND_CASE(NAME##_chan(c), v);                              \
    }                                                                          \
    typedef NAME##_t NAME##_t /* lets a ';' follow CHAN_OF(...) */

#endif /* GOCHAN_TYPED_H */
