/* A sched/ source that includes a header of chan/, the layer above: the
 * layers test expects this not to build. */
#include <gochan/chan.h>

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(chan_t *);
}
