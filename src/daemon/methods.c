/* SPDX-License-Identifier: MIT */
/*
 * methods.c — one handler per protocol method, the dispatch table, and the manager's hooks
 * (methods.h). Handlers validate params strictly before any side effect (a refused request
 * changes nothing and never reaches Graph) and answer their Call exactly once, through
 * reply.h; what happens to an operation after its cancel is admitted is tracking.c's.
 */
#include <errno.h>
#include <string.h>

#include "deliver.h"
#include "json-util.h"
#include "log.h"
#include "manager.h"
#include "method-specs.h"
#include "methods.h"
#include "protocol.h"
#include "reply.h"
#include "rpc.h"
#include "store.h"
#include "tracking.h"
#include "util.h"
#include "validate.h"

static Error *check_call_id(const char *param, const char *call_id) {
        if (!call_id_is_valid(call_id))
                return error_invalid_param(param, "%s must be 1-%d characters of A-Z, a-z, 0-9 and '-'.", param,
                                           CALL_ID_MAX);
        return NULL;
}

/* The tenant a request names (param, e.g. "tenantId"), normalised into *ret (free it); absent
 * (NULL) is TenantId=. NULL, or the error: not a tenant name, or one of the identity platform's
 * multi-tenant aliases, which cannot get an app token. */
static Error *parse_tenant(Manager *m, const char *param, const char *value, char **ret) {
        static const char *const aliases[] = { "common", "organizations", "consumers" };
        char *t;

        if (value && !tenant_id_is_valid(value))
                return error_invalid_param(param,
                                           "%s must be a tenant's GUID or domain name (1-%d characters of A-Z, a-z, 0-9, "
                                           "'.' and '-').",
                                           param, TENANT_ID_MAX);
        t = tenant_name_normalize(value ?: m->config->tenant_id);
        if (!t)
                return error_oom();
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (streq(t, aliases[i])) {
                        free(t);
                        return error_invalid_param(param, "%s must name one tenant; \"%s\" names none.", param,
                                                   aliases[i]);
                }
        *ret = t;
        return NULL;
}

static Error *check_tenant_allowed(Manager *m, const char *tenant) {
        json_object *data;

        if (tenant_allowed(m->config, tenant))
                return NULL;
        data = json_object_new_object();
        if (json_member_add(data, "param", json_object_new_string("tenantId")) < 0 ||
            json_member_add(data, "tenantId", json_object_new_string(tenant)) < 0) {
                json_object_put(data);
                return error_oom();
        }
        return error_new(ERROR_TENANT_NOT_ALLOWED, data,
                         "Tenant %s is not allowed: it is not TenantId= and not in [Identity] AllowedTenants=.", tenant);
}

