/* SPDX-License-Identifier: MIT */
/*
 * deliver.c — see deliver.h. A delivery is parsed completely before anything is checked or
 * applied (a malformed body is InvalidParams and changes nothing), then authenticated, then
 * applied entry by entry. One Delivery object carries it through the wait for keys, so that
 * "answered exactly once" has one exit: delivery_finish().
 */
#include <errno.h>
#include <string.h>

#include "deliver.h"
#include "graph-notification.h"
#include "json-util.h"
#include "log.h"
#include "notification-keys.h"
#include "notification-token.h"
#include "protocol.h"
#include "reply.h"
#include "rpc.h"
#include "tenant-tokens.h"
#include "util.h"

typedef struct Delivery Delivery;
struct Delivery {
        Manager *manager;
        Call *call;
        NotifyBatch *batch;  /* holds the params it was parsed from */
        char *authorization; /* the header value, wiped when freed */
        KeysWaiter *waiter;
        sd_event_source *deadline;
        bool deadline_passed;
        bool refreshed; /* a refresh for an unknown kid was asked for once already */
        Delivery *prev, *next;
};

/* ---- tenants ------------------------------------------------------------------------ */

/* Whether a token's tid may speak for us at all: a tenant a cancel could name (TenantId=,
 * AllowedTenants=). Graph's tid is a GUID; compared as tenant names are everywhere. */
static bool tenant_is_allowed(const char *tid, void *userdata) {
        const Manager *m = userdata;
        _cleanup_free_ char *tenant = tenant_name_normalize(tid);

        return tenant && tenant_allowed(m->config, tenant);
}

/* The tenant an operation belongs to: its own, recorded when it was created (older journals
 * recorded none: TenantId='s). */
static const char *operation_tenant(const Manager *m, const Operation *op) {
        return op->tenant_id ?: m->config->tenant_id;
}

/* ---- applying ----------------------------------------------------------------------- */

/* Graph's word that a prompt or recording was cancelled (graph-api.md, cancelMediaProcessing:
 * status failed, resultInfo 400/8508, completionReason operationCanceled). */
#define SUBCODE_OPERATION_CANCELED 8508

static bool is_cancel_evidence(const NotifyEntry *n) {
        return n->call_id && n->op_id && n->status == GRAPH_OP_FAILED &&
               ((n->has_result_info && n->result_subcode == SUBCODE_OPERATION_CANCELED) ||
                streq_ptr(n->completion_reason, "operationCanceled"));
}

/* Which tracked operation a notification is about: by Graph's operation id, which always
 * wins, or — only while we do not know that id yet (the notification overtook the cancel's
 * answer) — by the clientContext we sent and the call id in the resource URL, and then only
 * when exactly one operation could be meant: contexts are chosen by callers, and two callers
 * (or one caller's repeats) may share one. */
static Operation *match_notification(Manager *m, const NotifyEntry *n, bool evidence) {
        Operation *op = NULL;

        if (!n->op_id)
                return NULL; /* not …/calls/{id}/operations/{id}: about another resource */
        op = operation_table_get_by_graph_id(m->operations, n->op_id);
        if (!op && n->data_id)
                op = operation_table_get_by_graph_id(m->operations, n->data_id);
        if (op)
                return op;
        /* A cancel is never itself reported cancelled: a notification that says so is about a
         * prompt or recording, however its clientContext looks (bots often give every
         * operation of a call the same one, the call id in Microsoft's samples). */
        if (evidence)
                return NULL;
        /* The URL spells the call id upper case without dashes: compared normalised. */
        return operation_table_find_unnamed(m->operations, n->call_id, n->client_context);
}

/* The cancel that evidence about an operation on this call belongs to: the newest cancel of
 * the call (and tenant) that was sent, i.e. got past queued. NULL when there is none. */
static Operation *evidence_target(Manager *m, const NotifyEntry *n, const char *tenant) {
        _cleanup_free_ char *call = id_normalize(n->call_id);

        if (!call)
                return NULL;
        for (Operation *op = operation_table_last(m->operations); op; op = op->prev) {
                if (op->status == OPERATION_QUEUED)
                        continue;
                if (tenant && !strcaseeq(tenant, operation_tenant(m, op)))
                        continue;
                _cleanup_free_ char *c = id_normalize(op->call_id);
                if (c && streq(c, call))
                        return op;
        }
        return NULL;
}

/* Records evidence on the cancel it belongs to; whether there was such a cancel. */
static bool record_evidence(Manager *m, const NotifyEntry *n, const char *tenant) {
        Operation *cancel = evidence_target(m, n, tenant);
        int r;

        if (!cancel)
                return false;
        r = operation_add_cancelled(cancel, n->data_id ?: n->op_id, n->data_type, now_usec(CLOCK_REALTIME),
                                    m->config->max_cancelled_operations);
        if (r < 0)
                log_oom();
        else if (r > 0) {
                log_debug("Notification: operation %s on call %s was cancelled by %s.", n->data_id ?: n->op_id,
                          cancel->call_id, cancel->id);
                /* Journaled and announced like any change; the status stays what it was. */
                operation_changed(cancel);
        }
        return true;
}

