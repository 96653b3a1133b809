/* SPDX-License-Identifier: MIT */
/*
 * errors.h — Errors of the protocol's error classes (their codes and names: protocol.h), and
 * the lookups between a class, its JSON-RPC code and its name. Every reply error and every
 * operation's "error" member is an Error built here, so a class means the same thing everywhere.
 *
 * The error model of the whole tree:
 *  - Resource failures inside the daemon are negative errno values (-ENOMEM, …), returned by
 *    functions that do not log them; the caller that decides what to do logs or answers.
 *  - What a client or an operation is told is an Error (a class, a message, data members),
 *    built only by the functions below.
 *  - A NULL Error * means "no error", and only that. The constructors never return NULL: when
 *    they cannot allocate they return error_oom(), one static InternalError "Out of memory."
 *    that error_free() leaves alone and error_data_set() does not change. So a caller that
 *    asked for an error always gets one to answer with, and a check such as
 *    rpc_param_string() cannot pass for a success when it ran out of memory.
 *  - What the operator is told about the configuration is a message naming FILE:LINE, handed
 *    up as `char **ret_error` next to the negative errno (config.c, config-files.c,
 *    credentials.c): it ends in the log at start-up or reload, never in a reply.
 *  - Where an error is final for the program (start-up), the function that knows the context
 *    logs it and returns it (`return log_error_errno(r, …)`), and its callers only pass it on.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
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

/* The static InternalError "Out of memory.": what every constructor returns when it cannot
 * allocate. Never freed, never changed. */
Error *error_oom(void);
bool error_is_oom(const Error *e);

/* Takes ownership of data (may be NULL). Never returns NULL (error_oom() instead). */
Error *error_new(ErrorClass class, json_object *data, const char *fmt, ...) _printf_(3, 4);
/* A copy of e, or error_oom(); NULL only for a NULL e. */
Error *error_copy(const Error *e);
Error *error_free(Error *e);
DEFINE_CLEANUP_FUNC(Error *, error_free);

/* Shorthand for InvalidParams naming the offending parameter in data.param. */
Error *error_invalid_param(const char *param, const char *fmt, ...) _printf_(2, 3);

/* Shorthand for LimitExceeded naming the limit (its config key) in data.limit. */
Error *error_limit(const char *limit, const char *fmt, ...) _printf_(2, 3);

/* {"code":…, "message":…, "data":{"class":…, …}} as the JSON-RPC error member; NULL on OOM. */
json_object *error_to_rpc_json(const Error *e);

/* {"class":…, "message":…, …data} as an operation's "error" member; NULL on OOM. */
json_object *error_to_operation_json(const Error *e);

/* Appends error_to_operation_json()'s text to b. */
int error_write_operation_json(const Error *e, Buffer *b);

/* Sets data member key to value (consumed; NULL is JSON null). error_oom() keeps no data: for
 * it this does nothing and returns -ENOMEM, as for a failed allocation. */
int error_data_set(Error *e, const char *key, json_object *value);

/* Restores an Error from error_to_operation_json() output (used by the journal). NULL when j
 * is not such an object; error_oom() when memory ran out. */
Error *error_from_operation_json(json_object *j);