static void method_cancel(Manager *m, Call *call) {
        const char *call_id, *context, *wait, *tenant_param;
        _cleanup_free_ char *tenant = NULL;
        char generated[37];
        Operation *op = NULL;
        TokenManager *tm;
        Error *e;
        int all, r;

        /* Names and types were checked by the method's rows (methods_dispatch()). */
        if ((e = rpc_param_string(call->params, "callId", true, &call_id)) ||
            (e = rpc_param_string(call->params, "tenantId", false, &tenant_param)) ||
            (e = rpc_param_string(call->params, "clientContext", false, &context)) ||
            (e = rpc_param_bool(call->params, "all", &all)) ||
            (e = rpc_param_string(call->params, "wait", false, &wait)) || (e = check_call_id("callId", call_id)))
                return reply_error(call, e);
        /* Refused before anything else happens: a tenant nobody allowed is never signed in to. */
        if ((e = parse_tenant(m, "tenantId", tenant_param, &tenant)) || (e = check_tenant_allowed(m, tenant)))
                return reply_error(call, e);
        if (wait && !streq(wait, "completed"))
                return reply_error(call, error_invalid_param("wait", "\"wait\" can only be \"completed\"."));
        if (context) {
                r = client_context_check(context);
                if (r == -E2BIG)
                        return reply_error(call, error_invalid_param("clientContext", "clientContext is longer than %d characters.",
                                                                     CLIENT_CONTEXT_MAX));
                if (r < 0)
                        return reply_error(call, error_invalid_param("clientContext",
                                                                     "clientContext must be non-empty UTF-8 text without control characters."));
        }
        if (all >= 0 && !graph_config_supports_all(m->config))
                return reply_error(call, error_invalid_param("all",
                                                             "\"all\" exists only in the 2019 beta API (ApiVersion=beta with "
                                                             "CallsPath=/app/calls or /applications/{appId}/calls)."));

        /* The same cancel again while the first is not final: one request to Graph, and this
         * caller learns what the first one learns. */
        op = context ? operation_table_find_pending(m->operations, call->uid, tenant, call_id, context) : NULL;
        if (op) {
                bool answered = op->status != OPERATION_QUEUED && op->status != OPERATION_SUBMITTING;
                if (wait && !operation_status_is_settled(op->status)) {
                        Listener *l = listener_attach(m, op, LISTENER_WAIT_SETTLED);
                        if (!l)
                                return reply_error(call, error_oom());
                        l->call = call;
                        return;
                }
                if (answered || operation_status_is_settled(op->status))
                        return reply_durable(m, call, operation_result(op), NULL);
                Listener *l = listener_attach(m, op, LISTENER_WAIT_ANSWER);
                if (!l)
                        return reply_error(call, error_oom());
                l->call = call;
                return;
        }

        if (!context) {
                /* Graph echoes clientContext in notifications: a unique one lets them be matched. */
                r = uuid_random(generated);
                if (r < 0)
                        return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot generate a clientContext."));
                context = generated;
        }

        if (operation_table_pending_of(m->operations, call->uid) >= m->config->max_pending_per_user)
                return reply_error(call, error_limit("MaxPendingPerUser",
                                                     "MaxPendingPerUser=%u cancels of this user are not final yet.",
                                                     m->config->max_pending_per_user));

        /* MaxTenants= is hit here, before the operation exists; this also starts the first
         * fetch of a new tenant's token. */
        if ((e = tenant_tokens_get(m->tokens, tenant, &tm)))
                return reply_error(call, e);

        r = operation_table_add(m->operations, tenant, call_id, context, all, call->uid, &op);
        if (r == -ENOBUFS)
                return reply_error(call, error_limit("MaxOperations", "MaxOperations=%u operations are pending; none can be dropped.",
                                                     m->config->max_operations));
        if (r < 0)
                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot record the operation: %s", strerror(-r)));

        r = tracking_submit(m, op, call, wait != NULL);
        if (r < 0) {
                operation_table_remove(m->operations, op);
                if (r == -ENOBUFS)
                        return reply_error(call, error_limit("MaxQueued", "MaxQueued=%u cancels already wait for Graph.",
                                                             m->config->max_queued));
                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot submit the cancel: %s", strerror(-r)));
        }
        /* Recorded once it is certain to be sent (a refused one leaves no trace); a request that
         * went straight to the wire was recorded as submitting already. */
        if (op->status == OPERATION_QUEUED)
                operation_changed(op);
}

/* ---- operation.* -------------------------------------------------------------------- */

static Error *lookup_operation(Manager *m, Call *call, Operation **ret) {
        const char *id;
        Operation *op;
        Error *e;

        if ((e = rpc_param_string(call->params, "operationId", true, &id)))
                return e;
        if (strlen(id) > OPERATION_ID_MAX)
                return error_invalid_param("operationId", "operationId is too long.");
        op = operation_table_get(m->operations, id);
        /* Another caller's operation is answered exactly like a missing one: no oracle. */
        if (!op || (!(call->roles & ACCESS_ADMIN) && op->uid != call->uid))
                return error_new(ERROR_OPERATION_NOT_FOUND, NULL, "No operation %s.", id);
        *ret = op;
        return NULL;
}

static void method_operation_get(Manager *m, Call *call) {
        Operation *op;
        Error *e = lookup_operation(m, call, &op);

        if (e)
                return reply_error(call, e);
        reply_durable(m, call, operation_result(op), NULL);
}

static void method_operation_watch(Manager *m, Call *call) {
        Operation *op;
        Listener *l;
        Error *e = lookup_operation(m, call, &op);

        if (e)
                return reply_error(call, e);
        if (!operation_status_is_settled(op->status)) {
                l = listener_attach(m, op, LISTENER_WATCH);
                if (!l)
                        return reply_error(call, error_oom());
                l->sub = subscription_new(call, listener_on_watch_dropped, l);
                if (!l->sub) {
                        listener_detach(l);
                        return reply_error(call, error_oom());
                }
                l->n_ref++; /* held by the subscription */
        }
        /* Deferred like every event, so this reply precedes the first operation.changed. */
        reply_durable(m, call, operation_result(op), NULL);
}

