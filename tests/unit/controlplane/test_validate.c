/*
 * test_validate.c - slugs, ids, token shape and hashing, names, list
 * parameters, If-Match and roles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "claw/crypto.h"
#include "cp.h"
#include "validate.h"

static void test_slugs(void **state)
{
	static const char *good[] = {"a",   "acme",  "a-b", "0",
				     "0-9", "x1-y2", NULL};
	static const char *bad[] = {"",    "-a",  "a-",    "A",        "a_b",
				    "a.b", "a b", "tnt_0", "\xc3\xbc", NULL};
	char max[65];

	(void)state;
	for (int i = 0; good[i]; i++)
		assert_true(cp_slug_valid(good[i]));
	for (int i = 0; bad[i]; i++)
		assert_false(cp_slug_valid(bad[i]));
	memset(max, 'x', 63);
	max[63] = '\0';
	assert_true(cp_slug_valid(max));
	max[63] = 'x';
	max[64] = '\0';
	assert_false(cp_slug_valid(max));
}

static void test_ids(void **state)
{
	char id[CP_ID_MAX], other[CP_ID_MAX];

	(void)state;
	cp_id_new("tnt_", id, sizeof(id));
	cp_id_new("tnt_", other, sizeof(other));
	assert_int_equal(strlen(id), 36);
	assert_true(cp_id_valid(id, "tnt_"));
	assert_false(cp_id_valid(id, "tok_"));
	assert_string_not_equal(id, other);
	/* an id is never a slug, so id-or-slug is unambiguous */
	assert_false(cp_slug_valid(id));
	assert_false(
		cp_id_valid("tnt_0123456789abcdef0123456789ABCDEF", "tnt_"));
	assert_false(cp_id_valid("tnt_0123", "tnt_"));
	assert_false(
		cp_id_valid("tnt_0123456789abcdef0123456789abcdef0", "tnt_"));
}

static void test_token_shape_and_hash(void **state)
{
	char a[CP_TOKEN_LEN], b[CP_TOKEN_LEN], ha[65], hb[65], ha2[65];

	(void)state;
	claw_random_token(CP_TOKEN_PREFIX, a, sizeof(a));
	claw_random_token(CP_TOKEN_PREFIX, b, sizeof(b));
	assert_true(cp_token_well_formed(a));
	assert_true(cp_token_well_formed(b));
	assert_string_not_equal(a, b);
	claw_blake2b_hex(a, strlen(a), ha);
	claw_blake2b_hex(a, strlen(a), ha2);
	claw_blake2b_hex(b, strlen(b), hb);
	assert_int_equal(strlen(ha), 64);
	assert_string_equal(ha, ha2);    /* deterministic */
	assert_string_not_equal(ha, hb); /* distinct */
	assert_null(strstr(ha, a + 5));  /* not the token itself */
	assert_true(claw_ct_streq(ha, ha2));
	assert_false(claw_ct_streq(ha, hb));
	/* shapes refused before any lookup */
	assert_false(cp_token_well_formed(""));
	assert_false(cp_token_well_formed("claw_"));
	assert_false(cp_token_well_formed(a + 1));
	a[10] = '!';
	assert_false(cp_token_well_formed(a));
	memcpy(b, "CLAW_", 5);
	assert_false(cp_token_well_formed(b));
}

static void test_names(void **state)
{
	char long_name[CP_NAME_MAX + 2];

	(void)state;
	assert_true(cp_name_valid("Acme Inc."));
	assert_true(cp_name_valid("\xc3\x9c"
				  "ber"));
	assert_false(cp_name_valid(""));
	assert_false(cp_name_valid("a\nb"));
	assert_false(cp_name_valid("a\tb"));
	assert_false(cp_name_valid("a\x7f"));
	memset(long_name, 'n', CP_NAME_MAX);
	long_name[CP_NAME_MAX] = '\0';
	assert_true(cp_name_valid(long_name));
	long_name[CP_NAME_MAX] = 'n';
	long_name[CP_NAME_MAX + 1] = '\0';
	assert_false(cp_name_valid(long_name));
}

static void test_list_params(void **state)
{
	long long c;
	int l;

	(void)state;
	assert_true(cp_parse_limit("1", 200, &l));
	assert_int_equal(l, 1);
	assert_true(cp_parse_limit("200", 200, &l));
	assert_false(cp_parse_limit("0", 200, &l));
	assert_false(cp_parse_limit("201", 200, &l));
	assert_false(cp_parse_limit("-1", 200, &l));
	assert_false(cp_parse_limit("1x", 200, &l));
	assert_false(cp_parse_limit("", 200, &l));
	assert_false(cp_parse_limit("99999999999", 200, &l));
	assert_true(cp_parse_cursor("123456789012345678", &c));
	assert_true(c == 123456789012345678LL);
	assert_false(cp_parse_cursor("1234567890123456789", &c));
	assert_false(cp_parse_cursor("12a", &c));
	assert_false(cp_parse_cursor("", &c));
}

static void test_if_match(void **state)
{
	long long v = 0;

	(void)state;
	assert_true(cp_parse_if_match("\"3\"", &v));
	assert_true(v == 3);
	assert_true(cp_parse_if_match("W/\"12\"", &v));
	assert_true(v == 12);
	assert_true(cp_parse_if_match("*", &v));
	assert_true(v == -1);
	assert_false(cp_parse_if_match("3", &v));
	assert_false(cp_parse_if_match("\"0\"", &v));
	assert_false(cp_parse_if_match("\"\"", &v));
	assert_false(cp_parse_if_match("\"x\"", &v));
	assert_false(cp_parse_if_match("\"1", &v));
	assert_false(cp_parse_if_match("\"12345678901234567890123\"", &v));
}

static void test_roles(void **state)
{
	(void)state;
	for (int r = 0; r < CP_ROLE__COUNT; r++)
		assert_int_equal(cp_role_parse(cp_role_name((enum cp_role)r)),
				 r);
	assert_int_equal(cp_role_parse("root"), -1);
	assert_int_equal(cp_role_parse("Admin"), -1);
	assert_int_equal(cp_role_parse(""), -1);
	assert_string_equal(cp_role_name(CP_ROLE__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slugs),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_token_shape_and_hash),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_list_params),
		cmocka_unit_test(test_if_match),
		cmocka_unit_test(test_roles),
	};

	if (claw_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
