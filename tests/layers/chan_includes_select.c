/* A chan/ source that includes a header of select/, the layer above: the
 * layers test expects this not to build. */
#include <gochan/select.h>

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(chan_case_t);
}
