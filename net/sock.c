/* sock.c: Go's net (listen, dial, addresses) over fd.c: to come. Until
 * then every call fails with ENOSYS. */
#include "net_impl.h"

#include <errno.h>

chan_fd_t *chan_net_listen(const char *network, const char *address)
{
    (void)network;
    (void)address;
    errno = ENOSYS;
    return NULL;
}

chan_fd_t *chan_net_dial(context_t *ctx, const char *network,
                         const char *address)
{
    (void)ctx;
    (void)network;
    (void)address;
    errno = ENOSYS;
    return NULL;
}

int chan_fd_local_addr(chan_fd_t *f, char *buf, size_t len)
{
    (void)f;
    (void)buf;
    (void)len;
    errno = ENOSYS;
    return -1;
}

int chan_fd_remote_addr(chan_fd_t *f, char *buf, size_t len)
{
    (void)f;
    (void)buf;
    (void)len;
    errno = ENOSYS;
    return -1;
}
