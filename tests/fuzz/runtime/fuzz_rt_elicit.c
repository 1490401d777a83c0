/*
 * fuzz_rt_elicit.c - libFuzzer harness of elicitation: the input is a
 * requested schema (JSON), a line "--", then an answer (a chat text, also
 * tried as JSON content). Whatever a server or a user sends, the schema
 * check, the question, the chat-answer reader and the content check must
 * never crash or leak; a refusal is CLAW_ERR_INVALID with a reason, and
 * content that passes the check does so again (it is complete).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elicit.h"
#include "../../unit/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_refuse_with_reason(enum claw_rc rc, const char *why)
{
	if (rc != CLAW_OK && (rc != CLAW_ERR_INVALID || !why[0]))
		abort(); /* not the documented code, or no reason */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = test_cstr(data, size), why[300];
	if (!text)
		return 0;
	const char *answer = test_cut(text);
	if (!answer)
		answer = "";
	json_t *schema = json_loads(text, 0, NULL);
	why[0] = '\0';
	enum claw_rc rc = rt_elicit_schema_check(schema, why, sizeof(why));
	must_refuse_with_reason(rc, why);
	if (rc == CLAW_OK) {
		free(rt_elicit_question("server", "message?", schema));
		json_t *c = NULL;
		why[0] = '\0';
		rc = rt_elicit_parse_answer(schema, answer, &c, why,
					    sizeof(why));
		must_refuse_with_reason(rc, why);
		if (rc == CLAW_OK) {
			why[0] = '\0';
			rc = rt_elicit_content_check(schema, c, why,
						     sizeof(why));
			must_refuse_with_reason(rc, why);
			if (rc == CLAW_OK &&
			    rt_elicit_content_check(schema, c, why,
						    sizeof(why)) != CLAW_OK)
				abort(); /* checked content checks again */
		}
		json_decref(c);
		json_t *direct = json_loads(answer, 0, NULL);
		if (direct) {
			why[0] = '\0';
			rc = rt_elicit_content_check(schema, direct, why,
						     sizeof(why));
			must_refuse_with_reason(rc, why);
		}
		json_decref(direct);
	}
	json_decref(schema);
	free(text);
	return 0;
}
