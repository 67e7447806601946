/* invariant.h: internal to gochan, never installed. Checked invariants, as
 * Go's runtime throws ("select: broken sort") and libdill has dill_assert.
 *
 * sched__invariant(cond, what) stops the program with a message naming the
 * broken invariant when cond is false. It is compiled in when
 * GOCHAN_INVARIANTS is defined (CMake defines it in Debug and sanitizer
 * builds) and compiles to nothing otherwise, so cond must have no side
 * effects. Every layer may include it: it sits in the bottom layer's
 * directory and depends on nothing.
 */
#ifndef GOCHAN_INVARIANT_H
#define GOCHAN_INVARIANT_H

#ifdef GOCHAN_INVARIANTS
#include <stdio.h>
#include <stdlib.h>

#define sched__invariant(cond, what)                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "gochan: invariant broken: %s (%s:%d)\n", (what),  \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)
#else
#define sched__invariant(cond, what) ((void)0)
#endif

#endif /* GOCHAN_INVARIANT_H */
