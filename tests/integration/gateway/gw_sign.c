/*
 * gw_sign.c - test helper: Ed25519 signing for the Discord tests (Python's
 * standard library has none). "gw-sign pk SEEDHEX" prints the public key;
 * "gw-sign sign SEEDHEX" signs stdin and prints the signature, both hex;
 * "gw-sign signlines SEEDHEX" signs each line of stdin (without its
 * newline) and prints one signature a line (the gateway benchmark signs
 * thousands of interactions at once).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned char seed[32], pk[32], sk[64], sig[64];
	char hex[129];
	if (argc != 3 || sodium_init() < 0 || strlen(argv[2]) != 64 ||
	    sodium_hex2bin(seed, 32, argv[2], 64, NULL, NULL, NULL)) {
		fprintf(stderr, "usage: gw-sign pk|sign SEEDHEX(64)\n");
		return 2;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	if (strcmp(argv[1], "pk") == 0) {
		puts(sodium_bin2hex(hex, sizeof(hex), pk, 32));
		return 0;
	}
	if (strcmp(argv[1], "signlines") == 0) {
		static char line[1 << 16];
		while (fgets(line, sizeof(line), stdin)) {
			size_t n = strcspn(line, "\n");
			crypto_sign_detached(sig, NULL, (unsigned char *)line,
					     n, sk);
			puts(sodium_bin2hex(hex, sizeof(hex), sig, 64));
		}
		return 0;
	}
	size_t cap = 1 << 16, len = 0, n;
	unsigned char *msg = malloc(cap);
	while (msg && (n = fread(msg + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap) {
			unsigned char *p = realloc(msg, cap *= 2);
			if (!p)
				break;
			msg = p;
		}
	}
	if (!msg)
		return 1;
	crypto_sign_detached(sig, NULL, msg, len, sk);
	puts(sodium_bin2hex(hex, sizeof(hex), sig, 64));
	free(msg);
	return 0;
}
