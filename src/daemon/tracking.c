/* SPDX-License-Identifier: MIT */
/*
 * tracking.c — see tracking.h.
 *
 * Durability: every change of an operation is appended to the journal (tracking_on_change())
 * and announced to its listeners through store_defer() (reply.h), so that nobody hears of a
 * change the journal could still lose.
 */
#include <errno.h>

#include "json-util.h"
#include "log.h"
#include "operation.h"
#include "record.h"
#include "reply.h"
#include "store.h"
#include "tenant-tokens.h"
#include "tracking.h"
#include "util.h"

#define POLL_INTERVAL_MAX_USEC (60 * USEC_PER_SEC)

typedef struct Tracking {
        Manager *manager;
        sd_event_source *completion_timer;
        sd_event_source *poll_timer;
        GraphRequest *poll;
        uint64_t poll_interval;
        Listener *listeners;
} Tracking;

typedef struct Submission {
        Manager *manager;
        Operation *op;
        Call *call; /* NULL for a resubmission after a restart */
        bool wait_settled;
} Submission;

/* ---- listeners ---------------------------------------------------------------------- */

static Listener *listener_unref_n(Listener *l, unsigned n) {
        if (!l)
                return NULL;
        l->n_ref -= n;
        if (l->n_ref == 0)
                free(l);
        return NULL;
}

static Listener *listener_unref(Listener *l) {
        return listener_unref_n(l, 1);
}

/* Takes l off its operation's list; returns whether it was on it (and so owes a reference). */
static bool listener_unlink(Listener *l) {
        Tracking *t;

        if (!l->op)
                return false;
        t = l->op->tracking;
        if (l->prev)
                l->prev->next = l->next;
        else if (t)
                t->listeners = l->next;
        if (l->next)
                l->next->prev = l->prev;
        l->prev = l->next = NULL;
        l->op = NULL;
        return true;
}

void listener_detach(Listener *l) {
        if (listener_unlink(l))
                listener_unref(l);
}

static Tracking *tracking_get(Manager *m, Operation *op) {
        if (!op->tracking) {
                Tracking *t = calloc(1, sizeof(Tracking));
                if (!t)
                        return NULL;
                t->manager = m;
                op->tracking = t;
        }
        return op->tracking;
}

Listener *listener_attach(Manager *m, Operation *op, ListenerKind kind) {
        Tracking *t = tracking_get(m, op);
        Listener *l;

        if (!t || !(l = calloc(1, sizeof *l)))
                return NULL;
        *l = (Listener) { .n_ref = 1, .kind = kind, .op = op, .next = t->listeners };
        if (t->listeners)
                t->listeners->prev = l;
        t->listeners = l;
        return l;
}

typedef struct DeferredEvent {
        Listener *listener;
        json_object *params;
        bool last;
} DeferredEvent;

static void deferred_event_run(void *userdata) {
        DeferredEvent *e = userdata;
        Listener *l = e->listener;
        unsigned drop = 1; /* this event's reference */

        if (l->sub) {
                (void) subscription_notify(l->sub, EVENT_OPERATION_CHANGED, TAKE_PTR(e->params));
                /* Writing may have closed the connection (MaxOutputBytes=), which dropped the
                 * subscription and its reference already. */
                if (e->last && l->sub) {
                        l->sub = subscription_free(l->sub);
                        drop++; /* and the subscription's */
                }
        }
        json_object_put(e->params);
        free(e);
        listener_unref_n(l, drop);
}

void listener_on_watch_dropped(Subscription *s, void *userdata) {
        Listener *l = userdata;

        (void) s;
        l->sub = NULL; /* the server frees the subscription */
        listener_unref_n(l, 1 + listener_unlink(l));
}

