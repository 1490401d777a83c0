/*
 * main.c - clawctl, the operator CLI of the claw platform (see cli.h and
 * docs/clawctl.md). The exit status is the command's return value.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv, stdout, stderr);
}
