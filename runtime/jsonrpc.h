/*
 * jsonrpc.h - JSON-RPC 2.0 messages as MCP uses them: classify one
 * incoming message (request, notification, response, error response) and
 * check its shape, so the client never trusts a malformed peer.
 */
#ifndef RT_JSONRPC_H
#define RT_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

#include "claw/err.h"

enum rt_jsonrpc_kind {
	RT_JSONRPC_REQUEST,
	RT_JSONRPC_NOTIFICATION,
	RT_JSONRPC_RESULT,
	RT_JSONRPC_ERROR,
};

struct rt_jsonrpc_msg {
	enum rt_jsonrpc_kind kind;
	json_t *root;       /* owns everything below */
	json_t *id;         /* integer or string; NULL for notifications */
	const char *method; /* requests and notifications */
	json_t *params;     /* or NULL */
	json_t *result;     /* RESULT */
	long error_code;    /* ERROR */
	const char *error_message;
};

/* Classify a parsed message. CLAW_OK with *out holding a new reference to
 * v (rt_jsonrpc_release drops it), or CLAW_ERR_PROTO with why set when v
 * is not a JSON-RPC 2.0 message (*out is then empty). */
enum claw_rc rt_jsonrpc_classify(json_t *v, struct rt_jsonrpc_msg *out,
				 char *why, size_t whylen);
/* Parse and classify one message from text: as rt_jsonrpc_classify, and
 * CLAW_ERR_PARSE when the text is not JSON. */
enum claw_rc rt_jsonrpc_parse(const char *data, size_t len,
			      struct rt_jsonrpc_msg *out, char *why,
			      size_t whylen);
void rt_jsonrpc_release(struct rt_jsonrpc_msg *m);

#endif
