/*
 * mcp_cli.h - the operator's subcommands for trying an MCP server config by
 * hand: "claw-runtime mcp list" and "claw-runtime mcp call".
 */
#ifndef RT_MCP_CLI_H
#define RT_MCP_CLI_H

/* argv[0] is "mcp". Returns the exit status. */
int rt_mcp_cli(int argc, char **argv);

#endif
