/* SPDX-License-Identifier: MIT */
/*
 * openrpc.h — the OpenRPC 1.3 document of the socket protocol (what rpc.discover answers),
 * made from the method rows the daemon dispatches and checks with (rpc-method.h), the error
 * classes of protocol.h, the events, and the protocol version. Nothing here is written twice:
 * a method, parameter or class that exists is in the document, and only those.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#include "rpc-method.h"

/* The OpenRPC version the document follows. */
#define OPENRPC_VERSION "1.3.2"

/* A notification the daemon sends (its params as rows, which describe them only). */
typedef struct RpcEventSpec {
        const char *name;
        const char *description;
        const RpcParamSpec *params;
        size_t n_params;
} RpcEventSpec;

/* The document for these methods and events, served at socket_path (NULL: no "servers"); a
 * new object, or NULL when memory ran out or a row's JSON text is not JSON (a bug the unit
 * test catches). */
json_object *openrpc_document(const RpcMethodSpec *const *methods, size_t n_methods, const RpcEventSpec *events,
                              size_t n_events, const char *socket_path);
