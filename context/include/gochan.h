/* gochan.h: everything gochan offers, in one include. */
#ifndef GOCHAN_H
#define GOCHAN_H

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/sync.h>
#include <gochan/timer.h>
#include <gochan/select.h>
#include <gochan/context.h>
#include <gochan/errgroup.h>
#include <gochan/debug.h>

#endif /* GOCHAN_H */
