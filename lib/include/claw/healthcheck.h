/*
 * healthcheck.h - the probe mode of the daemons (`claw-controlplane
 * healthcheck`, `claw-node-agent healthcheck`): one GET of a readiness URL
 * (over TCP, or over a unix socket), exit status 0 when it answers 200 and
 * 1 otherwise, with one line saying why. Made for container health checks
 * (Compose's healthcheck: test), where a FROM-scratch image has neither a
 * shell nor curl.
 */
#ifndef CLAW_HEALTHCHECK_H
#define CLAW_HEALTHCHECK_H

#include <stdio.h>

/* GET url (through unix_socket when not NULL; the URL's host is then
 * ignored) with a short timeout, and print one line to out, prefixed with
 * prog: "PROG: ready (URL)" or "PROG: not ready: WHY". Returns the exit
 * status: 0 ready (HTTP 200), 1 anything else. Initialises libcurl itself
 * (call it from a process that has not). */
int claw_healthcheck(const char *prog, const char *url, const char *unix_socket,
		     FILE *out);

#endif
