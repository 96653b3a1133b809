/* SPDX-License-Identifier: MIT */
/*
 * method-specs.c — the rows of every method of the socket protocol (rpc-method.h): parameters
 * with their JSON Schemas, results, error classes and examples, and the operation.changed
 * event. methods.c dispatches by these rows and checks every request's params with them;
 * rpc.discover (openrpc.h) describes the protocol from them. To add a parameter, add its row
 * here and read it in the handler. The result schemas describe what reply.c, operation.c's
 * writer and methods.c write; tests/node checks real answers against them.
 */
#include "graph-notification.h"
#include "notification-token.h"
#include "method-specs.h"
#include "protocol.h"
#include "util.h"
#include "validate.h"

#define OPERATION_SCHEMA_MEMBERS \
        "\"required\":[\"id\",\"callId\",\"clientContext\",\"status\",\"graphOperationId\",\"createdA"\
        "t\",\"updatedAt\"],\"additionalProperties\":false,\"properties\":{\"id\":{\"type\":\"string"\
        "\",\"description\":\"The daemon's id of the operation (a UUID).\"},\"callId\":{\"type\":\"st"\
        "ring\",\"description\":\"The call, as given to cancel.\"},\"clientContext\":{\"type\":\"stri"\
        "ng\",\"description\":\"The clientContext sent to Graph: the caller's, or a generated UUID.\""\
        "},\"status\":{\"enum\":[\"queued\",\"submitting\",\"notStarted\",\"running\",\"completed\","\
        "\"failed\",\"unknown\"]},\"graphOperationId\":{\"type\":[\"string\",\"null\"],\"description"\
        "\":\"Graph's id of the operation, once Graph answered with one.\"},\"all\":{\"type\":\"boole"\
        "an\",\"description\":\"Present when the cancel was given \\\"all\\\".\"},\"resultInfo\":{\"t"\
        "ype\":\"object\",\"required\":[\"code\",\"subcode\",\"message\"],\"properties\":{\"code\":{"\
        "\"type\":\"integer\"},\"subcode\":{\"type\":\"integer\"},\"message\":{\"type\":[\"string\","\
        "\"null\"]}},\"description\":\"Graph's resultInfo, when it sent one.\"},\"completionReason\":"\
        "{\"type\":\"string\",\"description\":\"Graph's completionReason, when it sent one.\"},\"erro"\
        "r\":{\"type\":\"object\",\"required\":[\"class\",\"message\"],\"properties\":{\"class\":{\"e"\
        "num\":[\"ParseError\",\"InvalidRequest\",\"MethodNotFound\",\"InvalidParams\",\"InternalErro"\
        "r\",\"PermissionDenied\",\"TokenUnavailable\",\"Throttled\",\"GraphError\",\"OperationNotFou"\
        "nd\",\"LimitExceeded\",\"Timeout\",\"GraphUnreachable\"]},\"message\":{\"type\":\"string\"}}"\
        ",\"description\":\"Why the operation failed on the daemon's side (the error class and its da"\
        "ta members).\"},\"createdAt\":{\"type\":\"string\",\"format\":\"date-time\"},\"updatedAt\":{"\
        "\"type\":\"string\",\"format\":\"date-time\"}}"