/* Called for every change: each listener learns of it in order, none skipped. */
static void listeners_notify(Manager *m, Operation *op) {
        Tracking *t = op->tracking;
        bool settled = operation_status_is_settled(op->status);
        bool answered = op->status != OPERATION_QUEUED && op->status != OPERATION_SUBMITTING;

        if (!t)
                return;
        for (Listener *l = t->listeners, *next; l; l = next) {
                next = l->next;
                switch (l->kind) {
                case LISTENER_WATCH: {
                        DeferredEvent *e = malloc(sizeof *e);
                        if (!e) {
                                log_oom();
                                break;
                        }
                        json_object *params = operation_result(op);
                        if (!params) {
                                /* An event with no operation in it would say nothing; this
                                 * watcher misses this one change, and learns the next. */
                                log_oom();
                                free(e);
                                if (settled)
                                        listener_detach(l);
                                break;
                        }
                        *e = (DeferredEvent) { .listener = l, .params = params, .last = settled };
                        l->n_ref++;
                        if (store_defer(m->store, deferred_event_run, e) < 0) {
                                log_oom();
                                listener_unref(l);
                                json_object_put(params);
                                free(e);
                        }
                        if (settled)
                                listener_detach(l);
                        break;
                }
                case LISTENER_WAIT_SETTLED:
                        if (!settled)
                                break;
                        reply_durable(m, l->call, operation_result(op), NULL);
                        listener_detach(l);
                        break;
                case LISTENER_WAIT_ANSWER:
                        if (!answered)
                                break;
                        reply_durable(m, l->call, operation_result(op), NULL);
                        listener_detach(l);
                        break;
                }
        }
}

void tracking_free(Operation *op) {
        Tracking *t = op->tracking;

        if (!t)
                return;
        while (t->listeners) {
                Listener *l = t->listeners;
                if (l->kind != LISTENER_WATCH && l->call) {
                        _cleanup_(error_freep) Error *e =
                                error_new(ERROR_OPERATION_NOT_FOUND, NULL, "The operation was dropped.");
                        call_reply_error(l->call, e);
                }
                listener_detach(l);
        }
        sd_event_source_disable_unref(t->completion_timer);
        sd_event_source_disable_unref(t->poll_timer);
        graph_request_abandon(t->poll);
        free(t);
        op->tracking = NULL;
}

void tracking_on_change(Operation *op, void *userdata) {
        Manager *m = userdata;

        if (m->store && !m->restoring) {
                /* The first record of an operation says everything about it; later ones only
                 * what can change. The first is urgent: the answer to the cancel will wait for
                 * it. A later one is synced with the next urgent record, or as soon as
                 * something that reports it waits for it (store_defer), or within 100 ms: the
                 * cancel's answer does not wait for the record of Graph's answer. */
                int64_t r;
                bool full = op->journal_seq == 0;
                m->record.size = 0;
                r = operation_write_record(op, full, &m->record);
                if (r >= 0)
                        r = store_append(m->store, m->record.data, m->record.size, full);
                if (r < 0)
                        log_error_errno((int) r, "Cannot append operation %s to the journal: %m", op->id);
                else if (op->journal_seq == 0)
                        op->journal_seq = (uint64_t) r;
        }
        if (operation_status_is_settled(op->status) && op->tracking) {
                Tracking *t = op->tracking;
                t->completion_timer = sd_event_source_disable_unref(t->completion_timer);
                t->poll_timer = sd_event_source_disable_unref(t->poll_timer);
                t->poll = NULL; /* an answer in flight finds the operation settled and stops */
        }
        listeners_notify(m, op);
}

/* ---- completion timeout and polling ------------------------------------------------- */

static int on_completion_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *op = userdata;
        Tracking *t = op->tracking;

        (void) s;
        (void) usec;
        t->completion_timer = sd_event_source_disable_unref(t->completion_timer);
        if (operation_status_is_settled(op->status))
                return 0;
        log_struct(LOG_INFO,
                   &(LogFields) { .message_id = MESSAGE_ID_OPERATION_UNKNOWN, .operation_id = op->id, .call_id = op->call_id, .tenant_id = op->tenant_id },
                   "Operation %s (call %s) had no final state after CompletionTimeoutSec; now unknown.", op->id,
                   op->call_id);
        operation_set_status(op, OPERATION_UNKNOWN);
        operation_changed(op);
        return 0;
}

/* The timeout counts from the operation's creation, also across a restart. */
static void arm_completion_timeout(Manager *m, Operation *op) {
        Tracking *t = tracking_get(m, op);
        uint64_t now_rt = now_usec(CLOCK_REALTIME), now, elapsed;

        if (!t)
                return (void) log_oom();
        elapsed = now_rt > op->created_usec ? now_rt - op->created_usec : 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        uint64_t left = elapsed < m->config->completion_timeout_usec ? m->config->completion_timeout_usec - elapsed : 0;
        sd_event_source_disable_unref(t->completion_timer);
        t->completion_timer = NULL;
        if (sd_event_add_time(m->event, &t->completion_timer, CLOCK_MONOTONIC, now + left, 50 * USEC_PER_MSEC,
                              on_completion_timeout, op) < 0) {
                log_warning("Cannot arm the completion timeout of operation %s.", op->id);
                return;
        }
        (void) sd_event_source_set_description(t->completion_timer, "completion-timeout");
}

