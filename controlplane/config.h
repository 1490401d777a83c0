/*
 * config.h - the daemon's options: one claw_cfg table (file < environment
 * CLAW_* < flags).
 */
#ifndef CP_CONFIG_H
#define CP_CONFIG_H

#include "cp.h"
#include "claw/cfg.h"

/* Fill cfg from argc/argv, the environment and the config file, and check
 * it. Returns CLAW_CFG_HELP after --help, CLAW_CFG_ERROR with errbuf. */
enum claw_cfg_result cp_config_load(struct cp_config *cfg, int argc,
				    char **argv, char *errbuf, size_t errlen);
void cp_config_release(struct cp_config *cfg);

#endif
