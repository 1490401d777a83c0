/*
 * test_gw_jwt.c - jwt.c (RS256 JWTs, key sets, the key cache, AES-256-CBC)
 * and token.c's token cache, against fixed vectors:
 *   - RFC 7515 Appendix A.2 (the published RS256 example, key of RFC 7517
 *     A.1): its signature verifies (the token then fails on a claim, as
 *     it has no audience), any change to it does not; Appendix A.1's
 *     HS256 token and "none", "rs256", PS256 headers are refused whatever
 *     the key;
 *   - a token made with the openssl command line (`openssl dgst -sha256
 *     -sign`) over a test-only 2048-bit key checked in below, and the
 *     gateway's own signer producing the very same bytes (PKCS#1 v1.5 is
 *     deterministic);
 *   - every claim rule (issuer, audience as string and array, exp and nbf
 *     with their leeway), unknown and other keys, keys too small, the
 *     certificate-map format;
 *   - the key cache with a counting stand-in fetcher: first use, reuse,
 *     an unknown kid refreshing at most once per min_refresh_s (rotation),
 *     the time to live, a failed refresh keeping the old keys, another
 *     source dropping them, nothing fetched for a malformed token;
 *   - AES-256-CBC on Feishu's published example ("test key", "hello
 *     world") and its refusals;
 *   - the API token cache (reuse, expiry margin, other credentials, a
 *     dropped token, unusable answers).
 * The keys below are test vectors, generated for this file only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/buf.h"
#include "gw.h"

static const char k1_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDbwxLzOVGbEu1k\n"
	"YeMGP0cQ8lhldCe9KahSDnO0wmuDsQZveSzXgOogKhhdzEcRFdufrdoBGpHUndKp\n"
	"ov7YvSADvTz8irr5gcCZevBcXRk/YTal9HxmkR5wwygXe43+i7p7/ch+xL1Dgcxz\n"
	"bL3xsE7JxpugFtYsvRK/0jNJyLan69RYuwsVe7bO73CO21WNHVkvNoOyYZ1fz4KD\n"
	"v+juZoROqqH7HL9uV94skE2pp9uge4NFSosr3BtMnGRcjp9gTMKteKwITapdEU78\n"
	"MyPKsvdA3L1MUw/AEYSyrOVrNmlWivC5O2IEgW/kv3iq19hvIODb3j499H0ccjLf\n"
	"oF5p+8BFAgMBAAECggEAF4987x2UjasZpLBH6MoM7O4GeG4GZVCGLrHvnrqp+yxA\n"
	"noqKZQT5qilz2PkxyfeixvuaX+brfoojD95yiGW8/RmjObIH5KsQAoRnKN0u++1e\n"
	"BgHFpTC8EjvMsbkkhTHmyYHw+6z3sOPwDunix/rDylHO1SV4SxiZiNODfc6/zRXC\n"
	"Wn2ckutV4dttex/XNfe4UHHR0gP+L0SOWVH7nSvfcI1imv8InvdZu9IzDUHaXD71\n"
	"C/CVX7dhcq8ehaAF9u0EV0OxV5OjiiM0TxHEMrAkh6mExX3U1qzjBdHOQnjFpKMT\n"
	"uoUbOlyZBzAgJpOKjVpWPEJJwN4To+a+gQpuHZJi+wKBgQD8z81XVeWMerSgaqrM\n"
	"YkRZ7pTm/mkLVdxRyNcRXPKuPvZDvMOMPFzr1P7dtVzxppf0d9Anx4FVx9YOSlCK\n"
	"eF7dHYJCBpCb7R0eAof7sI/j47LU+TLBDnKvKQsVSfzdEP/pZhOQw8sbpYU5M98G\n"
	"ZixYWbxib+5SfmGympYsh+5RzwKBgQDeiJJO3sjV9Mtpg3lmbvEIuDmdxxzC9j3r\n"
	"u3yKbd4uNPvzmIt7frCJ413QL/cBY2M/H1+oW+qnhJigdP+g3672nzvX9u4ZnOTX\n"
	"hdtA6PrDppdQEttV637kNRo/LJwSGHJLQscgoljGBIlzq0emQwyVVgt2b7GCSZf1\n"
	"YuzYvoD1qwKBgQCrXRP8Oh4x3c7n2cXSal2YdA78kMCVTWrdCP03KMDa+ZSmD6Kh\n"
	"QR1fQe5MTC4nItxnentfK21wvtdKsnbrlXIAAYuUw6xr9QrCl8ajBWhTeblzgUM0\n"
	"910ne/OmR5OeKXK+O1HR09Wt9MFcJ9vqE4HFlXYLZ4Gs6zu/++cFYlJZowKBgCgQ\n"
	"YH7wnyneC60wbW/is2SFfmIIkgYLvTQuqgpmI2UgRughY6NVOMVqeN5ddFP8p8aa\n"
	"iGdQPRvxxGTHC6rT+rUOEAEexNk5pP2kbMfv6g3FdWKGMpTydAL0CIitKGAdpJ4m\n"
	"JKGceO0VrgV0Jc8qLR7JwgCNtWCmjUQxjkCrc55HAoGAc0ShWJAv3sQmuqJWOgpc\n"
	"qhOqbxoVvFWxh3rKmNlPIZ5G1ghp5RQPILQ+u5Zr/mshSqOszNFP44jwRdDQSjoQ\n"
	"s85quM9kXSS/mvvQU34X/Tn3xABeI1Gm05SBltSsJin7THN59coI7LqZDqtITSa1\n"
	"0e/cFUH3QdOeWkEsHBjw958=\n"
	"-----END PRIVATE KEY-----\n";
static const char k2_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC94iQdCnEW/b/r\n"
	"Xwz+NHj88IFeZQ88j1Asu3/zd4aS44mmB10x+rsGVBH2/SBcAqKW9Kum3VAVIORo\n"
	"QXYTGtk866Vye/MMtuF8UcGHvOwGn39Af0eq2TQwRyBHlJbMrUW7IiAMJYck/mNx\n"
	"ZoAqW1+DrM+fh17AmTqCe7GDRiMHH0L/oc5o/T8H15CR1vangYiXbwRjLubiiKIU\n"
	"Xuq/iXl/L6/dmMMwurEFbQCXPGfgfLD/DmVnsRTEtr/Fzh4ckkckPII4FHRNo2ro\n"
	"7Y5Emiqjm2vOO+k0DgFBj0Hjc6xvsEqRHybecY8CSObglK0AJqcOn0psmNSg2wCj\n"
	"Qu3rzkHJAgMBAAECggEAEf2HSOYYnWJIyPLePwZ3MRXTV/9wsF7urHJOVuGr8yZS\n"
	"QBQCCS51gk28Tv+gDX+lanJ/geWFhR7y7QrItlosm2hDKmPifQGlvvrbAHKOlTkO\n"
	"3CxC/MWr+2f9v7JtEDLZgLekvCnhEkj04IVi3sB9/fKFUFrJyCssXzj7clHWl0G9\n"
	"8RmLQzoxOUDg52oNyDwE0qXb061wlhg7H+TYnYU5ixjZM3+zvoa7105+ZfnJ+AgU\n"
	"1XSohPogkCr4vDOZXHDlWhuEgrD0WYA5z5dze2JgIxeaZHvyiqA/8iWdFVNNp418\n"
	"lQMeNySH4a6TIwAzrIZb1a291NtDDVaQtfS9F3O5FQKBgQDjxF0VzLpEyqIUMqQ5\n"
	"jlKA+YabFf/85lolH8ZIovkZcf/OYDFgO1ilOPwvntMEvuzw0IHGGfqMk+hFifS4\n"
	"L7SQLDHBGep9dcKuQp98y/l2LaxFKfYPf2Hkhdxx6Y0biDbYNyfDcaXZ7X95ELtD\n"
	"iVE1veg/OVZEWzikqGCoL+HjDQKBgQDVa6FjeNZvMnmUOzUKFM+01TLR8FCOX4zx\n"
	"0Dkq5McVTPuXI9aXXHn+xMTFM2cCMF7zn6FExRMetHLe/WeaonfooP4kz5AI50DM\n"
	"KMCelWaqB/eP770NWiR3a5QBRy2tHvZqfLGBp9NC83nK7I+9O1bYVZEKabBBr452\n"
	"4YUah1qarQKBgECpyPudaeyJ0sYFMpacj1PKg6qX7lswUrtjb/nDOxE8SjGfIaV+\n"
	"c8ZEjWQ/pQ0d30rnB1Dkozsx6qmDZxS7hnm/8kguQWJpAmJSy9C0YBhrExN3vEHe\n"
	"Gj60ukck1UjRvTBZSFK2ey2JvbzzQRcFbybgyYTZlGJHu6cTno1hOrIpAoGBANNY\n"
	"lqXvEEtl7MhCKbAmE9q8FmuYU+3p6aW90h8MF6qcZbmyn9uclKMbMNEoqiWcySrx\n"
	"Nb7oepq5j9gLkgGsSppwc7z4X2axu5Vx9e4VfWl8IkjD3K/QSLSKMDNjzXPXaabi\n"
	"fNYs4CU4/69YvK9kiAgMFGn/Z7BkrexEQI+Y4ryxAoGAMCCrfsprm0cmd6Id/zSe\n"
	"US5pQCFZIrlH8vcfBViiw/MLQlErXikI6VQABE9gmTwv1qJSHDaykDuh15Xne+CF\n"
	"zYHmb0v+AYNtjQOg8zGo/8YAi9e3R1ClHrDA9bJB69cEOtUn8d9tGbK99EGiK+Am\n"
	"vWt/c4Et0LQfFmVEpfgEXmA=\n"
	"-----END PRIVATE KEY-----\n";
static const char small_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAOYet+rTHqgVgY6j\n"
	"FZYKzNVftgH5XOCR3NtpfhMo3sRlNU8eOHmrJAc8D2/ZeL5q3KI9vQr0rj0W656v\n"
	"W3InSzEkA2ioMXhch0f2csyoVSThLdwYsuLqVz0b9J/4KXuK+aURtBOBsp0zMTfl\n"
	"1CGUJeFxIy3YV+l7OqK1jGCb5EjlAgMBAAECgYEArYLF/EqZl/U3TdyL3ylfjxdu\n"
	"vghOzolM9SeSx1GOvpjtXC2WOa8gKFBR920LjNA4ciCJFOSvKCLLIEhqdCVKnGGS\n"
	"Z5tOMDW27nEZXWY0QnWaH7W0f3k4Y6W1VTccAOS9gxtY+J+VsZ5p2CjlRn/2bwPn\n"
	"ton67mI7oCk5AwXE8+ECQQD8lNPH+ZQ08edZHxbocYCJpV0EUl+J/FOrswZ0671p\n"
	"CE0RyuqQbDeP0i8JVkofL4NELZ7ZRVzwHADKo/VbY3FtAkEA6TwQgJh7KN4Yy6nU\n"
	"c728tlXcBp8UGnwixZdmwC9N6ALS7Qw6R3PtqjuvL6ymz0gSScptfA1kdHr26q3V\n"
	"1ssCWQJBAPNukMpMHW4Fsv3u+8odElAXIxX2OgQoP4/c5B0t0wh2qqi6U+XLlqUz\n"
	"YofyNU/nH/FGsrEeq9ryckTbTq68oeUCQEYfgPao4Z6P5/STwwRpb2uCtPxop6qu\n"
	"1+WAd6wgjNPMxY3vtzX0bOhZuXoj9qMrkBQPgItjm2hJ8CLu0PQbZUECQGKL0Mv4\n"
	"pitLIMYLWvPv8ePGzF2FR58WgpxcShz6wUKDuN8MTITcOJqZE4Qi31TEUUHfwZVD\n"
	"BLI5d2GVBVI5Vg0=\n"
	"-----END PRIVATE KEY-----\n";
static const char c1_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDATCCAemgAwIBAgIUft9FO+sX7GlPczxgMzWRCnRx0WwwDQYJKoZIhvcNAQEL\n"
	"BQAwDzENMAsGA1UEAwwEdGVzdDAgFw0yNjEyMDYwNzM4NDZaGA8yMTI2MTExMjA3\n"
	"Mzg0NlowDzENMAsGA1UEAwwEdGVzdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC\n"
	"AQoCggEBANvDEvM5UZsS7WRh4wY/RxDyWGV0J70pqFIOc7TCa4OxBm95LNeA6iAq\n"
	"GF3MRxEV25+t2gEakdSd0qmi/ti9IAO9PPyKuvmBwJl68FxdGT9hNqX0fGaRHnDD\n"
	"KBd7jf6Lunv9yH7EvUOBzHNsvfGwTsnGm6AW1iy9Er/SM0nItqfr1Fi7CxV7ts7v\n"
	"cI7bVY0dWS82g7JhnV/PgoO/6O5mhE6qofscv25X3iyQTamn26B7g0VKiyvcG0yc\n"
	"ZFyOn2BMwq14rAhNql0RTvwzI8qy90DcvUxTD8ARhLKs5Ws2aVaK8Lk7YgSBb+S/\n"
	"eKrX2G8g4NvePj30fRxyMt+gXmn7wEUCAwEAAaNTMFEwHQYDVR0OBBYEFAIKxAg+\n"
	"zCEmvFiueBJR0lEej0xqMB8GA1UdIwQYMBaAFAIKxAg+zCEmvFiueBJR0lEej0xq\n"
	"MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAAip+uMpo8f5fzDc\n"
	"YJ26L9l9CkFxzH/2r5SQ7wU7v8k2wldso9R5EcB/zbsCYclj/ZQxSqwVcD7n/3a6\n"
	"yZwOB4Gp9Re92NEO851P6mAe1ksKPBHTxavaT5sJvCv+Fsi8syVJknwvoa4+Baxp\n"
	"MTgynKKUuafKq4SbSidKDT1flpvu4csPYg0htpagc2f4TlyIvHJS+mjmfGh5SzN8\n"
	"OsHJUFViYxlviXa0XOcGXIN7/EXH6volpsug6O+18yvLXjsuAKnNdxYcTxNLM/j2\n"
	"3KSgaR9GeT/vc4Ltx7U8RqNC7McyyC6iii67lDeemysRbPVirYKLH4dFHj1hXxkY\n"
	"lr5Sbjc=\n"
	"-----END CERTIFICATE-----\n";
static const char k1_n[] =
	"28MS8zlRmxLtZGHjBj9HEPJYZXQnvSmoUg5ztMJrg7EGb3ks14DqICoYXcxH"
	"ERXbn63aARqR1J3SqaL-2L0gA708_Iq6-YHAmXrwXF0ZP2E2pfR8ZpEecMMo"
	"F3uN_ou6e_3IfsS9Q4HMc2y98bBOycaboBbWLL0Sv9IzSci2p-vUWLsLFXu2"
	"zu9wjttVjR1ZLzaDsmGdX8-Cg7_o7maETqqh-xy_blfeLJBNqafboHuDRUqL"
	"K9wbTJxkXI6fYEzCrXisCE2qXRFO_DMjyrL3QNy9TFMPwBGEsqzlazZpVorw"
	"uTtiBIFv5L94qtfYbyDg294-PfR9HHIy36BeafvARQ";
static const char k2_n[] =
	"veIkHQpxFv2_618M_jR4_PCBXmUPPI9QLLt_83eGkuOJpgddMfq7BlQR9v0g"
	"XAKilvSrpt1QFSDkaEF2ExrZPOulcnvzDLbhfFHBh7zsBp9_QH9Hqtk0MEcg"
	"R5SWzK1FuyIgDCWHJP5jcWaAKltfg6zPn4dewJk6gnuxg0YjBx9C_6HOaP0_"
	"B9eQkdb2p4GIl28EYy7m4oiiFF7qv4l5fy-v3ZjDMLqxBW0Alzxn4Hyw_w5l"
	"Z7EUxLa_xc4eHJJHJDyCOBR0TaNq6O2ORJoqo5trzjvpNA4BQY9B43Osb7BK"
	"kR8m3nGPAkjm4JStACanDp9KbJjUoNsAo0Lt685ByQ";
static const char small_n[] =
	"5h636tMeqBWBjqMVlgrM1V-2Aflc4JHc22l-EyjexGU1Tx44easkBzwPb9l4"
	"vmrcoj29CvSuPRbrnq9bcidLMSQDaKgxeFyHR_ZyzKhVJOEt3Biy4upXPRv0"
	"n_gpe4r5pRG0E4GynTMxN-XUIZQl4XEjLdhX6Xs6orWMYJvkSOU";
static const char tok1_openssl[] =
	"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3Mi"
	"OiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIiwiYXVkIjoiYXBwLTEi"
	"LCJleHAiOjQxMDI0NDQ4MDAsIm5iZiI6MTcwMDAwMDAwMCwic2VydmljZVVy"
	"bCI6Imh0dHBzOi8vc21iYS50cmFmZmljbWFuYWdlci5uZXQvYW1lci8ifQ.G"
	"n_iZAj2dBFQw6PUSyXVtEFSUb55XiB08UPNjHSGEDadPVM2Dgp6EmOJSlTtS"
	"iSXZgTe_Ut7ZaaD0vFpVwGsIt5zc6KIxPdegizu6AP7602_vOPlOTSuY9q0C"
	"OUx-tcXh0l7NxFj93bNedZiuT_fdNOfkrEPMXryyZleuXRWJNZQkzBEz_KL5"
	"wY_HUUJOq74dhOcTSKgRJAYaNmesvhWRGAmEuLkBZfDSFToybIApznfl1Xok"
	"s1i4Uqn-hOo8tGvrtV4IVIndwzhI9HBMk_uOOkOx-mWBcphWrRaon-2-Irz9"
	"4hHsgoI_EyBsEzGODR1HUOURzlipsO9mCPFXoVx5g";

/* RFC 7515 Appendix A.2 */
static const char rfc_n[] =
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
	"4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2"
	"jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7"
	"WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvU"
	"K-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char rfc_a2[] =
	"eyJhbGciOiJSUzI1NiJ9."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
	"LmNvbS9pc19yb290Ijp0cnVlfQ."
	"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuH"
	"Im4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdi"
	"uB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN"
	"9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2"
	"w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77R"
	"w";
