/* SPDX-License-Identifier: MIT */
/*
 * method-specs.c — the rows of every method of the socket protocol (rpc-method.h): parameters
 * with their JSON Schemas, results, error classes and examples, and the operation.changed
 * event. methods.c dispatches by these rows and checks every request's params with them;
 * rpc.discover (openrpc.h) describes the protocol from them. To add a parameter, add its row
 * here and read it in the handler. The result schemas describe what reply.c, operation.c's
 * writer and methods.c write; tests/node checks real answers against them. Each fact is
 * written once: the operation object's schema serves every result and the event, the status
 * values and error classes come from their lists (operation.h, protocol.h), and the JSON is
 * written as JSON, one member a line, with JSON().
 */
#include "graph-notification.h"
#include "notification-token.h"
#include "method-specs.h"
#include "operation.h"
#include "protocol.h"
#include "util.h"
#include "validate.h"

/* JSON text written as JSON: JSON({"type": "object"}) is the string "{\"type\": \"object\"}".
 * The argument is not macro-expanded (so true and false stay JSON's, whatever stdbool.h
 * defines); a fact written elsewhere is spliced in between two JSON() pieces. */
#define JSON(...) #__VA_ARGS__

/* ---- what several schemas share --------------------------------------------------------- */

#define STATUS_NAME_JSON(id, name) "\"" name "\""
#define ERROR_CLASS_NAME_JSON(id, code, name) "\"" name "\""

/* The status values (operation.h) and the error classes (protocol.h), from their lists. */
#define STATUS_ENUM "\"enum\":[" OPERATION_STATUSES(STATUS_NAME_JSON, ",") "]"
#define ERROR_CLASS_ENUM "\"enum\":[" PROTOCOL_ERROR_CLASSES(ERROR_CLASS_NAME_JSON, ",") "]"

#define COUNT_SCHEMA JSON({"type": "integer", "minimum": 0})
/* A status's count in the status result's "operations", after "total". */
#define STATUS_COUNT_JSON(id, name) ",\"" name "\":" COUNT_SCHEMA

/* The operation object (operation.c's operation_write_json()), without its braces and type:
 * the operation.changed event's row takes it so. */
#define OPERATION_SCHEMA_MEMBERS \
        JSON("required": ["id", "callId", "tenantId", "clientContext", "status", "graphOperationId", "createdAt", \
                          "updatedAt"],) \
        JSON("additionalProperties": false,) \
        JSON("properties": {) \
        JSON(  "id": {"type": "string", "description": "The daemon's id of the operation (a UUID)."},) \
        JSON(  "callId": {"type": "string", "description": "The call, as given to cancel."},) \
        JSON(  "tenantId": {"type": ["string", "null"], \
                            "description": "The tenant whose token the operation's requests carry, in lower case: \
cancel's tenantId, or TenantId=."},) \
        JSON(  "clientContext": {"type": "string", \
                                 "description": "The clientContext sent to Graph: the caller's, or a generated UUID."},) \
        JSON(  "status": {) STATUS_ENUM JSON(},) \
        JSON(  "graphOperationId": {"type": ["string", "null"], \
                                    "description": "Graph's id of the operation, once Graph answered with one."},) \
        JSON(  "all": {"type": "boolean", "description": "Present when the cancel was given \"all\"."},) \
        JSON(  "resultInfo": {"type": "object", \
                              "required": ["code", "subcode", "message"], \
                              "properties": {"code": {"type": "integer"}, \
                                             "subcode": {"type": "integer"}, \
                                             "message": {"type": ["string", "null"]}}, \
                              "description": "Graph's resultInfo, when it sent one."},) \
        JSON(  "completionReason": {"type": "string", "description": "Graph's completionReason, when it sent one."},) \
        JSON(  "error": {"type": "object", \
                         "required": ["class", "message"], \
                         "properties": {) \
        JSON(    "class": {) ERROR_CLASS_ENUM JSON(},) \
        JSON(    "message": {"type": "string"},) \
        ERROR_DATA_SCHEMA_MEMBERS JSON(},) \
        JSON(    "description": "Why the operation failed on the daemon's side (the error class and its data members).") \
        JSON(  },) \
        JSON(  "cancelledOperations": {) \
        JSON(    "type": "array",) \
        JSON(    "items": {"type": "object", \
                           "required": ["graphOperationId", "type", "at"], \
                           "additionalProperties": false, \
                           "properties": {"graphOperationId": {"type": "string"}, \
                                          "type": {"type": ["string", "null"]}, \
                                          "at": {"type": "string", "format": "date-time"}}},) \
        JSON(    "description": "Present once Graph reported a prompt or recording of the call cancelled by this cancel: \
Graph's id of that operation, its @odata.type without #microsoft.graph., and when the daemon learnt it; oldest first, at \
most MaxCancelledOperations=."},) \
        JSON(  "createdAt": {"type": "string", "format": "date-time"},) \
        JSON(  "updatedAt": {"type": "string", "format": "date-time"}})

