/* A chan/ source that includes proc.h, a header that sched/ keeps to itself
 * (sched/ offers the layers above only sched/internal/): the layers test
 * expects this not to build. */
#include "proc.h"

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return 0;
}