/* tenant: the token's tid, NULL with Authentication=peer (any operation). */
static void apply(Manager *m, Call *call, const NotifyBatch *b, const char *tenant) {
        unsigned matched = 0, ignored = 0;

        for (size_t i = 0; i < b->n_entries; i++) {
                const NotifyEntry *n = &b->entries[i];
                bool evidence = is_cancel_evidence(n);
                Operation *op = match_notification(m, n, evidence);

                /* A tenant's token speaks for that tenant's operations only. */
                if (op && tenant && !strcaseeq(tenant, operation_tenant(m, op))) {
                        ignored++;
                        continue;
                }
                /* Not one of ours, but perhaps a prompt that one of our cancels cancelled. */
                if (!op) {
                        if (evidence && record_evidence(m, n, tenant))
                                matched++;
                        else
                                ignored++;
                        continue;
                }
                matched++;
                GraphAnswer a = {
                        .http_status = 200,
                        .operation_id = (char *) (!op->graph_operation_id ? (n->data_id ?: n->op_id) : NULL),
                        /* No status (only a resultInfo) keeps the status: GRAPH_OP_NONE means
                         * "accepted" in an answer, and would move running back to notStarted. */
                        .status = n->status == GRAPH_OP_NONE && op->status == OPERATION_RUNNING ? GRAPH_OP_RUNNING
                                                                                                 : n->status,
                        .has_result_info = n->has_result_info,
                        .result_code = n->result_code,
                        .result_subcode = n->result_subcode,
                        .result_message = (char *) n->result_message,
                        .completion_reason = (char *) n->completion_reason,
                };
                if (operation_status_is_final(op->status) || (n->status == GRAPH_OP_NONE && !n->has_result_info))
                        continue;
                if (operation_apply_answer(op, &a) < 0) {
                        log_oom();
                        continue;
                }
                log_debug("Notification %s for operation %s: now %s.", n->change_type, op->id,
                          operation_status_to_string(op->status));
                operation_changed(op);
        }
        _cleanup_json_ json_object *result = json_object_new_object();
        if (json_member_add(result, "matched", json_object_new_int64(matched)) < 0 ||
            json_member_add(result, "ignored", json_object_new_int64(ignored)) < 0)
                return reply_error(call, error_oom());
        reply_durable(m, call, TAKE_PTR(result), NULL);
}

/* ---- deliveries --------------------------------------------------------------------- */

static Delivery *delivery_free(Delivery *d) {
        if (!d)
                return NULL;
        Manager *m = d->manager;
        if (d->prev)
                d->prev->next = d->next;
        else if (m->held_deliveries == d)
                m->held_deliveries = d->next;
        if (d->next)
                d->next->prev = d->prev;
        keys_waiter_cancel(d->waiter);
        sd_event_source_disable_unref(d->deadline);
        notify_batch_free(d->batch);
        erase_and_free(d->authorization);
        free(d);
        return NULL;
}

/* Refusals are logged at most a few per interval: whoever forges notifications must not be
 * able to flood the journal with them. */
static bool refusal_log_allowed(Manager *m) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (now - m->refusal_window_start > 10 * USEC_PER_SEC) {
                m->refusal_window_start = now;
                m->refusals_logged = 0;
        }
        return m->refusals_logged++ < 10;
}

static void refuse(Manager *m, Call *call, TokenReason reason) {
        static const char *const why[_TOKEN_REASON_MAX] = {
                [TOKEN_MISSING] = "no authorization was given",
                [TOKEN_MALFORMED] = "the token is malformed",
                [TOKEN_TOO_LARGE] = "the token is too large",
                [TOKEN_UNSUPPORTED_ALGORITHM] = "the token's algorithm or header is not accepted (RS256 only)",
                [TOKEN_UNKNOWN_KEY] = "the token is signed with a key that is not in the key set",
                [TOKEN_BAD_SIGNATURE] = "the token's signature is wrong",
                [TOKEN_WRONG_ISSUER] = "the token's issuer is not in Issuers=",
                [TOKEN_WRONG_AUDIENCE] = "the token's audience is not ClientId=",
                [TOKEN_EXPIRED] = "the token has expired",
                [TOKEN_NOT_YET_VALID] = "the token is not valid yet",
                [TOKEN_NO_TENANT] = "the token has no tenant (tid)",
                [TOKEN_TENANT_NOT_ALLOWED] = "the token's tenant is not one of ours",
                [TOKEN_KEYS_UNAVAILABLE] = "no signing keys could be fetched within KeysWaitSec=",
        };
        const char *text = why[reason] ?: "the token was refused";
        _cleanup_json_ json_object *data = json_object_new_object();

        if (refusal_log_allowed(m))
                log_struct(LOG_WARNING,
                           &(LogFields) { .message_id = MESSAGE_ID_NOTIFICATION_REFUSED,
                                          .has_peer = true,
                                          .peer_uid = (unsigned) call->uid,
                                          .peer_pid = (int) call->pid },
                           "Refused notifications from pid=%d uid=%u: %s (%s).", (int) call->pid, (unsigned) call->uid,
                           text, token_reason_to_string(reason));
        if (!data || json_member_add_string(data, "reason", token_reason_to_string(reason)) < 0)
                return reply_error(call, error_oom());
        reply_error(call, error_new(ERROR_NOTIFICATION_REFUSED, TAKE_PTR(data), "Notifications refused: %s.", text));
}

