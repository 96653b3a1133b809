/* SPDX-License-Identifier: MIT */
/*
 * validate.h — the rules for values that callers send and that end up in a Graph URL or body.
 * They run before anything is queued, so a rejected value never reaches Graph.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CALL_ID_MAX 128
#define CLIENT_CONTEXT_MAX 256
/* Graph's operation ids are GUIDs; what an answer or a notification calls one is kept (and
 * journaled, and put in URLs, escaped) only up to this many bytes, like a call id. */
#define GRAPH_OPERATION_ID_MAX 128

/* 1–128 characters of [A-Za-z0-9-]: the shape of Graph call ids. Everything else ("../x",
 * "%2e", "a/b", "?", "#", spaces, non-ASCII) is refused. */
bool call_id_is_valid(const char *s);

/* Valid UTF-8, no control characters, 1–256 characters (code points). Returns 0 or a negative
 * errno: -EILSEQ bad UTF-8, -EINVAL control character or empty, -E2BIG too long. */
int client_context_check(const char *s);

/* Whether s is a well-formed UTF-8 string of n bytes; counts code points into *ret_chars. */
bool utf8_is_valid(const char *s, size_t n, size_t *ret_chars);