/* RFC 7515 Appendix A.1 (HS256) */
static const char rfc_a1[] =
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
	"LmNvbS9pc19yb290Ijp0cnVlfQ."
	"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static struct gw_jwks *jwks_of(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	struct gw_jwks *ks = NULL;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(gw_jwks_parse(buf, strlen(buf), &ks), CLAW_OK);
	return ks;
}

static const char *const bf_iss[] = {"https://api.botframework.com", NULL};

static void rfc7515_vectors(void **state)
{
	(void)state;
	static const char *const joe[] = {"joe", NULL};
	struct gw_jwt_rules r = {joe, "anyone", 0, 1300819000};
	struct gw_jwks *ks = jwks_of("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
				     "\"e\":\"AQAB\"}]}",
				     rfc_n);
	assert_int_equal(gw_jwks_count(ks), 1);
	/* the signature holds; the example has no "aud" */
	assert_int_equal(gw_jwt_verify(ks, rfc_a2, &r, NULL, NULL),
			 GW_JWT_AUDIENCE);
	/* one character of the signature, or of the payload, changed */
	char t[sizeof(rfc_a2)];
	memcpy(t, rfc_a2, sizeof(t));
	t[sizeof(t) - 3] = t[sizeof(t) - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
			 GW_JWT_SIGNATURE);
	memcpy(t, rfc_a2, sizeof(t));
	t[30] = t[30] == 'a' ? 'b' : 'a';
	assert_int_not_equal(gw_jwt_verify(ks, t, &r, NULL, NULL), GW_JWT_OK);
	assert_int_not_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
			     GW_JWT_AUDIENCE);
	/* HS256 (A.1) is not RS256, whatever key */
	assert_int_equal(gw_jwt_verify(ks, rfc_a1, &r, NULL, NULL), GW_JWT_ALG);
	/* {"alg":"none"}, {"alg":"rs256"}, {"alg":"PS256"}, no alg */
	static const char *const bad_alg[] = {
		"eyJhbGciOiJub25lIn0", "eyJhbGciOiJyczI1NiJ9",
		"eyJhbGciOiJQUzI1NiJ9", "eyJ0eXAiOiJKV1QifQ"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(t, sizeof(t), "%s%s", bad_alg[i], strchr(rfc_a2, '.'));
		assert_int_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
				 GW_JWT_ALG);
	}
	/* unsigned ("none" with an empty signature), extra parts, garbage */
	assert_int_equal(
		gw_jwt_verify(ks, "eyJhbGciOiJub25lIn0.e30.", &r, NULL, NULL),
		GW_JWT_MALFORMED);
	static const char *const junk[] = {
		"", ".", "..", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.AA"};
	for (size_t i = 0; i < 7; i++)
		assert_int_not_equal(gw_jwt_verify(ks, junk[i], &r, NULL, NULL),
				     GW_JWT_OK);
	assert_int_equal(gw_jwt_verify(ks, NULL, &r, NULL, NULL),
			 GW_JWT_MALFORMED);
	gw_jwks_free(ks);
}

