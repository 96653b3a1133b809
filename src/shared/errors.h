/* SPDX-License-Identifier: MIT */
/*
 * errors.h — Errors of the protocol's error classes (their codes and names: protocol.h), and
 * the lookups between a class, its JSON-RPC code and its name. Every reply error and every
 * operation's "error" member is an Error built here, so a class means the same thing everywhere.
 */
#pragma once

#include <errno.h>
#include <json-c/json.h>

#include "macro.h"
#include "protocol.h"
#include "util.h"

int error_class_code(ErrorClass c);
const char *error_class_name(ErrorClass c);
ErrorClass error_class_from_name(const char *name);

typedef struct Error {
        ErrorClass class;
        char *message;
        json_object *data; /* members of error.data besides "class"; may be NULL */
} Error;

/* Takes ownership of data (may be NULL). Returns NULL only on OOM. */
Error *error_new(ErrorClass class, json_object *data, const char *fmt, ...) _printf_(3, 4);
Error *error_copy(const Error *e);
Error *error_free(Error *e);
DEFINE_CLEANUP_FUNC(Error *, error_free);

/* Shorthand for InvalidParams naming the offending parameter in data.param. */
Error *error_invalid_param(const char *param, const char *fmt, ...) _printf_(2, 3);

/* Shorthand for LimitExceeded naming the limit (its config key) in data.limit. */
Error *error_limit(const char *limit, const char *fmt, ...) _printf_(2, 3);

/* {"code":…, "message":…, "data":{"class":…, …}} as the JSON-RPC error member. */
json_object *error_to_rpc_json(const Error *e);

/* {"class":…, "message":…, …data} as an operation's "error" member. */
json_object *error_to_operation_json(const Error *e);

/* Appends error_to_operation_json()'s text to b. */
int error_write_operation_json(const Error *e, Buffer *b);

/* Restores an Error from error_to_operation_json() output (used by the journal). */
Error *error_from_operation_json(json_object *j);
