/* thread.c: chan__thread_start (see thread.h). */
#include "thread.h"

#include <pthread.h>

int chan__thread_start(void *(*fn)(void *arg), void *arg)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!err)
        err = pthread_attr_setstacksize(&attr, CHAN__THREAD_STACK_SIZE);
    pthread_t tid;
    if (!err)
        err = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return err;
}