static struct gw_jwks *k1_set(void)
{
	return jwks_of("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"use\":"
		       "\"sig\",\"n\":\"%s\",\"e\":\"AQAB\",\"endorsements\":"
		       "[\"msteams\"]},{\"kty\":\"EC\",\"kid\":\"ec\"}]}",
		       k1_n);
}

/* A token of key pem with these claims (kid in the header). */
static char *token(const char *pem, const char *kid, json_t *claims_steal)
{
	char *out = NULL;
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", kid,
			      "typ", "JWT");
	assert_int_equal(gw_jwt_sign_rs256(pem, h, claims_steal, &out),
			 CLAW_OK);
	json_decref(h);
	json_decref(claims_steal);
	return out;
}

static void openssl_token_and_signer(void **state)
{
	(void)state;
	struct gw_jwks *ks = k1_set();
	struct gw_jwt_rules r = {bf_iss, "app-1", 300, 1750000000};
	json_t *claims = NULL, *end = NULL;
	assert_int_equal(gw_jwks_count(ks), 1); /* the EC key is skipped */
	assert_int_equal(gw_jwt_verify(ks, tok1_openssl, &r, &claims, &end),
			 GW_JWT_OK);
	assert_string_equal(
		json_string_value(json_object_get(claims, "serviceUrl")),
		"https://smba.trafficmanager.net/amer/");
	assert_string_equal(json_string_value(json_array_get(end, 0)),
			    "msteams");
	json_decref(claims);
	json_decref(end);
	/* the gateway's signer makes the same bytes from the same input */
	char *mine = token(k1_pem, "k1",
			   json_pack("{s:s, s:s, s:I, s:i, s:s}", "iss",
				     "https://api.botframework.com", "aud",
				     "app-1", "exp", (json_int_t)4102444800LL,
				     "nbf", 1700000000, "serviceUrl",
				     "https://smba.trafficmanager.net/amer/"));
	assert_string_equal(mine, tok1_openssl);
	free(mine);
	/* signing refuses a small key and what is no key */
	json_t *h = json_pack("{s:s}", "alg", "RS256"), *c = json_object();
	char *out = NULL;
	assert_int_not_equal(gw_jwt_sign_rs256(small_pem, h, c, &out), CLAW_OK);
	assert_int_not_equal(gw_jwt_sign_rs256("not a key", h, c, &out),
			     CLAW_OK);
	assert_null(out);
	json_decref(h);
	json_decref(c);
	gw_jwks_free(ks);
}

