/*
 * session.h - conversations: one session per conversation key, requests of
 * one conversation served strictly in arrival order (a ticket queue), the
 * history cached in memory (LRU, bounded) and persisted as an append-only
 * transcript of JSON lines under DATA/sessions/, fsync'd after each turn.
 *
 * A transcript line is one neutral message (see llm.h) with extra fields
 * ("id", "sender", "time" on user messages), or {"type":"reset"} which
 * starts the conversation afresh. A torn last line (a crash mid-write) is
 * skipped with a warning when the file is read back.
 */
#ifndef RT_SESSION_H
#define RT_SESSION_H

#include <jansson.h>
#include <stddef.h>

#include "claw/err.h"

struct rt_sessions;
struct rt_session; /* held between rt_session_enter and rt_session_leave */

/* dir: the sessions directory (created); cache_max: sessions kept in
 * memory; max_bytes: the most history (serialised bytes) one session keeps
 * in memory, the oldest whole turns dropped past it (the file keeps all).
 * CLAW_OK with *out released by rt_sessions_close, or with err set:
 * CLAW_ERR_IO (dir cannot be created), CLAW_ERR_NOMEM. */
enum claw_rc rt_sessions_open(const char *dir, size_t cache_max,
			      size_t max_bytes, struct rt_sessions **out,
			      char *err, size_t errlen);
void rt_sessions_close(struct rt_sessions *s);
/* Sessions known in memory, and of those with history loaded. */
void rt_sessions_counts(struct rt_sessions *s, size_t *known, size_t *loaded);

/* Take a place in the conversation's queue (returns at once, in arrival
 * order), then wait for the turn. NULL on allocation failure. */
struct rt_session *rt_session_queue(struct rt_sessions *s, const char *key);
void rt_session_wait(struct rt_session *ss);
/* Give the turn to the next request of the conversation. */
void rt_session_leave(struct rt_session *ss);

/* The conversation's history since its last reset (borrowed; loaded from
 * disk on first use). NULL with err when the transcript cannot be read. */
json_t *rt_session_history(struct rt_session *ss, char *err, size_t errlen);
/* Append the turn's messages (borrowed; the history takes references) to
 * history and transcript (one write, then fsync). CLAW_OK, or with err
 * set and the history unchanged: CLAW_ERR_IO (the transcript cannot be
 * read or written), CLAW_ERR_NOMEM. */
enum claw_rc rt_session_append(struct rt_session *ss, json_t *msgs, char *err,
			       size_t errlen);
/* Start afresh: a reset marker in the transcript, an empty history.
 * CLAW_OK, or CLAW_ERR_IO with err set. */
enum claw_rc rt_session_reset(struct rt_session *ss, char *err, size_t errlen);
/* The reply given to the message with this id, if it is in the history
 * (the gateway may deliver a message twice); borrowed. */
const char *rt_session_find_reply(struct rt_session *ss, const char *id);

/* Read a transcript file's history after its last reset; for tests and
 * the loader. New reference, or NULL with err set. */
json_t *rt_transcript_read(const char *path, char *err, size_t errlen);

#endif