static void schedule_poll(Manager *m, Operation *op);

/* Whose token the operation's requests carry: its own tenant, recorded at creation. */
static const char *operation_tenant(Manager *m, Operation *op) {
        return op->tenant_id ?: token_manager_tenant(tenant_tokens_home(m->tokens));
}

typedef struct PollContext {
        Operation *op;
} PollContext;

static void on_poll_done(GraphRequest *r, GraphAnswer *answer, const Error *error, void *userdata) {
        PollContext *p = userdata;
        Operation *op = p->op;
        Tracking *t;

        free(p);
        if (!op)
                return;
        t = op->tracking;
        if (!t || t->poll != r)
                return; /* settled or dropped meanwhile */
        t->poll = NULL;
        if (operation_status_is_settled(op->status))
                return;
        if (answer && !answer->error) {
                if (operation_apply_answer(op, answer) < 0)
                        log_oom();
                operation_changed(op);
        } else if (answer && answer->http_status == 404) {
                /* Graph forgets finished operations; a notification or the timeout settles it. */
                log_debug("Polling operation %s: Graph no longer knows it; waiting for a notification.", op->id);
                return;
        } else if (error)
                log_debug("Polling operation %s failed: %s", op->id, error->message);
        if (!operation_status_is_settled(op->status))
                schedule_poll(t->manager, op);
}

static int on_poll_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *op = userdata;
        Tracking *t = op->tracking;
        Manager *m = t->manager;
        PollContext *p;
        int r;

        (void) s;
        (void) usec;
        t->poll_timer = sd_event_source_disable_unref(t->poll_timer);
        if (operation_status_is_settled(op->status) || !op->graph_operation_id || t->poll)
                return 0;
        p = malloc(sizeof *p);
        if (!p)
                return log_oom(), 0;
        p->op = op;
        r = graph_client_get_operation(m->graph, operation_tenant(m, op), op->call_id, op->graph_operation_id,
                                       on_poll_done, p, &t->poll);
        if (r < 0) {
                free(p);
                t->poll = NULL;
                log_debug_errno(r, "Cannot poll operation %s: %m", op->id);
                schedule_poll(m, op);
        }
        return 0;
}

/* GET …/operations/{id} at PollIntervalSec, doubling up to a minute, until settled. */
static void schedule_poll(Manager *m, Operation *op) {
        Tracking *t = tracking_get(m, op);
        uint64_t now;

        if (!t || m->config->poll_interval_usec == 0 || !op->graph_operation_id || t->poll_timer)
                return;
        t->poll_interval = t->poll_interval == 0 ? m->config->poll_interval_usec
                                                 : MIN(t->poll_interval * 2, MAX(POLL_INTERVAL_MAX_USEC, m->config->poll_interval_usec));
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (sd_event_add_time(m->event, &t->poll_timer, CLOCK_MONOTONIC, now + t->poll_interval, 10 * USEC_PER_MSEC,
                              on_poll_timer, op) < 0)
                log_warning("Cannot schedule polling for operation %s.", op->id);
}

/* What happens after Graph's first answer, or after a restart, to a pending operation. */
static void track_pending(Manager *m, Operation *op) {
        if (operation_status_is_settled(op->status))
                return;
        arm_completion_timeout(m, op);
        schedule_poll(m, op);
}

