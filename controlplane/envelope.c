/*
 * envelope.c - XChaCha20-Poly1305 envelope encryption, key check values and
 * the master key ring (see envelope.h).
 *
 * Associated data is a purpose tag followed by length-prefixed fields
 * ("<len>:<bytes>\n"), so no two (tenant, name, version) triples, and no
 * data key and value, ever share associated data.
 */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define AD_MAX 512
#define AD_TAG_KEY "claw-data-key-v1\n"
#define AD_TAG_VALUE "claw-secret-value-v1\n"
#define KCV_LABEL "claw master key check"
#define KEYRING_VERSION_MAX 1000000u

unsigned char *cp_env_secret_alloc(size_t n)
{
	unsigned char *p;

	if (n >= SIZE_MAX - 1)
		return NULL;
	p = sodium_malloc(n + 1);
	if (p)
		sodium_memzero(p, n + 1);
	return p;
}

unsigned char *cp_env_key_new(void)
{
	unsigned char *k = cp_env_secret_alloc(CP_ENV_KEY_BYTES);

	if (k)
		crypto_aead_xchacha20poly1305_ietf_keygen(k);
	return k;
}

void cp_env_secret_free(void *p)
{
	if (p)
		sodium_free(p);
}

void cp_env_kcv(const unsigned char *mk, unsigned version,
		char out[CP_ENV_KCV_LEN])
{
	unsigned char h[32];
	char msg[64];
	int n = snprintf(msg, sizeof(msg), KCV_LABEL " %u", version);

	crypto_generichash(h, sizeof(h), (const unsigned char *)msg, (size_t)n,
			   mk, CP_ENV_KEY_BYTES);
	sodium_bin2hex(out, CP_ENV_KCV_LEN, h, sizeof(h));
}

/* ---- associated data */

static int ad_field(char *ad, size_t *at, const char *v)
{
	int n = snprintf(ad + *at, AD_MAX - *at, "%zu:%s\n", strlen(v), v);

	if (n < 0 || (size_t)n >= AD_MAX - *at)
		return -1;
	*at += (size_t)n;
	return 0;
}

static int ad_build(char *ad, size_t *len, const char *tag, const char *tenant,
		    const char *name, long long version)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", version);
	*len = strlen(tag);
	memcpy(ad, tag, *len);
	if (!tenant || ad_field(ad, len, tenant))
		return -1;
	if (name && ad_field(ad, len, name))
		return -1;
	return ad_field(ad, len, v);
}

/* ---- seal and open: out = nonce || ciphertext || tag */

static void seal(const unsigned char *key, const char *ad, size_t adlen,
		 const unsigned char *plain, size_t len, unsigned char *out)
{
	randombytes_buf(out, CP_ENV_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + CP_ENV_NONCE_BYTES, NULL, plain, len,
		(const unsigned char *)ad, adlen, NULL, out, key);
}

static enum claw_rc open_sealed(const unsigned char *key, const char *ad,
				size_t adlen, const unsigned char *sealed,
				size_t len, unsigned char *plain)
{
	if (len < CP_ENV_OVERHEAD)
		return CLAW_ERR_CRYPTO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    plain, NULL, NULL, sealed + CP_ENV_NONCE_BYTES,
		    len - CP_ENV_NONCE_BYTES, (const unsigned char *)ad, adlen,
		    sealed, key) != 0)
		return CLAW_ERR_CRYPTO;
	return CLAW_OK;
}

enum claw_rc cp_env_wrap_key(const unsigned char *mk, unsigned mk_version,
			     const char *tenant, const unsigned char *dk,
			     unsigned char out[CP_ENV_WRAPPED_KEY_BYTES])
{
	char ad[AD_MAX];
	size_t adlen;

	if (ad_build(ad, &adlen, AD_TAG_KEY, tenant, NULL, mk_version))
		return CLAW_ERR_INVALID;
	seal(mk, ad, adlen, dk, CP_ENV_KEY_BYTES, out);
	return CLAW_OK;
}

enum claw_rc cp_env_unwrap_key(const unsigned char *mk, unsigned mk_version,
			       const char *tenant, const unsigned char *wrapped,
			       size_t len, unsigned char **dk_out)
{
	char ad[AD_MAX];
	size_t adlen;
	unsigned char *dk;
	enum claw_rc rc;

	*dk_out = NULL;
	if (ad_build(ad, &adlen, AD_TAG_KEY, tenant, NULL, mk_version))
		return CLAW_ERR_INVALID;
	if (len != CP_ENV_WRAPPED_KEY_BYTES)
		return CLAW_ERR_CRYPTO;
	dk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	if (!dk)
		return CLAW_ERR_NOMEM;
	rc = open_sealed(mk, ad, adlen, wrapped, len, dk);
	if (rc) {
		cp_env_secret_free(dk);
		return rc;
	}
	*dk_out = dk;
	return CLAW_OK;
}

