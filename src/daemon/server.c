/* SPDX-License-Identifier: MIT */
/*
 * server.c — see server.h.
 *
 * Limits and what happens at each (all from [Socket]): a line longer than MaxRequestBytes gets
 * LimitExceeded and the connection is closed, since the rest of that line cannot be framed;
 * more than MaxInFlightPerConnection unanswered requests get LimitExceeded one by one, the
 * connection stays; beyond MaxConnections or MaxConnectionsPerUser a new connection gets one
 * LimitExceeded line and is closed; a half line that stalls IdleTimeoutSec closes the
 * connection; more than MaxOutputBytes of unread replies disconnects the client. The log lines
 * about all of these are rate-limited (client_complaint_allowed()); the answers are not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "access.h"
#include "listen-socket.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "util.h"
#include "json-text.h"
#include "json-util.h"

#define READ_CHUNK 65536

/* A batch's replies wait until its last entry is answered (the spec sends them as one
 * array). They wait as text, not as json-c objects: a few bytes each instead of a tree, and
 * their exact size counts against MaxOutputBytes= (held_bytes) from the moment each is made. */
struct Batch {
        Connection *conn;
        Buffer text; /* "[reply,reply" so far */
        unsigned pending;
};

struct Subscription {
        Connection *conn;
        subscription_drop_t drop;
        void *userdata;
        Subscription *prev, *next;
};

struct Connection {
        Server *server;
        Subscription *subscriptions;
        int fd;
        sd_event_source *io;
        sd_event_source *idle_timer;
        Buffer in;
        size_t scanned; /* bytes of in already searched for '\n' */
        Buffer out;
        Peer peer;
        bool denial_logged;
        bool no_role;       /* the peer may call no method: one answer, then closed */
        size_t held_bytes;  /* held for replies: unfinished batches' replies, pending calls' ids */
        unsigned n_calls;
        Call *calls;
        bool closing;  /* close once out is flushed */
        bool read_eof; /* the peer shut down its writing side: answer what it asked, then close */
        bool unflushed; /* out holds lines the flusher has not tried to send yet */
        Connection *prev, *next;
};

struct Server {
        sd_event *event;
        const Config *config;
        server_dispatch_t dispatch;
        void *userdata;
        int listen_fd;
        bool owns_socket_file;
        char *path;
        sd_event_source *listen_io;
        Connection *connections;
        Connection *dead; /* closed, freed from the loop once nothing on the stack uses them */
        sd_event_source *reaper;
        sd_event_source *flusher; /* sends what this loop iteration's replies put in out buffers */
        unsigned n_connections;
        unsigned n_calls;
        uint64_t complaints_since; /* client_complaint_allowed(): the current window */
        unsigned complaints, complaints_dropped;
};

static void connection_close(Connection *c);
static void connection_flush(Connection *c);
static void arm_idle_timer(Connection *c);
static int connection_written(Connection *c);
static int connection_unwrite(Connection *c, size_t before, int r);

/* Lines about a misbehaving client (refused connections, over-long or stalled lines, unread
 * replies) cost it nothing to provoke again and again: log at most 10 per 10 s, so that a
 * local user cannot flood the journal and make journald drop the daemon's other lines. The
 * first line of a new window says how many were left out. The client is answered regardless. */
static bool client_complaint_allowed(Server *s) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (now - s->complaints_since > 10 * USEC_PER_SEC) {
                if (s->complaints_dropped > 0)
                        log_warning("%u more lines about misbehaving clients were not logged.", s->complaints_dropped);
                s->complaints_since = now;
                s->complaints = s->complaints_dropped = 0;
        }
        if (s->complaints < 10) {
                s->complaints++;
                return true;
        }
        s->complaints_dropped++;
        return false;
}

static void connection_maybe_finish(Connection *c) {
        if (c && c->fd >= 0 && c->read_eof && c->n_calls == 0 && c->out.size == 0)
                connection_close(c);
}

