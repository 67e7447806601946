/* A select/ source that includes a header of context/, the layer above: the
 * layers test expects this not to build. */
#include <gochan/context.h>

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return context_background() != 0;
}