static void claims_rules(void **state)
{
	(void)state;
	struct gw_jwks *ks = k1_set();
	long long now = 1750000000;
	struct gw_jwt_rules r = {bf_iss, "app-1", 300, now};
	struct {
		json_t *claims;
		enum gw_jwt_err want;
	} cases[] = {
		{json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud", "app-1",
			   "exp", (json_int_t)now + 60),
		 GW_JWT_OK},
		{json_pack("{s:s, s:[s,s], s:I}", "iss", bf_iss[0], "aud", "x",
			   "app-1", "exp", (json_int_t)now + 60),
		 GW_JWT_OK},
		/* within the leeway after exp; at its end */
		{json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud", "app-1",
			   "exp", (json_int_t)now - 299),
		 GW_JWT_OK},
		{json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud", "app-1",
			   "exp", (json_int_t)now - 300),
		 GW_JWT_EXPIRED},
		{json_pack("{s:s, s:s, s:I, s:I}", "iss", bf_iss[0], "aud",
			   "app-1", "exp", (json_int_t)now + 900, "nbf",
			   (json_int_t)now + 301),
		 GW_JWT_NOT_YET},
		{json_pack("{s:s, s:s, s:I, s:I}", "iss", bf_iss[0], "aud",
			   "app-1", "exp", (json_int_t)now + 900, "nbf",
			   (json_int_t)now + 299),
		 GW_JWT_OK},
		{json_pack("{s:s, s:s}", "iss", bf_iss[0], "aud", "app-1"),
		 GW_JWT_MALFORMED}, /* no exp */
		{json_pack("{s:s, s:s, s:s}", "iss", bf_iss[0], "aud", "app-1",
			   "exp", "soon"),
		 GW_JWT_MALFORMED},
		{json_pack("{s:s, s:s, s:I}", "iss", "https://evil.example",
			   "aud", "app-1", "exp", (json_int_t)now + 60),
		 GW_JWT_ISSUER},
		{json_pack("{s:s, s:I}", "aud", "app-1", "exp",
			   (json_int_t)now + 60),
		 GW_JWT_ISSUER},
		{json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud", "app-2",
			   "exp", (json_int_t)now + 60),
		 GW_JWT_AUDIENCE},
		{json_pack("{s:s, s:[s], s:I}", "iss", bf_iss[0], "aud",
			   "app-1x", "exp", (json_int_t)now + 60),
		 GW_JWT_AUDIENCE},
		{json_pack("{s:s, s:I}", "iss", bf_iss[0], "exp",
			   (json_int_t)now + 60),
		 GW_JWT_AUDIENCE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = token(k1_pem, "k1", cases[i].claims);
		assert_int_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
				 cases[i].want);
		free(t);
	}
	/* another key under the known kid; an unknown kid */
	json_t *ok = json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud",
			       "app-1", "exp", (json_int_t)now + 60);
	char *t = token(k2_pem, "k1", json_incref(ok));
	assert_int_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
			 GW_JWT_SIGNATURE);
	free(t);
	t = token(k1_pem, "k9", json_incref(ok));
	assert_int_equal(gw_jwt_verify(ks, t, &r, NULL, NULL),
			 GW_JWT_UNKNOWN_KEY);
	free(t);
	/* the certificate map (Google's shape) of the same key */
	json_t *certs = json_pack("{s:s}", "k1", c1_pem);
	char *doc = json_dumps(certs, 0);
	struct gw_jwks *cs = NULL;
	assert_int_equal(gw_jwks_parse(doc, strlen(doc), &cs), CLAW_OK);
	t = token(k1_pem, "k1", json_incref(ok));
	assert_int_equal(gw_jwt_verify(cs, t, &r, NULL, NULL), GW_JWT_OK);
	free(t);
	/* without a kid: only a set of one key */
	json_t *h = json_pack("{s:s}", "alg", "RS256");
	assert_int_equal(gw_jwt_sign_rs256(k1_pem, h, ok, &t), CLAW_OK);
	assert_int_equal(gw_jwt_verify(cs, t, &r, NULL, NULL), GW_JWT_OK);
	struct gw_jwks *two = jwks_of(
		"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\","
		"\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"kid\":\"k2\",\"n\":"
		"\"%s\",\"e\":\"AQAB\"}]}",
		k1_n, k2_n);
	assert_int_equal(gw_jwks_count(two), 2);
	assert_int_equal(gw_jwt_verify(two, t, &r, NULL, NULL),
			 GW_JWT_UNKNOWN_KEY);
	free(t);
	gw_jwks_free(two);
	json_decref(h);
	json_decref(ok);
	free(doc);
	json_decref(certs);
	gw_jwks_free(cs);
	gw_jwks_free(ks);
}

