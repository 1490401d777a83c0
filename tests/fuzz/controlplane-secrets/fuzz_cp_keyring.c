/*
 * fuzz_cp_keyring.c - libFuzzer harness: the master key ring's text form
 * (cp_keyring_parse) and opening arbitrary bytes as a sealed value or a
 * wrapped data key. Parsing either succeeds with a sane ring that formats
 * back to itself, or fails with a message; opening garbage always fails
 * cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ring(const struct cp_keyring *r)
{
	struct cp_keyring back;
	char err[256], line[CP_KEYRING_LINE_MAX];

	for (unsigned i = 1; i < r->n; i++)
		if (r->versions[i - 1] >= r->versions[i])
			abort();
	if (cp_keyring_init(&back))
		abort();
	for (unsigned i = 0; i < r->n; i++) {
		size_t n = cp_keyring_format_line(
			r->versions[i], cp_keyring_get(r, r->versions[i]),
			line);

		if (cp_keyring_parse(&back, line, n, err, sizeof(err)) ||
		    back.n != 1 || back.versions[0] != r->versions[i] ||
		    memcmp(cp_keyring_get(&back, r->versions[i]),
			   cp_keyring_get(r, r->versions[i]),
			   CP_ENV_KEY_BYTES) != 0)
			abort();
	}
	cp_keyring_release(&back);
}

static void open_garbage(const uint8_t *data, size_t size)
{
	static const unsigned char key[CP_ENV_KEY_BYTES] = {1, 2, 3};
	unsigned char *plain = NULL, *dk = NULL;
	size_t plen;

	if (cp_env_open_value(key, "tnt_x", "NAME", 1, data, size, &plain,
			      &plen) != CLAW_ERR_CRYPTO ||
	    plain)
		abort();
	if (cp_env_unwrap_key(key, 1, "tnt_x", data, size, &dk) !=
		    CLAW_ERR_CRYPTO ||
	    dk)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_keyring r;
	char err[256];

	if (sodium_init() < 0 || cp_keyring_init(&r))
		abort();
	err[0] = '\0';
	if (cp_keyring_parse(&r, (const char *)data, size, err, sizeof(err)) ==
	    CLAW_OK)
		check_ring(&r);
	else if (!err[0] || r.n != 0)
		abort();
	cp_keyring_release(&r);
	open_garbage(data, size);
	return 0;
}