#define RESULT_OPERATION \
        "{\"type\":\"object\",\"required\":[\"operation\"],\"additionalProperties\":false,\"propertie"\
        "s\":{\"operation\":{\"type\":\"object\",\"required\":[\"id\",\"callId\",\"clientContext\",\""\
        "status\",\"graphOperationId\",\"createdAt\",\"updatedAt\"],\"additionalProperties\":false,\""\
        "properties\":{\"id\":{\"type\":\"string\",\"description\":\"The daemon's id of the operation"\
        " (a UUID).\"},\"callId\":{\"type\":\"string\",\"description\":\"The call, as given to cancel"\
        ".\"},\"clientContext\":{\"type\":\"string\",\"description\":\"The clientContext sent to Grap"\
        "h: the caller's, or a generated UUID.\"},\"status\":{\"enum\":[\"queued\",\"submitting\",\"n"\
        "otStarted\",\"running\",\"completed\",\"failed\",\"unknown\"]},\"graphOperationId\":{\"type"\
        "\":[\"string\",\"null\"],\"description\":\"Graph's id of the operation, once Graph answered "\
        "with one.\"},\"all\":{\"type\":\"boolean\",\"description\":\"Present when the cancel was giv"\
        "en \\\"all\\\".\"},\"resultInfo\":{\"type\":\"object\",\"required\":[\"code\",\"subcode\",\""\
        "message\"],\"properties\":{\"code\":{\"type\":\"integer\"},\"subcode\":{\"type\":\"integer\""\
        "},\"message\":{\"type\":[\"string\",\"null\"]}},\"description\":\"Graph's resultInfo, when i"\
        "t sent one.\"},\"completionReason\":{\"type\":\"string\",\"description\":\"Graph's completio"\
        "nReason, when it sent one.\"},\"error\":{\"type\":\"object\",\"required\":[\"class\",\"messa"\
        "ge\"],\"properties\":{\"class\":{\"enum\":[\"ParseError\",\"InvalidRequest\",\"MethodNotFoun"\
        "d\",\"InvalidParams\",\"InternalError\",\"PermissionDenied\",\"TokenUnavailable\",\"Throttle"\
        "d\",\"GraphError\",\"OperationNotFound\",\"LimitExceeded\",\"Timeout\",\"GraphUnreachable\"]"\
        "},\"message\":{\"type\":\"string\"}},\"description\":\"Why the operation failed on the daemo"\
        "n's side (the error class and its data members).\"},\"createdAt\":{\"type\":\"string\",\"for"\
        "mat\":\"date-time\"},\"updatedAt\":{\"type\":\"string\",\"format\":\"date-time\"}}}}}"

#define RESULT_OPERATIONS \
        "{\"type\":\"object\",\"required\":[\"operations\"],\"additionalProperties\":false,\"properti"\
        "es\":{\"operations\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"id\""\
        ",\"callId\",\"clientContext\",\"status\",\"graphOperationId\",\"createdAt\",\"updatedAt\"],"\
        "\"additionalProperties\":false,\"properties\":{\"id\":{\"type\":\"string\",\"description\":"\
        "\"The daemon's id of the operation (a UUID).\"},\"callId\":{\"type\":\"string\",\"descriptio"\
        "n\":\"The call, as given to cancel.\"},\"clientContext\":{\"type\":\"string\",\"description"\
        "\":\"The clientContext sent to Graph: the caller's, or a generated UUID.\"},\"status\":{\"en"\
        "um\":[\"queued\",\"submitting\",\"notStarted\",\"running\",\"completed\",\"failed\",\"unknow"\
        "n\"]},\"graphOperationId\":{\"type\":[\"string\",\"null\"],\"description\":\"Graph's id of t"\
        "he operation, once Graph answered with one.\"},\"all\":{\"type\":\"boolean\",\"description\""\
        ":\"Present when the cancel was given \\\"all\\\".\"},\"resultInfo\":{\"type\":\"object\",\"r"\
        "equired\":[\"code\",\"subcode\",\"message\"],\"properties\":{\"code\":{\"type\":\"integer\"}"\
        ",\"subcode\":{\"type\":\"integer\"},\"message\":{\"type\":[\"string\",\"null\"]}},\"descript"\
        "ion\":\"Graph's resultInfo, when it sent one.\"},\"completionReason\":{\"type\":\"string\","\
        "\"description\":\"Graph's completionReason, when it sent one.\"},\"error\":{\"type\":\"objec"\
        "t\",\"required\":[\"class\",\"message\"],\"properties\":{\"class\":{\"enum\":[\"ParseError\""\
        ",\"InvalidRequest\",\"MethodNotFound\",\"InvalidParams\",\"InternalError\",\"PermissionDenie"\
        "d\",\"TokenUnavailable\",\"Throttled\",\"GraphError\",\"OperationNotFound\",\"LimitExceeded"\
        "\",\"Timeout\",\"GraphUnreachable\"]},\"message\":{\"type\":\"string\"}},\"description\":\"W"\
        "hy the operation failed on the daemon's side (the error class and its data members).\"},\"cr"\
        "eatedAt\":{\"type\":\"string\",\"format\":\"date-time\"},\"updatedAt\":{\"type\":\"string\","\
        "\"format\":\"date-time\"}}}}}}"

