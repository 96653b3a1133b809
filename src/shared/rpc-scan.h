/* SPDX-License-Identifier: MIT */
/*
 * rpc-scan.h — what the text of a request says that json-c's tree cannot: where a string holds
 * U+0000 or a lone UTF-16 surrogate escape (json-c cuts a member name at the NUL and puts
 * U+FFFD for a lone surrogate), and the exact digits of a numeric id (json-c clamps integers
 * beyond 64 bits and reads "-0" as 0). rpc.c runs this only for a line that needs it, after
 * the grammar was checked (json-check.h), and turns the facts into per-request answers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A piece of the line, not NUL-terminated. */
typedef struct TextSpan {
        const char *p;
        size_t n;
} TextSpan;

typedef struct RpcRequestFacts {
        bool is_object;      /* this entry is a JSON object: the members below were read */
        bool has_id;         /* it has a member spelled exactly "id" */
        TextSpan id_number;  /* the last "id"'s value as written, when that value is a number */
        bool id_unusable;    /* the last "id"'s value is a string holding U+0000 or a lone surrogate */
        TextSpan bad_member; /* the first member other than "id" and "params" whose name or value
                              * holds one (a "jsonrpc" or "method" value, a name); p NULL if none */
        TextSpan bad_param;  /* the first member of an object "params" whose name or value (at any
                              * depth) holds one, its name as written; p NULL if none */
        bool params_unusable; /* "params" is not an object and holds one */
} RpcRequestFacts;

/* The facts of text[0..len), which must be one JSON text (json_text_check() said so): of the
 * root in facts[0] when it is not an array, else of its first n_facts elements. */
void rpc_scan_requests(const char *text, size_t len, RpcRequestFacts *facts, size_t n_facts);

/* Whether some string of text[0..len) (a value or a member name) holds the escape \u0000 or a
 * UTF-16 surrogate escape without its partner. Cheap: most lines have no backslash. */
bool rpc_text_has_unusable_escape(const char *text, size_t len);
