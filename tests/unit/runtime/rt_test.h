/*
 * rt_test.h - helpers shared by the runtime's unit tests: a file written
 * in a test's directory, and a config loaded from a fresh temporary
 * directory that holds the secret files it names. Include after
 * <cmocka.h> and the runtime's "config.h".
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The smallest valid provider list, for configs under test. */
#define RT_TEST_PROV                                                           \
	"\"providers\":[{\"kind\":\"openai\",\"base_url\":\"http://x/v1\","    \
	"\"model\":\"m\"}]"

/* dir/name holds text (asserted). */
static inline void rt_test_write(const char *dir, const char *name,
				 const char *text)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* rt_config_load of json as runtime.json in a fresh directory, which also
 * holds the secret files of secrets ({name, text} pairs, NULL-ended, or
 * NULL); everything is removed afterwards. err holds 400 bytes. */
static inline enum claw_rc rt_test_load_cfg(const char *json,
					    const char *const *secrets,
					    struct rt_config *c, char *err)
{
	char dir[] = "/tmp/rt-cfg-XXXXXX", path[600];
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; secrets && secrets[i]; i += 2)
		rt_test_write(dir, secrets[i], secrets[i + 1]);
	rt_test_write(dir, "runtime.json", json);
	snprintf(path, sizeof(path), "%s/runtime.json", dir);
	enum claw_rc rc = rt_config_load(path, dir, c, err, 400);
	unlink(path);
	for (size_t i = 0; secrets && secrets[i]; i += 2) {
		snprintf(path, sizeof(path), "%s/%s", dir, secrets[i]);
		unlink(path);
	}
	rmdir(dir);
	return rc;
}

#endif
