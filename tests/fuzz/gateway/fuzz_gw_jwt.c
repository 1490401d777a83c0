/* fuzz_gw_jwt.c - jwt.c on arbitrary bytes: the first byte chooses a key
 * document (JWKS or certificate map) for gw_jwks_parse, or a token for
 * gw_jwt_verify against a fixed one-key set (the test key of
 * test_gw_jwt.c). Nothing may crash or leak, and no token of these bytes
 * may verify. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k1_jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"e\":\"AQAB\",\"n\":\""
	"28MS8zlRmxLtZGHjBj9HEPJYZXQnvSmoUg5ztMJrg7EGb3ks14DqICoYXcxHERXbn63aAR"
	"qR1J3SqaL-2L0gA708_Iq6-YHAmXrwXF0ZP2E2pfR8ZpEecMMoF3uN_ou6e_"
	"3IfsS9Q4HMc2y98bBOycaboBbWLL0Sv9IzSci2p-"
	"vUWLsLFXu2zu9wjttVjR1ZLzaDsmGdX8-Cg7_o7maETqqh-xy_"
	"blfeLJBNqafboHuDRUqLK9wbTJxkXI6fYEzCrXisCE2qXRFO_"
	"DMjyrL3QNy9TFMPwBGEsqzlazZpVorwuTtiBIFv5L94qtfYbyDg294-"
	"PfR9HHIy36BeafvARQ\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_jwks *ks;
	static const char *const iss[] = {"https://api.botframework.com", NULL};
	/* the corpus's openssl token is for app-1: not this audience */
	struct gw_jwt_rules r = {iss, "app-fuzz", 300, 1750000000};
	if (!ks && gw_jwks_parse(k1_jwks, strlen(k1_jwks), &ks))
		__builtin_trap();
	if (!size)
		return 0;
	if (data[0] & 1) {
		struct gw_jwks *set = NULL;
		if (gw_jwks_parse((const char *)data + 1, size - 1, &set) ==
			    CLAW_OK &&
		    !gw_jwks_count(set))
			__builtin_trap();
		gw_jwks_free(set);
		return 0;
	}
	char *tok = malloc(size);
	if (!tok)
		return 0;
	memcpy(tok, data + 1, size - 1);
	tok[size - 1] = '\0';
	json_t *claims = NULL, *end = NULL;
	if (gw_jwt_verify(ks, tok, &r, &claims, &end) == GW_JWT_OK)
		__builtin_trap(); /* a forgery under the test key */
	json_decref(claims);
	json_decref(end);
	free(tok);
	return 0;
}
