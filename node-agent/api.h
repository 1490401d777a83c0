/*
 * api.h - the node agent's local HTTP API (see api.c for its routes).
 */
#ifndef NA_API_H
#define NA_API_H

#include "agent.h"
#include "claw/httpd.h"

enum claw_rc na_api_start(struct na_agent *a, struct claw_httpd **out);

#endif