enum claw_rc cp_env_seal_value(const unsigned char *dk, const char *tenant,
			       const char *name, long long version,
			       const void *plain, size_t len,
			       unsigned char **out, size_t *out_len)
{
	char ad[AD_MAX];
	size_t adlen;

	*out = NULL;
	if (!name || ad_build(ad, &adlen, AD_TAG_VALUE, tenant, name, version))
		return CLAW_ERR_INVALID;
	if (len > SIZE_MAX - CP_ENV_OVERHEAD)
		return CLAW_ERR_TOO_LARGE;
	*out = malloc(len + CP_ENV_OVERHEAD);
	if (!*out)
		return CLAW_ERR_NOMEM;
	seal(dk, ad, adlen, plain, len, *out);
	*out_len = len + CP_ENV_OVERHEAD;
	return CLAW_OK;
}

enum claw_rc cp_env_open_value(const unsigned char *dk, const char *tenant,
			       const char *name, long long version,
			       const unsigned char *sealed, size_t len,
			       unsigned char **plain_out, size_t *plain_len)
{
	char ad[AD_MAX];
	size_t adlen;
	unsigned char *plain;
	enum claw_rc rc;

	*plain_out = NULL;
	if (!name || ad_build(ad, &adlen, AD_TAG_VALUE, tenant, name, version))
		return CLAW_ERR_INVALID;
	if (len < CP_ENV_OVERHEAD)
		return CLAW_ERR_CRYPTO;
	plain = cp_env_secret_alloc(len - CP_ENV_OVERHEAD);
	if (!plain)
		return CLAW_ERR_NOMEM;
	rc = open_sealed(dk, ad, adlen, sealed, len, plain);
	if (rc) {
		cp_env_secret_free(plain);
		return rc;
	}
	*plain_out = plain;
	*plain_len = len - CP_ENV_OVERHEAD;
	return CLAW_OK;
}

/* ---- key ring */

enum claw_rc cp_keyring_init(struct cp_keyring *r)
{
	memset(r, 0, sizeof(*r));
	r->keys = cp_env_secret_alloc(CP_KEYRING_MAX * CP_ENV_KEY_BYTES);
	return r->keys ? CLAW_OK : CLAW_ERR_NOMEM;
}

void cp_keyring_release(struct cp_keyring *r)
{
	cp_env_secret_free(r->keys);
	memset(r, 0, sizeof(*r));
}

static void keyring_clear(struct cp_keyring *r)
{
	sodium_memzero(r->keys, CP_KEYRING_MAX * CP_ENV_KEY_BYTES);
	r->n = 0;
}

const unsigned char *cp_keyring_get(const struct cp_keyring *r,
				    unsigned version)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->versions[i] == version)
			return r->keys + (size_t)i * CP_ENV_KEY_BYTES;
	return NULL;
}

unsigned cp_keyring_latest(const struct cp_keyring *r)
{
	return r->n ? r->versions[r->n - 1] : 0;
}

/* Insert keeping versions ascending. */
static enum claw_rc keyring_insert(struct cp_keyring *r, unsigned version,
				   const unsigned char *key)
{
	unsigned at = r->n;

	if (!r->keys) /* cp_keyring_init was not called */
		return CLAW_ERR_INTERNAL;
	if (r->n == CP_KEYRING_MAX)
		return CLAW_ERR_TOO_LARGE;
	if (cp_keyring_get(r, version))
		return CLAW_ERR_INVALID;
	while (at > 0 && r->versions[at - 1] > version) {
		r->versions[at] = r->versions[at - 1];
		memcpy(r->keys + (size_t)at * CP_ENV_KEY_BYTES,
		       r->keys + (size_t)(at - 1) * CP_ENV_KEY_BYTES,
		       CP_ENV_KEY_BYTES);
		at--;
	}
	r->versions[at] = version;
	memcpy(r->keys + (size_t)at * CP_ENV_KEY_BYTES, key, CP_ENV_KEY_BYTES);
	r->n++;
	return CLAW_OK;
}

enum claw_rc cp_keyring_add(struct cp_keyring *r, unsigned version,
			    const unsigned char *key)
{
	if (version == 0 || version > KEYRING_VERSION_MAX ||
	    version <= cp_keyring_latest(r))
		return CLAW_ERR_INVALID;
	return keyring_insert(r, version, key);
}

