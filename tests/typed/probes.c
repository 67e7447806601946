/* probes.c: typed channels (gochan/typed.h) that must not compile. Built
 * once without PROBE (the control: every use right, must compile with
 * -Wall -Wextra -Werror -pedantic) and once per PROBE=n, each of which must
 * fail with a diagnostic naming an incompatible type. check_typed.cmake
 * runs them (the CTest test typed_wrong_type_does_not_compile). */
#include <gochan/typed.h>

struct point {
    int x, y;
};

CHAN_OF(intch, int);
CHAN_OF(pointch, struct point);
CHAN_OF(strch, const char *);

int use(intch_t *ic, pointch_t *pc, chan_t *untyped);

/* A pointer element type in every spelling of T (control only). */
int use_str(strch_t *sc);
int use_str(strch_t *sc)
{
    const char *s = "x";
    chan_case_t cases[] = {strch_send_case(sc, &s), strch_recv_case(sc, &s)};
    return chan_select(cases, 2) + strch_send(sc, "y") + strch_recv(sc, &s);
}

int use(intch_t *ic, pointch_t *pc, chan_t *untyped)
{
    int i = 0;
    long l = 0;
    double d = 0;
    struct point p = {1, 2};
    (void)l;
    (void)d;
    (void)untyped;
#if !defined(PROBE)
    intch_send(ic, i);
    pointch_send(pc, p);
    intch_recv(ic, &i);
    chan_case_t cases[] = {intch_recv_case(ic, &i), pointch_send_case(pc, &p)};
    return chan_select(cases, 2) + chan_send(intch_chan(ic), &i);
#elif PROBE == 1 /* a value of the wrong type: an int on a chan point */
    return pointch_send(pc, i);
#elif PROBE == 2 /* the wrong channel: a chan point where a chan int goes */
    return intch_send(pc, i);
#elif PROBE == 3 /* receive into a variable of the wrong type */
    return intch_recv(ic, &l);
#elif PROBE == 4 /* an untyped channel where a typed one goes */
    return intch_send(untyped, i);
#elif PROBE == 5 /* a typed channel where an untyped one goes */
    return chan_send(ic, &i);
#elif PROBE == 6 /* a receive case into the wrong type */
    chan_case_t c = intch_recv_case(ic, &d);
    return c.status;
#elif PROBE == 7 /* a send case from the wrong type */
    chan_case_t c = pointch_send_case(pc, &i);
    return c.status;
#elif PROBE == 8 /* try-receive into the wrong type */
    return pointch_try_recv(pc, &i);
#endif
}
