/*
 * fuzz_request.c - libFuzzer harness: the control plane's request bodies
 * (the first byte picks tenant create, tenant update or token create) go
 * through the same parse, unpack and validate steps as in the handlers,
 * and the rest of the input, as a string, through every validator of path,
 * query and header values. Any input must give a clean answer: an accepted
 * body with its fields checked, or a problem with a code and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "requests.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(enum cp_body k, const char *data, size_t len)
{
	struct cp_tenant_input ten = {0};
	struct cp_token_input tok = {0};
	struct claw_json_problem p = {0};
	json_t *obj = NULL;
	void *in = k == CP_BODY_TOKEN_CREATE ? (void *)&tok : (void *)&ten;

	if (cp_body_check(k, data, len, in, &obj, &p) == 0) {
		if (k == CP_BODY_TENANT_CREATE && !cp_slug_valid(ten.slug))
			abort();
		if (k == CP_BODY_TOKEN_CREATE && !tok.role)
			abort();
		json_decref(obj);
		return;
	}
	if (obj || p.message[0] == '\0' || p.error >= CLAW_HE__COUNT)
		abort();
}

static void check_values(const char *s)
{
	long long v;
	int l;

	if (cp_slug_valid(s) && cp_id_valid(s, "tnt_"))
		abort(); /* ids and slugs must never overlap */
	(void)cp_token_well_formed(s);
	(void)cp_name_valid(s);
	if (cp_parse_if_match(s, &v) && v == 0)
		abort();
	if (cp_parse_cursor(s, &v) && v < 0)
		abort();
	if (cp_parse_limit(s, 200, &l) && (l < 1 || l > 200))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	check_body((enum cp_body)(data[0] % 3), (const char *)data + 1,
		   size - 1);
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	check_values(s);
	free(s);
	return 0;
}
