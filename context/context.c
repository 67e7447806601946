/* context.c: Go's context package (see gochan/context.h). Not written yet. */
#include <gochan/context.h>
