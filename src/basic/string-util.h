/* SPDX-License-Identifier: MIT */
/*
 * string-util.h — the character classes and formatted strings that the parsers of text written
 * by people share (the INI tokenizer, the value parsers, the configuration): one definition of
 * "blank" and "digit", locale-free, and printf into a new string.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include "macro.h"

/* What counts as blank around INI keys, values and value parts. No '\n': lines are cut at it
 * first, and a '\r' before it is blank, which is how CRLF files are read. */
#define WHITESPACE " \t\r\v\f"

/* ASCII only, whatever the locale says: configuration means the same on every machine. */
static inline bool ascii_isdigit(char c) {
        return c >= '0' && c <= '9';
}

static inline bool ascii_isalpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool ascii_isblank(char c) {
        return c != '\0' && strchr(WHITESPACE, c);
}

/* A newly allocated string, or NULL when out of memory. */
char *vstrprintf(const char *fmt, va_list ap) _printf_(1, 0);
char *strprintf(const char *fmt, ...) _printf_(1, 2);

/* Sets *ret_error (when the caller wants it) and returns -EINVAL, or -ENOMEM when even the
 * message cannot be allocated. */
int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
