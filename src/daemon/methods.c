/* SPDX-License-Identifier: MIT */
/*
 * methods.c — one handler per protocol method, and the tracking of each operation after its
 * cancel was answered: completion timeout, optional polling, watchers and callers waiting for
 * a final state. Handlers validate params strictly before any side effect (a refused request
 * changes nothing and never reaches Graph) and answer their Call exactly once.
 *
 * Durability: every change of an operation is appended to the journal (tracking_on_change) and
 * what reports a change to a client — replies and operation.changed events — goes out through
 * store_defer(), i.e. only once the journal holds that change, in the order the changes
 * happened. The one exception is the successful answer to a cancel: it waits only for the
 * record that created the operation (see reply_cancel()).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "methods.h"
#include "protocol.h"
#include "json-text.h"
#include "graph-notification.h"
#include "json-util.h"
#include "record.h"
#include "rpc.h"
#include "store.h"
#include "util.h"
#include "validate.h"

#define POLL_INTERVAL_MAX_USEC (60 * USEC_PER_SEC)

typedef enum ListenerKind {
        LISTENER_WATCH,        /* operation.watch: an event per change until final */
        LISTENER_WAIT_SETTLED, /* cancel with wait:"completed": one reply once settled */
        LISTENER_WAIT_ANSWER,  /* a repeated cancel: one reply once Graph answered the first */
} ListenerKind;

typedef struct Listener Listener;
struct Listener {
        unsigned n_ref;
        ListenerKind kind;
        Operation *op;     /* NULL once detached */
        Call *call;        /* the waits */
        Subscription *sub; /* the watch; NULL once its connection is gone */
        Listener *prev, *next;
};

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

/* ---- deferred output ---------------------------------------------------------------- */

typedef struct DeferredReply {
        Call *call;
        json_object *result;
        Error *error;
} DeferredReply;

static void deferred_reply_run(void *userdata) {
        DeferredReply *d = userdata;

        if (d->error)
                call_reply_error(d->call, d->error);
        else
                call_reply(d->call, TAKE_PTR(d->result));
        error_free(d->error);
        json_object_put(d->result);
        free(d);
}

/* Replies once the journal holds the record with sequence number seq. Takes result or error;
 * neither (the result could not be built) answers "Out of memory.", never an empty result. */
static void reply_durable_at(Manager *m, Call *call, json_object *result, Error *error, uint64_t seq) {
        DeferredReply *d = malloc(sizeof *d);

        if (!result && !error)
                error = error_oom();
        if (d)
                *d = (DeferredReply) { .call = call, .result = result, .error = error };
        /* store_defer_until() may run it at once, when nothing is waiting for the disk. */
        if (!d || store_defer_until(m->store, seq, deferred_reply_run, d) < 0) {
                free(d);
                log_oom();
                if (error)
                        call_reply_error(call, error);
                else
                        call_reply(call, TAKE_PTR(result));
                error_free(error);
                json_object_put(result);
                return;
        }
}

/* Replies once the journal holds every change made so far. */
static void reply_durable(Manager *m, Call *call, json_object *result, Error *error) {
        reply_durable_at(m, call, result, error, UINT64_MAX);
}

/* The answer to a cancel waits only for the record that created the operation: that record
 * is what makes an acknowledged cancel survive a crash (recovery sends it again, and Graph
 * repeats its answer), and it was written while the request was on the wire — so the sync
 * costs the caller nothing whenever Graph is slower than the disk. The record of Graph's
 * answer is synced with the next record somebody waits for, or within 100 ms (store.h). */
static void reply_cancel(Manager *m, Call *call, Operation *op, json_object *result, Error *error) {
        reply_durable_at(m, call, result, error, op->journal_seq);
}

/* Answers with e and frees it. e is never NULL: the constructors return error_oom() when
 * they cannot allocate (errors.h). */
static void reply_error(Call *call, Error *e) {
        call_reply_error(call, e);
        error_free(e);
}

/* {"operation": {...}}: a cancel's answer, operation.get's and an event's params. Written as
 * text, now: the reply may leave later, and must say what the operation was at this moment. */
static json_object *operation_result(const Operation *op) {
        Buffer b = {};

        if (json_write_literal(&b, "{\"operation\":") < 0 || operation_write_json(op, &b) < 0 ||
            json_write_literal(&b, "}") < 0) {
                buffer_done(&b);
                return NULL;
        }
        return json_text_new(&b);
}

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