/* Serialises straight into the output buffer, and leaves the sending to the flusher: the
 * replies that one curl event finishes (often dozens on one HTTP/2 connection) leave in one
 * send() per client connection instead of one each. */
static int connection_write(Connection *c, json_object *j) {
        size_t before = c->out.size;
        int r;

        if (c->fd < 0)
                return 0;
        if (!j)
                return -ENOMEM; /* a line that could not be built; json-c would write "null" */
        r = rpc_serialize_append(j, &c->out);
        if (r < 0)
                return connection_unwrite(c, before, r);
        return connection_written(c);
}

/* InternalError "Out of memory." for the request with this id, when its reply could not be
 * built: written as text, so the caller is answered with nothing more than room in the output
 * buffer. */
static int connection_write_oom(Connection *c, json_object *id) {
        size_t before = c->out.size;
        int r;

        if (c->fd < 0)
                return 0;
        r = json_write_literal(&c->out, "{\"jsonrpc\":\"2.0\",\"id\":");
        if (r >= 0) {
                if (!id)
                        r = json_write_literal(&c->out, "null");
                else if (json_object_is_type(id, json_type_string))
                        r = json_write_string(&c->out, json_object_get_string(id));
                else {
                        size_t n;
                        const char *t = json_to_text(id, JSON_C_TO_STRING_PLAIN, &n);
                        r = t ? buffer_append(&c->out, t, n) : -ENOMEM;
                }
        }
        if (r >= 0)
                r = json_write_literal(&c->out, ",\"error\":{\"code\":");
        if (r >= 0)
                r = json_write_int(&c->out, error_class_code(ERROR_INTERNAL));
        if (r >= 0)
                r = json_write_literal(&c->out, ",\"message\":");
        if (r >= 0)
                r = json_write_string(&c->out, error_oom()->message);
        if (r >= 0)
                r = json_write_literal(&c->out, ",\"data\":{\"class\":");
        if (r >= 0)
                r = json_write_string(&c->out, error_class_name(ERROR_INTERNAL));
        if (r >= 0)
                r = json_write_literal(&c->out, "}}}\n");
        if (r < 0)
                return connection_unwrite(c, before, r);
        return connection_written(c);
}

/* The reply to the request with this id. One that could not be built (NULL) or serialised
 * becomes "Out of memory.". */
static int connection_write_reply(Connection *c, json_object *id, json_object *reply) {
        int r = reply ? connection_write(c, reply) : -ENOMEM;

        return r == -ENOMEM ? connection_write_oom(c, id) : r;
}

/* Drops a partial line from the output buffer, passing r on. */
static int connection_unwrite(Connection *c, size_t before, int r) {
        c->out.size = before;
        if (c->out.data)
                c->out.data[before] = '\0';
        return r;
}

/* MaxOutputBytes= bounds everything the daemon holds for a client to read: the unsent
 * output and the replies of batches that are not complete yet. Beyond it the client is
 * disconnected. */
static int connection_check_output(Connection *c) {
        if (c->out.size + c->held_bytes > c->server->config->max_output_bytes) {
                if (client_complaint_allowed(c->server))
                        log_warning("Client pid=%d uid=%u does not read its replies (more than MaxOutputBytes=%zu "
                                    "buffered or held for batches); disconnecting.",
                                    (int) c->peer.pid, (unsigned) c->peer.uid, c->server->config->max_output_bytes);
                connection_close(c);
                return -ENOBUFS;
        }
        return 0;
}

/* After a line went into the output buffer: MaxOutputBytes=, and a flush once this event is
 * handled. */
static int connection_written(Connection *c) {
        int r = connection_check_output(c);
        if (r < 0)
                return r;
        if (!c->unflushed) {
                c->unflushed = true;
                if (!c->server->flusher || sd_event_source_set_enabled(c->server->flusher, SD_EVENT_ONESHOT) < 0)
                        connection_flush(c);
        }
        return 0;
}

int connection_notify(Connection *conn, const char *method, json_object *params) {
        _cleanup_json_ json_object *j = rpc_notification(method, params);

        if (!conn || conn->fd < 0)
                return 0;
        return connection_write(conn, j);
}

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

