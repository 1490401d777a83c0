/*
 * session.h - conversations: one session per conversation key, requests of
 * one conversation served strictly in arrival order (a ticket queue), the
 * history cached in memory (LRU, bounded) and persisted as an append-only
 * transcript of JSON lines under DATA/sessions/, fsync'd after each turn.
 *
 * A transcript line is one neutral message (see llm.h) with extra fields
 * ("id", "sender", "time" on user messages), or a line with a "type":
 *   {"type":"reset"}  the conversation starts afresh;
 *   {"type":"summary","content":TEXT,"kept":K,...}  context compaction:
 *       every message before this line but the last K is replaced by the
 *       summary TEXT (written by the model; more fields say which model,
 *       how many messages it covers, when);
 *   any other type (a note such as "compaction_failed") is kept for the
 *       record and is no message.
 * A torn last line (a crash mid-write) is skipped with a warning when the
 * file is read back.
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

/* The conversation's history since its last reset or summary (borrowed;
 * loaded from disk on first use). NULL with err when the transcript
 * cannot be read. */
json_t *rt_session_history(struct rt_session *ss, char *err, size_t errlen);
/* The summary of what came before the history (borrowed), or NULL. Valid
 * after rt_session_history. */
const char *rt_session_summary(struct rt_session *ss);
/* Messages since the summary that the memory bound (max_bytes) left out
 * of the history. */
size_t rt_session_hidden(struct rt_session *ss);
/* Compaction: all but the last kept messages of the history (and the
 * earlier summary) are replaced by summary. A summary line (with the
 * fields of meta, borrowed, added) goes to the transcript first.
 * CLAW_OK, or with err set and the session unchanged: CLAW_ERR_IO,
 * CLAW_ERR_INVALID (kept is more than the history), CLAW_ERR_NOMEM. */
enum claw_rc rt_session_compact(struct rt_session *ss, const char *summary,
				size_t kept, json_t *meta, char *err,
				size_t errlen);
/* A line for the record that is no message (line borrowed; it must have
 * a "type" other than "reset" and "summary"). CLAW_OK, or with err set:
 * CLAW_ERR_IO, CLAW_ERR_INVALID, CLAW_ERR_NOMEM. */
enum claw_rc rt_session_note(struct rt_session *ss, json_t *line, char *err,
			     size_t errlen);
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

/* Read a transcript file's history after its last reset or summary; for
 * tests and the loader. New reference, or NULL with err set. *summary
 * (when summary is not NULL) gets the last summary's text (caller frees)
 * or NULL. */
json_t *rt_transcript_read(const char *path, char **summary, char *err,
			   size_t errlen);

#endif
