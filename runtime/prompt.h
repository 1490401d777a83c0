/*
 * prompt.h - the system prompt: the persona (SOUL.md), then AGENTS.md,
 * then every skill in name order (under "# Skill: NAME"), each capped in
 * size, followed by the runtime's fixed rules (untrusted content, tools).
 *
 * The texts come from one of three places, in this order: the workspace's
 * files (SOUL.md, AGENTS.md, skills/NAME/SKILL.md) when a workspace is
 * configured (config-as-code wins), else the config's "persona" (the
 * control plane's persona resource, texts inline), else a default persona.
 * Files and inline texts go through the same builder: the same titles,
 * caps and rules whichever place they came from.
 */
#ifndef RT_PROMPT_H
#define RT_PROMPT_H

#include <stddef.h>

#include "config.h"

/* dir: the checked-out workspace, or NULL (none configured); persona: the
 * config's (borrowed; may be NULL or not set), used only without dir.
 * Returns an allocated string (caller frees), or NULL with err set. */
char *rt_prompt_load(const char *dir, const struct rt_persona *persona,
		     char *err, size_t errlen);

#endif
