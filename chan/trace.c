/* trace.c: chan_trace_start and chan_trace_stop (<gochan/debug.h>), the
 * public face of sched/'s execution tracer (sched/internal/trace.h). The
 * tracer itself, the GOCHAN_TRACE variable included, lives in sched/trace.c,
 * beside the scheduler whose events it records.
 */
#include <gochan/debug.h>

#include <errno.h>

#include "trace.h"

int chan_trace_start(const char *path)
{
    int err = sched__trace_start(path);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int chan_trace_stop(void)
{
    int err = sched__trace_stop();
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