static void delivery_try(Delivery *d);

static void on_keys_fetched(void *userdata) {
        Delivery *d = userdata;

        d->waiter = NULL;
        delivery_try(d);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Delivery *d = userdata;

        (void) s;
        (void) usec;
        keys_waiter_cancel(TAKE_PTR(d->waiter));
        d->deadline_passed = true;
        delivery_try(d);
        return 0;
}

/* Parks d until the next fetch ends or KeysWaitSec= passes. false: it cannot wait. */
static bool delivery_hold(Delivery *d) {
        Manager *m = d->manager;

        if (d->deadline_passed || m->config->keys_wait_usec == 0 || m->shutting_down)
                return false;
        if (!d->deadline) {
                if (sd_event_add_time_relative(m->event, &d->deadline, CLOCK_MONOTONIC, m->config->keys_wait_usec,
                                               10 * USEC_PER_MSEC, on_deadline, d) < 0)
                        return false;
                (void) sd_event_source_set_description(d->deadline, "delivery-keys-wait");
        }
        if (!d->waiter && notification_keys_wait(m->notification_keys, on_keys_fetched, d, &d->waiter) < 0)
                return false;
        if (!d->prev && m->held_deliveries != d) {
                d->next = m->held_deliveries;
                if (d->next)
                        d->next->prev = d;
                m->held_deliveries = d;
        }
        return true;
}

/* Checks the token against the keys there are now; applies, refuses or waits. */
static void delivery_try(Delivery *d) {
        Manager *m = d->manager;
        const KeySet *keys = notification_keys_current(m->notification_keys);
        const char *token = NULL;
        size_t len = 0;
        char *tenant = NULL;
        int r;

        r = notification_token_from_header(d->authorization, &token, &len);
        if (r == TOKEN_OK && !keys) {
                /* Nothing fetched yet (or only keys too old to use): wait, do not refuse. */
                if (delivery_hold(d))
                        return;
                r = TOKEN_KEYS_UNAVAILABLE;
        }
        if (r == TOKEN_OK) {
                const TokenPolicy policy = {
                        .issuers = config_notification_issuers(m->config),
                        .audience = m->config->client_id,
                        .now = (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC),
                        .clock_skew = (int64_t) (m->config->clock_skew_usec / USEC_PER_SEC),
                        .tenant_allowed = tenant_is_allowed,
                        .userdata = m,
                };
                r = notification_token_verify(token, len, keys, &policy, &tenant);
                if (r == -ENOMEM) {
                        reply_error(d->call, error_oom());
                        delivery_free(d);
                        return;
                }
                /* Keys rotate: a kid we lack may be in the set Graph publishes now. Asked once per
                 * delivery, and at most every UnknownKeyRefreshSec= overall. */
                if (r == TOKEN_UNKNOWN_KEY && !d->refreshed) {
                        d->refreshed = true;
                        if (notification_keys_refresh_for_unknown_kid(m->notification_keys) && delivery_hold(d))
                                return;
                }
        }
        if (r == TOKEN_OK)
                apply(m, d->call, d->batch, tenant);
        else
                refuse(m, d->call, (TokenReason) r);
        free(tenant);
        delivery_free(d);
}

void method_notifications_deliver(Manager *m, Call *call) {
        _cleanup_(notify_batch_freep) NotifyBatch *b = NULL;
        const char *authorization = NULL;
        json_object *v;
        Error *e = NULL;
        int r;

        if (call->params && json_object_is_type(call->params, json_type_object) &&
            json_object_object_get_ex(call->params, "authorization", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return reply_error(call, error_invalid_param("authorization",
                                                                     "\"authorization\" must be the Authorization header "
                                                                     "value as a string (\"Bearer …\")."));
                authorization = json_object_get_string(v);
        }
        r = notify_parse(call->params, &b, &e);
        if (r < 0)
                return reply_error(call, e);

        /* Authentication=peer: the notify role of the peer is all there is (weaker: see
         * docs/security.md), and "authorization" is not looked at. */
        if (!config_notifications_need_token(m->config))
                return apply(m, call, b, NULL);

        Delivery *d = calloc(1, sizeof *d);
        if (!d || (authorization && !(d->authorization = strdup(authorization)))) {
                free(d);
                return reply_error(call, error_oom());
        }
        d->manager = m;
        d->call = call;
        d->batch = TAKE_PTR(b);
        delivery_try(d);
}

void deliver_abort_all(Manager *m) {
        while (m->held_deliveries) {
                Delivery *d = m->held_deliveries;
                reply_error(d->call, error_new(ERROR_INTERNAL, NULL, "The daemon stopped before the notifications could be checked."));
                delivery_free(d);
        }
}
