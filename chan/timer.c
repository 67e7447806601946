/* timer.c: Go's timers (see gochan/timer.h). Not written yet. */
#include <gochan/timer.h>