static void method_operation_list(Manager *m, Call *call) {
        const char *call_id, *status, *tenant_param;
        _cleanup_free_ char *tenant = NULL;
        unsigned limit;
        int st = -1;
        Error *e;

        if ((e = rpc_param_string(call->params, "callId", false, &call_id)) ||
            (e = rpc_param_string(call->params, "tenantId", false, &tenant_param)) ||
            (e = rpc_param_string(call->params, "status", false, &status)) ||
            (e = rpc_param_uint(call->params, "limit", OPERATION_LIST_LIMIT_MIN, OPERATION_LIST_LIMIT_MAX,
                                            OPERATION_LIST_LIMIT_DEFAULT, &limit)) ||
            (call_id && (e = check_call_id("callId", call_id))) ||
            (tenant_param && (e = parse_tenant(m, "tenantId", tenant_param, &tenant))))
                return reply_error(call, e);
        if (status) {
                st = operation_status_from_string(status);
                if (st < 0)
                        return reply_error(call, error_invalid_param("status", "Unknown status \"%s\".", status));
        }
        _cleanup_json_ json_object *result = json_object_new_object();
        if (json_member_add(result, "operations",
                            operation_table_list_json(m->operations, tenant, call_id, st,
                                                      (call->roles & ACCESS_ADMIN) ? -1 : (int64_t) call->uid, limit)) < 0)
                return reply_error(call, error_oom());
        reply_durable(m, call, TAKE_PTR(result), NULL);
}

/* ---- status ------------------------------------------------------------------------- */

/* {"authentication", "keys": {…} (notification-keys.h; null with Authentication=peer)}. */
static json_object *notifications_status_json(Manager *m) {
        _cleanup_json_ json_object *j = json_object_new_object();
        bool jwt = config_notifications_need_token(m->config);

        if (!j || json_member_add_string(j, "authentication", m->config->notification_authentication) < 0 ||
            (jwt ? json_member_add(j, "keys", notification_keys_status_json(m->notification_keys))
                 : json_member_add_null(j, "keys")) < 0)
                return NULL;
        return TAKE_PTR(j);
}

/* The status result, or NULL when memory ran out: every member is checked, since json-c
 * aborts on a member added to an object it could not create. */
static json_object *status_json(Manager *m) {
        _cleanup_json_ json_object *j = json_object_new_object(), *graph = json_object_new_object(),
                                   *journal = json_object_new_object(), *cloud = json_object_new_object(),
                                   *uptime = NULL;
        uint64_t now;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        uptime = json_object_new_double((double) (now - m->started_usec) / 1e6);
        if (!uptime)
                return NULL;
        json_object_set_serializer(uptime, json_object_double_to_json_string, (void *) "%.3f", NULL);
        if (json_member_add(graph, "endpoint", json_object_new_string(m->config->graph_endpoint)) < 0 ||
            json_member_add(graph, "apiVersion", json_object_new_string(m->config->api_version)) < 0 ||
            json_member_add(graph, "callsPath", json_object_new_string(m->config->calls_path)) < 0 ||
            json_member_add(graph, "inFlight", json_object_new_int64(graph_client_in_flight(m->graph))) < 0 ||
            json_member_add(graph, "queued", json_object_new_int64(graph_client_queued(m->graph))) < 0 ||
            json_member_add(graph, "waitingForToken", json_object_new_int64(graph_client_waiting_for_token(m->graph))) < 0 ||
            json_member_add(graph, "attempts", json_object_new_int64(graph_client_attempts(m->graph))) < 0 ||
            json_member_add(graph, "holdMs", json_object_new_int64((int64_t) (graph_client_hold_usec(m->graph) / 1000))) < 0 ||
            json_member_add(cloud, "name", json_object_new_string(m->config->cloud_info->name)) < 0 ||
            json_member_add(cloud, "loginEndpoint", json_object_new_string(m->config->login_endpoint)) < 0 ||
            json_member_add(cloud, "scope", json_object_new_string(m->config->scope)) < 0 ||
            json_member_add_string(cloud, "warning", m->config->cloud_info->warning) < 0 ||
            json_member_add(journal, "directory", json_object_new_string(m->config->state_directory)) < 0 ||
            json_member_add(journal, "bytes", json_object_new_int64((int64_t) store_journal_bytes(m->store))) < 0 ||
            json_member_add(journal, "syncs", json_object_new_int64((int64_t) store_syncs(m->store))) < 0)
                return NULL;
        if (json_member_add(j, "version", json_object_new_string(PACKAGE_VERSION)) < 0 ||
            json_member_add(j, "protocolVersion", json_object_new_int(PROTOCOL_VERSION)) < 0 ||
            json_member_add(j, "uptimeSec", TAKE_PTR(uptime)) < 0 ||
            json_member_add(j, "cloud", TAKE_PTR(cloud)) < 0 ||
            json_member_add(j, "token", token_manager_status_json(tenant_tokens_home(m->tokens))) < 0 ||
            json_member_add(j, "tenants", tenant_tokens_status_json(m->tokens)) < 0 ||
            json_member_add(j, "graph", TAKE_PTR(graph)) < 0 ||
            json_member_add(j, "operations", operation_table_counts_json(m->operations)) < 0 ||
            json_member_add(j, "journal", TAKE_PTR(journal)) < 0 ||
            json_member_add(j, "notifications", notifications_status_json(m)) < 0 ||
            json_member_add(j, "connections", json_object_new_int64(server_connections(m->server))) < 0)
                return NULL;
        return TAKE_PTR(j);
}

