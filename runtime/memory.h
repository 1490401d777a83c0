/*
 * memory.h - per-sender notes the agent keeps through its built-in tools
 * (memory_save, memory_delete) and sees in its system prompt. One small
 * JSON file per sender under DATA/memory/, replaced atomically.
 */
#ifndef RT_MEMORY_H
#define RT_MEMORY_H

#include <jansson.h>
#include <stddef.h>

#include "claw/err.h"

#define RT_MEMORY_MAX_NOTES 50
#define RT_MEMORY_MAX_NOTE 500

/* The sender's notes as a JSON array of strings (new reference; [] when
 * none or unreadable). sender_key: "channel:sender-id". */
json_t *rt_memory_notes(const char *dir, const char *sender_key);
/* Add a note. CLAW_OK, or with err set (a message for the model):
 * CLAW_ERR_INVALID (empty, too long, not UTF-8, or already the most notes
 * kept), CLAW_ERR_IO (the file cannot be written). */
enum claw_rc rt_memory_save(const char *dir, const char *sender_key,
			    const char *note, char *err, size_t errlen);
/* Delete note number n (1-based). CLAW_OK, or with err set:
 * CLAW_ERR_NOT_FOUND (no such note), CLAW_ERR_IO. */
enum claw_rc rt_memory_delete(const char *dir, const char *sender_key, long n,
			      char *err, size_t errlen);

#endif
