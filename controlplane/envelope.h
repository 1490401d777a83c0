/*
 * envelope.h - envelope encryption of secret values over libsodium, pure
 * (no database, no files).
 *
 * A master key (32 bytes, with a version) wraps one data key per tenant; a
 * data key seals that tenant's secret values. Both layers use
 * XChaCha20-Poly1305 (IETF) with a random 24-byte nonce stored in front of
 * the ciphertext. The associated data binds where a ciphertext belongs:
 *   data key: tenant id and master key version
 *   value:    tenant id, secret name and secret version
 * so a ciphertext copied to another row, tenant or version fails to open.
 * A key check value (keyed BLAKE2b of a fixed label) tells whether a master
 * key is the one the data was encrypted with, without decrypting anything.
 *
 * Keys and plaintexts live in sodium_malloc'd memory (guard pages, locked,
 * wiped by sodium_free); callers free them with cp_env_secret_free.
 */
#ifndef CP_ENVELOPE_H
#define CP_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include "claw/err.h"

#define CP_ENV_KEY_BYTES 32u
#define CP_ENV_NONCE_BYTES 24u
#define CP_ENV_TAG_BYTES 16u
/* sealed = nonce || ciphertext || tag */
#define CP_ENV_OVERHEAD (CP_ENV_NONCE_BYTES + CP_ENV_TAG_BYTES)
#define CP_ENV_WRAPPED_KEY_BYTES (CP_ENV_KEY_BYTES + CP_ENV_OVERHEAD)
/* Hex key check value: 64 characters and a NUL. */
#define CP_ENV_KCV_LEN 65u

/* A new random key in sodium memory, or NULL when out of memory. */
unsigned char *cp_env_key_new(void);
/* n bytes of sodium memory (one extra, zeroed, for a NUL), or NULL. */
unsigned char *cp_env_secret_alloc(size_t n);
/* Wipe and free memory from cp_env_key_new / cp_env_secret_alloc / the
 * open functions. NULL is a no-op. */
void cp_env_secret_free(void *p);

/* The key check value of master key mk at version: hex of
 * BLAKE2b-256(key = mk, "claw master key check" || version). */
void cp_env_kcv(const unsigned char *mk, unsigned version,
		char out[CP_ENV_KCV_LEN]);

/* Wrap data key dk under master key mk (version mk_version) for tenant:
 * out gets CP_ENV_WRAPPED_KEY_BYTES bytes. */
enum claw_rc cp_env_wrap_key(const unsigned char *mk, unsigned mk_version,
			     const char *tenant, const unsigned char *dk,
			     unsigned char out[CP_ENV_WRAPPED_KEY_BYTES]);
/* Unwrap: *dk_out is a new key in sodium memory. CLAW_ERR_CRYPTO when the
 * key, tenant, version or bytes are not the ones it was wrapped with. */
enum claw_rc cp_env_unwrap_key(const unsigned char *mk, unsigned mk_version,
			       const char *tenant, const unsigned char *wrapped,
			       size_t len, unsigned char **dk_out);

/* Seal a secret value: *out (malloc, not secret) gets
 * len + CP_ENV_OVERHEAD bytes in *out_len. */
enum claw_rc cp_env_seal_value(const unsigned char *dk, const char *tenant,
			       const char *name, long long version,
			       const void *plain, size_t len,
			       unsigned char **out, size_t *out_len);
/* Open a sealed value: *plain_out (sodium memory, NUL-terminated, free
 * with cp_env_secret_free) gets *plain_len bytes. CLAW_ERR_CRYPTO when the
 * key, tenant, name, version or bytes do not match. */
enum claw_rc cp_env_open_value(const unsigned char *dk, const char *tenant,
			       const char *name, long long version,
			       const unsigned char *sealed, size_t len,
			       unsigned char **plain_out, size_t *plain_len);

/* ---- key ring: the master keys by version */

#define CP_KEYRING_MAX 64u

struct cp_keyring {
	unsigned n;
	unsigned versions[CP_KEYRING_MAX]; /* ascending */
	unsigned char *keys; /* sodium memory: CP_KEYRING_MAX * 32 bytes */
};

/* An empty ring; CLAW_ERR_NOMEM when sodium memory is short. */
enum claw_rc cp_keyring_init(struct cp_keyring *r);
/* Wipe and free the keys. */
void cp_keyring_release(struct cp_keyring *r);

/* Parse the text form into r (which is reset first): entries
 * "VERSION:HEX64" separated by white space or commas, '#' starting a
 * comment to the end of the line; or one bare HEX64 meaning version 1.
 * Versions are 1..1000000, unique. On failure errbuf says what is wrong
 * (never quoting key material) and r is left empty. */
enum claw_rc cp_keyring_parse(struct cp_keyring *r, const char *text,
			      size_t len, char *errbuf, size_t errlen);
/* Add key (copied) under version (above every version in r). */
enum claw_rc cp_keyring_add(struct cp_keyring *r, unsigned version,
			    const unsigned char *key);
/* Add every version of src that dst lacks. CLAW_ERR_INVALID when a
 * version is in both with different keys (dst is then unchanged). */
enum claw_rc cp_keyring_merge(struct cp_keyring *dst,
			      const struct cp_keyring *src);
/* The key of version, or NULL. Borrowed from r. */
const unsigned char *cp_keyring_get(const struct cp_keyring *r,
				    unsigned version);
/* The highest version, 0 when empty. */
unsigned cp_keyring_latest(const struct cp_keyring *r);
/* One "VERSION:HEX64\n" line for key into out (sodium memory of at least
 * CP_KEYRING_LINE_MAX bytes); returns its length. */
#define CP_KEYRING_LINE_MAX 80u
size_t cp_keyring_format_line(unsigned version, const unsigned char *key,
			      char *out);

#endif