#define RESULT_STATUS \
        "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"version\",\"protocolVers"\
        "ion\",\"uptimeSec\",\"token\",\"graph\",\"operations\",\"journal\",\"connections\"],\"proper"\
        "ties\":{\"version\":{\"type\":\"string\"},\"protocolVersion\":{\"type\":\"integer\"},\"uptim"\
        "eSec\":{\"type\":\"number\",\"minimum\":0},\"token\":{\"type\":\"object\",\"additionalProper"\
        "ties\":false,\"required\":[\"state\",\"expiresAt\",\"fetches\",\"lastError\"],\"properties\""\
        ":{\"state\":{\"enum\":[\"refreshing\",\"valid\",\"failed\",\"none\"]},\"expiresAt\":{\"type"\
        "\":[\"string\",\"null\"],\"format\":\"date-time\"},\"fetches\":{\"type\":\"integer\",\"minim"\
        "um\":0},\"lastError\":{\"oneOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"required\":[\"e"\
        "rror\",\"aadsts\",\"message\"],\"properties\":{\"error\":{\"type\":\"string\"},\"aadsts\":{"\
        "\"type\":[\"string\",\"null\"]},\"message\":{\"type\":[\"string\",\"null\"]}}}]}}},\"graph\""\
        ":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\",\"apiVersion"\
        "\",\"callsPath\",\"inFlight\",\"queued\",\"attempts\",\"holdMs\"],\"properties\":{\"endpoint"\
        "\":{\"type\":\"string\"},\"apiVersion\":{\"type\":\"string\"},\"callsPath\":{\"type\":\"stri"\
        "ng\"},\"inFlight\":{\"type\":\"integer\",\"minimum\":0},\"queued\":{\"type\":\"integer\",\"m"\
        "inimum\":0},\"attempts\":{\"type\":\"integer\",\"minimum\":0},\"holdMs\":{\"type\":\"integer"\
        "\",\"minimum\":0}}},\"operations\":{\"type\":\"object\",\"additionalProperties\":false,\"req"\
        "uired\":[\"total\",\"queued\",\"submitting\",\"notStarted\",\"running\",\"completed\",\"fail"\
        "ed\",\"unknown\"],\"properties\":{\"total\":{\"type\":\"integer\",\"minimum\":0},\"queued\":"\
        "{\"type\":\"integer\",\"minimum\":0},\"submitting\":{\"type\":\"integer\",\"minimum\":0},\"n"\
        "otStarted\":{\"type\":\"integer\",\"minimum\":0},\"running\":{\"type\":\"integer\",\"minimum"\
        "\":0},\"completed\":{\"type\":\"integer\",\"minimum\":0},\"failed\":{\"type\":\"integer\",\""\
        "minimum\":0},\"unknown\":{\"type\":\"integer\",\"minimum\":0}}},\"journal\":{\"type\":\"obje"\
        "ct\",\"additionalProperties\":false,\"required\":[\"directory\",\"bytes\",\"syncs\"],\"prope"\
        "rties\":{\"directory\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\",\"minimum\":0},"\
        "\"syncs\":{\"type\":\"integer\",\"minimum\":0}}},\"connections\":{\"type\":\"integer\",\"min"\
        "imum\":0}}}"

