/*
 * openapi.h - controlplane/openapi.json, compiled into the binary by the
 * build (cmake/embed.cmake makes openapi_data.c from it).
 */
#ifndef CP_OPENAPI_H
#define CP_OPENAPI_H

#include <stddef.h>

extern const char cp_openapi_json[];
extern const size_t cp_openapi_json_len;

#endif
