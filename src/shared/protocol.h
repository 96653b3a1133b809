/* SPDX-License-Identifier: MIT */
/*
 * protocol.h — the facts of the socket protocol that the daemon and mediacancelctl must agree
 * on, kept here once so that neither program has a copy to drift: the error classes with their
 * JSON-RPC codes and stable class names, the method and event names, the protocol version and
 * the default socket path. docs/protocol.md describes them for people.
 *
 * The release version is not repeated here: configure's PACKAGE_VERSION (passed to every file
 * by Makefile.am's AM_CPPFLAGS) is what both programs print, so a build without it is refused.
 */
#pragma once

#include <errno.h>
#include <stdint.h>

#ifndef PACKAGE_VERSION
#error "PACKAGE_VERSION comes from configure, through AM_CPPFLAGS in Makefile.am"
#endif

/* What "protocolVersion" in the reply to status says; raised on an incompatible change. */
#define PROTOCOL_VERSION 2

/* Where the daemon listens unless configured otherwise ([Socket] Path=), and where the CLI
 * looks unless told otherwise. */
#define PROTOCOL_DEFAULT_SOCKET_PATH "/run/mediacancel/mediacanceld.sock"

/* Methods a client may call. */
#define METHOD_CANCEL "cancel"
#define METHOD_OPERATION_GET "operation.get"
#define METHOD_OPERATION_LIST "operation.list"
#define METHOD_OPERATION_WATCH "operation.watch"
#define METHOD_NOTIFICATIONS_DELIVER "notifications.deliver"
#define METHOD_STATUS "status"
/* The OpenRPC document of the protocol (OpenRPC's service discovery method name). */
#define METHOD_RPC_DISCOVER "rpc.discover"

/* The notification the daemon sends to watchers when an operation changes. */
#define EVENT_OPERATION_CHANGED "operation.changed"

/* The error classes, each once: X(enum name, error.code, class name of error.data.class), in
 * the order of ErrorClass, SEP between two. The enum, protocol_errors[] (protocol.c) and the
 * class list of the rpc.discover schemas (method-specs.c) are made from this list. */
#define PROTOCOL_ERROR_CLASSES(X, SEP) \
        X(ERROR_PARSE, -32700, "ParseError") SEP \
        X(ERROR_INVALID_REQUEST, -32600, "InvalidRequest") SEP \
        X(ERROR_METHOD_NOT_FOUND, -32601, "MethodNotFound") SEP \
        X(ERROR_INVALID_PARAMS, -32602, "InvalidParams") SEP \
        X(ERROR_INTERNAL, -32603, "InternalError") SEP \
        X(ERROR_PERMISSION_DENIED, -32001, "PermissionDenied") SEP \
        X(ERROR_TOKEN_UNAVAILABLE, -32002, "TokenUnavailable") SEP \
        X(ERROR_THROTTLED, -32003, "Throttled") SEP \
        X(ERROR_GRAPH, -32004, "GraphError") SEP \
        X(ERROR_OPERATION_NOT_FOUND, -32005, "OperationNotFound") SEP \
        X(ERROR_LIMIT_EXCEEDED, -32006, "LimitExceeded") SEP \
        X(ERROR_TIMEOUT, -32007, "Timeout") SEP \
        X(ERROR_GRAPH_UNREACHABLE, -32008, "GraphUnreachable") SEP \
        /* cancel's tenantId is not TenantId= nor in AllowedTenants= */ \
        X(ERROR_TENANT_NOT_ALLOWED, -32009, "TenantNotAllowed") SEP \
        /* notifications.deliver without a valid token from Graph */ \
        X(ERROR_NOTIFICATION_REFUSED, -32010, "NotificationRefused")

#define PROTOCOL_ERROR_ENUM_ENTRY_(id, code, name) id,

/* The error classes of error.data.class; protocol_errors[] gives each its code and name. */
typedef enum ErrorClass {
        PROTOCOL_ERROR_CLASSES(PROTOCOL_ERROR_ENUM_ENTRY_, )
        _ERROR_CLASS_MAX,
        _ERROR_CLASS_INVALID = -EINVAL,
} ErrorClass;

typedef struct ProtocolError {
        int code;         /* error.code */
        const char *name; /* error.data.class, and an operation's error.class */
} ProtocolError;

extern const ProtocolError protocol_errors[_ERROR_CLASS_MAX];

/* The class that has this error.code, or _ERROR_CLASS_INVALID. */
ErrorClass protocol_error_from_code(int64_t code);
