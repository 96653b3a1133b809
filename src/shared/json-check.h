/* SPDX-License-Identifier: MIT */
/*
 * json-check.h — whether a text is exactly one JSON text by RFC 8259, checked on the bytes
 * before any parser sees them. json-c, even with JSON_TOKENER_STRICT, takes numbers such as
 * "-01", "1." or ".5", single-quoted strings and raw control characters inside strings; a line
 * that is not JSON must be a ParseError however lenient the parser behind it is.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True when text[0..len) is one JSON value with optional whitespace (space, tab, LF, CR)
 * around it, nested at most max_depth arrays and objects deep. Only the grammar: UTF-8 and
 * the meaning of \u escapes are checked elsewhere (validate.h, rpc.c). */
bool json_text_is_valid(const char *text, size_t len, unsigned max_depth);
