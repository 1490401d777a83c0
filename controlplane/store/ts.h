/*
 * ts.h - SQL that renders a timestamptz column as RFC 3339 UTC text.
 */
#ifndef CP_STORE_TS_H
#define CP_STORE_TS_H

#define CP_TS(col)                                                             \
	"to_char(" col " AT TIME ZONE 'UTC', "                                 \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#endif
