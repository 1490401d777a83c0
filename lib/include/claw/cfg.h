/*
 * cfg.h - one typed config table per binary (as Redis does) drives parsing
 * of the config file, the environment and the command line, validation and
 * --help. Precedence: defaults < file < environment < flags.
 *
 * An option named "data-dir" is set by the flag --data-dir VALUE (or
 * --data-dir=VALUE), the environment variable PREFIX_DATA_DIR and the file
 * line "data-dir = VALUE" ('#' starts a comment). The file comes from
 * --config FILE or PREFIX_CONFIG. Unknown keys and flags are errors.
 * A binary whose config file has another format (JSON) declares its own
 * option named "config": it is then an ordinary string option, and the
 * binary reads the file itself.
 */
#ifndef CLAW_CFG_H
#define CLAW_CFG_H

#include <stdbool.h>
#include <stddef.h>

enum claw_cfg_type {
	CLAW_CFG_STRING, /* out: char ** (allocated; claw_cfg_release frees) */
	CLAW_CFG_INT,    /* out: long *, bounded by min..max */
	CLAW_CFG_BOOL,   /* out: bool *: true/false/yes/no/1/0/on/off */
};

struct claw_cfg_opt {
	const char *name;
	enum claw_cfg_type type;
	void *out;
	const char *def; /* default as text, or NULL (strings stay NULL) */
	long min, max;   /* for CLAW_CFG_INT */
	const char *help;
};

enum claw_cfg_result {
	CLAW_CFG_OK = 0,
	CLAW_CFG_HELP,  /* --help printed to stdout: exit 0 */
	CLAW_CFG_ERROR, /* errbuf says what is wrong: exit 2 */
};

/* opts is terminated by a {NULL} entry. argv[0] is the program name; the
 * arguments that are not options are refused. usage: one paragraph printed
 * first by --help. */
enum claw_cfg_result claw_cfg_load(const struct claw_cfg_opt *opts,
				   const char *env_prefix, const char *usage,
				   int argc, char **argv, char *errbuf,
				   size_t errlen);
/* Free the strings the table points at and reset them to NULL. */
void claw_cfg_release(const struct claw_cfg_opt *opts);

#endif
