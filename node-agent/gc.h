/*
 * gc.h - image garbage collection. The agent remembers, per tenant, the
 * image references (pinned by digest) it ran, oldest first, in
 * STATE_DIR/images.json. A pass removes the images that no tenant on the
 * node keeps: each tenant keeps its last image_keep references (for a
 * fast rollback); a tenant no longer assigned keeps none. Images the agent
 * never pulled for a tenant are never touched, and an image still used by
 * a container is left for a later pass (Docker refuses it). The agent pulls
 * by digest only (images.h), so removing a ref leaves no tag behind.
 */
#ifndef NA_GC_H
#define NA_GC_H

#include "agent.h"

/* Load the history (a missing file is an empty one). */
void na_gc_load(struct na_agent *a);
/* Note that tenant runs ref (moved to the newest place). */
void na_gc_record(struct na_agent *a, const char *tenant, const char *ref);
/* The tenant left the node: its references are no longer kept. */
void na_gc_forget(struct na_agent *a, const char *tenant);
/* The refs a pass should remove: those no tenant keeps (new array). The
 * removal itself is an operation (ops.h), as it talks to Docker. A change
 * of the history brings the next pass forward to a few seconds later. */
json_t *na_gc_plan(struct na_agent *a);
/* The refs in `gone` were removed: drop them from the history and save
 * it. Returns true when some refs not kept are still there (in use, or
 * the engine was away), so a pass should come again soon. */
bool na_gc_applied(struct na_agent *a, const json_t *gone);

#endif