static void call_unlink(Call *call) {
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

static void send_error_line(Connection *c, json_object *id, const Error *e) {
        _cleanup_json_ json_object *j = NULL;

        j = rpc_reply_error(id, e);
        (void) connection_write_reply(c, id, j);
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

static void process_line(Connection *c, const char *line, size_t len) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        Server *s = c->server;
        Batch *b = NULL;
        int r;

        if (len == 0)
                return; /* blank lines are keep-alives, not requests */

        /* Before json-c builds anything: a line's cost grows with its values, and a batch's
         * with its entries (each one a reply to build and hold). */
        const char *limit = NULL;
        r = rpc_line_check_shape(line, len, RPC_MAX_DEPTH_DEFAULT, s->config->max_batch_items,
                                 s->config->max_values_per_line, &limit);
        if (r == -EBADMSG) {
                _cleanup_(error_freep) Error *e =
                        error_new(ERROR_PARSE, NULL, "The line is not valid JSON (or not valid UTF-8).");
                send_error_line(c, NULL, e);
                return;
        }
        if (r < 0) {
                _cleanup_(error_freep) Error *e =
                        streq(limit, "MaxBatchItems")
                                ? error_limit(limit, "A batch may hold at most MaxBatchItems=%u requests.",
                                              s->config->max_batch_items)
                                : error_limit(limit, "A line may hold at most MaxValuesPerLine=%u values.",
                                              s->config->max_values_per_line);
                send_error_line(c, NULL, e);
                return;
        }

        r = rpc_message_parse(line, len, RPC_MAX_DEPTH_DEFAULT, &m);
        if (r == -ENOMEM) {
                send_error_line(c, NULL, error_oom());
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
                        /* An invalid request is always answered, even without an id. */
                        answer_item_now(c, b, item->id, true, item->error);
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

static int on_idle_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        (void) es;
        (void) usec;
        if (c->no_role) {
                if (client_complaint_allowed(c->server))
                        log_info("Client pid=%d uid=%u holds no role and sent no request within IdleTimeoutSec=%.0fs; "
                                 "disconnecting.",
                                 (int) c->peer.pid, (unsigned) c->peer.uid,
                                 (double) c->server->config->idle_timeout_usec / 1e6);
        } else if (client_complaint_allowed(c->server))
                log_info("Client pid=%d uid=%u sent part of a line and stalled for IdleTimeoutSec=%.0fs; disconnecting.",
                         (int) c->peer.pid, (unsigned) c->peer.uid, (double) c->server->config->idle_timeout_usec / 1e6);
        connection_close(c);
        return 0;
}

/* The clock starts when a line begins and restarts whenever a line completes, so a client
 * that keeps sending whole requests is never cut off, while one that trickles bytes into a
 * single line cannot hold the connection open forever. */
static void update_idle_timer(Connection *c, bool progress) {
        if (c->no_role)
                return; /* its clock started when it connected and never restarts */
        if (c->in.size == 0) {
                if (c->idle_timer)
                        (void) sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
                return;
        }
        if (!progress && c->idle_timer && sd_event_source_get_enabled(c->idle_timer, NULL) > 0)
                return;
        arm_idle_timer(c);
}

static void arm_idle_timer(Connection *c) {
        uint64_t at = now_usec(CLOCK_MONOTONIC) + c->server->config->idle_timeout_usec;

        if (!c->idle_timer) {
                if (sd_event_add_time(c->server->event, &c->idle_timer, CLOCK_MONOTONIC, at, 0, on_idle_timeout, c) < 0)
                        return;
                (void) sd_event_source_set_description(c->idle_timer, "client-idle");
        } else {
                (void) sd_event_source_set_time(c->idle_timer, at);
                (void) sd_event_source_set_enabled(c->idle_timer, SD_EVENT_ONESHOT);
        }
}

static void connection_read(Connection *c) {
        Server *s = c->server;
        char buf[READ_CHUNK];

        for (int rounds = 0; rounds < 16 && c->fd >= 0 && !c->closing && !c->read_eof; rounds++) {
                ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                connection_close(c);
                        return;
                }
                if (n == 0) {
                        /* The peer finished writing (shutdown(SHUT_WR)) but may still read:
                         * it gets the replies to what it asked, then the connection closes. */
                        c->read_eof = true;
                        buffer_done(&c->in);
                        if (c->idle_timer)
                                (void) sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
                        (void) sd_event_source_set_io_events(c->io, c->out.size > 0 ? EPOLLOUT : 0);
                        connection_maybe_finish(c);
                        return;
                }
                if (buffer_append(&c->in, buf, (size_t) n) < 0) {
                        /* What was read is lost, so the connection cannot go on; its client
                         * hears why before it closes (id null: the request was never read). */
                        log_oom();
                        send_error_line(c, NULL, error_oom());
                        if (c->fd >= 0) {
                                c->closing = true;
                                buffer_done(&c->in);
                                connection_flush(c);
                        }
                        return;
                }

                size_t start = 0;
                for (;;) {
                        char *nl = memchr(c->in.data + MAX(start, c->scanned), '\n',
                                          c->in.size - MAX(start, c->scanned));
                        if (!nl)
                                break;
                        size_t len = (size_t) (nl - (c->in.data + start));
                        if (len > s->config->max_request_bytes)
                                goto too_long;
                        *nl = '\0';
                        process_line(c, c->in.data + start, len);
                        if (c->fd < 0)
                                return;
                        if (c->no_role) {
                                /* Whatever it asked was refused: a peer that may call
                                 * nothing gets that one answer, and its connection back
                                 * for the others (MaxConnections=). */
                                c->closing = true;
                                buffer_done(&c->in);
                                connection_flush(c);
                                return;
                        }
                        start += len + 1;
                }
                buffer_consume(&c->in, start);
                c->scanned = c->in.size;
                if (c->in.size > s->config->max_request_bytes)
                        goto too_long;
                update_idle_timer(c, start > 0);
                if ((size_t) n < sizeof buf)
                        return;
        }
        return;

too_long: {
        _cleanup_(error_freep) Error *e =
                error_limit("MaxRequestBytes", "A request line is longer than MaxRequestBytes=%zu.",
                            s->config->max_request_bytes);
        if (client_complaint_allowed(s))
                log_info("Client pid=%d uid=%u sent a line over MaxRequestBytes=%zu; closing the connection.",
                         (int) c->peer.pid, (unsigned) c->peer.uid, s->config->max_request_bytes);
        send_error_line(c, NULL, e);
        if (c->fd >= 0) {
                c->closing = true;
                buffer_done(&c->in);
                connection_flush(c);
        }
}
}

static void connection_flush(Connection *c) {
        c->unflushed = false;
        while (c->fd >= 0 && c->out.size > 0) {
                ssize_t n = send(c->fd, c->out.data, c->out.size, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        connection_close(c);
                        return;
                }
                buffer_consume(&c->out, (size_t) n);
        }
        if (c->fd < 0)
                return;
        if (c->out.size == 0 && c->closing) {
                connection_close(c);
                return;
        }
        (void) sd_event_source_set_io_events(c->io, (c->closing || c->read_eof ? 0 : EPOLLIN) |
                                                            (c->out.size > 0 ? EPOLLOUT : 0));
        connection_maybe_finish(c);
}

static int on_connection_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;

        (void) es;
        (void) fd;
        if ((revents & (EPOLLHUP | EPOLLERR)) && (c->read_eof || !(revents & EPOLLIN))) {
                /* Gone in both directions: nobody is left to read replies. */
                connection_close(c);
                return 0;
        }
        if (revents & EPOLLOUT)
                connection_flush(c);
        if (c->fd >= 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                connection_read(c);
        return 0;
}

static void connection_close(Connection *c) {
        Server *s = c->server;

        if (c->fd < 0)
                return;
        /* Calls keep running (a cancel must reach Graph even if its caller left); their replies
         * are dropped. */
        while (c->calls) {
                Call *call = c->calls;
                if (call->batch)
                        call->batch->conn = NULL;
                call_unlink(call);
        }
        while (c->subscriptions) {
                Subscription *sub = c->subscriptions;
                c->subscriptions = sub->next;
                sub->conn = NULL;
                sub->prev = sub->next = NULL;
                sub->drop(sub, sub->userdata);
                free(sub);
        }
        c->io = sd_event_source_disable_unref(c->io);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        (void) close(c->fd);
        c->fd = -EBADF;
        buffer_done(&c->in);
        buffer_done(&c->out);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;
        /* Callers up the stack may still hold c: free it from the loop, later. */
        c->prev = NULL;
        c->next = s->dead;
        s->dead = c;
        if (s->reaper)
                (void) sd_event_source_set_enabled(s->reaper, SD_EVENT_ONESHOT);
}

static void reap_dead(Server *s) {
        while (s->dead) {
                Connection *c = s->dead;
                s->dead = c->next;
                peer_done(&c->peer);
                free(c);
        }
}

static int on_reap(sd_event_source *es, void *userdata) {
        (void) es;
        reap_dead(userdata);
        return 0;
}

static unsigned connections_of_uid(Server *s, uid_t uid) {
        unsigned n = 0;
        for (Connection *c = s->connections; c; c = c->next)
                if (c->peer.uid == uid)
                        n++;
        return n;
}

/* One error line (id null: nothing was read) to a connection that is closed right after. */
static void refuse_connection_error(int fd, const Error *e) {
        _cleanup_json_ json_object *j = rpc_reply_error(NULL, e);
        _cleanup_free_ char *s = NULL;
        size_t n;

        if (j && rpc_serialize(j, &s, &n) >= 0)
                (void) !send(fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) close(fd);
}

static void refuse_connection(int fd, const char *limit, const char *msg) {
        _cleanup_(error_freep) Error *e = error_limit(limit, "%s", msg);

        refuse_connection_error(fd, e);
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;

        (void) es;
        (void) revents;
        for (int i = 0; i < 64; i++) {
                Peer cred = {};
                Connection *c;
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "accept() failed: %m");
                        return 0;
                }
                int k = peer_from_socket(cfd, &cred);
                if (k == -ENOMEM) {
                        /* Not a peer we refuse, a daemon short of memory: say so, as to every
                         * request that meets it. The line tells nothing about the daemon. */
                        log_oom();
                        refuse_connection_error(cfd, error_oom());
                        continue;
                }
                if (k < 0) {
                        /* Fail closed: a peer we cannot identify gets nothing. */
                        if (client_complaint_allowed(s))
                                log_warning_errno(k, "Cannot identify the peer (SO_PEERCRED): %m");
                        (void) close(cfd);
                        continue;
                }
                if (s->n_connections >= s->config->max_connections) {
                        if (client_complaint_allowed(s))
                                log_warning("Refusing a connection from pid=%d uid=%u: MaxConnections=%u reached.",
                                            (int) cred.pid, (unsigned) cred.uid, s->config->max_connections);
                        refuse_connection(cfd, "MaxConnections", "Too many connections to the daemon.");
                        peer_done(&cred);
                        continue;
                }
                if (connections_of_uid(s, cred.uid) >= s->config->max_connections_per_user) {
                        if (client_complaint_allowed(s))
                                log_warning("Refusing a connection from pid=%d uid=%u: MaxConnectionsPerUser=%u reached.",
                                            (int) cred.pid, (unsigned) cred.uid, s->config->max_connections_per_user);
                        refuse_connection(cfd, "MaxConnectionsPerUser", "Too many connections from this user.");
                        peer_done(&cred);
                        continue;
                }

                c = calloc(1, sizeof *c);
                if (!c) {
                        refuse_connection_error(cfd, error_oom());
                        peer_done(&cred);
                        return log_oom(), 0;
                }
                c->server = s;
                c->fd = cfd;
                c->peer = cred; /* takes the groups */
                k = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_connection_io, c);
                if (k < 0) {
                        if (k == -ENOMEM)
                                refuse_connection_error(cfd, error_oom());
                        else
                                (void) close(cfd);
                        peer_done(&c->peer);
                        free(c);
                        continue;
                }
                (void) sd_event_source_set_description(c->io, "client");
                /* A peer without a role could otherwise hold a connection (and a share of
                 * MaxConnections=) for ever without sending a byte. */
                c->no_role = access_roles(s->config, &c->peer, geteuid()) == 0;
                if (c->no_role)
                        arm_idle_timer(c);
                c->next = s->connections;
                if (s->connections)
                        s->connections->prev = c;
                s->connections = c;
                s->n_connections++;
                log_debug("Client connected: pid=%d uid=%u gid=%u.", (int) cred.pid, (unsigned) cred.uid,
                          (unsigned) cred.gid);
        }
        return 0;
}

