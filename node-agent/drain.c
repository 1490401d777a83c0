/*
 * drain.c - the old pair's way out; see drain.h.
 */
#include "drain.h"

enum na_drain_act na_drain_next(bool exists, bool running, bool has_ip,
				bool revived, bool serving, long depth)
{
	if (!exists)
		return NA_DRAIN_DONE; /* gone: its volume is all there is */
	if (!running && !revived && serving)
		return NA_DRAIN_REVIVE;
	if (!running || !has_ip)
		/* Started once and down again, or running where its
		 * journal cannot be read (no address): not waited for, but
		 * a journal not seen empty is reported. */
		return (revived || running) && depth != 0 && depth != -2
			? NA_DRAIN_LEFT
			: NA_DRAIN_DONE;
	return NA_DRAIN_PROBE;
}

enum na_drain_act na_drain_depth(long depth, double waited_s, double max_s)
{
	if (depth == 0 || depth == -2)
		return NA_DRAIN_DONE;
	if (waited_s > max_s)
		return NA_DRAIN_LEFT;
	return NA_DRAIN_WAIT;
}

enum na_bg_act na_bluegreen_start(bool stale, bool busy, bool serving)
{
	if (!stale || !serving)
		return NA_BG_NONE;
	return busy ? NA_BG_WAIT : NA_BG_BEGIN;
}