#define RESULT_DELIVER \
        "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"matched\",\"ignored\"],"\
        "\"properties\":{\"matched\":{\"type\":\"integer\",\"minimum\":0},\"ignored\":{\"type\":\"int"\
        "eger\",\"minimum\":0}}}"

#define RESULT_DISCOVER \
        "{\"type\":\"object\",\"required\":[\"openrpc\",\"info\",\"methods\"],\"properties\":{\"openr"\
        "pc\":{\"type\":\"string\"},\"info\":{\"type\":\"object\"},\"methods\":{\"type\":\"array\"}}}"

#define EXAMPLES_CANCEL \
        "[{\"name\":\"cancel with a clientContext\",\"params\":[{\"name\":\"callId\",\"value\":\"57da"\
        "b8b1-894c-409a-b240-bd8beae78896\"},{\"name\":\"clientContext\",\"value\":\"bot-42-turn-7\"}"\
        "],\"result\":{\"name\":\"result\",\"value\":{\"operation\":{\"id\":\"622480f8-31fc-4ab4-9a20"\
        "-5454658ef4b5\",\"callId\":\"57dab8b1-894c-409a-b240-bd8beae78896\",\"clientContext\":\"bot-"\
        "42-turn-7\",\"status\":\"notStarted\",\"graphOperationId\":\"0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4"\
        "d3e2f\",\"createdAt\":\"2026-12-02T13:00:00.000Z\",\"updatedAt\":\"2026-12-02T13:00:00.250Z"\
        "\"}}}}]"

#define EXAMPLES_OPERATION_GET \
        "[{\"name\":\"one operation\",\"params\":[{\"name\":\"operationId\",\"value\":\"622480f8-31fc"\
        "-4ab4-9a20-5454658ef4b5\"}],\"result\":{\"name\":\"result\",\"value\":{\"operation\":{\"id\""\
        ":\"622480f8-31fc-4ab4-9a20-5454658ef4b5\",\"callId\":\"57dab8b1-894c-409a-b240-bd8beae78896"\
        "\",\"clientContext\":\"bot-42-turn-7\",\"status\":\"notStarted\",\"graphOperationId\":\"0d4b"\
        "9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f\",\"createdAt\":\"2026-12-02T13:00:00.000Z\",\"updatedAt\":"\
        "\"2026-12-02T13:00:00.250Z\"}}}}]"

#define EXAMPLES_OPERATION_LIST \
        "[{\"name\":\"the newest operations of one call\",\"params\":[{\"name\":\"callId\",\"value\":"\
        "\"57dab8b1-894c-409a-b240-bd8beae78896\"},{\"name\":\"limit\",\"value\":10}],\"result\":{\"n"\
        "ame\":\"result\",\"value\":{\"operations\":[{\"id\":\"622480f8-31fc-4ab4-9a20-5454658ef4b5\""\
        ",\"callId\":\"57dab8b1-894c-409a-b240-bd8beae78896\",\"clientContext\":\"bot-42-turn-7\",\"s"\
        "tatus\":\"notStarted\",\"graphOperationId\":\"0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f\",\"creat"\
        "edAt\":\"2026-12-02T13:00:00.000Z\",\"updatedAt\":\"2026-12-02T13:00:00.250Z\"}]}}}]"

#define EXAMPLES_OPERATION_WATCH \
        "[{\"name\":\"watch one operation\",\"params\":[{\"name\":\"operationId\",\"value\":\"622480f"\
        "8-31fc-4ab4-9a20-5454658ef4b5\"}],\"result\":{\"name\":\"result\",\"value\":{\"operation\":{"\
        "\"id\":\"622480f8-31fc-4ab4-9a20-5454658ef4b5\",\"callId\":\"57dab8b1-894c-409a-b240-bd8beae"\
        "78896\",\"clientContext\":\"bot-42-turn-7\",\"status\":\"notStarted\",\"graphOperationId\":"\
        "\"0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f\",\"createdAt\":\"2026-12-02T13:00:00.000Z\",\"update"\
        "dAt\":\"2026-12-02T13:00:00.250Z\"}}}}]"