static int on_flush(sd_event_source *es, void *userdata) {
        Server *s = userdata;
        Connection *c, *next;

        (void) es;
        for (c = s->connections; c; c = next) {
                next = c->next; /* flushing may close c, which unlinks it */
                if (c->unflushed)
                        connection_flush(c);
        }
        return 0;
}

int server_new(sd_event *event, const Config *config, server_dispatch_t dispatch, void *userdata, Server **ret) {
        Server *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Server) { .event = sd_event_ref(event), .config = config, .dispatch = dispatch,
                        .userdata = userdata, .listen_fd = -EBADF };
        int r = sd_event_add_defer(event, &s->reaper, on_reap, s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        (void) sd_event_source_set_enabled(s->reaper, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->reaper, "connection-reaper");
        r = sd_event_add_defer(event, &s->flusher, on_flush, s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        (void) sd_event_source_set_enabled(s->flusher, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->flusher, "connection-flusher");
        *ret = s;
        return 0;
}

int server_listen(Server *s, const char *path_override) {
        const char *path = path_override ?: s->config->socket_path;
        int r;

        r = listen_socket_from_systemd(&s->listen_fd, &s->path);
        if (r < 0)
                return r;
        if (r == 0) {
                r = listen_socket_bind(path, &s->listen_fd);
                if (r < 0)
                        return r;
                s->owns_socket_file = true;
        }
        if (!s->path) {
                s->path = strdup(path);
                if (!s->path)
                        return log_oom();
        }

        r = sd_event_add_io(s->event, &s->listen_io, s->listen_fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the listening socket: %m");
        (void) sd_event_source_set_description(s->listen_io, "listen");
        return 0;
}

void server_set_config(Server *s, const Config *config) {
        s->config = config;
        /* [Access] may have changed: who holds no role now is answered once and closed. */
        for (Connection *c = s->connections; c; c = c->next) {
                bool no_role = access_roles(config, &c->peer, geteuid()) == 0;
                if (no_role && !c->no_role)
                        arm_idle_timer(c);
                c->no_role = no_role;
        }
}

void server_stop_listening(Server *s) {
        s->listen_io = sd_event_source_disable_unref(s->listen_io);
        if (s->listen_fd >= 0) {
                (void) close(s->listen_fd);
                s->listen_fd = -EBADF;
        }
        if (s->owns_socket_file && s->path) {
                (void) unlink(s->path);
                s->owns_socket_file = false;
        }
}

void server_close_all(Server *s) {
        while (s->connections) {
                Connection *c = s->connections;
                c->closing = true;
                connection_flush(c); /* best effort: one non-blocking write */
                connection_close(c);
        }
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        server_stop_listening(s);
        server_close_all(s);
        reap_dead(s);
        sd_event_source_disable_unref(s->reaper);
        sd_event_source_disable_unref(s->flusher);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

unsigned server_connections(Server *s) {
        return s->n_connections;
}

unsigned server_pending_calls(Server *s) {
        return s->n_calls;
}

const char *server_socket_path(Server *s) {
        return s->path;
}
