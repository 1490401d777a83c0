/*
 * drain.h - a blue/green redeploy's decisions (reconcile.c): how it
 * begins (bluegreen_begin), and the old pair's way out (drain_step): what
 * to do next with the old gateway, and what its journal depth means.
 * Pure functions, unit tested (tests/unit/node-agent/test_na_drain.c).
 *
 * The old gateway's journal holds what it acknowledged and has not
 * answered yet; only that gateway can replay it (its journal also knows
 * what it answered, so another gateway replaying it could answer twice;
 * docs/gateway.md, "The envelope and the journal"). So a gateway found
 * dead while its pair is retired (an engine restart, a kill) is started
 * once on its own volume and drained like a live one, and what a
 * retirement leaves in a journal is never left silently: it is said at
 * error level and in the node's status (the volume is kept, as always,
 * and replayed when that slot serves again).
 */
#ifndef NA_DRAIN_H
#define NA_DRAIN_H

#include <stdbool.h>

enum na_drain_act {
	NA_DRAIN_PROBE,  /* read its journal depth (again) */
	NA_DRAIN_REVIVE, /* start the old pair once, then probe */
	NA_DRAIN_DONE,   /* nothing left to wait for: retire */
	NA_DRAIN_LEFT,   /* retire, reporting what its journal still holds */
	NA_DRAIN_WAIT,   /* not empty yet: probe again shortly */
};

/* The old gateway as the reconciler sees it: exists, running, has_ip (an
 * address on its slot's network, where its journal is read: one that
 * runs without it is reported, never retired in silence), revived
 * (already started once by NA_DRAIN_REVIVE), serving (the tenant is to
 * run: a suspended or stopped one does not get its old pair started),
 * depth (what it said last: -1 not known, -2 it answers without the
 * gauge). */
enum na_drain_act na_drain_next(bool exists, bool running, bool has_ip,
				bool revived, bool serving, long depth);

/* A depth read (-1: no answer, -2: an answer without the gauge) after
 * waited_s of reading, against max_s: DONE (empty, or not our gateway),
 * LEFT (not empty in time) or WAIT. */
enum na_drain_act na_drain_depth(long depth, double waited_s, double max_s);

/* How a redeploy of a running tenant begins (reconcile.c,
 * bluegreen_begin), once it may go blue/green at all (edge on, no disk
 * plan, not mid-way already): stale (a container of the pair is of
 * another generation, deployment or image), busy (an operation on one
 * of them is in flight: a restart after a kill, say), serving (its
 * gateway runs and is healthy, and its runtime container exists). */
enum na_bg_act {
	NA_BG_NONE,  /* nothing to begin, or nothing serves: in place */
	NA_BG_WAIT,  /* it serves: decide on a later pass, once the
		      * operation is done (replacing the other role in place
		      * now would take the tenant down; docs/reliability.md,
		      * finding 17) */
	NA_BG_BEGIN, /* start the new pair beside the one that serves */
};
enum na_bg_act na_bluegreen_start(bool stale, bool busy, bool serving);

#endif