static void method_status(Manager *m, Call *call) {
        json_object *j = status_json(m);

        if (!j)
                return reply_error(call, error_oom());
        call_reply(call, j);
}

static void method_rpc_discover(Manager *m, Call *call) {
        json_object *doc = methods_discover_document(m->config->socket_path);

        if (!doc)
                return reply_error(call, error_oom());
        call_reply(call, doc);
}

/* The dispatch table: each method's rows (method-specs.c), which check its params here and
 * describe it in rpc.discover, its handler, and the role the peer must hold. */
static const struct {
        const RpcMethodSpec *spec;
        void (*handler)(Manager *m, Call *call);
        AccessRole role;
} methods[] = {
        { &method_spec_cancel, method_cancel, ACCESS_CLIENT },
        { &method_spec_operation_get, method_operation_get, ACCESS_CLIENT },
        { &method_spec_operation_list, method_operation_list, ACCESS_CLIENT },
        { &method_spec_operation_watch, method_operation_watch, ACCESS_CLIENT },
        { &method_spec_notifications_deliver, method_notifications_deliver, ACCESS_NOTIFY },
        { &method_spec_status, method_status, ACCESS_CLIENT },
        /* Any role may learn the protocol. */
        { &method_spec_rpc_discover, method_rpc_discover, ACCESS_CLIENT | ACCESS_NOTIFY },
};

size_t methods_count(void) {
        return ELEMENTSOF(methods);
}

const RpcMethodSpec *methods_spec(size_t i) {
        return i < ELEMENTSOF(methods) ? methods[i].spec : NULL;
}

json_object *methods_discover_document(const char *socket_path) {
        const RpcMethodSpec *specs[ELEMENTSOF(methods)];

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                specs[i] = methods[i].spec;
        return openrpc_document(specs, ELEMENTSOF(methods), method_events, method_n_events, socket_path);
}

/* Denials are logged once per connection, and at most a few per interval overall, so a
 * hostile local user cannot flood the journal. */
static bool denial_log_allowed(Manager *m) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (now - m->denial_window_start > 10 * USEC_PER_SEC) {
                m->denial_window_start = now;
                m->denials_logged = 0;
        }
        return m->denials_logged++ < 10;
}

static void methods_dispatch(Call *call, void *userdata) {
        Manager *m = userdata;

        call->roles = call->peer ? access_roles(m->config, call->peer, m->self_uid) : 0;
        /* Only the table's own names are ever logged (below): the client's string may be
         * anything, newlines included, and would forge journal lines. */
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(call->method, methods[i].spec->name)) {
                        if (!(call->roles & methods[i].role)) {
                                if (call_first_denial(call) && denial_log_allowed(m))
                                        log_struct(LOG_WARNING,
                                                   &(LogFields) { .message_id = MESSAGE_ID_PERMISSION_DENIED,
                                                                  .has_peer = true,
                                                                  .peer_uid = (unsigned) call->uid,
                                                                  .peer_pid = (int) call->pid },
                                                   "Refused %s from pid=%d uid=%u: not in the [Access] lists.",
                                                   methods[i].spec->name, (int) call->pid, (unsigned) call->uid);
                                return reply_error(call, error_new(ERROR_PERMISSION_DENIED, NULL,
                                                                   "uid %u may not call %s.", (unsigned) call->uid,
                                                                   call->method));
                        }
                        if (m->shutting_down && methods[i].handler == method_cancel)
                                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "The daemon is shutting down."));
                        /* Every name and type, before any handler looks: a name without a row is
                         * refused, so the document lists everything a method takes. */
                        Error *e = rpc_params_check(call->params, methods[i].spec);
                        if (e)
                                return reply_error(call, e);
                        methods[i].handler(m, call);
                        return;
                }
        reply_error(call, error_new(ERROR_METHOD_NOT_FOUND, NULL, "Unknown method \"%s\".", call->method));
}

const ManagerHooks methods_hooks = {
        .dispatch = methods_dispatch,
        .on_change = tracking_on_change,
        .tracking_free = tracking_free,
        .resubmit = tracking_resubmit,
        .track_restored = tracking_restored,
        .shutdown = deliver_abort_all,
};