static void key_sets_refused(void **state)
{
	(void)state;
	struct gw_jwks *ks = NULL;
	char doc[4096];
	/* a 1024-bit key is no key: nothing usable */
	snprintf(doc, sizeof(doc),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"s\",\"n\":\"%s\","
		 "\"e\":\"AQAB\"}]}",
		 small_n);
	assert_int_equal(gw_jwks_parse(doc, strlen(doc), &ks),
			 CLAW_ERR_NOT_FOUND);
	/* an encryption key, another alg, a bad exponent */
	snprintf(doc, sizeof(doc),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"use\":\"enc\","
		 "\"n\":\"%s\",\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"kid\":\"b\","
		 "\"alg\":\"RS512\",\"n\":\"%s\",\"e\":\"AQAB\"},{\"kty\":"
		 "\"RSA\",\"kid\":\"c\",\"n\":\"%s\",\"e\":\"A+B\"}]}",
		 k1_n, k1_n, k1_n);
	assert_int_equal(gw_jwks_parse(doc, strlen(doc), &ks),
			 CLAW_ERR_NOT_FOUND);
	static const char *const bad[] = {"",
					  "[]",
					  "{\"keys\":{}}",
					  "{\"k\":5}",
					  "{\"k\":\"not pem\"}",
					  "{\"keys\":[]}",
					  "{\"a\":1,\"a\":2}"};
	for (size_t i = 0; i < 7; i++) {
		assert_int_not_equal(gw_jwks_parse(bad[i], strlen(bad[i]), &ks),
				     CLAW_OK);
		assert_null(ks);
	}
}

