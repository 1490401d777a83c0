/*
 * test_request_json.c - every error path of the core API's request bodies:
 * malformed JSON, not an object, unknown field (named), missing field,
 * wrong type, over-long string, NUL inside a string, and the checks after
 * unpacking (slug rules, names, roles, tenant, expiry range).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "requests.h"

struct bad_case {
	enum cp_body kind;
	const char *body;
	enum claw_http_error error;
	const char *field; /* NULL: not checked */
};

static const struct bad_case bad[] = {
	{CP_BODY_TENANT_CREATE, "", CLAW_HE_BAD_JSON, NULL},
	{CP_BODY_TENANT_CREATE, "{", CLAW_HE_BAD_JSON, NULL},
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"a\"} x", CLAW_HE_BAD_JSON, NULL},
	{CP_BODY_TENANT_CREATE, "[]", CLAW_HE_BAD_JSON, NULL},
	{CP_BODY_TENANT_CREATE, "\"s\"", CLAW_HE_BAD_JSON, NULL},
	/* an unknown key is named by its position, never by its bytes */
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"a\",\"name\":\"n\",\"x\":1}",
	 CLAW_HE_UNKNOWN_FIELD, "#3"},
	{CP_BODY_TENANT_CREATE, "{\"name\":\"n\"}", CLAW_HE_MISSING_FIELD,
	 "slug"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":1,\"name\":\"n\"}",
	 CLAW_HE_INVALID_FIELD, "slug"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":null,\"name\":\"n\"}",
	 CLAW_HE_INVALID_FIELD, "slug"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"a\\u0000b\",\"name\":\"n\"}",
	 CLAW_HE_BAD_JSON, NULL}, /* NUL refused by the parser */
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"Ab\",\"name\":\"n\"}",
	 CLAW_HE_INVALID_FIELD, "slug"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"-ab\",\"name\":\"n\"}",
	 CLAW_HE_INVALID_FIELD, "slug"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"ab\",\"name\":\"\"}",
	 CLAW_HE_INVALID_FIELD, "name"},
	{CP_BODY_TENANT_CREATE, "{\"slug\":\"ab\",\"name\":\"a\\nb\"}",
	 CLAW_HE_INVALID_FIELD, "name"},
	{CP_BODY_TENANT_UPDATE, "{\"name\":\"n\",\"slug\":\"b\"}",
	 CLAW_HE_UNKNOWN_FIELD, "#2"},
	{CP_BODY_TENANT_UPDATE, "{\"name\":\"n\",\"version\":\"2\"}",
	 CLAW_HE_INVALID_FIELD, "version"},
	{CP_BODY_TENANT_UPDATE, "{\"name\":\"n\",\"version\":-2}",
	 CLAW_HE_INVALID_FIELD, "version"},
	{CP_BODY_TENANT_UPDATE, "{}", CLAW_HE_MISSING_FIELD, "name"},
	/* the bounds an admin or operator sets */
	{CP_BODY_TENANT_UPDATE, "{\"plan\":\"Big\"}", CLAW_HE_INVALID_FIELD,
	 "plan"},
	{CP_BODY_TENANT_UPDATE, "{\"plan\":1}", CLAW_HE_INVALID_FIELD, "plan"},
	{CP_BODY_TENANT_UPDATE, "{\"self_pause\":\"yes\"}",
	 CLAW_HE_INVALID_FIELD, "self_pause"},
	{CP_BODY_TENANT_UPDATE, "{\"egress_allow\":\"a.b:1\"}",
	 CLAW_HE_INVALID_FIELD, "egress_allow"},
	{CP_BODY_TENANT_UPDATE, "{\"egress_allow\":[\"a.b\"]}",
	 CLAW_HE_INVALID_FIELD, "egress_allow"},
	{CP_BODY_TENANT_UPDATE, "{\"egress_allow\":[1]}", CLAW_HE_INVALID_FIELD,
	 "egress_allow"},
	{CP_BODY_TENANT_CREATE,
	 "{\"slug\":\"ab\",\"name\":\"n\",\"egress_allow\":[\"a:0\"]}",
	 CLAW_HE_INVALID_FIELD, "egress_allow"},
	{CP_BODY_TENANT_CREATE,
	 "{\"slug\":\"ab\",\"name\":\"n\",\"self_pause\":null}",
	 CLAW_HE_INVALID_FIELD, "self_pause"},
	{CP_BODY_TOKEN_CREATE, "{}", CLAW_HE_MISSING_FIELD, "role"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"king\"}", CLAW_HE_INVALID_FIELD,
	 "role"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"tenant\"}", CLAW_HE_MISSING_FIELD,
	 "tenant"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"admin\",\"tenant\":\"a\"}",
	 CLAW_HE_INVALID_FIELD, "tenant"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"tenant\",\"tenant\":\"A_B\"}",
	 CLAW_HE_INVALID_FIELD, "tenant"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"admin\",\"expires_in\":59}",
	 CLAW_HE_INVALID_FIELD, "expires_in"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"admin\",\"expires_in\":1.5}",
	 CLAW_HE_INVALID_FIELD, "expires_in"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"admin\",\"name\":\"\"}",
	 CLAW_HE_INVALID_FIELD, "name"},
	{CP_BODY_TOKEN_CREATE, "{\"role\":\"admin\",\"extra\":true}",
	 CLAW_HE_UNKNOWN_FIELD, "#2"},
};

