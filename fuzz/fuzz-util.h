/* SPDX-License-Identifier: MIT */
/*
 * fuzz-util.h — helpers shared by the libFuzzer harnesses in fuzz/: a NUL-terminated copy of
 * the input, a loud abort for a broken invariant, and the check every reply line the daemon
 * writes must pass (one strict JSON value, valid UTF-8, no raw newline before the end).
 * Header-only so each harness stays one compilation unit plus the src/ files it drives.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "validate.h"

/* A broken invariant is a finding: say which, then crash so libFuzzer saves the input. */
#define fuzz_assert(expr)                                                                       \
        do {                                                                                    \
                if (!(expr)) {                                                                  \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                \
                }                                                                               \
        } while (0)

static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Parses one line the daemon wrote (without its '\n') as strict JSON. Returns the value, which
 * the caller must put; aborts if the line would not parse for a client. */
static inline json_object *fuzz_parse_reply_line(const char *line, size_t len) {
        json_tokener *tok;
        json_object *j;

        fuzz_assert(len > 0);
        fuzz_assert(!memchr(line, '\n', len));
        fuzz_assert(!memchr(line, '\0', len));
        fuzz_assert(utf8_is_valid(line, len, NULL));

        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        fuzz_assert(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        j = json_tokener_parse_ex(tok, line, (int) len);
        fuzz_assert(json_tokener_get_error(tok) == json_tokener_success);
        fuzz_assert(json_tokener_get_parse_end(tok) == len);
        json_tokener_free(tok);
        fuzz_assert(json_object_is_type(j, json_type_object) || json_object_is_type(j, json_type_array));
        return j;
}

/* A JSON-RPC reply object: "jsonrpc":"2.0", an "id" member, and exactly one of result/error,
 * the error with an integer code, a string message and data.class. */
static inline void fuzz_check_reply_object(json_object *r) {
        json_object *v, *e;
        bool has_result, has_error;

        fuzz_assert(json_object_is_type(r, json_type_object));
        fuzz_assert(json_object_object_get_ex(r, "jsonrpc", &v));
        fuzz_assert(json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), "2.0") == 0);
        fuzz_assert(json_object_object_get_ex(r, "id", NULL));
        has_result = json_object_object_get_ex(r, "result", NULL);
        has_error = json_object_object_get_ex(r, "error", &e);
        fuzz_assert(has_result != has_error);
        if (has_error) {
                fuzz_assert(json_object_object_get_ex(e, "code", &v) && json_object_is_type(v, json_type_int));
                fuzz_assert(json_object_object_get_ex(e, "message", &v) && json_object_is_type(v, json_type_string));
                fuzz_assert(json_object_object_get_ex(e, "data", &v) && json_object_object_get_ex(v, "class", NULL));
        }
}
