/* SPDX-License-Identifier: MIT */
/*
 * rpc-method.h — a method of the socket protocol described as data: its name, its parameters
 * (name, JSON type, required, JSON Schema, description), its result's JSON Schema, the error
 * classes it answers with, and examples. The daemon's dispatch table holds one per method;
 * the same rows check every request's params (rpc_params_check()) and make the rpc.discover
 * document (openrpc.h), so adding a row is all it takes to add a parameter, and the document
 * cannot list what the daemon does not take.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "errors.h"

typedef enum RpcParamType {
        RPC_PARAM_STRING,
        RPC_PARAM_BOOLEAN,
        RPC_PARAM_INTEGER,
        RPC_PARAM_ARRAY,
        RPC_PARAM_OBJECT,
        _RPC_PARAM_TYPE_MAX,
} RpcParamType;

typedef struct RpcParamSpec {
        const char *name;
        RpcParamType type;
        bool required;
        /* More JSON Schema keywords for the value, as the members of a JSON object without its
         * braces ("\"maxLength\":128"); NULL for none. The type comes from type. */
        const char *schema;
        const char *description;
} RpcParamSpec;

typedef struct RpcMethodSpec {
        const char *name;
        const char *summary;
        const char *description;
        const RpcParamSpec *params;
        size_t n_params;
        const char *result_name;
        const char *result_schema; /* JSON text: the JSON Schema of the result */
        unsigned errors;           /* RPC_ERRORS(...): the classes the method itself answers with */
        const char *examples;      /* JSON text: an array of OpenRPC Example Pairing objects */
} RpcMethodSpec;

#define RPC_ERROR_BIT(c) (1u << (c))

/* "string", "boolean", "integer", "array", "object". */
const char *rpc_param_type_name(RpcParamType t);

/* The row of params named name, or NULL. */
const RpcParamSpec *rpc_method_param(const RpcMethodSpec *m, const char *name);

/* Checks params (borrowed; NULL when absent) against m's rows, before any side effect: an
 * object (or absent), no name that has no row, each present value (null counts as absent) of
 * its row's type, each required one present; in that order, rows in table order. NULL when
 * fine, else an InvalidParams Error naming the parameter (or "params"). */
Error *rpc_params_check(json_object *params, const RpcMethodSpec *m);
