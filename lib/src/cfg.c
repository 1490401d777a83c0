/*
 * cfg.c - one typed option table drives defaults, the config file, the
 * environment, the command line and --help; see cfg.h.
 */
#include "claw/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_LINE_MAX 4096

static void cfg_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cfg_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static const struct claw_cfg_opt *cfg_find(const struct claw_cfg_opt *opts,
					   const char *name, size_t len)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == len &&
		    strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

/* Set one option from text; where says where the text came from. */
static int cfg_set(const struct claw_cfg_opt *o, const char *val,
		   const char *where, char *errbuf, size_t errlen)
{
	switch (o->type) {
	case CLAW_CFG_STRING: {
		char *copy = strdup(val);
		if (!copy) {
			cfg_err(errbuf, errlen, "out of memory");
			return -1;
		}
		free(*(char **)o->out);
		*(char **)o->out = copy;
		return 0;
	}
	case CLAW_CFG_INT: {
		char *end;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || end == val || *end || v < o->min || v > o->max) {
			cfg_err(errbuf, errlen,
				"%s: '%s' needs a whole number from %ld to "
				"%ld, "
				"got '%.64s'",
				where, o->name, o->min, o->max, val);
			return -1;
		}
		*(long *)o->out = v;
		return 0;
	}
	case CLAW_CFG_BOOL: {
		static const char *const yes[] = {"1", "true", "yes", "on"};
		static const char *const no[] = {"0", "false", "no", "off"};
		for (size_t i = 0; i < 4; i++) {
			if (strcasecmp(val, yes[i]) == 0) {
				*(bool *)o->out = true;
				return 0;
			}
			if (strcasecmp(val, no[i]) == 0) {
				*(bool *)o->out = false;
				return 0;
			}
		}
		cfg_err(errbuf, errlen,
			"%s: '%s' needs true or false, got '%.64s'", where,
			o->name, val);
		return -1;
	}
	}
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int cfg_file(const struct claw_cfg_opt *opts, const char *path,
		    char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cfg_err(errbuf, errlen, "unable to open config file '%s': %s",
			path, strerror(errno));
		return -1;
	}
	char line[CFG_LINE_MAX];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char where[256];
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			cfg_err(errbuf, errlen, "%s: line too long", where);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			cfg_err(errbuf, errlen,
				"%s: expected 'key = value', got '%.64s'",
				where, s);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		const struct claw_cfg_opt *o = cfg_find(opts, key, strlen(key));
		if (!o) {
			cfg_err(errbuf, errlen, "%s: unknown setting '%.64s'",
				where, key);
			rc = -1;
			break;
		}
		if (cfg_set(o, val, where, errbuf, errlen)) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void env_name(const char *prefix, const char *name, char *out,
		     size_t outlen)
{
	size_t n = (size_t)snprintf(out, outlen, "%s_", prefix);
	for (; *name && n + 1 < outlen; name++)
		out[n++] = *name == '-' ? '_'
					: (char)toupper((unsigned char)*name);
	out[n] = '\0';
}

static void cfg_help(const struct claw_cfg_opt *opts, const char *prog,
		     const char *prefix, const char *usage)
{
	printf("Usage: %s [OPTIONS]\n\n%s\n\nOptions (flag, environment "
	       "variable, default):\n",
	       prog, usage);
	if (!cfg_find(opts, "config", 6))
		printf("  --config FILE\n      read settings from FILE "
		       "('key = value' lines; env %s_CONFIG)\n",
		       prefix);
	for (const struct claw_cfg_opt *o = opts; o->name; o++) {
		char env[128];
		env_name(prefix, o->name, env, sizeof(env));
		const char *arg = o->type == CLAW_CFG_INT ? " N"
			: o->type == CLAW_CFG_BOOL        ? " true|false"
							  : " VALUE";
		printf("  --%s%s\n      %s (env %s", o->name, arg, o->help,
		       env);
		if (o->def)
			printf(", default %s", o->def);
		printf(")\n");
	}
	printf("  --help\n      print this help and exit\n");
}

enum claw_cfg_result claw_cfg_load(const struct claw_cfg_opt *opts,
				   const char *env_prefix, const char *usage,
				   int argc, char **argv, char *errbuf,
				   size_t errlen)
{
	const char *prog = argc > 0 ? argv[0] : "claw";
	const char *config = NULL;
	char env[128];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cfg_help(opts, prog, env_prefix, usage);
			return CLAW_CFG_HELP;
		}
	}
	for (const struct claw_cfg_opt *o = opts; o->name; o++)
		if (o->def && cfg_set(o, o->def, "default", errbuf, errlen))
			return CLAW_CFG_ERROR;

	/* The config file named on the command line wins over the env's. A
	 * table with its own "config" option reads that file itself. */
	bool own_config = cfg_find(opts, "config", 6) != NULL;
	snprintf(env, sizeof(env), "%s_CONFIG", env_prefix);
	config = own_config ? NULL : getenv(env);
	for (int i = 1; i < argc && !own_config; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	if (config && *config && cfg_file(opts, config, errbuf, errlen))
		return CLAW_CFG_ERROR;

	for (const struct claw_cfg_opt *o = opts; o->name; o++) {
		env_name(env_prefix, o->name, env, sizeof(env));
		const char *v = getenv(env);
		if (v && cfg_set(o, v, env, errbuf, errlen))
			return CLAW_CFG_ERROR;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			cfg_err(errbuf, errlen,
				"unexpected argument '%.64s'; see --help", a);
			return CLAW_CFG_ERROR;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const char *val = eq ? eq + 1 : NULL;
		bool is_config = !own_config && nlen == 6 &&
			strncmp(name, "config", 6) == 0;
		const struct claw_cfg_opt *o = cfg_find(opts, name, nlen);
		if (!o && !is_config) {
			cfg_err(errbuf, errlen,
				"unknown option '%.64s'; see --help", a);
			return CLAW_CFG_ERROR;
		}
		if (!val) {
			if (o && o->type == CLAW_CFG_BOOL &&
			    (i + 1 >= argc ||
			     strncmp(argv[i + 1], "--", 2) == 0)) {
				val = "true";
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				cfg_err(errbuf, errlen,
					"option '%.64s' needs a value", a);
				return CLAW_CFG_ERROR;
			}
		}
		if (is_config)
			continue;
		char where[96];
		snprintf(where, sizeof(where), "--%.64s", o->name);
		if (cfg_set(o, val, where, errbuf, errlen))
			return CLAW_CFG_ERROR;
	}
	return CLAW_CFG_OK;
}

void claw_cfg_release(const struct claw_cfg_opt *opts)
{
	for (; opts->name; opts++) {
		if (opts->type == CLAW_CFG_STRING) {
			free(*(char **)opts->out);
			*(char **)opts->out = NULL;
		}
	}
}
