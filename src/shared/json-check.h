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

/* What building the value would cost, counted on the text: its values (array elements and
 * object members at every depth, the root not counted, a repeated member name counted each
 * time) and the elements of a top-level array (0 when the root is not an array). */
typedef struct JsonShape {
        size_t values;
        size_t top_elements;
} JsonShape;

/* True when text[0..len) is one JSON value with optional whitespace (space, tab, LF, CR)
 * around it, nested at most max_depth arrays and objects deep; then *ret_shape (if not NULL)
 * is its shape. Only the grammar: UTF-8 and the meaning of \u escapes are checked elsewhere
 * (validate.h, rpc.c). */
bool json_text_check(const char *text, size_t len, unsigned max_depth, JsonShape *ret_shape);

static inline bool json_text_is_valid(const char *text, size_t len, unsigned max_depth) {
        return json_text_check(text, len, max_depth, NULL);
}
