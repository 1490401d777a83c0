/*
 * backup.h - the operator subcommands that back up and restore a control
 * plane (docs/operations-backup.md):
 *
 *   claw-controlplane backup-keygen --out FILE
 *   claw-controlplane backup --out FILE [--to-key PUBKEY_FILE] [options]
 *   claw-controlplane restore --from FILE --key SECRET_KEY_FILE
 *                             --data-dir DIR [options]
 *
 * The archive holds one pg_dump snapshot of the database and the data
 * directory's key material (master key ring, audit signing key, audit
 * checkpoints, admin token), encrypted to an X25519 operator key: a random
 * secretstream key sealed with crypto_box_seal, then the records as one
 * XChaCha20-Poly1305 secretstream. Nothing of it is written in plain.
 *
 * Every failure prints one line "claw-controlplane CMD: error CODE: ..."
 * and exits with the code's status (CP_BACKUP_ERRORS); these codes are
 * part of the command line's contract, not of the HTTP API.
 */
#ifndef CP_BACKUP_H
#define CP_BACKUP_H

#include <stdbool.h>
#include <stdio.h>

/* X(NAME, "code", exit status) */
#define CP_BACKUP_ERRORS(X)                                                    \
	X(BK_USAGE, "backup_usage", 2)                                         \
	X(BK_IO, "backup_io", 3)                                               \
	X(BK_DATABASE, "backup_database", 4)                                   \
	X(BK_KEY, "backup_key", 5)                                             \
	X(BK_WRONG_KEY, "backup_wrong_key", 6)                                 \
	X(BK_CORRUPT, "backup_corrupt", 7)                                     \
	X(BK_TRUNCATED, "backup_truncated", 8)                                 \
	X(BK_NOT_EMPTY, "restore_target_not_empty", 9)

/* Is arg (argv[1]) one of the subcommands? */
bool cp_backup_is_command(const char *arg);
/* Run the subcommand argv[1]; returns the exit status. */
int cp_backup_main(int argc, char **argv);
/* The subcommands' lines for the daemon's --help. */
void cp_backup_usage(FILE *f);

#endif
