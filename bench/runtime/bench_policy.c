/*
 * bench_policy.c - the cost of the tool policy (runtime/policy.c) on each
 * tool call, printed as figures (never asserted; target <= 5 us a call,
 * issue 13): the policy name of the model's tool name, then the verdict,
 * against a policy of 20 rules (globs, categories, two argument matches)
 * and 10 category maps, for a call no rule names (the default: every rule
 * tried) and one the first rule decides. Built and run by
 * bench_runtime.py: bench_policy N
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per call of deciding model_tool with args, n times. */
static double per_call(const struct rt_policy *p, const char *model_tool,
		       json_t *args, long n)
{
	struct rt_policy_verdict v;
	char name[256];
	volatile int sink = 0;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		rt_policy_tool_name(model_tool, name, sizeof(name));
		rt_policy_decide(p, name, args, &v);
		sink = sink + (int)v.action;
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	json_t *rules = json_array(), *cats = json_object(), *pol, *args;
	struct rt_policy p;
	char err[300], g[64];

	for (int i = 0; i < 18; i++) {
		snprintf(g, sizeof(g), "srv%d/tool_*", i);
		json_array_append_new(
			rules,
			json_pack("{s:s, s:s}", "tool", g, "action", "deny"));
	}
	json_array_append_new(
		rules,
		json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "tool",
			  "pay/*", "action", "ask", "args", "pointer",
			  "/currency", "glob", "EUR", "pointer", "/to", "glob",
			  "*@acme.example"));
	json_array_append_new(rules,
			      json_pack("{s:s, s:s}", "category", "payment",
					"action", "ask"));
	json_array_insert_new(
		rules, 0,
		json_pack("{s:s, s:s}", "tool", "fs/write_*", "action", "ask"));
	for (int i = 0; i < 10; i++) {
		snprintf(g, sizeof(g), "bank%d/*", i);
		json_object_set_new(cats, g, json_string("payment"));
	}
	pol = json_pack("{s:s, s:o}", "default", "allow", "rules", rules);
	if (rt_policy_parse(pol, cats, &p, err, sizeof(err))) {
		fprintf(stderr, "bench_policy: %s\n", err);
		return 1;
	}
	args = json_pack("{s:s, s:i, s:s, s:s}", "path", "/tmp/x", "amount",
			 1500, "currency", "EUR", "to", "ann@acme.example");
	printf("tool policy per tool call (%ld calls; 21 rules, 10 category "
	       "maps):\n",
	       n);
	printf("  a call no rule names (every rule tried): %.0f ns\n",
	       per_call(&p, "web__fetch", args, n));
	printf("  a call the first rule decides: %.0f ns\n",
	       per_call(&p, "fs__write_file", args, n));
	printf("  a call decided by its arguments (rule 20): %.0f ns\n",
	       per_call(&p, "pay__transfer", args, n));
	rt_policy_release(&p);
	json_decref(pol);
	json_decref(cats);
	json_decref(args);
	return 0;
}