static void listener_detach(Listener *l) {
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

static Listener *listener_attach(Manager *m, Operation *op, ListenerKind kind) {
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

static void on_watch_dropped(Subscription *s, void *userdata) {
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

static void tracking_free(Operation *op) {
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

static void tracking_on_change(Operation *op, void *userdata) {
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
                   &(LogFields) { .message_id = MESSAGE_ID_OPERATION_UNKNOWN, .operation_id = op->id, .call_id = op->call_id },
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
        r = graph_client_get_operation(m->graph, op->call_id, op->graph_operation_id, on_poll_done, p, &t->poll);
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
                                          .call_id = op->call_id,
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
                   &(LogFields) { .operation_id = op->id, .call_id = op->call_id, .graph_request_id = answer->request_id },
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
static int submit(Manager *m, Operation *op, Call *call, bool wait_settled) {
        Submission *sub = malloc(sizeof *sub);
        int r;

        if (!sub)
                return -ENOMEM;
        *sub = (Submission) { .manager = m, .op = op, .call = call, .wait_settled = wait_settled };
        op->submission = sub;
        r = graph_client_cancel(m->graph, op->call_id, op->client_context, op->all, on_cancel_started, on_cancel_done,
                                sub, NULL);
        if (r < 0) {
                op->submission = NULL;
                free(sub);
        }
        return r;
}

static int tracking_resubmit(Manager *m, Operation *op) {
        return submit(m, op, NULL, false);
}

static void tracking_restored(Manager *m, Operation *op) {
        track_pending(m, op);
}

static Error *check_call_id(const char *param, const char *call_id) {
        if (!call_id_is_valid(call_id))
                return error_invalid_param(param, "%s must be 1-%d characters of A-Z, a-z, 0-9 and '-'.", param,
                                           CALL_ID_MAX);
        return NULL;
}

static void method_cancel(Manager *m, Call *call) {
        static const char *const allowed[] = { "callId", "clientContext", "all", "wait", NULL };
        const char *call_id, *context, *wait;
        char generated[37];
        Operation *op = NULL;
        Error *e;
        int all, r;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "callId", true, &call_id)) ||
            (e = rpc_param_string(call->params, "clientContext", false, &context)) ||
            (e = rpc_param_bool(call->params, "all", &all)) ||
            (e = rpc_param_string(call->params, "wait", false, &wait)) || (e = check_call_id("callId", call_id)))
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
        op = context ? operation_table_find_pending(m->operations, call->uid, call_id, context) : NULL;
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

        r = operation_table_add(m->operations, call_id, context, all, call->uid, &op);
        if (r == -ENOBUFS)
                return reply_error(call, error_limit("MaxOperations", "MaxOperations=%u operations are pending; none can be dropped.",
                                                     m->config->max_operations));
        if (r < 0)
                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "Cannot record the operation: %s", strerror(-r)));

        r = submit(m, op, call, wait != NULL);
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
        static const char *const allowed[] = { "operationId", NULL };
        const char *id;
        Operation *op;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "operationId", true, &id)))
                return e;
        if (strlen(id) > 128)
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
                l->sub = subscription_new(call, on_watch_dropped, l);
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
        static const char *const allowed[] = { "callId", "status", "limit", NULL };
        const char *call_id, *status;
        unsigned limit;
        int st = -1;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)) ||
            (e = rpc_param_string(call->params, "callId", false, &call_id)) ||
            (e = rpc_param_string(call->params, "status", false, &status)) ||
            (e = rpc_param_uint(call->params, "limit", 1, 1000, 100, &limit)) ||
            (call_id && (e = check_call_id("callId", call_id))))
                return reply_error(call, e);
        if (status) {
                st = operation_status_from_string(status);
                if (st < 0)
                        return reply_error(call, error_invalid_param("status", "Unknown status \"%s\".", status));
        }
        _cleanup_json_ json_object *result = json_object_new_object();
        if (json_member_add(result, "operations",
                            operation_table_list_json(m->operations, call_id, st,
                                                      (call->roles & ACCESS_ADMIN) ? -1 : (int64_t) call->uid, limit)) < 0)
                return reply_error(call, error_oom());
        reply_durable(m, call, TAKE_PTR(result), NULL);
}

/* ---- notifications.deliver ---------------------------------------------------------- */

/* Which tracked operation a notification is about: by Graph's operation id, which always
 * wins, or — only while we do not know that id yet (the notification overtook the cancel's
 * answer) — by the clientContext we sent and the call id in the resource URL, and then only
 * when exactly one operation could be meant: contexts are chosen by callers, and two callers
 * (or one caller's repeats) may share one. */
static Operation *match_notification(Manager *m, const NotifyEntry *n) {
        Operation *op = NULL;

        if (!n->op_id)
                return NULL; /* not …/calls/{id}/operations/{id}: about another resource */
        op = operation_table_get_by_graph_id(m->operations, n->op_id);
        if (!op && n->data_id)
                op = operation_table_get_by_graph_id(m->operations, n->data_id);
        if (op)
                return op;
        /* The URL spells the call id upper case without dashes: compared normalised. */
        return operation_table_find_unnamed(m->operations, n->call_id, n->client_context);
}

