/*
 * testutil.h - helpers shared by the cmocka unit tests, so a test reads as
 * what it checks: a text holds (or lacks) a piece, a JSON object's member
 * is a given string; and removing a test's temporary tree. Include after
 * <cmocka.h> (and <jansson.h> for assert_json_str), by relative path:
 * #include "../testutil.h".
 */
#ifndef CLAW_TEST_TESTUTIL_H
#define CLAW_TEST_TESTUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* hay contains needle (both NUL-terminated). */
#define assert_contains(hay, needle) assert_non_null(strstr((hay), (needle)))
/* hay does not contain needle. */
#define assert_lacks(hay, needle) assert_null(strstr((hay), (needle)))
/* The member key of the JSON object obj is the string want. */
#define assert_json_str(obj, key, want)                                        \
	assert_string_equal(json_string_value(json_object_get((obj), (key))),  \
			    (want))

/* nftw callback removing each entry: with FTW_DEPTH | FTW_PHYS, a tree. */
static inline int test_rm_one(const char *path, const struct stat *st, int flag,
			      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A NUL-terminated copy of size bytes of data (free it), or NULL. For the
 * fuzz harnesses, whose input is not a C string. */
static inline char *test_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split s at its first line "--" ("\n--\n"): end s there and return
 * what follows, or NULL (s unchanged) when there is none. */
static inline char *test_cut(char *s)
{
	char *sep = strstr(s, "\n--\n");
	if (!sep)
		return NULL;
	*sep = '\0';
	return sep + 4;
}

#endif