/* The data members an error may carry besides its class (docs/protocol.md, Errors), as an
 * operation's error has them (without operationId, which is the operation itself). */
#define ERROR_DATA_SCHEMA_MEMBERS \
        JSON(    "reason": {"type": "string", "description": "TokenUnavailable: the identity platform's error, or \
login_unreachable, login_transport_error, malformed_response, http_error, internal_error, no_token, \
client_assertion_unavailable, managed_identity_unavailable."},) \
        JSON(    "aadsts": {"type": "string"},) \
        JSON(    "tenantId": {"type": "string", "description": "TokenUnavailable, a 7504 GraphError: the tenant."},) \
        JSON(    "adminConsentUrl": {"type": "string", \
                                     "description": "Where an administrator of tenantId grants the application consent."},) \
        JSON(    "httpStatus": {"type": "integer"},) \
        JSON(    "graphCode": {"type": ["string", "null"]},) \
        JSON(    "requestId": {"type": ["string", "null"]},) \
        JSON(    "retryAfterMs": {"type": "integer"},) \
        JSON(    "attempts": {"type": "integer"},) \
        JSON(    "curlCode": {"type": "integer"},) \
        JSON(    "limit": {"type": "string"})

#define OPERATION_SCHEMA "{\"type\":\"object\"," OPERATION_SCHEMA_MEMBERS "}"

/* ---- results ---------------------------------------------------------------------------- */

#define RESULT_OPERATION \
        JSON({"type": "object", \
              "required": ["operation"], \
              "additionalProperties": false, \
              "properties": {"operation":) OPERATION_SCHEMA JSON(}})

#define RESULT_OPERATIONS \
        JSON({"type": "object", \
              "required": ["operations"], \
              "additionalProperties": false, \
              "properties": {"operations": {"type": "array", "items":) OPERATION_SCHEMA JSON(}}})

/* A tenant's token (token.c's token_manager_status_json()): status's "token" and each of its
 * "tenants". */
#define TOKEN_SCHEMA \
        JSON({"type": "object",) \
        JSON( "additionalProperties": false,) \
        JSON( "required": ["tenantId", "state", "expiresAt", "fetches", "lastError"],) \
        JSON( "properties": {) \
        JSON(  "tenantId": {"type": "string"},) \
        JSON(  "state": {"enum": ["refreshing", "valid", "failed", "none"]},) \
        JSON(  "expiresAt": {"type": ["string", "null"], "format": "date-time"},) \
        JSON(  "fetches":) COUNT_SCHEMA JSON(,) \
        JSON(  "lastError": {"oneOf": [{"type": "null"}, \
                                       {"type": "object", \
                                        "required": ["error", "aadsts", "message"], \
                                        "properties": {"error": {"type": "string"}, \
                                                       "aadsts": {"type": ["string", "null"]}, \
                                                       "message": {"type": ["string", "null"]}}}]}}})

