/*
 * crypto.c - tokens, encodings, constant-time compares and BLAKE2b hashes
 * over libsodium; see crypto.h.
 */
#include "claw/crypto.h"

#include <sodium.h>
#include <string.h>

enum claw_rc claw_crypto_init(void)
{
	return sodium_init() < 0 ? CLAW_ERR_INTERNAL : CLAW_OK;
}

void claw_random_token(const char *prefix, char *out, size_t outlen)
{
	unsigned char raw[32];
	char enc[sodium_base64_ENCODED_LEN(
		32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(enc, sizeof(enc), raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	snprintf(out, outlen, "%s%s", prefix, enc);
	sodium_memzero(enc, sizeof(enc));
}

void claw_random_hex(size_t n, char *out)
{
	unsigned char raw[64];
	while (n) {
		size_t k = n < sizeof(raw) ? n : sizeof(raw);
		randombytes_buf(raw, k);
		claw_hex_encode(raw, k, out);
		out += 2 * k;
		n -= k;
	}
	*out = '\0';
}

void claw_hex_encode(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

enum claw_rc claw_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t got = 0;
	const char *end = NULL;
	if (strlen(in) != 2 * outlen)
		return CLAW_ERR_PARSE;
	if (sodium_hex2bin(out, outlen, in, 2 * outlen, NULL, &got, &end) !=
		    0 ||
	    got != outlen || *end != '\0')
		return CLAW_ERR_PARSE;
	return CLAW_OK;
}

bool claw_ct_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

bool claw_ct_streq(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}

void claw_blake2b_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	claw_hex_encode(h, sizeof(h), out);
}
