/* SPDX-License-Identifier: MIT */
/*
 * connection.c — one client connection's bytes: reading and cutting lines (MaxRequestBytes=,
 * the idle timer), the output buffer and what it may hold (MaxOutputBytes=), flushing, and
 * closing, after which the calls it made go on without it.
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

#define READ_CHUNK 65536

void connection_maybe_finish(Connection *c) {
        if (c && c->fd >= 0 && c->read_eof && c->n_calls == 0 && c->out.size == 0)
                connection_close(c);
}

/* Serialises straight into the output buffer, and leaves the sending to the flusher: the
 * replies that one curl event finishes (often dozens on one HTTP/2 connection) leave in one
 * send() per client connection instead of one each. */
int connection_write(Connection *c, json_object *j) {
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
int connection_write_oom(Connection *c, json_object *id) {
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
int connection_write_reply(Connection *c, json_object *id, json_object *reply) {
        int r = reply ? connection_write(c, reply) : -ENOMEM;

        return r == -ENOMEM ? connection_write_oom(c, id) : r;
}

/* Drops a partial line from the output buffer, passing r on. */
int connection_unwrite(Connection *c, size_t before, int r) {
        c->out.size = before;
        if (c->out.data)
                c->out.data[before] = '\0';
        return r;
}

/* MaxOutputBytes= bounds everything the daemon holds for a client to read: the unsent
 * output and the replies of batches that are not complete yet. Beyond it the client is
 * disconnected. */
int connection_check_output(Connection *c) {
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
int connection_written(Connection *c) {
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

void send_error_line(Connection *c, json_object *id, const Error *e) {
        _cleanup_json_ json_object *j = NULL;

        j = rpc_reply_error(id, e);
        (void) connection_write_reply(c, id, j);
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

void arm_idle_timer(Connection *c) {
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

void connection_flush(Connection *c) {
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

int on_connection_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
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

void connection_close(Connection *c) {
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