#define EXAMPLES_NOTIFICATIONS_DELIVER \
        "[{\"name\":\"a notification body no operation is waiting for\",\"params\":[{\"name\":\"value"\
        "\",\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/57dab8b1-8"\
        "94c-409a-b240-bd8beae78896/operations/0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f\",\"resourceData"\
        "\":{\"@odata.type\":\"#microsoft.graph.cancelMediaProcessingOperation\",\"id\":\"0d4b9c5f-1a"\
        "2b-4c3d-9e8f-7a6b5c4d3e2f\",\"status\":\"completed\",\"clientContext\":\"bot-42-turn-7\"}}]}"\
        "],\"result\":{\"name\":\"result\",\"value\":{\"matched\":0,\"ignored\":1}}}]"

#define EXAMPLES_STATUS \
        "[{\"name\":\"the daemon's state\",\"params\":[],\"result\":{\"name\":\"result\",\"value\":{"\
        "\"version\":\"0.1.0\",\"protocolVersion\":1,\"uptimeSec\":12.5,\"token\":{\"state\":\"valid"\
        "\",\"expiresAt\":\"2026-12-02T14:00:00.000Z\",\"fetches\":1,\"lastError\":null},\"graph\":{"\
        "\"endpoint\":\"https://graph.microsoft.com\",\"apiVersion\":\"v1.0\",\"callsPath\":\"/commun"\
        "ications/calls\",\"inFlight\":0,\"queued\":0,\"attempts\":1,\"holdMs\":0},\"operations\":{\""\
        "total\":1,\"queued\":0,\"submitting\":0,\"notStarted\":1,\"running\":0,\"completed\":0,\"fai"\
        "led\":0,\"unknown\":0},\"journal\":{\"directory\":\"/var/lib/mediacancel\",\"bytes\":412,\"s"\
        "yncs\":1},\"connections\":1}}}]"

#define EXAMPLES_RPC_DISCOVER \
        "[{\"name\":\"this document\",\"params\":[],\"result\":{\"name\":\"result\",\"value\":{\"open"\
        "rpc\":\"1.3.2\",\"info\":{\"title\":\"mediacanceld socket protocol\",\"version\":\"1\"},\"me"\
        "thods\":[]}}}]"

#define CALL_ID_SCHEMA "\"minLength\":1,\"maxLength\":" STRINGIFY(CALL_ID_MAX) ",\"pattern\":\"^[A-Za-z0-9-]+$\""
#define STATUS_ENUM "\"enum\":[\"queued\",\"submitting\",\"notStarted\",\"running\",\"completed\",\"failed\",\"unknown\"]"

/* What every method may answer besides its own classes: a peer without the role, and a
 * resource failure. */
#define ERRORS_COMMON (RPC_ERROR_BIT(ERROR_INVALID_PARAMS) | RPC_ERROR_BIT(ERROR_INTERNAL) | RPC_ERROR_BIT(ERROR_PERMISSION_DENIED))

#define TENANT_ID_SCHEMA "\"minLength\":1,\"maxLength\":" STRINGIFY(TENANT_ID_MAX) ",\"pattern\":\"^[A-Za-z0-9.-]+$\""