/* ---- cancel ------------------------------------------------------------------------- */

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
        bool wait_settled = sub->wait_settled;

        (void) r;
        free(sub);
        op->submission = NULL;

        if (error) {
                /* Never NULL, and never given up on: a copy that ran out of memory is
                 * error_oom(), which fails the operation and answers the caller all the same. */
                _cleanup_(error_freep) Error *e = error_copy(error);
                if (answer && answer->request_id && e->data && !json_object_object_get_ex(e->data, "requestId", NULL))
                        (void) error_data_set(e, "requestId", json_object_new_string(answer->request_id));
                if (operation_status_is_final(op->status)) {
                        /* A notification settled it while the cancel was still retrying. */
                        if (call)
                                reply_durable(m, call, operation_result(op), NULL);
                        return;
                }
                if (operation_fail(op, e) < 0)
                        log_oom();
                operation_changed(op);
                log_struct(LOG_INFO,
                           &(LogFields) { .message_id = MESSAGE_ID_CANCEL_FAILED,
                                          .operation_id = op->id,
                                          .call_id = op->call_id, .tenant_id = op->tenant_id,
                                          .graph_request_id = answer ? answer->request_id : NULL,
                                          .has_peer = true,
                                          .peer_uid = (unsigned) op->uid,
                                          .peer_pid = call ? (int) call->pid : 0 },
                           "Cancel for call %s failed: %s: %s", op->call_id, error_class_name(e->class), e->message);
                /* Without it the caller still learns what went wrong. */
                (void) error_data_set(e, "operationId", json_object_new_string(op->id));
                if (call)
                        reply_durable(m, call, NULL, TAKE_PTR(e));
                return;
        }

        if (operation_apply_answer(op, answer) < 0)
                log_oom();
        operation_changed(op);
        track_pending(m, op);
        log_struct(LOG_DEBUG,
                   &(LogFields) { .operation_id = op->id, .call_id = op->call_id, .tenant_id = op->tenant_id, .graph_request_id = answer->request_id },
                   "Cancel for call %s answered %ld: operation %s is %s.", op->call_id, answer->http_status,
                   strempty(op->graph_operation_id), operation_status_to_string(op->status));
        if (!call)
                return;
        if (wait_settled && !operation_status_is_settled(op->status)) {
                Listener *l = listener_attach(m, op, LISTENER_WAIT_SETTLED);
                if (l) {
                        l->call = call;
                        return;
                }
                log_oom();
        }
        reply_cancel(m, call, op, operation_result(op), NULL);
}

/* Sends (or, after a restart, sends again) an operation's cancel. */
int tracking_submit(Manager *m, Operation *op, Call *call, bool wait_settled) {
        Submission *sub = malloc(sizeof *sub);
        int r;

        if (!sub)
                return -ENOMEM;
        *sub = (Submission) { .manager = m, .op = op, .call = call, .wait_settled = wait_settled };
        op->submission = sub;
        r = graph_client_cancel(m->graph, operation_tenant(m, op), op->call_id, op->client_context, op->all,
                                on_cancel_started, on_cancel_done, sub, NULL);
        if (r < 0) {
                op->submission = NULL;
                free(sub);
        }
        return r;
}

/* A cancel journaled for a tenant that the operator has since taken out of AllowedTenants= is
 * not sent in its name: it fails as a new cancel for that tenant would. */
static bool refuse_disallowed_tenant(Manager *m, Operation *op) {
        const char *tenant = operation_tenant(m, op);
        json_object *data;

        if (tenant_allowed(m->config, tenant))
                return false;
        data = json_object_new_object();
        if (json_member_add(data, "param", json_object_new_string("tenantId")) < 0 ||
            json_member_add(data, "tenantId", json_object_new_string(tenant)) < 0) {
                json_object_put(data);
                data = NULL;
        }
        _cleanup_(error_freep) Error *e =
                data ? error_new(ERROR_TENANT_NOT_ALLOWED, data,
                                 "Tenant %s is no longer allowed (TenantId=, [Identity] AllowedTenants=): the cancel "
                                 "journaled for it was not sent again.",
                                 tenant)
                     : error_oom();
        if (operation_fail(op, e) < 0)
                log_oom();
        operation_changed(op);
        log_struct(LOG_NOTICE,
                   &(LogFields) { .message_id = MESSAGE_ID_CANCEL_FAILED, .operation_id = op->id,
                                  .call_id = op->call_id, .tenant_id = tenant },
                   "Cancel for call %s not sent again: tenant %s is no longer allowed.", op->call_id, tenant);
        return true;
}

int tracking_resubmit(Manager *m, Operation *op) {
        if (refuse_disallowed_tenant(m, op))
                return 1;
        return tracking_submit(m, op, NULL, false);
}

void tracking_restored(Manager *m, Operation *op) {
        track_pending(m, op);
}
