/* SPDX-License-Identifier: MIT */
/*
 * protocol.c — the table of protocol error classes, made from PROTOCOL_ERROR_CLASSES() in
 * protocol.h, the one place a class is given its JSON-RPC code and its name (docs/protocol.md
 * lists the same).
 */
#include "protocol.h"

#define PROTOCOL_ERROR_TABLE_ENTRY_(id, code, name) [id] = { code, name },

const ProtocolError protocol_errors[_ERROR_CLASS_MAX] = { PROTOCOL_ERROR_CLASSES(PROTOCOL_ERROR_TABLE_ENTRY_, ) };

ErrorClass protocol_error_from_code(int64_t code) {
        for (int i = 0; i < _ERROR_CLASS_MAX; i++)
                if (protocol_errors[i].code == code)
                        return (ErrorClass) i;
        return _ERROR_CLASS_INVALID;
}