/* methods.c's status_json(). */
#define RESULT_STATUS \
        JSON({"type": "object",) \
        JSON( "additionalProperties": false,) \
        JSON( "required": ["version", "protocolVersion", "uptimeSec", "cloud", "token", "tenants", "graph", "operations", \
                           "journal", "notifications", "connections"],) \
        JSON( "properties": {) \
        JSON(  "version": {"type": "string"},) \
        JSON(  "protocolVersion": {"type": "integer"},) \
        JSON(  "uptimeSec": {"type": "number", "minimum": 0},) \
        JSON(  "cloud": {"type": "object", \
                         "additionalProperties": false, \
                         "required": ["name", "loginEndpoint", "scope", "warning"], \
                         "properties": {) \
        JSON(    "name": {"type": "string", "description": "Cloud=."},) \
        JSON(    "loginEndpoint": {"type": "string"},) \
        JSON(    "scope": {"type": "string"},) \
        JSON(    "warning": {"type": ["string", "null"]}}},) \
        JSON(  "token":) TOKEN_SCHEMA JSON(,) \
        JSON(  "tenants": {"type": "array", "items":) TOKEN_SCHEMA JSON(, \
                           "description": "Every tenant whose token the daemon holds, TenantId='s first."},) \
        JSON(  "graph": {"type": "object", \
                         "additionalProperties": false, \
                         "required": ["endpoint", "apiVersion", "callsPath", "inFlight", "queued", "waitingForToken", \
                                      "attempts", "holdMs"], \
                         "properties": {) \
        JSON(    "endpoint": {"type": "string"},) \
        JSON(    "apiVersion": {"type": "string"},) \
        JSON(    "callsPath": {"type": "string"},) \
        JSON(    "inFlight":) COUNT_SCHEMA JSON(,) \
        JSON(    "queued":) COUNT_SCHEMA JSON(,) \
        JSON(    "waitingForToken":) COUNT_SCHEMA JSON(,) \
        JSON(    "attempts":) COUNT_SCHEMA JSON(,) \
        JSON(    "holdMs":) COUNT_SCHEMA JSON(}},) \
        JSON(  "operations": {"type": "object", \
                              "additionalProperties": false, \
                              "required": ["total",) OPERATION_STATUSES(STATUS_NAME_JSON, ",") JSON(],) \
        JSON(                 "properties": {"total":) COUNT_SCHEMA \
                                             OPERATION_STATUSES(STATUS_COUNT_JSON, ) JSON(}},) \
        JSON(  "journal": {"type": "object", \
                           "additionalProperties": false, \
                           "required": ["directory", "bytes", "syncs"], \
                           "properties": {"directory": {"type": "string"},) \
        JSON(                         "bytes":) COUNT_SCHEMA JSON(,) \
        JSON(                         "syncs":) COUNT_SCHEMA JSON(}},) \
        JSON(  "notifications": {"type": "object", \
                                 "additionalProperties": false, \
                                 "required": ["authentication", "keys"], \
                                 "properties": {) \
        JSON(    "authentication": {"enum": ["jwt", "peer"], "description": "[Notifications] Authentication=."},) \
        JSON(    "keys": {"oneOf": [{"type": "null"}, \
                                    {"type": "object", \
                                     "additionalProperties": false, \
                                     "required": ["count", "ageSec", "lastError", "fetching"], \
                                     "properties": {"count":) COUNT_SCHEMA JSON(,) \
        JSON(                                       "ageSec": {"type": ["integer", "null"], "minimum": 0},) \
        JSON(                                       "lastError": {"type": ["string", "null"]},) \
        JSON(                                       "fetching": {"type": "boolean"}}}], \
                     "description": "The key set notification tokens are checked against; null with \
Authentication=peer."}}},) \
        JSON(  "connections":) COUNT_SCHEMA JSON(}})

#define RESULT_DELIVER \
        JSON({"type": "object", \
              "additionalProperties": false, \
              "required": ["matched", "ignored"], \
              "properties": {"matched":) COUNT_SCHEMA JSON(, "ignored":) COUNT_SCHEMA JSON(}})

#define RESULT_DISCOVER \
        JSON({"type": "object", \
              "required": ["openrpc", "info", "methods"], \
              "properties": {"openrpc": {"type": "string"}, "info": {"type": "object"}, "methods": {"type": "array"}}})

/* ---- examples ----------------------------------------------------------------------------- */

#define EXAMPLE_CALL_ID "\"57dab8b1-894c-409a-b240-bd8beae78896\""
#define EXAMPLE_OPERATION_ID "\"622480f8-31fc-4ab4-9a20-5454658ef4b5\""
#define EXAMPLE_TENANT "\"contoso.onmicrosoft.com\""
/* The tenant of the cancel example with tenantId: the daemons that tests/check_discover.c
 * and tests/with-daemon.sh run allow it (AllowedTenants=) and their stand-in knows it. */
#define EXAMPLE_OTHER_TENANT "\"fabrikam.onmicrosoft.com\""
#define EXAMPLE_OTHER_CALL_ID "\"2a9c4e71-0d35-4b8f-a6e2-93c1d7f05b48\""

/* An operation as the examples answer it (all arguments JSON text). */
#define EXAMPLE_OPERATION_OF(id, call_id, tenant, context, graph_id) \
        JSON({"id":) id JSON(,) \
        JSON( "callId":) call_id JSON(,) \
        JSON( "tenantId":) tenant JSON(,) \
        JSON( "clientContext":) context JSON(,) \
        JSON( "status": "notStarted",) \
        JSON( "graphOperationId":) graph_id JSON(,) \
        JSON( "createdAt": "2026-12-02T13:00:00.000Z",) \
        JSON( "updatedAt": "2026-12-02T13:00:00.250Z"})

