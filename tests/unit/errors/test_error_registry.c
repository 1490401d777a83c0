/*
 * test_error_registry.c - every error registry of the platform, together.
 *
 * Each component keeps its HTTP error codes in one X-macro list
 * (controlplane/errors.h, gateway/errors.h, runtime/errors.h,
 * node-agent/errors.h) beside the shared one in claw/err.h. This test puts
 * them side by side and fails when:
 *   - a code is registered with two statuses anywhere in the platform;
 *   - a component registers a shared code again, or a code twice;
 *   - a code is not snake_case, a status is not 4xx/5xx, a hint is empty;
 *   - the error table in docs/contracts.md is not the one the registries
 *     make (the expected text is written to error-table.md in the build
 *     directory and printed, so fixing the doc is a copy);
 *   - the code enum of the control plane's openapi.json is not exactly the
 *     codes the control plane can send (its registry plus the shared ones).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "claw/buf.h"
#include "claw/err.h"
#include "claw/file.h"
#include "controlplane/errors.h"
#include "gateway/errors.h"
#include "node-agent/errors.h"
#include "runtime/errors.h"

#define ROW(name, code, status, hint) {code, status, hint},

static const struct claw_error_def shared_defs[] = {CLAW_HTTP_ERRORS(ROW)};
static const struct claw_error_def cp_defs[] = {CP_ERRORS(ROW)};
static const struct claw_error_def gw_defs[] = {GW_ERRORS(ROW)};
static const struct claw_error_def rt_defs[] = {RT_ERRORS(ROW)};
static const struct claw_error_def na_defs[] = {NA_ERRORS(ROW)};

struct registry {
	const char *title; /* the section heading in docs/contracts.md */
	const struct claw_error_def *defs;
	size_t n;
};

#define REG(title, a)                                                          \
	{                                                                      \
		title, a, sizeof(a) / sizeof(a[0])                             \
	}
static const struct registry registries[] = {
	REG("Shared (every daemon)", shared_defs),
	REG("Control plane", cp_defs),
	REG("Node agent", na_defs),
	REG("Gateway", gw_defs),
	REG("Runtime", rt_defs),
};
#define N_REG (sizeof(registries) / sizeof(registries[0]))

static int snake_case(const char *s)
{
	if (!*s || *s == '_')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

static void test_each_entry_is_well_formed(void **state)
{
	(void)state;
	for (size_t r = 0; r < N_REG; r++)
		for (size_t i = 0; i < registries[r].n; i++) {
			const struct claw_error_def *d = &registries[r].defs[i];
			if (!snake_case(d->code) || d->http_status < 400 ||
			    d->http_status > 599 || !d->hint[0])
				fail_msg("%s: '%s' (%u) is malformed",
					 registries[r].title, d->code,
					 d->http_status);
		}
}

/* One code, one status, one place that registers it (per component). */
static void test_one_status_per_code(void **state)
{
	(void)state;
	for (size_t r = 0; r < N_REG; r++)
		for (size_t i = 0; i < registries[r].n; i++) {
			const struct claw_error_def *a = &registries[r].defs[i];
			for (size_t s = 0; s < N_REG; s++)
				for (size_t j = 0; j < registries[s].n; j++) {
					const struct claw_error_def *b =
						&registries[s].defs[j];
					if ((s == r && j == i) ||
					    strcmp(a->code, b->code))
						continue;
					if (a->http_status != b->http_status)
						fail_msg("'%s' is %u in %s and "
							 "%u in %s",
							 a->code,
							 a->http_status,
							 registries[r].title,
							 b->http_status,
							 registries[s].title);
					if (s == r || s == 0 || r == 0)
						fail_msg("'%s' is registered "
							 "twice (%s, %s)",
							 a->code,
							 registries[r].title,
							 registries[s].title);
				}
		}
}

static void markdown(struct claw_buf *b)
{
	claw_buf_puts(b,
		      "<!-- error-table: generated from the registries by "
		      "tests/unit/errors; do not edit by hand -->\n");
	for (size_t r = 0; r < N_REG; r++) {
		claw_buf_printf(b,
				"\n### %s\n\n| code | status | what to do "
				"|\n|---|---|---|\n",
				registries[r].title);
		for (size_t i = 0; i < registries[r].n; i++)
			claw_buf_printf(b, "| `%s` | %u | %s |\n",
					registries[r].defs[i].code,
					registries[r].defs[i].http_status,
					registries[r].defs[i].hint);
	}
	claw_buf_puts(b, "<!-- error-table: end -->\n");
}

static void test_contracts_doc_matches(void **state)
{
	struct claw_buf doc, want;
	const char *start, *end;
	(void)state;
	claw_buf_init(&doc, 1 << 20);
	claw_buf_init(&want, 1 << 20);
	assert_int_equal(
		claw_file_read(CLAW_SOURCE_DIR "/docs/contracts.md", &doc),
		CLAW_OK);
	markdown(&want);
	start = strstr(doc.data, "<!-- error-table:");
	end = start ? strstr(start, "<!-- error-table: end -->\n") : NULL;
	if (!end || (size_t)(end - start) + 26 != want.len ||
	    memcmp(start, want.data, want.len) != 0) {
		FILE *f = fopen("error-table.md", "w");
		if (f) {
			fputs(want.data, f);
			fclose(f);
		}
		fprintf(stderr,
			"docs/contracts.md's error table differs from "
			"the registries; it should read:\n%s",
			want.data);
		fail_msg("update docs/contracts.md (expected text written to "
			 "error-table.md in the test's directory)");
	}
	claw_buf_release(&doc);
	claw_buf_release(&want);
}

static int sent_by_cp(const char *code)
{
	for (size_t r = 0; r < 2; r++) /* shared and control plane */
		for (size_t i = 0; i < registries[r].n; i++)
			if (!strcmp(registries[r].defs[i].code, code))
				return 1;
	return 0;
}

static void test_openapi_enum_matches(void **state)
{
	json_error_t e;
	json_t *api, *codes, *v;
	size_t i, n = 0;
	(void)state;
	api = json_load_file(CLAW_SOURCE_DIR "/controlplane/openapi.json", 0,
			     &e);
	assert_non_null(api);
	codes = json_object_get(
		json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(
						json_object_get(
							json_object_get(
								api,
								"components"),
							"schemas"),
						"Error"),
					"properties"),
				"error"),
			"properties"),
		"code");
	codes = json_object_get(codes, "enum");
	if (!json_is_array(codes))
		fail_msg("openapi.json: Error.error.code has no enum");
	json_array_foreach(codes, i, v) {
		if (!json_is_string(v) || !sent_by_cp(json_string_value(v)))
			fail_msg("openapi.json lists '%s', which no registry "
				 "of the control plane has",
				 json_is_string(v) ? json_string_value(v)
						   : "?");
	}
	for (size_t r = 0; r < 2; r++)
		for (size_t k = 0; k < registries[r].n; k++) {
			int found = 0;
			json_array_foreach(codes, i, v) {
				if (!strcmp(json_string_value(v),
					    registries[r].defs[k].code))
					found = 1;
			}
			if (!found)
				fail_msg("openapi.json does not list '%s'",
					 registries[r].defs[k].code);
			n++;
		}
	assert_int_equal(json_array_size(codes), n);
	json_decref(api);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_entry_is_well_formed),
		cmocka_unit_test(test_one_status_per_code),
		cmocka_unit_test(test_contracts_doc_matches),
		cmocka_unit_test(test_openapi_enum_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
