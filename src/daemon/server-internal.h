/* SPDX-License-Identifier: MIT */
/*
 * server-internal.h — what the three files of the socket server share and nobody else sees:
 * the Server, Connection, Batch and Subscription structures and the functions between them.
 * server.c owns the server (accepting, refusing, reaping, flushing); connection.c one
 * connection's bytes (reading lines, the output buffer and its limit, idle timers, closing);
 * call.c what a line asks (calls, batches, subscriptions, replies).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "access.h"
#include "config.h"
#include "errors.h"
#include "server-types.h"
#include "util.h"

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

/* server.c */
/* Whether a line about a misbehaving client may be logged now (at most 10 per 10 s). */
bool client_complaint_allowed(Server *s);

/* connection.c */
int on_connection_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);
void connection_close(Connection *c);
void connection_flush(Connection *c);
void connection_maybe_finish(Connection *c);
void arm_idle_timer(Connection *c);
/* Serialises j into the output buffer (MaxOutputBytes= applies; may close c). */
int connection_write(Connection *c, json_object *j);
/* InternalError "Out of memory." for the request with id, written as text. */
int connection_write_oom(Connection *c, json_object *id);
/* The reply to the request with id; NULL (it could not be built) sends "Out of memory.". */
int connection_write_reply(Connection *c, json_object *id, json_object *reply);
/* Drops a partial line from the output buffer (back to before), passing r on. */
int connection_unwrite(Connection *c, size_t before, int r);
/* Closes c, -ENOBUFS, when what it holds for the client is over MaxOutputBytes=. */
int connection_check_output(Connection *c);
/* After a line went into the output buffer: the limit, and a flush once this event is done. */
int connection_written(Connection *c);
/* One error line for id (NULL: null). */
void send_error_line(Connection *c, json_object *id, const Error *e);

/* call.c */
/* Detaches call from its connection: its reply will be dropped. */
void call_unlink(Call *call);
/* One complete line (without its '\n', NUL-terminated in place): parsed, checked against the
 * [Socket] limits, and each request in it dispatched or answered. */
void process_line(Connection *c, const char *line, size_t len);