/* The operation the first cancel example makes, which the operation.* examples name. */
#define EXAMPLE_OPERATION \
        EXAMPLE_OPERATION_OF(EXAMPLE_OPERATION_ID, EXAMPLE_CALL_ID, EXAMPLE_TENANT, "\"bot-42-turn-7\"", \
                             "\"0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f\"")

#define EXAMPLES_CANCEL \
        JSON([{"name": "cancel with a clientContext",) \
        JSON(  "params": [{"name": "callId", "value":) EXAMPLE_CALL_ID JSON(},) \
        JSON(             {"name": "clientContext", "value": "bot-42-turn-7"}],) \
        JSON(  "result": {"name": "result", "value": {"operation":) EXAMPLE_OPERATION JSON(}}},) \
        JSON( {"name": "cancel on a call of another tenant",) \
        JSON(  "description": "The tenant must be TenantId= or in [Identity] AllowedTenants=, else TenantNotAllowed.",) \
        JSON(  "params": [{"name": "callId", "value":) EXAMPLE_OTHER_CALL_ID JSON(},) \
        JSON(             {"name": "tenantId", "value":) EXAMPLE_OTHER_TENANT JSON(}],) \
        JSON(  "result": {"name": "result", "value": {"operation":) \
                EXAMPLE_OPERATION_OF("\"4ee4e868-a3b9-46ed-b95b-8ffca2668a2e\"", EXAMPLE_OTHER_CALL_ID, \
                                     EXAMPLE_OTHER_TENANT, "\"3c9982d0-5708-4fd5-a287-99e88d28cde9\"", \
                                     "\"bd286478-c1a2-478a-9c20-e0626a3b866c\"") JSON(}}}])

#define EXAMPLES_OPERATION_GET \
        JSON([{"name": "one operation",) \
        JSON(  "params": [{"name": "operationId", "value":) EXAMPLE_OPERATION_ID JSON(}],) \
        JSON(  "result": {"name": "result", "value": {"operation":) EXAMPLE_OPERATION JSON(}}}])

#define EXAMPLES_OPERATION_LIST \
        JSON([{"name": "the newest operations of one call",) \
        JSON(  "params": [{"name": "callId", "value":) EXAMPLE_CALL_ID JSON(}, {"name": "limit", "value": 10}],) \
        JSON(  "result": {"name": "result", "value": {"operations": [) EXAMPLE_OPERATION JSON(]}}}])

#define EXAMPLES_OPERATION_WATCH \
        JSON([{"name": "watch one operation",) \
        JSON(  "params": [{"name": "operationId", "value":) EXAMPLE_OPERATION_ID JSON(}],) \
        JSON(  "result": {"name": "result", "value": {"operation":) EXAMPLE_OPERATION JSON(}}}])

/* A static document cannot hold a token that verifies (Graph signs each one, and it expires
 * within the hour): the example's authorization stands for the header Graph sent, and the
 * tests that send every example put a token from the stand-in in its place, as they put a
 * real operation id in operationId. */
#define EXAMPLES_NOTIFICATIONS_DELIVER \
        JSON([{"name": "a notification body no operation is waiting for",) \
        JSON(  "description": "authorization is the Authorization header of Graph's POST (here shortened); without \
a valid one the answer is NotificationRefused.",) \
        JSON(  "params": [{"name": "authorization", "value": "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9..."},) \
        JSON(             {"name": "value", "value": [{) \
        JSON(    "changeType": "deleted",) \
        JSON(    "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f",) \
        JSON(    "resourceData": {"@odata.type": "#microsoft.graph.cancelMediaProcessingOperation",) \
        JSON(                     "id": "0d4b9c5f-1a2b-4c3d-9e8f-7a6b5c4d3e2f",) \
        JSON(                     "status": "completed",) \
        JSON(                     "clientContext": "bot-42-turn-7"}}]}],) \
        JSON(  "result": {"name": "result", "value": {"matched": 0, "ignored": 1}}}])

/* A token as status shows it (token and each of tenants). */
#define EXAMPLE_TOKEN \
        JSON({"tenantId":) EXAMPLE_TENANT JSON(, \
              "state": "valid", "expiresAt": "2026-12-02T14:00:00.000Z", "fetches": 1, "lastError": null})