/* ---------------------------------------------------------- key cache */
struct fetcher {
	int calls;
	const char *doc; /* NULL: fail */
};

static enum claw_rc fetch(void *cls, struct claw_buf *doc, char *why,
			  size_t whylen)
{
	struct fetcher *f = cls;
	f->calls++;
	if (!f->doc) {
		snprintf(why, whylen, "refused");
		return CLAW_ERR_IO;
	}
	return claw_buf_puts(doc, f->doc);
}

static void key_cache(void **state)
{
	(void)state;
	char one[2048], both[4096];
	long long now = 1750000000;
	snprintf(one, sizeof(one),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\","
		 "\"e\":\"AQAB\"}]}",
		 k1_n);
	snprintf(both, sizeof(both),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\","
		 "\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"kid\":\"k2\",\"n\":\"%s\","
		 "\"e\":\"AQAB\"}]}",
		 k1_n, k2_n);
	struct fetcher f = {0, one};
	struct gw_keycache *kc = gw_keycache_new(3600, 60);
	json_t *ok = json_pack("{s:s, s:s, s:I}", "iss", bf_iss[0], "aud",
			       "app-1", "exp", (json_int_t)now + 100000);
	char *t1 = token(k1_pem, "k1", json_incref(ok));
	char *t2 = token(k2_pem, "k2", json_incref(ok));
	struct gw_jwt_rules r = {bf_iss, "app-1", 300, now};
#define V(tok)                                                                 \
	gw_keycache_verify(kc, "https://keys", fetch, &f, tok, &r, NULL, NULL)
	/* malformed or wrong-alg tokens fetch nothing */
	assert_int_equal(V("x.y"), GW_JWT_MALFORMED);
	assert_int_equal(V(rfc_a1), GW_JWT_ALG);
	assert_int_equal(f.calls, 0);
	assert_int_equal(V(t1), GW_JWT_OK);
	assert_int_equal(V(t1), GW_JWT_OK);
	assert_int_equal(f.calls, 1);
	/* rotation: k2 is unknown; within a minute of the last fetch no
	 * new fetch (forged kids cannot hammer the key server) */
	f.doc = both;
	r.now = now + 30;
	assert_int_equal(V(t2), GW_JWT_UNKNOWN_KEY);
	assert_int_equal(f.calls, 1);
	r.now = now + 61;
	assert_int_equal(V(t2), GW_JWT_OK);
	assert_int_equal(f.calls, 2);
	/* the time to live: fetched again; a failure keeps the keys */
	f.doc = NULL;
	r.now = now + 61 + 3600;
	assert_int_equal(V(t1), GW_JWT_OK);
	assert_int_equal(f.calls, 3);
	r.now += 10; /* a failed fetch is not repeated at once */
	assert_int_equal(V(t2), GW_JWT_OK);
	assert_int_equal(f.calls, 3);
	/* another source: the keys of the old one are not used */
	assert_int_equal(gw_keycache_verify(kc, "https://other", fetch, &f, t1,
					    &r, NULL, NULL),
			 GW_JWT_NO_KEYS);
	assert_int_equal(f.calls, 4);
	f.doc = one;
	r.now += 61;
	assert_int_equal(gw_keycache_verify(kc, "https://other", fetch, &f, t1,
					    &r, NULL, NULL),
			 GW_JWT_OK);
	assert_int_equal(f.calls, 5);
#undef V
	free(t1);
	free(t2);
	json_decref(ok);
	gw_keycache_free(kc);
}