enum claw_rc cp_keyring_merge(struct cp_keyring *dst,
			      const struct cp_keyring *src)
{
	unsigned added = 0;

	for (unsigned i = 0; i < src->n; i++) {
		const unsigned char *k = cp_keyring_get(dst, src->versions[i]);

		if (k &&
		    sodium_memcmp(k, src->keys + (size_t)i * CP_ENV_KEY_BYTES,
				  CP_ENV_KEY_BYTES) != 0)
			return CLAW_ERR_INVALID;
		if (!k)
			added++;
	}
	if (dst->n + added > CP_KEYRING_MAX)
		return CLAW_ERR_TOO_LARGE;
	for (unsigned i = 0; i < src->n; i++)
		if (!cp_keyring_get(dst, src->versions[i]))
			keyring_insert(dst, src->versions[i],
				       src->keys +
					       (size_t)i * CP_ENV_KEY_BYTES);
	return CLAW_OK;
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',';
}

/* One token [p, p+n): "VERSION:HEX64" or, when bare_ok, "HEX64". */
static enum claw_rc parse_entry(struct cp_keyring *r, const char *p, size_t n,
				bool bare_ok, unsigned entry, char *errbuf,
				size_t errlen)
{
	unsigned char key[CP_ENV_KEY_BYTES];
	const char *colon = memchr(p, ':', n);
	unsigned long version = 1;
	size_t hexlen, binlen = 0;
	enum claw_rc rc;

	if (colon) {
		size_t vlen = (size_t)(colon - p);

		if (vlen == 0 || vlen > 7) {
			snprintf(errbuf, errlen,
				 "master key entry %u: the version must be a "
				 "number from 1 to %u",
				 entry, KEYRING_VERSION_MAX);
			return CLAW_ERR_PARSE;
		}
		version = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (p[i] < '0' || p[i] > '9') {
				snprintf(errbuf, errlen,
					 "master key entry %u: the version "
					 "must be a number",
					 entry);
				return CLAW_ERR_PARSE;
			}
			version = version * 10 + (unsigned long)(p[i] - '0');
		}
		if (version == 0 || version > KEYRING_VERSION_MAX) {
			snprintf(errbuf, errlen,
				 "master key entry %u: version %lu is out of "
				 "range 1..%u",
				 entry, version, KEYRING_VERSION_MAX);
			return CLAW_ERR_PARSE;
		}
		hexlen = n - vlen - 1;
		p = colon + 1;
	} else if (!bare_ok) {
		snprintf(errbuf, errlen,
			 "master key entry %u: write it as VERSION:HEX "
			 "(64 hex characters)",
			 entry);
		return CLAW_ERR_PARSE;
	} else {
		hexlen = n;
	}
	if (hexlen != 2 * CP_ENV_KEY_BYTES ||
	    sodium_hex2bin(key, sizeof(key), p, hexlen, NULL, &binlen, NULL) ||
	    binlen != sizeof(key)) {
		sodium_memzero(key, sizeof(key));
		snprintf(errbuf, errlen,
			 "master key entry %u: the key must be exactly 64 "
			 "hex characters (32 bytes)",
			 entry);
		return CLAW_ERR_PARSE;
	}
	rc = keyring_insert(r, (unsigned)version, key);
	sodium_memzero(key, sizeof(key));
	if (rc == CLAW_ERR_INVALID)
		snprintf(errbuf, errlen, "master key version %lu appears twice",
			 version);
	else if (rc)
		snprintf(errbuf, errlen, "more than %u master keys",
			 CP_KEYRING_MAX);
	return rc ? CLAW_ERR_PARSE : CLAW_OK;
}

enum claw_rc cp_keyring_parse(struct cp_keyring *r, const char *text,
			      size_t len, char *errbuf, size_t errlen)
{
	size_t i = 0, start, tokens = 0;
	enum claw_rc rc;

	keyring_clear(r);
	/* Count tokens first: a bare key is allowed only alone. */
	for (int pass = 0; pass < 2; pass++) {
		unsigned entry = 0;

		for (i = 0; i < len;) {
			if (text[i] == '#') {
				while (i < len && text[i] != '\n')
					i++;
				continue;
			}
			if (is_sep(text[i])) {
				i++;
				continue;
			}
			start = i;
			while (i < len && !is_sep(text[i]) && text[i] != '#')
				i++;
			entry++;
			if (pass == 0) {
				tokens++;
				continue;
			}
			rc = parse_entry(r, text + start, i - start,
					 tokens == 1, entry, errbuf, errlen);
			if (rc) {
				keyring_clear(r);
				return rc;
			}
		}
	}
	if (r->n == 0) {
		snprintf(errbuf, errlen, "no master key found");
		return CLAW_ERR_PARSE;
	}
	return CLAW_OK;
}

size_t cp_keyring_format_line(unsigned version, const unsigned char *key,
			      char *out)
{
	int n = snprintf(out, CP_KEYRING_LINE_MAX, "%u:", version);

	sodium_bin2hex(out + n, CP_KEYRING_LINE_MAX - (size_t)n, key,
		       CP_ENV_KEY_BYTES);
	n += 2 * CP_ENV_KEY_BYTES;
	out[n++] = '\n';
	out[n] = '\0';
	return (size_t)n;
}
