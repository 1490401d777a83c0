/*
 * validate.h - checks of values that come from outside: slugs, ids,
 * tokens, names, list parameters. Pure functions, no database.
 */
#ifndef CP_VALIDATE_H
#define CP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define CP_TOKEN_PREFIX "claw_"
/* "claw_" and 43 base64url characters, NUL included */
#define CP_TOKEN_LEN (sizeof(CP_TOKEN_PREFIX) + 43)
#define CP_NAME_MAX 200

/* A DNS label: 1..63 of [a-z0-9-], not starting or ending with '-'. */
bool cp_slug_valid(const char *s);
/* prefix ("tnt_") followed by exactly 32 lowercase hex characters. */
bool cp_id_valid(const char *s, const char *prefix);
/* New id: prefix and 32 random hex characters; out holds CP_ID_MAX. */
void cp_id_new(const char *prefix, char *out, size_t outlen);
/* Shape of a bearer token, checked before any lookup. */
bool cp_token_well_formed(const char *t);
/* A display name: 1..CP_NAME_MAX bytes, no control characters. */
bool cp_name_valid(const char *s);
/* Decimal 1..max (list limits); false for anything else. */
bool cp_parse_limit(const char *s, int max, int *out);
/* A list cursor: decimal digits, 1..18 of them. */
bool cp_parse_cursor(const char *s, long long *out);

/* An If-Match value naming a version: "N" or W/"N" -> N (>= 1); "*"
 * -> -1 (any). false when it is neither. */
bool cp_parse_if_match(const char *s, long long *out);

#endif
