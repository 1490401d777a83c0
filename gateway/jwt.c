/*
 * jwt.c - the one file of the gateway that uses OpenSSL's libcrypto
 * (RSA and AES, which libsodium lacks): RS256 JSON Web Tokens, verified
 * (Microsoft Teams' Bot Framework and Google Chat sign their webhooks'
 * bearer tokens) and signed (a Google service account's JWT grant), key
 * sets with a cache that refreshes itself, and AES-256-CBC decryption
 * (Feishu's encrypted events).
 *
 * Verification (RFC 7515 compact serialisation, RFC 7519 claims) in this
 * order, the first failure ending it: the token is three base64url parts
 * (no padding) of bounded size; the header is a JSON object whose "alg"
 * is exactly "RS256" ("none", HS256, PS256, ES256 and every other value
 * refused: the key decides nothing), with no "crit", and a "kid" naming a
 * key of the set (a token without one only when the set has one key); the signature (RSASSA-PKCS1-v1_5, SHA-256) verifies
 * under that key (an RSA key of at least 2048 bits) over the first two
 * parts as sent; only then is the payload parsed: a JSON object whose
 * "iss" equals one of the accepted issuers, whose "aud" (a string, or an
 * array of strings) holds the audience, whose "exp" (required) is after
 * now - leeway and whose "nbf" (when present) is before now + leeway.
 *
 * Key sets are a JWKS ({"keys": [{"kty": "RSA", "kid", "n", "e", ...}]},
 * other key types skipped; the Bot Framework's "endorsements" kept with
 * the key) or a map of key ids to PEM X.509 certificates (Google's
 * service-account certificate documents). A key cache holds the set of
 * one source (a URL): fetched on first use, again after its time to live,
 * and again when a token names an unknown kid (keys rotate), but not
 * more often than min_refresh_s, so forged kids cannot make the gateway
 * hammer the key server. A failed refresh keeps the old set.
 *
 * Ownership: sets and caches are freed with their _free; claims and
 * endorsements come back as new references.
 */
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claw/buf.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define JWT_MAX 16384     /* a whole token */
#define JWT_PART_MAX 8192 /* one decoded part */
#define KEYS_MAX 64       /* keys in a set */
#define KID_MAX 256
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

struct jwk {
	char *kid;
	EVP_PKEY *pkey;
	json_t *endorsements; /* array or NULL */
};

struct gw_jwks {
	struct jwk keys[KEYS_MAX];
	size_t n;
};

