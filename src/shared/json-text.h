/* SPDX-License-Identifier: MIT */
/*
 * json-text.h — JSON written as text, without json-c trees: strings with their escapes,
 * integers and timestamps appended to a Buffer, and json-c values that serialise as such
 * pre-written text, so the hot paths (journal records, replies, events) build one string
 * where a tree would cost a dozen allocations and a second pass.
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "util.h"

/* A JSON string with quotes and escapes; NULL writes null. */
int json_write_string(Buffer *b, const char *s);
int json_write_int(Buffer *b, int64_t v);
/* A quoted RFC 3339 UTC timestamp with milliseconds, like format_rfc3339_ms(). */
int json_write_rfc3339(Buffer *b, uint64_t realtime_usec);

#define json_write_literal(b, s) buffer_append((b), (s), sizeof(s) - 1)

/* A json-c value that serialises as b's text (which must be one valid JSON value), taking
 * b's contents over. Only for serialising: its json-c type says nothing about the text. NULL
 * on OOM. */
json_object *json_text_new(Buffer *b);

/* The text of a value made by json_text_new(), or NULL for any other json-c value. */
const char *json_text_peek(json_object *j, size_t *ret_len);
