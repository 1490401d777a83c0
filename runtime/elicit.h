/*
 * elicit.h - MCP elicitation in form mode (elicitation/create): the
 * restricted schema a server may ask with (an object of flat properties:
 * string with length, format or choices; number or integer with bounds;
 * boolean; an array of choices), the user's answer checked against it
 * with the schema's defaults filled in, the question written out for a
 * chat user, and a chat answer read back into content.
 *
 * Pure functions over jansson values, shared by the MCP client (every
 * accepted answer is checked here before it is sent), the runtime's "ask"
 * mode and the fuzzer. Nothing here blocks or allocates beyond its result.
 */
#ifndef RT_ELICIT_H
#define RT_ELICIT_H

#include <jansson.h>
#include <stddef.h>

#include "claw/err.h"

#define RT_ELICIT_MAX_FIELDS 32
#define RT_ELICIT_MAX_CHOICES 100
#define RT_ELICIT_MAX_TEXT 4096 /* bytes of one string answer */

/* Whether schema (borrowed) is a requestedSchema this client can ask for.
 * CLAW_OK, or CLAW_ERR_INVALID with err saying what is wrong. */
enum claw_rc rt_elicit_schema_check(json_t *schema, char *err, size_t errlen);

/* Check content (an answer's object, borrowed and completed in place: a
 * missing property with a default gets it; an integral number for an
 * integer becomes an integer) against a checked schema. CLAW_OK, or
 * CLAW_ERR_INVALID with err naming the field and the rule it breaks. */
enum claw_rc rt_elicit_content_check(json_t *schema, json_t *content, char *err,
				     size_t errlen);

/* The question for a chat user: who asks, the server's message, each
 * field with its type, choices and default, and how to answer (caller
 * frees; NULL when out of memory). */
char *rt_elicit_question(const char *server, const char *message,
			 json_t *schema);

/* Read a chat answer into content (new reference in *content, before
 * defaults and checks): a JSON object as is; with one field, the whole
 * text is its value; otherwise "field: value" lines (field by name or
 * title, any case). Values are converted to the field's type (numbers,
 * yes/no, a choice by value or title, comma-separated choices for an
 * array). CLAW_OK, or CLAW_ERR_INVALID with err saying what could not be
 * read. */
enum claw_rc rt_elicit_parse_answer(json_t *schema, const char *text,
				    json_t **content, char *err, size_t errlen);

#endif
