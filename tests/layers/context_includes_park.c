/* A context/ source that includes chan/'s private parker header, which chan/
 * does not offer upward: the layers test expects this not to build. */
#include "park.h"

int gochan_layer_probe(void);
int gochan_layer_probe(void)
{
    return (int)sizeof(chan__parker_t);
}
