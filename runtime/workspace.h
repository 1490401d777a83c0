/*
 * workspace.h - the tenant's workspace (SOUL.md, AGENTS.md, skills) from
 * git with libgit2: clone or fetch the repository (a local path, file://,
 * or HTTPS with a token from the secrets) into DATA/workspace and check
 * out exactly the pinned commit, detached. A plain directory may be used
 * instead (workspace.path).
 */
#ifndef RT_WORKSPACE_H
#define RT_WORKSPACE_H

#include <stddef.h>
#include "config.h"

/* Fill dir with the workspace directory to read and commit with the
 * checked-out commit ("" for a plain directory). 0, or -1 with err set
 * (never holding the token). */
int rt_workspace_sync(const struct rt_config *cfg, const char *data_dir,
		      char *dir, size_t dirlen, char commit[41], char *err,
		      size_t errlen);

#endif