static const RpcParamSpec cancel_params[] = {
        { "callId", RPC_PARAM_STRING, true, CALL_ID_SCHEMA,
          "The Graph call id: 1-128 characters of A-Z, a-z, 0-9 and '-'." },
        { "clientContext", RPC_PARAM_STRING, false, "\"minLength\":1,\"maxLength\":" STRINGIFY(CLIENT_CONTEXT_MAX),
          "Sent to Graph and echoed in its notifications: 1-256 characters, no control characters "
          "(U+0000-U+001F, U+007F-U+009F). Default: a new random UUID. A repeat of a cancel with the same "
          "callId and clientContext that is not final yet sends nothing and answers with the first one's "
          "operation." },
        { "all", RPC_PARAM_BOOLEAN, false, NULL,
          "Graph's \"all\": only with ApiVersion=beta and CallsPath=/app/calls or /applications/{appId}/calls." },
        { "wait", RPC_PARAM_STRING, false, "\"enum\":[\"completed\"]",
          "\"completed\": answer only once the operation is settled (completed, failed or unknown)." },
        { "tenantId", RPC_PARAM_STRING, false, TENANT_ID_SCHEMA,
          "The tenant the call lives in, a GUID or a domain name (1-64 characters of A-Z, a-z, 0-9, '.' and "
          "'-'). Default: TenantId=. It must be TenantId= or in AllowedTenants=, else TenantNotAllowed." },
};

static const RpcParamSpec operation_id_params[] = {
        { "operationId", RPC_PARAM_STRING, true, "\"maxLength\":" STRINGIFY(OPERATION_ID_MAX),
          "The operation's id (operation.id in the answer to cancel), at most 128 bytes." },
};

static const RpcParamSpec operation_list_params[] = {
        { "callId", RPC_PARAM_STRING, false, CALL_ID_SCHEMA, "Only the operations of this call." },
        { "status", RPC_PARAM_STRING, false, STATUS_ENUM, "Only the operations in this status." },
        { "tenantId", RPC_PARAM_STRING, false, TENANT_ID_SCHEMA, "Only the operations of this tenant." },
        { "limit", RPC_PARAM_INTEGER, false, "\"minimum\":" STRINGIFY(OPERATION_LIST_LIMIT_MIN) ",\"maximum\":" STRINGIFY(
                  OPERATION_LIST_LIMIT_MAX) ",\"default\":" STRINGIFY(OPERATION_LIST_LIMIT_DEFAULT),
          "At most this many operations, newest first." },
};

static const RpcParamSpec notifications_deliver_params[] = {
        { "value", RPC_PARAM_ARRAY, true, "\"maxItems\":" STRINGIFY(NOTIFY_MAX_ENTRIES) ",\"items\":{\"type\":\"object\"}",
          "The notifications of a Graph commsNotifications body, as the bot received it." },
        { "@odata.type", RPC_PARAM_STRING, false, NULL, "As Graph sent it; ignored." },
        { "@odata.context", RPC_PARAM_STRING, false, NULL, "As Graph sent it; ignored." },
        { "authorization", RPC_PARAM_STRING, false, NULL,
          "The Authorization header of Graph's POST to the bot (\"Bearer eyJ...\"), required with "
          "Authentication=jwt; a token of at most " STRINGIFY(NOTIFICATION_TOKEN_MAX_BYTES) " bytes (longer: "
          "NotificationRefused, reason tooLarge). Never logged or echoed." },
};

const RpcMethodSpec method_spec_cancel = {
        .name = METHOD_CANCEL,
        .summary = "Cancels media processing on a call and records an operation.",
        .description = "POST {Endpoint}/{ApiVersion}{CallsPath}/{callId}/cancelMediaProcessing. Answered when Graph "
                       "has answered (with wait: when the operation is settled), or the cancel failed; an error "
                       "after the operation was recorded names it in data.operationId.",
        .params = cancel_params,
        .n_params = ELEMENTSOF(cancel_params),
        .result_name = "operation",
        .result_schema = RESULT_OPERATION,
        .errors = ERRORS_COMMON | RPC_ERROR_BIT(ERROR_TOKEN_UNAVAILABLE) | RPC_ERROR_BIT(ERROR_THROTTLED) |
                  RPC_ERROR_BIT(ERROR_GRAPH) | RPC_ERROR_BIT(ERROR_LIMIT_EXCEEDED) | RPC_ERROR_BIT(ERROR_TIMEOUT) |
                  RPC_ERROR_BIT(ERROR_GRAPH_UNREACHABLE),
        .examples = EXAMPLES_CANCEL,
};

