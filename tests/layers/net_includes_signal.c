/* A net/ source that includes the public header of signal/, the other top
 * layer: the layers test expects this not to build. */
#include <gochan/signal.h>

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(&chan_signal_notify);
}
