/* A context/ source that includes what context/ may: the layers test
 * expects this to build, so that the failing probes fail for their include
 * and not for a broken probe setup. */
#include <gochan/context.h>
#include <gochan/select.h>

#include "chan_internal.h"
#include "lock.h"

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(chan_case_t) + (int)sizeof(sched__lock_t);
}