const RpcMethodSpec method_spec_operation_get = {
        .name = METHOD_OPERATION_GET,
        .summary = "Returns one recorded operation of the caller (an administrator: of anyone).",
        .params = operation_id_params,
        .n_params = ELEMENTSOF(operation_id_params),
        .result_name = "operation",
        .result_schema = RESULT_OPERATION,
        .errors = ERRORS_COMMON | RPC_ERROR_BIT(ERROR_OPERATION_NOT_FOUND),
        .examples = EXAMPLES_OPERATION_GET,
};

const RpcMethodSpec method_spec_operation_list = {
        .name = METHOD_OPERATION_LIST,
        .summary = "Lists the caller's recorded operations, newest first.",
        .params = operation_list_params,
        .n_params = ELEMENTSOF(operation_list_params),
        .result_name = "operations",
        .result_schema = RESULT_OPERATIONS,
        .errors = ERRORS_COMMON,
        .examples = EXAMPLES_OPERATION_LIST,
};

const RpcMethodSpec method_spec_operation_watch = {
        .name = METHOD_OPERATION_WATCH,
        .summary = "Returns one operation, then sends an operation.changed event on this connection for each "
                   "change until it is settled.",
        .params = operation_id_params,
        .n_params = ELEMENTSOF(operation_id_params),
        .result_name = "operation",
        .result_schema = RESULT_OPERATION,
        .errors = ERRORS_COMMON | RPC_ERROR_BIT(ERROR_OPERATION_NOT_FOUND),
        .examples = EXAMPLES_OPERATION_WATCH,
};

const RpcMethodSpec method_spec_notifications_deliver = {
        .name = METHOD_NOTIFICATIONS_DELIVER,
        .summary = "Applies a Graph notification body that the bot received to the operations it is about.",
        .description = "The params are the body itself. An entry about no tracked operation is counted as ignored.",
        .params = notifications_deliver_params,
        .n_params = ELEMENTSOF(notifications_deliver_params),
        .result_name = "counts",
        .result_schema = RESULT_DELIVER,
        .errors = ERRORS_COMMON,
        .examples = EXAMPLES_NOTIFICATIONS_DELIVER,
};

const RpcMethodSpec method_spec_status = {
        .name = METHOD_STATUS,
        .summary = "Returns the daemon's state: versions, token, Graph client, operations, journal, connections.",
        .result_name = "status",
        .result_schema = RESULT_STATUS,
        .errors = ERRORS_COMMON,
        .examples = EXAMPLES_STATUS,
};

const RpcMethodSpec method_spec_rpc_discover = {
        .name = METHOD_RPC_DISCOVER,
        .summary = "Returns this OpenRPC document: every method, parameter, result, error class and event.",
        .result_name = "OpenRPC document",
        .result_schema = RESULT_DISCOVER,
        .errors = ERRORS_COMMON,
        .examples = EXAMPLES_RPC_DISCOVER,
};

static const RpcParamSpec operation_changed_params[] = {
        { "operation", RPC_PARAM_OBJECT, true, OPERATION_SCHEMA_MEMBERS, "The operation after the change." },
};

const RpcEventSpec method_events[] = {
        {
                .name = EVENT_OPERATION_CHANGED,
                .description = "Sent without id on a connection that called operation.watch, once per change of the "
                               "operation, in order, none after the one whose status is completed, failed or unknown.",
                .params = operation_changed_params,
                .n_params = ELEMENTSOF(operation_changed_params),
        },
};
const size_t method_n_events = ELEMENTSOF(method_events);