static void test_bad_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cp_token_input tok = {0};
		struct cp_tenant_input ten = {0};
		void *in = bad[i].kind == CP_BODY_TOKEN_CREATE ? (void *)&tok
							       : (void *)&ten;
		struct claw_json_problem p = {0};
		json_t *obj = NULL;

		print_message("case %zu: %s\n", i, bad[i].body);
		assert_int_equal(cp_body_check(bad[i].kind, bad[i].body,
					       strlen(bad[i].body), in, &obj,
					       &p),
				 -1);
		assert_null(obj);
		assert_int_equal(p.error, bad[i].error);
		assert_true(p.message[0] != '\0');
		if (bad[i].field) {
			assert_string_equal(p.field, bad[i].field);
			if (bad[i].error == CLAW_HE_UNKNOWN_FIELD)
				assert_non_null(
					strstr(p.message, bad[i].field));
		}
	}
}

static void test_over_long_strings(void **state)
{
	char body[400];
	struct cp_tenant_input ten = {0};
	struct claw_json_problem p;
	json_t *obj;

	(void)state;
	snprintf(body, sizeof(body), "{\"slug\":\"%0*d\",\"name\":\"n\"}", 64,
		 0);
	assert_int_equal(cp_body_check(CP_BODY_TENANT_CREATE, body,
				       strlen(body), &ten, &obj, &p),
			 -1);
	assert_int_equal(p.error, CLAW_HE_INVALID_FIELD);
	snprintf(body, sizeof(body), "{\"slug\":\"ok\",\"name\":\"%0*d\"}", 201,
		 0);
	assert_int_equal(cp_body_check(CP_BODY_TENANT_CREATE, body,
				       strlen(body), &ten, &obj, &p),
			 -1);
	assert_int_equal(p.error, CLAW_HE_INVALID_FIELD);
}

static void test_good_bodies(void **state)
{
	struct cp_tenant_input ten = {0};
	struct cp_token_input tok = {0};
	struct claw_json_problem p;
	json_t *obj;
	const char *b1 = "{\"slug\":\"acme\",\"name\":\"Acme\"}";
	const char *b2 = "{\"role\":\"tenant\",\"tenant\":\"acme\","
			 "\"name\":\"ci\",\"expires_in\":3600}";
	const char *b3 = "{\"name\":\"N\",\"version\":4}";
	const char *b4 = "{\"plan\":\"small\",\"self_pause\":true,"
			 "\"egress_allow\":[\"a.b:443\",\"*.c.d:1\",\"*\"]}";

	(void)state;
	assert_int_equal(cp_body_check(CP_BODY_TENANT_CREATE, b1, strlen(b1),
				       &ten, &obj, &p),
			 0);
	assert_string_equal(ten.slug, "acme");
	assert_string_equal(ten.name, "Acme");
	json_decref(obj);
	assert_int_equal(cp_body_check(CP_BODY_TOKEN_CREATE, b2, strlen(b2),
				       &tok, &obj, &p),
			 0);
	assert_string_equal(tok.role, "tenant");
	assert_string_equal(tok.tenant, "acme");
	assert_true(tok.expires_in == 3600);
	json_decref(obj);
	memset(&ten, 0, sizeof(ten));
	assert_int_equal(cp_body_check(CP_BODY_TENANT_UPDATE, b3, strlen(b3),
				       &ten, &obj, &p),
			 0);
	assert_true(ten.version == 4);
	json_decref(obj);
	/* bounds alone (no name) are a change too */
	memset(&ten, 0, sizeof(ten));
	assert_int_equal(cp_body_check(CP_BODY_TENANT_UPDATE, b4, strlen(b4),
				       &ten, &obj, &p),
			 0);
	assert_null(ten.name);
	assert_string_equal(ten.plan, "small");
	assert_int_equal(json_array_size(ten.egress_allow), 3);
	assert_true(json_is_true(ten.self_pause));
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_over_long_strings),
		cmocka_unit_test(test_good_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
