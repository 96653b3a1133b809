/* SPDX-License-Identifier: MIT */
/*
 * call.c — what a line asks: the line's shape limits (MaxBatchItems=, MaxValuesPerLine=) and
 * parse, one Call per request (MaxInFlightPerConnection=) handed to the dispatcher, batches
 * whose replies wait as text, subscriptions, and the replies, each sent exactly once.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json-text.h"
#include "json-util.h"
#include "log.h"
#include "rpc.h"
#include "server-internal.h"
#include "server.h"

bool call_first_denial(Call *call) {
        Connection *c = call->conn;

        if (!c || c->denial_logged)
                return false;
        c->denial_logged = true;
        return true;
}

Subscription *subscription_new(Call *call, subscription_drop_t drop, void *userdata) {
        Connection *c = call->conn;
        Subscription *s;

        if (!c)
                return NULL;
        s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        *s = (Subscription) { .conn = c, .drop = drop, .userdata = userdata, .next = c->subscriptions };
        if (c->subscriptions)
                c->subscriptions->prev = s;
        c->subscriptions = s;
        return s;
}

int subscription_notify(Subscription *s, const char *method, json_object *params) {
        if (!s->conn) {
                json_object_put(params);
                return 0;
        }
        return connection_notify(s->conn, method, params);
}

Subscription *subscription_free(Subscription *s) {
        if (!s)
                return NULL;
        if (s->conn) {
                if (s->prev)
                        s->prev->next = s->next;
                else
                        s->conn->subscriptions = s->next;
                if (s->next)
                        s->next->prev = s->prev;
        }
        free(s);
        return NULL;
}

void call_unlink(Call *call) {
        Connection *c = call->conn;

        if (!c)
                return;
        if (call->prev)
                call->prev->next = call->next;
        else
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        call->prev = call->next = NULL;
        c->n_calls--;
        c->server->n_calls--;
        c->held_bytes -= MIN(c->held_bytes, call->held_bytes);
        call->conn = NULL;
}

static void call_free(Call *call) {
        call_unlink(call);
        json_object_put(call->id);
        free(call->method);
        free(call);
}

static bool batch_connected(const Batch *b) {
        return b->conn && b->conn->fd >= 0;
}

/* Adds reply (consumed; NULL for an entry that is not answered) and, after the last entry,
 * writes the array. An entry whose reply cannot be kept for lack of memory is left out of the
 * array, as the reply of a connection that closed is. */