/* ---------------------------------------------------------- base64url */
/* Decode a base64url part (no padding) into a new buffer. */
static enum claw_rc b64url_decode(const char *in, size_t len, uint8_t **out,
				  size_t *outlen)
{
	size_t cap = len / 4 * 3 + 3;
	const char *end;
	*out = NULL;
	if (!len || len > JWT_PART_MAX * 4 / 3 + 4)
		return CLAW_ERR_PARSE;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return CLAW_ERR_NOMEM;
	if (sodium_base642bin(buf, cap, in, len, NULL, outlen, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    end != in + len) {
		free(buf);
		return CLAW_ERR_PARSE;
	}
	*out = buf;
	return CLAW_OK;
}

static char *b64url_encode(const void *in, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(
		len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(n);
	if (out)
		sodium_bin2base64(out, n, in, len,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* ----------------------------------------------------------- key sets */
static bool rsa_ok(EVP_PKEY *pkey)
{
	int bits = pkey ? EVP_PKEY_get_bits(pkey) : 0;
	return pkey && EVP_PKEY_is_a(pkey, "RSA") && bits >= RSA_MIN_BITS &&
		bits <= RSA_MAX_BITS;
}

/* An RSA public key from a JWK's n and e (base64url big-endian). */
static EVP_PKEY *rsa_from_jwk(const char *n64, const char *e64)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	if (!n64 || !e64 || b64url_decode(n64, strlen(n64), &n, &nl) ||
	    b64url_decode(e64, strlen(e64), &e, &el) || el > 8)
		goto out;
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn || !be || !bld ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	ERR_clear_error();
	if (pkey && !rsa_ok(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/* The public key of a PEM X.509 certificate (RSA only). */
static EVP_PKEY *rsa_from_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pkey = x ? X509_get_pubkey(x) : NULL;
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey && !rsa_ok(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

static bool kid_ok(const char *kid)
{
	return kid && *kid && strlen(kid) <= KID_MAX;
}

static enum claw_rc add_key(struct gw_jwks *ks, const char *kid,
			    EVP_PKEY *pkey_steal, json_t *endorsements)
{
	if (ks->n == KEYS_MAX) {
		EVP_PKEY_free(pkey_steal);
		return CLAW_ERR_TOO_LARGE;
	}
	struct jwk *k = &ks->keys[ks->n];
	k->kid = strdup(kid);
	if (!k->kid) {
		EVP_PKEY_free(pkey_steal);
		return CLAW_ERR_NOMEM;
	}
	k->pkey = pkey_steal;
	k->endorsements =
		json_is_array(endorsements) ? json_incref(endorsements) : NULL;
	ks->n++;
	return CLAW_OK;
}

/* {"keys": [...]}: RSA keys for signatures with a kid; others left. */
static enum claw_rc parse_jwks(struct gw_jwks *ks, json_t *keys)
{
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		const char *kty = gw_json_str(k, "kty");
		const char *kid = gw_json_str(k, "kid");
		const char *use = gw_json_str(k, "use");
		const char *alg = gw_json_str(k, "alg");
		if (!kid && !json_object_get(k, "kid"))
			kid = ""; /* usable only as the one key of its set */
		else if (!kid_ok(kid))
			continue;
		if (!kty || strcmp(kty, "RSA") != 0 ||
		    (use && strcmp(use, "sig") != 0) ||
		    (alg && strcmp(alg, "RS256") != 0))
			continue;
		EVP_PKEY *pkey =
			rsa_from_jwk(gw_json_str(k, "n"), gw_json_str(k, "e"));
		if (!pkey)
			continue; /* a key we cannot use is no key */
		enum claw_rc rc = add_key(ks, kid, pkey,
					  json_object_get(k, "endorsements"));
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

/* {"kid": "-----BEGIN CERTIFICATE-----...", ...} */
static enum claw_rc parse_certs(struct gw_jwks *ks, json_t *o)
{
	const char *kid;
	json_t *v;
	json_object_foreach(o, kid, v) {
		const char *pem = json_string_value(v);
		if (!pem || !kid_ok(kid))
			return CLAW_ERR_PARSE;
		EVP_PKEY *pkey = rsa_from_cert(pem);
		if (!pkey)
			continue;
		enum claw_rc rc = add_key(ks, kid, pkey, NULL);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

enum claw_rc gw_jwks_parse(const char *text, size_t len, struct gw_jwks **out)
{
	*out = NULL;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	struct gw_jwks *ks = calloc(1, sizeof(*ks));
	json_t *keys = json_object_get(o, "keys");
	enum claw_rc rc = CLAW_ERR_PARSE;
	if (!ks) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!json_is_object(o))
		goto out;
	rc = keys
		? (json_is_array(keys) ? parse_jwks(ks, keys) : CLAW_ERR_PARSE)
		: parse_certs(ks, o);
	if (!rc && !ks->n)
		rc = CLAW_ERR_NOT_FOUND; /* no key we can use */
out:
	json_decref(o);
	if (rc) {
		gw_jwks_free(ks);
		return rc;
	}
	*out = ks;
	return CLAW_OK;
}

void gw_jwks_free(struct gw_jwks *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].pkey);
		json_decref(ks->keys[i].endorsements);
	}
	free(ks);
}

size_t gw_jwks_count(const struct gw_jwks *ks)
{
	return ks ? ks->n : 0;
}

/* The key named kid; a token without a kid ("") may only use a set of
 * exactly one key. */
static const struct jwk *find_key(const struct gw_jwks *ks, const char *kid)
{
	if (ks && !*kid)
		return ks->n == 1 ? &ks->keys[0] : NULL;
	for (size_t i = 0; ks && i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	return NULL;
}

/* ------------------------------------------------------------- verify */
static const char *const jwt_errs[] = {
	[GW_JWT_OK] = "valid",
	[GW_JWT_MALFORMED] = "not a compact JWS",
	[GW_JWT_ALG] = "the algorithm is not RS256",
	[GW_JWT_UNKNOWN_KEY] = "signed with an unknown key",
	[GW_JWT_SIGNATURE] = "the signature does not verify",
	[GW_JWT_ISSUER] = "issued by someone else",
	[GW_JWT_AUDIENCE] = "for another audience",
	[GW_JWT_EXPIRED] = "expired",
	[GW_JWT_NOT_YET] = "not valid yet",
	[GW_JWT_NO_KEYS] = "the signing keys cannot be fetched",
};

const char *gw_jwt_bearer(struct claw_http_req *r)
{
	const char *h = claw_http_header(r, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
		return NULL;
	return h + 7;
}

const char *gw_jwt_strerror(enum gw_jwt_err e)
{
	return (unsigned)e < sizeof(jwt_errs) / sizeof(jwt_errs[0])
		? jwt_errs[e]
		: "invalid";
}

/* A part as JSON (an object), or NULL. */
static json_t *part_json(const char *p, size_t len)
{
	uint8_t *raw = NULL;
	size_t n = 0;
	if (b64url_decode(p, len, &raw, &n))
		return NULL;
	json_t *o =
		json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The three parts' boundaries: exactly two dots, no empty part. */
static bool split_token(const char *tok, size_t *d1, size_t *d2)
{
	size_t len = strnlen(tok, JWT_MAX + 1);
	const char *a = memchr(tok, '.', len);
	const char *b =
		a ? memchr(a + 1, '.', len - (size_t)(a + 1 - tok)) : NULL;
	if (len > JWT_MAX || !a || !b ||
	    memchr(b + 1, '.', len - (size_t)(b + 1 - tok)) || a == tok ||
	    b == a + 1 || !b[1])
		return false;
	*d1 = (size_t)(a - tok);
	*d2 = (size_t)(b - tok);
	return true;
}

static bool sig_ok(EVP_PKEY *pkey, const char *signed_part, size_t len,
		   const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && (size_t)EVP_PKEY_get_size(pkey) == siglen &&
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		EVP_DigestVerify(md, sig, siglen,
				 (const unsigned char *)signed_part, len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

static bool aud_holds(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;
	if (!want)
		return false;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

static enum gw_jwt_err check_claims(const json_t *claims,
				    const struct gw_jwt_rules *r)
{
	const char *iss = gw_json_str(claims, "iss");
	json_t *exp = json_object_get(claims, "exp");
	json_t *nbf = json_object_get(claims, "nbf");
	bool iss_ok = false;
	for (size_t i = 0; iss && r->issuers && r->issuers[i]; i++)
		if (strcmp(iss, r->issuers[i]) == 0)
			iss_ok = true;
	if (!iss_ok)
		return GW_JWT_ISSUER;
	if (!aud_holds(json_object_get(claims, "aud"), r->audience))
		return GW_JWT_AUDIENCE;
	if (!json_is_number(exp) || (nbf && !json_is_number(nbf)))
		return GW_JWT_MALFORMED;
	if ((double)r->now >= json_number_value(exp) + (double)r->leeway_s)
		return GW_JWT_EXPIRED;
	if (nbf &&
	    (double)r->now + (double)r->leeway_s < json_number_value(nbf))
		return GW_JWT_NOT_YET;
	return GW_JWT_OK;
}

/* The header's key id when the header is acceptable (alg RS256 exactly,
 * no crit): a new string, or NULL with *err set. */
static char *header_kid(const char *tok, size_t d1, enum gw_jwt_err *err)
{
	json_t *h = part_json(tok, d1);
	const char *alg = gw_json_str(h, "alg");
	const char *kid = gw_json_str(h, "kid");
	char *out = NULL;
	*err = GW_JWT_MALFORMED;
	if (!h)
		return NULL;
	if (!alg || strcmp(alg, "RS256") != 0)
		*err = GW_JWT_ALG;
	else if (json_object_get(h, "crit"))
		*err = GW_JWT_MALFORMED;
	else if (json_object_get(h, "kid") && !kid_ok(kid))
		*err = GW_JWT_UNKNOWN_KEY;
	else if (!(out = strdup(kid ? kid : "")))
		*err = GW_JWT_MALFORMED;
	else
		*err = GW_JWT_OK;
	json_decref(h);
	return out;
}

/* What every check does first: the outputs cleared, then the token's
 * two dots found (*d1, *d2) and its header's key id read into *kid (new,
 * "" without one): GW_JWT_OK, or why the token is refused before any
 * key is looked at. */
static enum gw_jwt_err token_open(const char *token, json_t **claims_out,
				  json_t **endorsements_out, size_t *d1,
				  size_t *d2, char **kid)
{
	enum gw_jwt_err err;
	if (claims_out)
		*claims_out = NULL;
	if (endorsements_out)
		*endorsements_out = NULL;
	if (!token || !split_token(token, d1, d2))
		return GW_JWT_MALFORMED;
	*kid = header_kid(token, *d1, &err);
	return err;
}

enum gw_jwt_err gw_jwt_verify(const struct gw_jwks *ks, const char *token,
			      const struct gw_jwt_rules *r, json_t **claims_out,
			      json_t **endorsements_out)
{
	size_t d1, d2, siglen = 0;
	uint8_t *sig = NULL;
	json_t *claims = NULL;
	char *kid = NULL;
	enum gw_jwt_err err =
		token_open(token, claims_out, endorsements_out, &d1, &d2, &kid);
	if (err)
		return err;
	const struct jwk *k = find_key(ks, kid);
	free(kid);
	if (!k)
		return GW_JWT_UNKNOWN_KEY;
	if (b64url_decode(token + d2 + 1, strlen(token + d2 + 1), &sig,
			  &siglen))
		return GW_JWT_MALFORMED;
	bool good = sig_ok(k->pkey, token, d2, sig, siglen);
	free(sig);
	if (!good)
		return GW_JWT_SIGNATURE;
	claims = part_json(token + d1 + 1, d2 - d1 - 1);
	if (!claims)
		return GW_JWT_MALFORMED;
	err = check_claims(claims, r);
	if (err) {
		json_decref(claims);
		return err;
	}
	if (endorsements_out && k->endorsements)
		*endorsements_out = json_incref(k->endorsements);
	if (claims_out)
		*claims_out = claims;
	else
		json_decref(claims);
	return GW_JWT_OK;
}

/* ---------------------------------------------------------- key cache */
struct gw_keycache {
	pthread_mutex_t mu;
	struct gw_jwks *set;
	char *source;
	long long fetched_at; /* the set's time */
	long long tried_at;   /* the last fetch, good or not */
	long ttl_s, min_refresh_s;
};

struct gw_keycache *gw_keycache_new(long ttl_s, long min_refresh_s)
{
	struct gw_keycache *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return NULL;
	pthread_mutex_init(&kc->mu, NULL);
	kc->ttl_s = ttl_s;
	kc->min_refresh_s = min_refresh_s;
	kc->tried_at = -1;
	return kc;
}

void gw_keycache_free(struct gw_keycache *kc)
{
	if (!kc)
		return;
	gw_jwks_free(kc->set);
	free(kc->source);
	pthread_mutex_destroy(&kc->mu);
	free(kc);
}

/* Fetch a new set (locked). A failure keeps the old one. */
static void refresh(struct gw_keycache *kc, const char *source,
		    gw_keys_fetch_fn fetch, void *cls, long long now)
{
	struct claw_buf doc;
	struct gw_jwks *ks = NULL;
	char why[200] = "";
	claw_buf_init(&doc, 1 << 20);
	kc->tried_at = now;
	enum claw_rc rc = fetch(cls, &doc, why, sizeof(why));
	if (!rc)
		rc = gw_jwks_parse(doc.data ? doc.data : "", doc.len, &ks);
	claw_buf_release(&doc);
	if (rc) {
		log_warn(
			"signing keys from '%s' could not be refreshed (%s%s%s)"
			"%s",
			source, claw_strerror(rc), *why ? ": " : "", why,
			kc->set ? "; keeping the keys fetched before" : "");
		return;
	}
	log_info("signing keys from '%s': %zu RSA key(s)", source, ks->n);
	gw_jwks_free(kc->set);
	kc->set = ks;
	kc->fetched_at = now;
}

enum gw_jwt_err gw_keycache_verify(struct gw_keycache *kc, const char *source,
				   gw_keys_fetch_fn fetch, void *cls,
				   const char *token,
				   const struct gw_jwt_rules *r,
				   json_t **claims_out,
				   json_t **endorsements_out)
{
	size_t d1, d2;
	char *kid = NULL;
	/* refuse what no key can make valid before any fetch */
	enum gw_jwt_err err =
		token_open(token, claims_out, endorsements_out, &d1, &d2, &kid);
	if (err)
		return err;
	pthread_mutex_lock(&kc->mu);
	if (!kc->source || strcmp(kc->source, source) != 0) {
		/* another URL (a reload): the old keys are not its keys */
		gw_jwks_free(kc->set);
		kc->set = NULL;
		free(kc->source);
		kc->source = strdup(source);
		kc->tried_at = -1;
	}
	bool may =
		kc->tried_at < 0 || r->now - kc->tried_at >= kc->min_refresh_s;
	bool stale = !kc->set || r->now - kc->fetched_at >= kc->ttl_s;
	if (may && (stale || !find_key(kc->set, kid)))
		refresh(kc, source, fetch, cls, r->now);
	free(kid);
	err = kc->set
		? gw_jwt_verify(kc->set, token, r, claims_out, endorsements_out)
		: GW_JWT_NO_KEYS;
	pthread_mutex_unlock(&kc->mu);
	return err;
}

/* ---------------------------------------------------------------- sign */
enum claw_rc gw_jwt_sign_rs256(const char *pem_key, const json_t *header,
			       const json_t *claims, char **out)
{
	enum claw_rc rc = CLAW_ERR_INVALID;
	struct claw_buf b;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *h = claw_json_dumps(header), *c = claw_json_dumps(claims);
	char *h64 = h ? b64url_encode(h, strlen(h)) : NULL;
	char *c64 = c ? b64url_encode(c, strlen(c)) : NULL;
	char *s64 = NULL;
	BIO *bio = pem_key ? BIO_new_mem_buf(pem_key, -1) : NULL;
	EVP_PKEY *pkey =
		bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	*out = NULL;
	claw_buf_init(&b, JWT_MAX);
	if (!h64 || !c64 || !md) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!rsa_ok(pkey) || claw_buf_printf(&b, "%s.%s", h64, c64))
		goto out;
	siglen = (size_t)EVP_PKEY_get_size(pkey);
	sig = malloc(siglen);
	if (!sig ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data,
			   b.len) != 1)
		goto out;
	s64 = b64url_encode(sig, siglen);
	if (!s64 || claw_buf_printf(&b, ".%s", s64))
		goto out;
	*out = claw_buf_steal(&b);
	rc = *out ? CLAW_OK : CLAW_ERR_NOMEM;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	free(sig);
	free(s64);
	free(h64);
	free(c64);
	free(h);
	free(c);
	claw_buf_release(&b);
	return rc;
}

/* ------------------------------------------------------ AES-256-CBC */
enum claw_rc gw_aes256cbc_decrypt(const uint8_t key[32], const uint8_t *in,
				  size_t len, char **out, size_t *outlen)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	int n = 0, m = 0;
	*out = NULL;
	/* the IV, then whole blocks */
	if (len < 32 || len % 16 || len > (1u << 24))
		return CLAW_ERR_PARSE;
	unsigned char *buf = malloc(len + 1);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!buf || !ctx) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, in) != 1 ||
	    EVP_DecryptUpdate(ctx, buf, &n, in + 16, (int)(len - 16)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, buf + n, &m) != 1)
		goto out; /* a bad key or padding */
	*outlen = (size_t)n + (size_t)m;
	buf[*outlen] = '\0';
	*out = (char *)buf;
	buf = NULL;
	rc = CLAW_OK;
out:
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	if (buf) {
		sodium_memzero(buf, len + 1);
		free(buf);
	}
	return rc;
}
