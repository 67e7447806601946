/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <time.h>

double tu_scale(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double x = m ? atof(m) : 1.0;
    return x >= 1.0 ? x : 1.0;
}

int64_t tu_quiet_ms(void)
{
    return (int64_t)(50 * tu_scale());
}

void tu_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

pthread_t tu_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}

void tu_join(pthread_t t)
{
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

void tu_flag_set(tu_flag_t *f)
{
    atomic_store(&f->set, 1);
}

bool tu_flag_is_set(tu_flag_t *f)
{
    return atomic_load(&f->set) != 0;
}

bool tu_flag_wait(tu_flag_t *f, int64_t ms)
{
    int64_t deadline_us = (int64_t)(ms * 1000 * tu_scale());
    for (int64_t waited = 0; waited < deadline_us; waited += 200) {
        if (tu_flag_is_set(f))
            return true;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return tu_flag_is_set(f);
}