#define EXAMPLES_STATUS \
        JSON([{"name": "the daemon's state", "params": [], "result": {"name": "result", "value": {) \
        JSON(  "version": "0.1.0",) \
        JSON(  "protocolVersion": 1,) \
        JSON(  "uptimeSec": 12.5,) \
        JSON(  "cloud": {"name": "Global", "loginEndpoint": "https://login.microsoftonline.com", \
                         "scope": "https://graph.microsoft.com/.default", "warning": null},) \
        JSON(  "token":) EXAMPLE_TOKEN JSON(,) \
        JSON(  "tenants": [) EXAMPLE_TOKEN JSON(],) \
        JSON(  "graph": {"endpoint": "https://graph.microsoft.com", "apiVersion": "v1.0", \
                         "callsPath": "/communications/calls", "inFlight": 0, "queued": 0, "waitingForToken": 0, \
                         "attempts": 1, "holdMs": 0},) \
        JSON(  "operations": {"total": 1, "queued": 0, "submitting": 0, "notStarted": 1, "running": 0, \
                              "completed": 0, "failed": 0, "unknown": 0},) \
        JSON(  "journal": {"directory": "/var/lib/mediacancel", "bytes": 412, "syncs": 1},) \
        JSON(  "notifications": {"authentication": "jwt", \
                                 "keys": {"count": 2, "ageSec": 1712, "lastError": null, "fetching": false}},) \
        JSON(  "connections": 1}}}])

#define EXAMPLES_RPC_DISCOVER \
        JSON([{"name": "this document", "params": [], "result": {"name": "result", "value": {) \
        JSON(  "openrpc": "1.3.2", \
               "info": {"title": "mediacanceld socket protocol", "version": "1"}, \
               "methods": []}}}])

/* ---- params ------------------------------------------------------------------------------- */

#define CALL_ID_SCHEMA "\"minLength\":1,\"maxLength\":" STRINGIFY(CALL_ID_MAX) ",\"pattern\":\"^[A-Za-z0-9-]+$\""

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
        .description = "POST {Endpoint}/{ApiVersion}{CallsPath}/{callId}/cancelMediaProcessing with the token of "
                       "the call's tenant. Answered when Graph has answered (with wait: when the operation is "
                       "settled), or the cancel failed; an error after the operation was recorded names it in "
                       "data.operationId. TokenUnavailable and a 7504 GraphError name the tenant in data.tenantId "
                       "and, where its administrator must consent, data.adminConsentUrl; TenantNotAllowed names it "
                       "too.",
        .params = cancel_params,
        .n_params = ELEMENTSOF(cancel_params),
        .result_name = "operation",
        .result_schema = RESULT_OPERATION,
        .errors = ERRORS_COMMON | RPC_ERROR_BIT(ERROR_TOKEN_UNAVAILABLE) | RPC_ERROR_BIT(ERROR_THROTTLED) |
                  RPC_ERROR_BIT(ERROR_GRAPH) | RPC_ERROR_BIT(ERROR_LIMIT_EXCEEDED) | RPC_ERROR_BIT(ERROR_TIMEOUT) |
                  RPC_ERROR_BIT(ERROR_GRAPH_UNREACHABLE) | RPC_ERROR_BIT(ERROR_TENANT_NOT_ALLOWED),
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
        .description = "The params are the body itself, with the Authorization header of Graph's POST as "
                       "authorization. With Authentication=jwt (the default) a body without a valid token from "
                       "Graph is refused with NotificationRefused, data.reason saying why, and nothing in it is "
                       "applied; an entry may only change an operation of the token's tenant. An entry that is "
                       "evidence of what a cancel cancelled is recorded in its cancelledOperations and counted as "
                       "matched; one about no tracked operation is counted as ignored.",
        .params = notifications_deliver_params,
        .n_params = ELEMENTSOF(notifications_deliver_params),
        .result_name = "counts",
        .result_schema = RESULT_DELIVER,
        .errors = ERRORS_COMMON | RPC_ERROR_BIT(ERROR_NOTIFICATION_REFUSED),
        .examples = EXAMPLES_NOTIFICATIONS_DELIVER,
};

const RpcMethodSpec method_spec_status = {
        .name = METHOD_STATUS,
        .summary = "Returns the daemon's state: versions, cloud, tokens, Graph client, operations, journal, "
                   "notification keys, connections.",
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
