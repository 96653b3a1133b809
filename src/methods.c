/* SPDX-License-Identifier: MIT */
/*
 * methods.c — one handler per protocol method. Each validates its params strictly before
 * any side effect (so a refused request changes nothing and never reaches Graph), then
 * answers its Call exactly once, now or when Graph has answered.
 */
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "manager.h"
#include "rpc.h"
#include "util.h"
#include "validate.h"

typedef struct Submission {
        Manager *manager;
        Operation *op;
        Call *call;
} Submission;

static void reply_error(Call *call, Error *e) {
        if (!e) {
                Error oom = { .class = ERROR_INTERNAL, .message = (char *) "Out of memory." };
                call_reply_error(call, &oom);
                return;
        }
        call_reply_error(call, e);
        error_free(e);
}

static json_object *operation_result(const Operation *op) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "operation", operation_to_json(op));
        return j;
}

static int on_completion_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *op = userdata;

        (void) s;
        (void) usec;
        op->completion_timer = sd_event_source_disable_unref(op->completion_timer);
        if (operation_status_is_settled(op->status))
                return 0;
        log_info("Operation %s (call %s) had no final state after CompletionTimeoutSec; now unknown.", op->id,
                 op->call_id);
        operation_set_status(op, OPERATION_UNKNOWN);
        operation_changed(op);
        return 0;
}

static void arm_completion_timeout(Manager *m, Operation *op) {
        sd_event_source *s = NULL;
        uint64_t now;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (sd_event_add_time(m->event, &s, CLOCK_MONOTONIC, now + m->config->completion_timeout_usec,
                              100 * USEC_PER_MSEC, on_completion_timeout, op) < 0) {
                log_warning("Cannot arm the completion timeout of operation %s.", op->id);
                return;
        }
        (void) sd_event_source_set_description(s, "completion-timeout");
        sd_event_source_disable_unref(op->completion_timer);
        op->completion_timer = s;
}

static void on_cancel_started(GraphRequest *r, void *userdata) {
        Submission *sub = userdata;

        (void) r;
        operation_set_status(sub->op, OPERATION_SUBMITTING);
        operation_changed(sub->op);
}

static void on_cancel_done(GraphRequest *r, GraphAnswer *answer, const Error *error, void *userdata) {
        Submission *sub = userdata;
        Operation *op = sub->op;
        Call *call = sub->call;
        Manager *m = sub->manager;

        (void) r;
        free(sub);
        op->userdata = NULL;

        if (error) {
                _cleanup_(error_freep) Error *e = error_copy(error);
                if (answer && answer->request_id && e && e->data &&
                    !json_object_object_get_ex(e->data, "requestId", NULL))
                        json_object_object_add(e->data, "requestId", json_object_new_string(answer->request_id));
                if (operation_fail(op, e ?: error) < 0)
                        log_oom();
                operation_changed(op);
                log_info("Cancel for call %s failed: %s: %s", op->call_id, error_class_name(error->class),
                         error->message);
                if (e) {
                        if (!e->data)
                                e->data = json_object_new_object();
                        json_object_object_add(e->data, "operationId", json_object_new_string(op->id));
                }
                if (call)
                        call_reply_error(call, e ?: error);
                return;
        }

        if (operation_apply_answer(op, answer) < 0)
                log_oom();
        if (!operation_status_is_settled(op->status))
                arm_completion_timeout(m, op);
        operation_changed(op);
        log_debug("Cancel for call %s answered %ld: operation %s is %s.", op->call_id, answer->http_status,
                  strempty(op->graph_operation_id), operation_status_to_string(op->status));
        if (call)
                call_reply(call, operation_result(op));
}

