/*
 * prompt.h - the system prompt from the tenant's workspace: SOUL.md, then
 * AGENTS.md, then every skills/NAME/SKILL.md in name order, each capped in
 * size, followed by the runtime's fixed rules (untrusted content, tools).
 */
#ifndef RT_PROMPT_H
#define RT_PROMPT_H

#include <stddef.h>

/* dir may be NULL (no workspace): the default persona is used. Returns an
 * allocated string (caller frees), or NULL with err set. */
char *rt_prompt_load(const char *dir, char *err, size_t errlen);

#endif