/* A Google service account's JWT grant (RFC 7523): signed with the
 * account's key, header kid = private_key_id, claims iss, scope, aud =
 * the configured token URL (never the key file's token_uri), iat, exp an
 * hour later. */
static void service_account_assertion(void **state)
{
	(void)state;
	char *assertion = NULL;
	json_t *key = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type",
				"service_account", "client_email",
				"bot@p.iam.gserviceaccount.com", "private_key",
				k1_pem, "private_key_id", "k1", "token_uri",
				"http://10.0.0.1/steal");
	char *key_json = json_dumps(key, JSON_COMPACT);
	assert_null(strchr(key_json, '\n')); /* one line, as the secret */
	assert_int_equal(gw_googlechat_assertion(key_json, "scope-x",
						 "https://oauth2.example/token",
						 1750000000, &assertion),
			 CLAW_OK);
	static const char *const iss[] = {"bot@p.iam.gserviceaccount.com",
					  NULL};
	struct gw_jwt_rules r = {iss, "https://oauth2.example/token", 0,
				 1750000000};
	struct gw_jwks *ks = k1_set();
	json_t *claims = NULL;
	assert_int_equal(gw_jwt_verify(ks, assertion, &r, &claims, NULL),
			 GW_JWT_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "scope")),
			    "scope-x");
	assert_int_equal(
		json_integer_value(json_object_get(claims, "exp")) -
			json_integer_value(json_object_get(claims, "iat")),
		3600);
	json_decref(claims);
	free(assertion);
	/* unusable keys: no email, not JSON, no RSA key, a small key */
	static const char *const bad[] = {
		"{\"private_key\":\"x\"}",
		"not json",
		"{\"client_email\":\"a\",\"private_key\":\"x\"}",
	};
	for (size_t i = 0; i < 3; i++)
		assert_int_not_equal(gw_googlechat_assertion(bad[i], "s",
							     "https://t", 1,
							     &assertion),
				     CLAW_OK);
	json_object_set_new(key, "private_key", json_string(small_pem));
	free(key_json);
	key_json = json_dumps(key, JSON_COMPACT);
	assert_int_not_equal(gw_googlechat_assertion(key_json, "s", "https://t",
						     1, &assertion),
			     CLAW_OK);
	assert_null(assertion);
	assert_int_not_equal(
		gw_googlechat_assertion(key_json, "s", NULL, 1, &assertion),
		CLAW_OK);
	free(key_json);
	json_decref(key);
	gw_jwks_free(ks);
}

