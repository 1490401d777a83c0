/*
 * crypto.h - small helpers over libsodium: random tokens, hex and base64url,
 * constant-time compares, BLAKE2b hashes.
 */
#ifndef CLAW_CRYPTO_H
#define CLAW_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "claw/err.h"

/* sodium_init(); call once at start. */
enum claw_rc claw_crypto_init(void);

/* A random opaque token: prefix followed by 43 base64url characters (32
 * random bytes). out must hold strlen(prefix) + 44 bytes. */
void claw_random_token(const char *prefix, char *out, size_t outlen);
/* n random bytes as 2n lowercase hex characters; out holds 2n + 1. */
void claw_random_hex(size_t n, char *out);

void claw_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);
/* Exactly outlen bytes from 2*outlen hex characters. */
enum claw_rc claw_hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Constant-time equality of two equal-length buffers. */
bool claw_ct_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two strings (the length is not secret). */
bool claw_ct_streq(const char *a, const char *b);

/* BLAKE2b-256 of data as 64 hex characters + NUL. */
void claw_blake2b_hex(const void *data, size_t len, char out[65]);

#endif
