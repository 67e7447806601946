/* check_debug.c: the blocked-thread dump (gochan/debug.h), gochan's answer to
 * Go's goroutine dump on SIGQUIT and its "all goroutines are asleep" report
 * (docs/semantics.md CH-26 notes a library cannot detect deadlock itself). */
#include <gochan/chan.h>
#include <gochan/debug.h>
#include <gochan/select.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Polls the dump until it lists want operations; false after ~5 s scaled. */
static bool wait_for_blocked(size_t want)
{
    for (int i = 0; i < 5000 * tu_scale(); i++) {
        FILE *devnull = fopen("/dev/null", "w");
        size_t n = chan_debug_dump(devnull);
        fclose(devnull);
        if (n == want)
            return true;
        tu_sleep_ms(1);
    }
    return false;
}

/* The dump as a string; the caller frees it. */
static char *dump_to_string(size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(mem);
    *count = chan_debug_dump(mem);
    fclose(mem);
    return text;
}

static void *receiver(void *arg)
{
    long v;
    chan_recv(arg, &v);
    return NULL;
}

static void *selector(void *arg)
{
    chan_t **cs = arg;
    long v = 7;
    chan_case_t cases[] = {CHAN_RECV_CASE(cs[0], NULL),
                           CHAN_SEND_CASE(cs[1], &v)};
    chan_select(cases, 2);
    return NULL;
}

/* A blocked receive and a blocked select are listed with their channels, and
 * leave the list when they complete. */
START_TEST(test_debug_dump_lists_blocked_threads)
{
    chan_debug_enable(true);
    chan_t *a = chan_make(sizeof(long), 0);
    chan_t *b = chan_make(sizeof(long), 0);
    chan_t *cs[2] = {a, b};
    pthread_t r = tu_spawn(receiver, a);
    pthread_t s = tu_spawn(selector, cs);
    ck_assert(wait_for_blocked(2));

    size_t n;
    char *text = dump_to_string(&n);
    char addr[64];
    snprintf(addr, sizeof addr, "%p", (void *)a);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(strstr(text, "gochan: 2 blocked operations"));
    ck_assert_ptr_nonnull(strstr(text, "chan receive"));
    ck_assert_ptr_nonnull(strstr(text, "select"));
    ck_assert_ptr_nonnull(strstr(text, "send on chan"));
    ck_assert_ptr_nonnull(strstr(text, addr));
    free(text);

    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK); /* one of the two takes it */
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    tu_join(s);
    ck_assert(wait_for_blocked(0));
    chan_release(a);
    chan_release(b);
}
END_TEST

static void *nil_receiver(void *arg)
{
    (void)arg;
    chan_recv(NULL, NULL);
    return NULL;
}

/* A receive on a nil channel, blocked forever, is listed as such. */
START_TEST(test_debug_dump_lists_nil_channel)
{
    chan_debug_enable(true);
    pthread_t t = tu_spawn(nil_receiver, NULL);
    pthread_detach(t);
    ck_assert(wait_for_blocked(1));
    size_t n;
    char *text = dump_to_string(&n);
    ck_assert_ptr_nonnull(strstr(text, "nil chan"));
    free(text);
}
END_TEST

/* Disabled (the default without GOCHAN_DEBUG=1), nothing is recorded. */
START_TEST(test_debug_disabled_records_nothing)
{
    chan_debug_enable(false);
    chan_t *a = chan_make(sizeof(long), 0);
    pthread_t r = tu_spawn(receiver, a);
    tu_quiet_sleep();
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_uint_eq(chan_debug_dump(devnull), 0);
    fclose(devnull);
    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    chan_release(a);
}
END_TEST

/* SIGQUIT prints the dump to stderr and the process keeps running. */
START_TEST(test_debug_sigquit_prints_dump)
{
    FILE *err = tmpfile();
    ck_assert_ptr_nonnull(err);
    ck_assert_int_ge(dup2(fileno(err), STDERR_FILENO), 0);
    ck_assert_int_eq(chan_debug_on_sigquit(), CHAN_OK);
    chan_t *a = chan_make(sizeof(long), 0);
    pthread_t r = tu_spawn(receiver, a);
    ck_assert(wait_for_blocked(1));
    raise(SIGQUIT);

    char buf[4096] = {0};
    bool printed = false;
    for (int i = 0; i < 5000 * tu_scale() && !printed; i++) {
        tu_sleep_ms(1);
        ssize_t got = pread(fileno(err), buf, sizeof buf - 1, 0);
        printed = got > 0 && strstr(buf, "chan receive") != NULL;
    }
    ck_assert_msg(printed, "no dump on stderr: %s", buf);
    long v = 1;
    ck_assert_int_eq(chan_send(a, &v), CHAN_OK);
    tu_join(r);
    chan_release(a);
}
END_TEST

static Suite *debug_suite(void)
{
    Suite *s = suite_create("debug");
    TCase *tc = tcase_create("dump");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_debug_dump_lists_blocked_threads);
    tcase_add_test(tc, test_debug_dump_lists_nil_channel);
    tcase_add_test(tc, test_debug_disabled_records_nothing);
    tcase_add_test(tc, test_debug_sigquit_prints_dump);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(debug_suite());
}
