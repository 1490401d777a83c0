/*
 * validate.c - checks of outside values (see validate.h).
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "claw/crypto.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool cp_slug_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool cp_id_valid(const char *s, const char *prefix)
{
	size_t p = strlen(prefix);

	if (strncmp(s, prefix, p) != 0 || strlen(s + p) != 32)
		return false;
	for (const char *c = s + p; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

void cp_id_new(const char *prefix, char *out, size_t outlen)
{
	char hex[33];

	claw_random_hex(16, hex);
	snprintf(out, outlen, "%s%s", prefix, hex);
}

bool cp_token_well_formed(const char *t)
{
	size_t p = strlen(CP_TOKEN_PREFIX);

	if (strncmp(t, CP_TOKEN_PREFIX, p) != 0 ||
	    strlen(t) != CP_TOKEN_LEN - 1)
		return false;
	for (const char *c = t + p; *c; c++)
		if (!(is_lower_alnum(*c) || (*c >= 'A' && *c <= 'Z') ||
		      *c == '-' || *c == '_'))
			return false;
	return true;
}

bool cp_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool parse_digits(const char *s, size_t max_digits, long long *out)
{
	size_t n = strlen(s);
	long long v = 0;

	if (n == 0 || n > max_digits)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool cp_parse_limit(const char *s, int max, int *out)
{
	long long v;

	if (!parse_digits(s, 6, &v) || v < 1 || v > max)
		return false;
	*out = (int)v;
	return true;
}

bool cp_parse_cursor(const char *s, long long *out)
{
	return parse_digits(s, 18, out);
}

bool cp_parse_if_match(const char *s, long long *out)
{
	char digits[24];
	size_t n;

	if (!strcmp(s, "*")) {
		*out = -1;
		return true;
	}
	if (!strncmp(s, "W/", 2))
		s += 2;
	n = strlen(s);
	if (n < 3 || n - 2 >= sizeof(digits) || s[0] != '"' || s[n - 1] != '"')
		return false;
	memcpy(digits, s + 1, n - 2);
	digits[n - 2] = '\0';
	return cp_parse_cursor(digits, out) && *out >= 1;
}
