/* SPDX-License-Identifier: MIT */
/*
 * method-specs.h — the rows of each method of the socket protocol and of its events
 * (method-specs.c), which methods.c's dispatch table points to.
 */
#pragma once

#include "openrpc.h"
#include "rpc-method.h"

/* Limits of parameter values, which the handlers apply and the rows describe. */
#define OPERATION_ID_MAX 128 /* bytes */
#define OPERATION_LIST_LIMIT_MIN 1
#define OPERATION_LIST_LIMIT_MAX 1000
#define OPERATION_LIST_LIMIT_DEFAULT 100

extern const RpcMethodSpec method_spec_cancel;
extern const RpcMethodSpec method_spec_operation_get;
extern const RpcMethodSpec method_spec_operation_list;
extern const RpcMethodSpec method_spec_operation_watch;
extern const RpcMethodSpec method_spec_notifications_deliver;
extern const RpcMethodSpec method_spec_status;
extern const RpcMethodSpec method_spec_rpc_discover;

extern const RpcEventSpec method_events[];
extern const size_t method_n_events;
