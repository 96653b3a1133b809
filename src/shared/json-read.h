/* SPDX-License-Identifier: MIT */
/*
 * json-read.h — a small strict JSON reader that walks text in place instead of building a
 * json-c tree: objects member by member through a callback, strings decoded in place (the
 * text is modified), integers range-checked, anything else checked and skipped. For the hot
 * paths whose JSON has a known shape: journal records (record.c) and Graph's answers
 * (graph.c). It accepts RFC 8259 JSON and additionally refuses "\u0000", unpaired surrogate
 * escapes and invalid UTF-8 anywhere in strings, and nesting deeper than max_depth.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JsonReader {
        char *p, *end;
        unsigned max_depth;
} JsonReader;

void json_reader_init(JsonReader *c, char *text, size_t len, unsigned max_depth);

void json_skip_ws(JsonReader *c);
/* Skips whitespace, then consumes ch if it is next. */
bool json_take(JsonReader *c, char ch);
/* Consumes exactly these bytes if they are next (no whitespace skipped). */
bool json_take_literal(JsonReader *c, const char *lit, size_t n);
bool json_take_null(JsonReader *c);

/* A string. decode=true rewrites it in place, unescaped and NUL-terminated, and sets *ret;
 * decode=false only checks it and leaves the text as it was. -EBADMSG when malformed. */
int json_read_string(JsonReader *c, bool decode, const char **ret);
/* A decoded string, or null (*ret = NULL). */
int json_read_string_or_null(JsonReader *c, const char **ret);
/* A member value that is used only when it is a string: decoded in place into *ret; any other
 * value is skipped and *ret set to NULL. */
int json_read_string_member(JsonReader *c, const char **ret);
/* An integer (no fraction or exponent) within [min, max]. */
int json_read_int(JsonReader *c, int64_t min, int64_t max, int64_t *ret);
/* Any number, as an int the way json-c's json_object_get_int() gives it: the integer part,
 * clamped to INT_MIN..INT_MAX. */
int json_read_number_as_int(JsonReader *c, int *ret);
/* Checks and steps over any value at nesting level depth. */
int json_skip_value(JsonReader *c, unsigned depth);
/* An object: member() is called for each member with the reader at its value, and must
 * consume that value. */
int json_read_object(JsonReader *c, int (*member)(JsonReader *c, const char *key, void *userdata), void *userdata);
