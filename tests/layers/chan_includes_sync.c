/* A chan/ source that includes a header of sync/, the layer above: the
 * layers test expects this not to build. */
#include <gochan/sync.h>

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(chan_mutex_t);
}
