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
#include "claw/err.h"
#include "config.h"

/* Fill dir with the workspace directory to read and commit with the
 * checked-out commit ("" for a plain directory). CLAW_OK, or with err set
 * (never holding the token): CLAW_ERR_IO (a directory cannot be made, or
 * clone, fetch or checkout failed), CLAW_ERR_INVALID (the CA bundle or
 * the commit id is unusable), CLAW_ERR_NOT_FOUND (the pinned commit is
 * not in the repository). */
enum claw_rc rt_workspace_sync(const struct rt_config *cfg,
			       const char *data_dir, char *dir, size_t dirlen,
			       char commit[41], char *err, size_t errlen);

#endif
