/*
 * fuzz_rt_llm.c - libFuzzer harness of the LLM answer parsers: the input
 * is tried as a whole OpenAI and Anthropic response and as both kinds of
 * event stream, fed in two pieces. A refusal must be a documented code
 * with a reason.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal is one of the documented codes, with a reason. */
static void check(enum claw_rc rc, const char *why)
{
	if (rc == CLAW_OK)
		return;
	if ((rc != CLAW_ERR_PARSE && rc != CLAW_ERR_PROTO &&
	     rc != CLAW_ERR_TOO_LARGE && rc != CLAW_ERR_NOMEM) ||
	    !why[0])
		abort();
}

static void on_delta(const char *text, size_t len, void *cls)
{
	(void)text;
	*(size_t *)cls += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct rt_llm_result res = {0};
	char why[200];
	size_t seen = 0;
	why[0] = '\0';
	check(rt_openai_parse(s, size, &res, why, sizeof(why)), why);
	rt_llm_result_release(&res);
	why[0] = '\0';
	check(rt_anthropic_parse(s, size, &res, why, sizeof(why)), why);
	rt_llm_result_release(&res);
	for (int k = 0; k < 2; k++) {
		struct rt_llm_stream st;
		rt_llm_stream_init(
			&st, k ? RT_PROVIDER_ANTHROPIC : RT_PROVIDER_OPENAI,
			on_delta, &seen);
		size_t half = size / 2;
		enum claw_rc rc = rt_llm_stream_feed(&st, s, half);
		if (rc == CLAW_OK)
			rc = rt_llm_stream_feed(&st, s + half, size - half);
		if (rc == CLAW_OK)
			rc = rt_llm_stream_finish(&st, &res);
		check(rc, st.why);
		rt_llm_result_release(&res);
		rt_llm_stream_release(&st);
	}
	return 0;
}
