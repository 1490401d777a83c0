/*
 * script.h - what the scripted LLM answers: a pure function from an OpenAI
 * Chat Completions request body to the assistant's turn, so it can be unit
 * tested and fuzzed apart from the server.
 *
 * The script, deterministic and documented in docs/scripted-llm.md:
 *   - when the last message is a tool result (role "tool"), answer
 *     "tool result: " and its content;
 *   - when the last user message says "use tool NAME" (optionally followed
 *     by a JSON object of arguments) and the request offers a tool NAME,
 *     call it (finish_reason "tool_calls");
 *   - when the last user message starts with "Summarise the conversation
 *     below." (the runtime's context compaction), answer "summary: " and
 *     the start of each "user: " line after it, joined by " | " (the
 *     earlier summary first, as "earlier: ..."), at most SLLM_SUMMARY_MAX
 *     bytes;
 *   - when the last user message is exactly "show system prompt", answer
 *     "system: " and the first SLLM_SYSTEM_MAX bytes of the first message
 *     when it is a system message (so a test can see the persona a
 *     caller sent);
 *   - when the last user message is exactly "show max tokens", answer
 *     "max_tokens: " and the request's max_tokens (or "none"), so a test
 *     sees the cap a caller asked for;
 *   - otherwise answer "echo: " and the last user message.
 * A request for the model "scripted-unavailable" gets HTTP 503 (for
 * testing what a caller does when its model is down).
 */
#ifndef SLLM_SCRIPT_H
#define SLLM_SCRIPT_H

#include <jansson.h>

#define SLLM_SUMMARY_MAX 1000
#define SLLM_UNAVAILABLE "scripted-unavailable"
#define SLLM_SHOW_SYSTEM "show system prompt"
#define SLLM_SYSTEM_MAX 200
#define SLLM_SHOW_MAX_TOKENS "show max tokens"

struct sllm_turn {
	int status;           /* 0, or the HTTP error status to answer */
	char *content;        /* the answer text, or NULL for a tool call */
	char *tool_name;      /* set for a tool call */
	char *tool_arguments; /* JSON text of the arguments */
	json_int_t prompt_tokens;
	json_int_t completion_tokens;
};

/* Check req (a parsed request body) and decide the turn. Returns 0, or -1
 * with a message for an invalid_request_error in err. */
int sllm_decide(const json_t *req, struct sllm_turn *out, char *err,
		size_t errlen);
void sllm_turn_release(struct sllm_turn *t);

#endif
