/* SPDX-License-Identifier: MIT */
/*
 * protocol.c — the table of protocol error classes declared in protocol.h: the one place a
 * class is given its JSON-RPC code and its name (docs/protocol.md lists the same).
 */
#include "protocol.h"

const ProtocolError protocol_errors[_ERROR_CLASS_MAX] = {
        [ERROR_PARSE] = { -32700, "ParseError" },
        [ERROR_INVALID_REQUEST] = { -32600, "InvalidRequest" },
        [ERROR_METHOD_NOT_FOUND] = { -32601, "MethodNotFound" },
        [ERROR_INVALID_PARAMS] = { -32602, "InvalidParams" },
        [ERROR_INTERNAL] = { -32603, "InternalError" },
        [ERROR_PERMISSION_DENIED] = { -32001, "PermissionDenied" },
        [ERROR_TOKEN_UNAVAILABLE] = { -32002, "TokenUnavailable" },
        [ERROR_THROTTLED] = { -32003, "Throttled" },
        [ERROR_GRAPH] = { -32004, "GraphError" },
        [ERROR_OPERATION_NOT_FOUND] = { -32005, "OperationNotFound" },
        [ERROR_LIMIT_EXCEEDED] = { -32006, "LimitExceeded" },
        [ERROR_TIMEOUT] = { -32007, "Timeout" },
        [ERROR_GRAPH_UNREACHABLE] = { -32008, "GraphUnreachable" },
        [ERROR_TENANT_NOT_ALLOWED] = { -32009, "TenantNotAllowed" },
        [ERROR_NOTIFICATION_REFUSED] = { -32010, "NotificationRefused" },
};

ErrorClass protocol_error_from_code(int64_t code) {
        for (int i = 0; i < _ERROR_CLASS_MAX; i++)
                if (protocol_errors[i].code == code)
                        return (ErrorClass) i;
        return _ERROR_CLASS_INVALID;
}
