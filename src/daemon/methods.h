/* SPDX-License-Identifier: MIT */
/*
 * methods.h — the socket protocol's methods and the tracking of operations, as the hooks the
 * manager calls (manager.h): dispatching a request to its handler, journaling and announcing
 * each change of an operation, and picking up operations restored from the journal.
 */
#pragma once

#include "manager.h"
#include "rpc-method.h"

extern const ManagerHooks methods_hooks;

/* The dispatch table, for rpc.discover and the tests: how many methods, and the rows of the
 * i-th (NULL beyond the end). */
size_t methods_count(void);
const RpcMethodSpec *methods_spec(size_t i);

/* The OpenRPC document of the methods in the dispatch table (openrpc.h); NULL on OOM. */
json_object *methods_discover_document(const char *socket_path);