/* ------------------------------------------------------------ AES-CBC */
static void aes_feishu_example(void **state)
{
	(void)state;
	/* Feishu's "Receive events" page: encrypt key "test key",
	 * P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk= is "hello world" */
	char *plain = NULL;
	size_t n = 0;
	assert_int_equal(gw_feishu_decrypt("test key",
					   "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG"
					   "1pReEzghk=",
					   &plain, &n),
			 CLAW_OK);
	assert_int_equal(n, 11);
	assert_string_equal(plain, "hello world");
	free(plain);
	assert_int_not_equal(gw_feishu_decrypt("other key",
					       "P37w+VZImNgPEO1RBhJ6RtKl7n6zym"
					       "IbEG1pReEzghk=",
					       &plain, &n),
			     CLAW_OK);
	assert_null(plain);
	static const char *const bad[] = {
		"", "P37w+VZImNgPEO1RBhJ6Rg==", "not base64!",
		"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzg"};
	for (size_t i = 0; i < 4; i++)
		assert_int_not_equal(
			gw_feishu_decrypt("test key", bad[i], &plain, &n),
			CLAW_OK);
	uint8_t key[32] = {0}, in[48] = {0};
	assert_int_not_equal(gw_aes256cbc_decrypt(key, in, 40, &plain, &n),
			     CLAW_OK);
	assert_int_not_equal(gw_aes256cbc_decrypt(key, in, 16, &plain, &n),
			     CLAW_OK);
}

/* ------------------------------------------------------------ tokens */
struct tok_fetch {
	int calls;
	const char *value;
	long life;
};

static enum claw_rc tok_fetch(void *cls, char **tok, long *life,
			      struct gw_send_res *res)
{
	struct tok_fetch *f = cls;
	f->calls++;
	res->st = GW_SEND_OK;
	*tok = strdup(f->value);
	*life = f->life;
	return CLAW_OK;
}

static void token_cache(void **state)
{
	(void)state;
	struct gw_token *t = gw_token_new();
	struct tok_fetch f = {0, "tok-1", 3600};
	struct gw_send_res res = {0};
	char out[100], a[65], b[65];
	gw_token_ident("https://login", "app", "secret", a);
	gw_token_ident("https://login", "app", "secret2", b);
	assert_string_not_equal(a, b);
	assert_int_equal(
		gw_token_get(t, a, 1000, tok_fetch, &f, out, sizeof(out), &res),
		CLAW_OK);
	assert_string_equal(out, "Bearer tok-1");
	f.value = "tok-2";
	/* cached until five minutes before it expires */
	assert_int_equal(gw_token_get(t, a, 1000 + 3299, tok_fetch, &f, out,
				      sizeof(out), &res),
			 CLAW_OK);
	assert_string_equal(out, "Bearer tok-1");
	assert_int_equal(gw_token_get(t, a, 1000 + 3300, tok_fetch, &f, out,
				      sizeof(out), &res),
			 CLAW_OK);
	assert_string_equal(out, "Bearer tok-2");
	/* other credentials: another token */
	f.value = "tok-3";
	gw_token_get(t, b, 4400, tok_fetch, &f, out, sizeof(out), &res);
	assert_string_equal(out, "Bearer tok-3");
	assert_int_equal(f.calls, 3);
	/* a refused token is dropped; another value is not */
	gw_token_drop(t, "Bearer tok-2");
	gw_token_get(t, b, 4400, tok_fetch, &f, out, sizeof(out), &res);
	assert_int_equal(f.calls, 3);
	gw_token_drop(t, "Bearer tok-3");
	f.value = "tok-4";
	gw_token_get(t, b, 4400, tok_fetch, &f, out, sizeof(out), &res);
	assert_string_equal(out, "Bearer tok-4");
	/* a short life: half of it */
	f.value = "tok-5";
	f.life = 100;
	gw_token_drop(t, out);
	gw_token_get(t, b, 5000, tok_fetch, &f, out, sizeof(out), &res);
	f.value = "tok-6";
	gw_token_get(t, b, 5049, tok_fetch, &f, out, sizeof(out), &res);
	assert_string_equal(out, "Bearer tok-5");
	gw_token_get(t, b, 5050, tok_fetch, &f, out, sizeof(out), &res);
	assert_string_equal(out, "Bearer tok-6");
	/* unusable answers: empty, a line break (header injection) */
	f.value = "";
	gw_token_drop(t, out);
	assert_int_not_equal(
		gw_token_get(t, b, 6000, tok_fetch, &f, out, sizeof(out), &res),
		CLAW_OK);
	f.value = "x\r\nX-Evil: 1";
	assert_int_not_equal(
		gw_token_get(t, b, 6000, tok_fetch, &f, out, sizeof(out), &res),
		CLAW_OK);
	assert_int_equal(res.st, GW_SEND_RETRY);
	gw_token_free(t);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc7515_vectors),
		cmocka_unit_test(openssl_token_and_signer),
		cmocka_unit_test(claims_rules),
		cmocka_unit_test(key_sets_refused),
		cmocka_unit_test(key_cache),
		cmocka_unit_test(service_account_assertion),
		cmocka_unit_test(aes_feishu_example),
		cmocka_unit_test(token_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
