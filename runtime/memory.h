/*
 * memory.h - per-sender notes the agent keeps through its built-in tools
 * (memory_save, memory_delete) and sees in its system prompt. One small
 * JSON file per sender under DATA/memory/, replaced atomically.
 */
#ifndef RT_MEMORY_H
#define RT_MEMORY_H

#include <jansson.h>

#define RT_MEMORY_MAX_NOTES 50
#define RT_MEMORY_MAX_NOTE 500

/* The sender's notes as a JSON array of strings (new reference; [] when
 * none or unreadable). sender_key: "channel:sender-id". */
json_t *rt_memory_notes(const char *dir, const char *sender_key);
/* 0, or -1 with err set (a message for the model). */
int rt_memory_save(const char *dir, const char *sender_key, const char *note,
		   char *err, size_t errlen);
/* Delete note number n (1-based). */
int rt_memory_delete(const char *dir, const char *sender_key, long n,
		     char *err, size_t errlen);

#endif
