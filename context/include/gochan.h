/* gochan.h: everything gochan offers, in one include.
 *
 * It lives with context/, yet names signal.h and net.h of the layers above: it
 * is for programs, which see every layer's headers; no library source includes
 * it, so the layering rule (no upward include inside the library) holds. */
#ifndef GOCHAN_H
#define GOCHAN_H

#include <gochan/chan.h>
#include <gochan/go.h>
#include <gochan/sync.h>
#include <gochan/timer.h>
#include <gochan/select.h>
#include <gochan/typed.h>
#include <gochan/context.h>
#include <gochan/errgroup.h>
#include <gochan/debug.h>
#include <gochan/signal.h>
#include <gochan/net.h>

#endif /* GOCHAN_H */