static void method_notifications_deliver(Manager *m, Call *call) {
        _cleanup_(notify_batch_freep) NotifyBatch *b = NULL;
        Error *e = NULL;
        unsigned matched = 0, ignored = 0;
        int r;

        r = notify_parse(call->params, &b, &e);
        if (r < 0)
                return reply_error(call, e);

        for (size_t i = 0; i < b->n_entries; i++) {
                const NotifyEntry *n = &b->entries[i];
                Operation *op = match_notification(m, n);

                if (!op) {
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

/* ---- status ------------------------------------------------------------------------- */

/* The status result, or NULL when memory ran out: every member is checked, since json-c
 * aborts on a member added to an object it could not create. */
static json_object *status_json(Manager *m) {
        _cleanup_json_ json_object *j = json_object_new_object(), *graph = json_object_new_object(),
                                   *journal = json_object_new_object(), *uptime = NULL;
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
            json_member_add(graph, "attempts", json_object_new_int64(graph_client_attempts(m->graph))) < 0 ||
            json_member_add(graph, "holdMs", json_object_new_int64((int64_t) (graph_client_hold_usec(m->graph) / 1000))) < 0 ||
            json_member_add(journal, "directory", json_object_new_string(m->config->state_directory)) < 0 ||
            json_member_add(journal, "bytes", json_object_new_int64((int64_t) store_journal_bytes(m->store))) < 0 ||
            json_member_add(journal, "syncs", json_object_new_int64((int64_t) store_syncs(m->store))) < 0)
                return NULL;
        if (json_member_add(j, "version", json_object_new_string(PACKAGE_VERSION)) < 0 ||
            json_member_add(j, "protocolVersion", json_object_new_int(PROTOCOL_VERSION)) < 0 ||
            json_member_add(j, "uptimeSec", TAKE_PTR(uptime)) < 0 ||
            json_member_add(j, "token", token_manager_status_json(m->token)) < 0 ||
            json_member_add(j, "graph", TAKE_PTR(graph)) < 0 ||
            json_member_add(j, "operations", operation_table_counts_json(m->operations)) < 0 ||
            json_member_add(j, "journal", TAKE_PTR(journal)) < 0 ||
            json_member_add(j, "connections", json_object_new_int64(server_connections(m->server))) < 0)
                return NULL;
        return TAKE_PTR(j);
}

static void method_status(Manager *m, Call *call) {
        static const char *const allowed[] = { NULL };
        json_object *j;
        Error *e;

        if ((e = rpc_params_check_object(call->params, allowed)))
                return reply_error(call, e);
        j = status_json(m);
        if (!j)
                return reply_error(call, error_oom());
        call_reply(call, j);
}

static const struct {
        const char *name;
        void (*handler)(Manager *m, Call *call);
        AccessRole role; /* what the peer must hold */
} methods[] = {
        { METHOD_CANCEL, method_cancel, ACCESS_CLIENT },
        { METHOD_OPERATION_GET, method_operation_get, ACCESS_CLIENT },
        { METHOD_OPERATION_LIST, method_operation_list, ACCESS_CLIENT },
        { METHOD_OPERATION_WATCH, method_operation_watch, ACCESS_CLIENT },
        { METHOD_NOTIFICATIONS_DELIVER, method_notifications_deliver, ACCESS_NOTIFY },
        { METHOD_STATUS, method_status, ACCESS_CLIENT },
};

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
                if (streq(call->method, methods[i].name)) {
                        if (!(call->roles & methods[i].role)) {
                                if (call_first_denial(call) && denial_log_allowed(m))
                                        log_struct(LOG_WARNING,
                                                   &(LogFields) { .message_id = MESSAGE_ID_PERMISSION_DENIED,
                                                                  .has_peer = true,
                                                                  .peer_uid = (unsigned) call->uid,
                                                                  .peer_pid = (int) call->pid },
                                                   "Refused %s from pid=%d uid=%u: not in the [Access] lists.",
                                                   methods[i].name, (int) call->pid, (unsigned) call->uid);
                                return reply_error(call, error_new(ERROR_PERMISSION_DENIED, NULL,
                                                                   "uid %u may not call %s.", (unsigned) call->uid,
                                                                   call->method));
                        }
                        if (m->shutting_down && methods[i].handler == method_cancel)
                                return reply_error(call, error_new(ERROR_INTERNAL, NULL, "The daemon is shutting down."));
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
};