static void batch_add_reply(Batch *b, json_object *reply) {
        if (reply && batch_connected(b)) {
                size_t n, before = b->text.size;
                const char *s = json_to_text(
                        reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
                int r = s ? buffer_append(&b->text, before == 0 ? "[" : ",", 1) : -ENOMEM;
                if (r >= 0)
                        r = buffer_append(&b->text, s, n);
                if (r < 0) {
                        b->text.size = before;
                        log_oom();
                } else {
                        b->conn->held_bytes += b->text.size - before;
                        (void) connection_check_output(b->conn); /* may close it */
                }
        }
        json_object_put(reply);
        if (--b->pending > 0)
                return;
        if (b->conn)
                b->conn->held_bytes -= MIN(b->conn->held_bytes, b->text.size);
        if (batch_connected(b) && b->text.size > 0) {
                Connection *c = b->conn;
                size_t before = c->out.size;
                int r = buffer_append(&c->out, b->text.data, b->text.size);
                if (r >= 0)
                        r = buffer_append(&c->out, "]\n", 2);
                if (r < 0)
                        (void) connection_unwrite(c, before, r);
                else
                        (void) connection_written(c);
        }
        buffer_done(&b->text);
        free(b);
}

static void call_send(Call *call, json_object *reply) {
        Connection *conn = call->conn;
        Batch *b = call->batch;

        call_unlink(call);
        if (!call->has_id) {
                json_object_put(reply);
                reply = NULL;
        }
        if (b)
                batch_add_reply(b, reply);
        else if (call->has_id) {
                if (conn)
                        (void) connection_write_reply(conn, call->id, reply);
                json_object_put(reply);
        }
        call_free(call);
        connection_maybe_finish(conn);
}

/* A lone request's reply whose result is pre-written text (every cancel's) goes into the
 * output buffer as text (rpc_write_result_text()): no envelope object, no second
 * serialisation. -EOPNOTSUPP for anything that needs json-c. */
static int write_reply_text(Connection *c, json_object *id, json_object *result) {
        size_t before = c->out.size;
        int r = rpc_write_result_text(&c->out, id, result);

        if (r == -EOPNOTSUPP)
                return r;
        if (r < 0)
                return connection_unwrite(c, before, r);
        return connection_written(c);
}

void call_reply(Call *call, json_object *result) {
        Connection *conn = call->conn;

        if (conn && conn->fd >= 0 && !call->batch && call->has_id) {
                int r = write_reply_text(conn, call->id, result);
                if (r == -ENOMEM)
                        r = connection_write_oom(conn, call->id); /* answered all the same */
                if (r != -EOPNOTSUPP) {
                        json_object_put(result);
                        call_free(call);
                        connection_maybe_finish(conn);
                        return;
                }
        }
        call_send(call, rpc_reply_result(call->id, result));
}

void call_reply_error(Call *call, const Error *e) {
        call_send(call, rpc_reply_error(call->id, e));
}

static Call *call_new(Connection *c, const RpcItem *item, Batch *b) {
        Call *call = calloc(1, sizeof *call);

        if (!call)
                return NULL;
        call->method = strdup(item->method);
        if (!call->method) {
                free(call);
                return NULL;
        }
        call->conn = c;
        call->batch = b;
        call->has_id = item->has_id;
        call->id = json_object_get(item->id);
        /* The id waits with the call to be echoed: a string id may be nearly MaxRequestBytes=. */
        if (json_object_is_type(item->id, json_type_string))
                call->held_bytes = (size_t) json_object_get_string_len(item->id);
        c->held_bytes += call->held_bytes;
        /* Borrowed from the parsed line, which lives until the call is dispatched: handlers
         * read their parameters then. Holding them longer would let every pending call keep
         * its whole line's tree alive (up to MaxRequestBytes= of json-c objects each). */
        call->params = item->params;
        call->uid = c->peer.uid;
        call->gid = c->peer.gid;
        call->pid = c->peer.pid;
        call->peer = &c->peer;
        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        c->n_calls++;
        c->server->n_calls++;
        return call;
}

/* An item refused before it became a call: its error goes into the batch, or out at once;
 * nothing is sent for a notification (answered false) outside a batch. */
static void answer_item_now(Connection *c, Batch *b, json_object *id, bool answered, const Error *e) {
        json_object *reply = answered ? rpc_reply_error(id, e) : NULL;

        if (b) {
                b->pending++;
                batch_add_reply(b, reply);
        } else if (answered) {
                (void) connection_write_reply(c, id, reply);
                json_object_put(reply);
        }
}

void process_line(Connection *c, const char *line, size_t len) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        Server *s = c->server;
        Batch *b = NULL;
        int r;

        if (len == 0)
                return; /* blank lines are keep-alives, not requests */

        /* Before json-c builds anything: a line's cost grows with its values, and a batch's
         * with its entries (each one a reply to build and hold). */
        const char *limit = NULL;
        r = rpc_message_parse_limited(line, len, RPC_MAX_DEPTH_DEFAULT, s->config->max_batch_items,
                                      s->config->max_values_per_line, &limit, &m);
        if (r == -ENOMEM) {
                send_error_line(c, NULL, error_oom());
                return;
        }
        if (r == -E2BIG) {
                _cleanup_(error_freep) Error *e =
                        streq(limit, "MaxBatchItems")
                                ? error_limit(limit, "A batch may hold at most MaxBatchItems=%u requests.",
                                              s->config->max_batch_items)
                                : error_limit(limit, "A line may hold at most MaxValuesPerLine=%u values.",
                                              s->config->max_values_per_line);
                send_error_line(c, NULL, e);
                return;
        }
        if (r < 0) {
                _cleanup_(error_freep) Error *e =
                        error_new(ERROR_PARSE, NULL, "The line is not valid JSON (or not valid UTF-8).");
                send_error_line(c, NULL, e);
                return;
        }

        if (m->is_batch) {
                b = calloc(1, sizeof *b);
                if (!b) {
                        send_error_line(c, NULL, error_oom());
                        return;
                }
                b->conn = c;
                b->pending = 1; /* held until every item is dispatched */
        }

        for (size_t i = 0; i < m->n_items; i++) {
                RpcItem *item = &m->items[i];
                Call *call;

                if (item->error) {
                        /* An invalid request is always answered, even without an id (rpc.c sets
                         * has_id for it); a notification with unusable params is not. */
                        answer_item_now(c, b, item->id, item->has_id, item->error);
                        continue;
                }

                if (c->n_calls >= s->config->max_in_flight_per_connection) {
                        _cleanup_(error_freep) Error *e = error_limit(
                                "MaxInFlightPerConnection", "More than %u unanswered requests on this connection.",
                                s->config->max_in_flight_per_connection);
                        answer_item_now(c, b, item->id, item->has_id, e);
                        continue;
                }

                call = call_new(c, item, b);
                if (!call) {
                        /* Answered like any request the daemon cannot serve, not left hanging. */
                        answer_item_now(c, b, item->id, item->has_id, error_oom());
                        continue;
                }
                if (b)
                        b->pending++;
                s->dispatch(call, s->userdata);
                if (c->fd < 0)
                        break; /* the connection died while we answered */
                if (connection_check_output(c) < 0)
                        break; /* what it waits for is more than MaxOutputBytes= */
        }
        if (b)
                batch_add_reply(b, NULL);
}
