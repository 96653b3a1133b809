/* SPDX-License-Identifier: MIT */
/*
 * rpc.h — JSON-RPC 2.0 framing as pure functions: one received line in, a list of typed
 * requests (or per-entry errors) out; reply objects built from results and Errors. No I/O,
 * so the unit tests and the fuzzer drive it directly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "errors.h"
#include "util.h"

#define RPC_MAX_DEPTH_DEFAULT 32

typedef struct RpcItem {
        json_object *id;     /* borrowed from the message; NULL for a JSON null id */
        bool has_id;         /* false: a notification, nothing is replied */
        const char *method;  /* borrowed; NULL when error is set */
        json_object *params; /* borrowed; NULL when absent */
        Error *error;        /* set when this entry is not a valid request: reply with it */
} RpcItem;

typedef struct RpcMessage {
        json_object *root;
        bool is_batch;
        size_t n_items;
        RpcItem items[];
} RpcMessage;

/* How much a line would make json-c build, counted on the text before anything is built
 * (json-check.h): the entries of a batch (the elements of a top-level array) and the values of
 * the whole line (array elements and object members at every depth). 0 when both are within
 * their limits; -E2BIG beyond one, with *ret_limit set to the name of its configuration key
 * ("MaxBatchItems" or "MaxValuesPerLine"; the batch first); -EBADMSG for a line that is not one
 * JSON text by RFC 8259 or nests deeper than max_depth, which wins over a limit (a depth bomb
 * is a ParseError). One pass, before json-c allocates anything for the line. */
int rpc_line_check_shape(const char *line, size_t len, int max_depth, size_t max_batch_items, size_t max_values,
                         const char **ret_limit);

/* Parses one line (without its '\n'). -ENOMEM when memory ran out (json-c's included).
 * Anything that is not one JSON text by RFC 8259 (json-check.h), invalid UTF-8, a raw NUL
 * byte, nesting beyond max_depth or trailing garbage return -EBADMSG: the caller answers
 * ParseError with a null id. A valid text is always parsed: a string holding \u0000 or a lone
 * surrogate escape, which json-c cannot keep as sent, makes its request's item an error
 * (rpc-scan.h: InvalidRequest in "jsonrpc", "method", "id" or a member name, InvalidParams
 * naming the member in params), answered with the request's id where it can be read. An
 * integer id whose digits json-c would change ("-0", beyond 64 bits) is replaced in the tree
 * by a number that prints exactly those digits.
 * An empty batch yields a single InvalidRequest item (the spec's answer is one error object,
 * not an array). */
int rpc_message_parse(const char *line, size_t len, int max_depth, RpcMessage **ret);
/* The same with rpc_line_check_shape()'s limits, in one pass over the text: -E2BIG with
 * *ret_limit for a line over one of them (nothing parsed), else as rpc_message_parse(). */
int rpc_message_parse_limited(const char *line, size_t len, int max_depth, size_t max_batch_items,
                              size_t max_values, const char **ret_limit, RpcMessage **ret);
RpcMessage *rpc_message_free(RpcMessage *m);
DEFINE_CLEANUP_FUNC(RpcMessage *, rpc_message_free);

/* Reply objects. id is borrowed (a new reference is taken); result and params are consumed,
 * also when these return NULL, which they do only when memory ran out. */
json_object *rpc_reply_result(json_object *id, json_object *result);
json_object *rpc_reply_error(json_object *id, const Error *e);
json_object *rpc_notification(const char *method, json_object *params);

/* Serialises a reply for the wire: compact JSON plus '\n'. Returns a new string and its length. */
int rpc_serialize(json_object *j, char **ret, size_t *ret_len);
/* The same, appended to b (no intermediate copy). On failure b may hold part of the line. */
int rpc_serialize_append(json_object *j, Buffer *b);

/* The reply line {"jsonrpc":"2.0","id":…,"result":…} for a result that is pre-written text
 * (json-text.h), appended to b without building the envelope as a tree. Only for an id that
 * is a string or an int64 json-c prints the same way; -EOPNOTSUPP for anything else (use
 * rpc_reply_result()). On -ENOMEM b is left as it was. */
int rpc_write_result_text(Buffer *b, json_object *id, json_object *result);

/* Param helpers for method handlers, after rpc_params_check() (rpc-method.h) checked the
 * names and types by the method's rows: each returns NULL on success, else an InvalidParams
 * Error naming the parameter, or error_oom() (errors.h: never NULL for a failure). */
Error *rpc_param_string(json_object *params, const char *name, bool required, const char **ret);
Error *rpc_param_bool(json_object *params, const char *name, int *ret /* -1 when absent */);
Error *rpc_param_uint(json_object *params, const char *name, unsigned min, unsigned max,
                      unsigned def, unsigned *ret);
