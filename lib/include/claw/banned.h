/*
 * banned.h - calls that are compile errors in this tree (as git's banned.h).
 *
 * Every translation unit gets this header first (-include, set in the
 * top-level CMakeLists.txt). It includes the system headers that declare the
 * banned functions before it defines the macros, so those declarations are
 * already seen and a later #include of them is a no-op. A use then expands
 * to an undeclared identifier that names the reason:
 *   strcpy, strcat, strncpy, strncat: unbounded or silently truncating
 *     copies; use snprintf, memcpy with a checked length, or claw_buf.
 *   sprintf, vsprintf: unbounded; use snprintf, vsnprintf or claw_buf_printf.
 *   atoi, atol, atoll, atof: no error detection; use strtol/strtoul/strtod
 *     with errno and an end pointer.
 *   strtok: hidden global state, not thread-safe; use strtok_r or strsep.
 *   gets: cannot be used safely.
 */
#ifndef CLAW_BANNED_H
#define CLAW_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAW_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(...) CLAW_BANNED(strcpy)
#undef strcat
#define strcat(...) CLAW_BANNED(strcat)
#undef strncpy
#define strncpy(...) CLAW_BANNED(strncpy)
#undef strncat
#define strncat(...) CLAW_BANNED(strncat)
#undef sprintf
#define sprintf(...) CLAW_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CLAW_BANNED(vsprintf)
#undef atoi
#define atoi(...) CLAW_BANNED(atoi)
#undef atol
#define atol(...) CLAW_BANNED(atol)
#undef atoll
#define atoll(...) CLAW_BANNED(atoll)
#undef atof
#define atof(...) CLAW_BANNED(atof)
#undef strtok
#define strtok(...) CLAW_BANNED(strtok)
#undef gets
#define gets(...) CLAW_BANNED(gets)

#endif
