/*
 * fuzz_rt_policy.c - libFuzzer harness of the tool policy: the input is a
 * config object ({"tool_policy": ..., "tool_categories": ...}), a line
 * "--", a tool's policy name, a line "--", and a call's arguments (JSON).
 * Whatever an operator writes, the parser must refuse it with
 * CLAW_ERR_INVALID and a message naming where, or accept it; an accepted
 * policy decides any call without crashing, with a rule index in range,
 * an action the policy can give and a known category (or none); globs
 * the parser accepts match without crashing, and redaction never fails.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "../../unit/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = test_cstr(data, size), err[300];
	if (!text)
		return 0;
	char *tool = test_cut(text), *args = tool ? test_cut(tool) : NULL;
	json_t *cfg = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	struct rt_policy p;
	err[0] = '\0';
	enum claw_rc rc = rt_policy_parse(
		json_object_get(cfg, "tool_policy"),
		json_object_get(cfg, "tool_categories"), &p, err, sizeof(err));
	if (rc != CLAW_OK && (rc != CLAW_ERR_INVALID || !err[0]))
		abort();
	if (rc == CLAW_OK) {
		json_t *a = args ? json_loads(args, 0, NULL) : NULL;
		struct rt_policy_verdict v;
		rt_policy_decide(&p, tool ? tool : "", a, &v);
		if (v.rule < -1 || v.rule >= (long)p.n_rules)
			abort();
		if (v.category && !rt_policy_category_known(v.category))
			abort();
		if (v.rule >= 0 && v.action != p.rules[v.rule].action)
			abort();
		if (v.rule < 0 && v.action != p.dflt)
			abort();
		json_decref(rt_policy_redact(a));
		json_decref(a);
		rt_policy_release(&p);
	}
	/* The raw tool line as a glob, against the argument text. */
	if (tool && rt_glob_valid(tool))
		(void)rt_glob_match(tool, args ? args : "");
	json_decref(cfg);
	free(text);
	return 0;
}
