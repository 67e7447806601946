/* duration.c: the wall clock (time.Now().UnixNano) and time.Duration.String,
 * which context's String also uses (its timerCtx prints the time left).
 */
#include <gochan/timer.h>

#include <stdbool.h>
#include <string.h>
#include <time.h>

int64_t chan_unix_nano(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The longest Duration.String: "-2562047h47m16.854775808s", 25 bytes. */
enum { DURATION_BUF = 32 };

/* Go's fmtFrac: writes the fraction of *v with prec digits, trailing zeros
 * (and a bare '.') left out, into the tail of buf before w; divides *v by
 * 10^prec. Returns the new start. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
    bool print = false;
    for (int i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(*v % 10);
        print = print || digit != 0;
        if (print)
            buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return w;
}

/* Go's fmtInt: writes v in decimal into the tail of buf before w. Returns the
 * new start. */
static size_t fmt_int(char *buf, size_t w, uint64_t v)
{
    if (v == 0)
        buf[--w] = '0';
    while (v > 0) {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    }
    return w;
}

/* Below a second: the largest unit that fits, like "1.2ms". u > 0. */
static size_t fmt_small(char *buf, size_t w, uint64_t u)
{
    int prec = 0;
    buf[--w] = 's';
    if (u < (uint64_t)CHAN_MICROSECOND) {
        buf[--w] = 'n';
    } else if (u < (uint64_t)CHAN_MILLISECOND) {
        prec = 3;
        buf[--w] = '\xb5'; /* U+00B5, the micro sign, in UTF-8 as Go writes */
        buf[--w] = '\xc2';
    } else {
        prec = 6;
        buf[--w] = 'm';
    }
    w = fmt_frac(buf, w, &u, prec);
    return fmt_int(buf, w, u);
}

/* A second or more: "72h3m0.5s"; no days, whose length varies. */
static size_t fmt_large(char *buf, size_t w, uint64_t u)
{
    buf[--w] = 's';
    w = fmt_frac(buf, w, &u, 9);
    w = fmt_int(buf, w, u % 60); /* seconds */
    u /= 60;
    if (u > 0) {
        buf[--w] = 'm';
        w = fmt_int(buf, w, u % 60); /* minutes */
        u /= 60;
        if (u > 0) {
            buf[--w] = 'h';
            w = fmt_int(buf, w, u);
        }
    }
    return w;
}

/* Go's Duration.String: built from the end of buf, as Go's is. The magnitude
 * is taken in uint64_t, so INT64_MIN needs no special case. */
size_t chan_duration_string(int64_t d, char *buf, size_t n)
{
    char tmp[DURATION_BUF];
    size_t w = DURATION_BUF;
    uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
    if (u == 0) {
        w -= 2;
        memcpy(tmp + w, "0s", 2);
    } else {
        w = u < (uint64_t)CHAN_SECOND ? fmt_small(tmp, w, u)
                                      : fmt_large(tmp, w, u);
        if (d < 0)
            tmp[--w] = '-';
    }
    size_t len = DURATION_BUF - w;
    if (buf && n > 0) {
        size_t copy = len < n - 1 ? len : n - 1;
        memcpy(buf, tmp + w, copy);
        buf[copy] = '\0';
    }
    return len;
}