static void method_cancel(Manager *m, Call *call) {
        static const char *const allowed[] = { "callId", "clientContext", "all", NULL };
        const char *call_id, *context;
        char generated[37];
        Operation *op = NULL;
        Submission *sub;
        Error *e;
        int all, r;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "callId", true, &call_id)) ||
            (e = rpc_param_string(call->params, "clientContext", false, &context)) ||
            (e = rpc_param_bool(call->params, "all", &all)))
                return reply_error(call, e);

        if (!call_id_is_valid(call_id))
                return reply_error(call, error_invalid_param("callId", "callId must be 1-%d characters of A-Z, a-z, 0-9 and '-'.",
                                                             CALL_ID_MAX));
        if (context) {
                r = client_context_check(context);
                if (r == -E2BIG)
                        return reply_error(call, error_invalid_param("clientContext", "clientContext is longer than %d characters.",
                                                                     CLIENT_CONTEXT_MAX));
                if (r < 0)
                        return reply_error(call, error_invalid_param("clientContext",
                                                                     "clientContext must be non-empty UTF-8 text without control characters."));
        } else {
                /* Graph echoes clientContext in notifications: a unique one lets them be matched. */
                r = uuid_random(generated);
                if (r < 0)
                        return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot generate a clientContext."));
                context = generated;
        }
        if (all >= 0 && !graph_config_supports_all(m->config))
                return reply_error(call, error_invalid_param("all",
                                                             "\"all\" exists only in the 2019 beta API (ApiVersion=beta with "
                                                             "CallsPath=/app/calls or /applications/{appId}/calls)."));

        r = operation_table_add(m->operations, call_id, context, all, call->uid, &op);
        if (r == -ENOBUFS)
                return reply_error(call, error_limit("MaxOperations", "MaxOperations=%u operations are pending; none can be dropped.",
                                                     m->config->max_operations));
        if (r < 0)
                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot record the operation: %s", strerror(-r)));

        sub = malloc(sizeof *sub);
        if (!sub) {
                operation_table_remove(m->operations, op);
                return reply_error(call, NULL);
        }
        *sub = (Submission) { .manager = m, .op = op, .call = call };
        op->userdata = sub;
        operation_changed(op);

        r = graph_client_cancel(m->graph, call_id, context, all, on_cancel_started, on_cancel_done, sub, NULL);
        if (r < 0) {
                free(sub);
                operation_table_remove(m->operations, op);
                if (r == -ENOBUFS)
                        return reply_error(call, error_limit("MaxQueued", "MaxQueued=%u cancels already wait for Graph.",
                                                             m->config->max_queued));
                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot submit the cancel: %s", strerror(-r)));
        }
}

static void method_operation_get(Manager *m, Call *call) {
        static const char *const allowed[] = { "operationId", NULL };
        const char *id;
        Operation *op;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "operationId", true, &id)))
                return reply_error(call, e);
        if (strlen(id) > 128)
                return reply_error(call, error_invalid_param("operationId", "operationId is too long."));
        op = operation_table_get(m->operations, id);
        if (!op)
                return reply_error(call, error_new(ERROR_OPERATION_NOT_FOUND, NULL, "No operation %s.", id));
        call_reply(call, operation_result(op));
}

static void method_operation_list(Manager *m, Call *call) {
        static const char *const allowed[] = { "callId", "status", "limit", NULL };
        const char *call_id, *status;
        unsigned limit;
        int st = -1;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "callId", false, &call_id)) ||
            (e = rpc_param_string(call->params, "status", false, &status)) ||
            (e = rpc_param_uint(call->params, "limit", 1, 1000, 100, &limit)))
                return reply_error(call, e);
        if (call_id && !call_id_is_valid(call_id))
                return reply_error(call, error_invalid_param("callId", "callId must be 1-%d characters of A-Z, a-z, 0-9 and '-'.",
                                                             CALL_ID_MAX));
        if (status) {
                st = operation_status_from_string(status);
                if (st < 0)
                        return reply_error(call, error_invalid_param("status", "Unknown status \"%s\".", status));
        }
        json_object *result = json_object_new_object();
        json_object_object_add(result, "operations", operation_table_list_json(m->operations, call_id, st, limit));
        call_reply(call, result);
}

static void method_status(Manager *m, Call *call) {
        static const char *const allowed[] = { NULL };
        json_object *j, *graph;
        uint64_t now;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)))
                return reply_error(call, e);

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        j = json_object_new_object();
        json_object_object_add(j, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(j, "protocolVersion", json_object_new_int(PROTOCOL_VERSION));
        json_object_object_add(j, "uptimeSec", json_object_new_double((double) (now - m->started_usec) / 1e6));
        json_object_object_add(j, "token", token_manager_status_json(m->token));
        graph = json_object_new_object();
        json_object_object_add(graph, "endpoint", json_object_new_string(m->config->graph_endpoint));
        json_object_object_add(graph, "apiVersion", json_object_new_string(m->config->api_version));
        json_object_object_add(graph, "callsPath", json_object_new_string(m->config->calls_path));
        json_object_object_add(graph, "inFlight", json_object_new_int64(graph_client_in_flight(m->graph)));
        json_object_object_add(graph, "queued", json_object_new_int64(graph_client_queued(m->graph)));
        json_object_object_add(graph, "attempts", json_object_new_int64(graph_client_attempts(m->graph)));
        json_object_object_add(j, "graph", graph);
        json_object_object_add(j, "operations", operation_table_counts_json(m->operations));
        json_object_object_add(j, "connections", json_object_new_int64(server_connections(m->server)));
        call_reply(call, j);
}

static const struct {
        const char *name;
        void (*handler)(Manager *m, Call *call);
} methods[] = {
        { "cancel", method_cancel },
        { "operation.get", method_operation_get },
        { "operation.list", method_operation_list },
        { "status", method_status },
};

void manager_dispatch(Call *call, void *userdata) {
        Manager *m = userdata;

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(call->method, methods[i].name)) {
                        if (m->shutting_down && methods[i].handler == method_cancel)
                                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "The daemon is shutting down."));
                        methods[i].handler(m, call);
                        return;
                }
        reply_error(call, error_new(ERROR_METHOD_NOT_FOUND, NULL, "Unknown method \"%s\".", call->method));
}
