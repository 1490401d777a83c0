/*
 * tool.h - running one of the node's own programs (mkfs.ext4, mount, nft,
 * ...) as the agent, and waiting for it.
 */
#ifndef NA_TOOL_H
#define NA_TOOL_H

#include <stddef.h>

/* Run argv (argv[0] a tool's name, looked up in /usr/sbin, /sbin,
 * /usr/bin and /bin: the agent's PATH may be minimal) and wait: its exit
 * status (0..255), or -1 when it did not run or was killed; msg holds
 * what it said on stderr (or why it did not run) when the status is not
 * 0. The child gets an empty signal mask (the daemon's blocked signals
 * are not for it) and no stdin or stdout; only async-signal-safe calls
 * between fork and exec. */
int na_tool_run(char *const argv[], char *msg, size_t msglen);

#endif
