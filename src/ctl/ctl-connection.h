/* SPDX-License-Identifier: MIT */
/*
 * ctl-connection.h — mediacancelctl's one conversation with the daemon: connect to its Unix
 * socket, send one JSON-RPC request, read lines (bounded in length) until the reply with our
 * id, and for watch go on reading the events that follow; all of it within one deadline.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "ctl.h"

/* The protocol caps a line at 16 MiB (not counting the '\n'); a longer line means the peer is
 * not the daemon we know, so we stop instead of buffering without bound. */
#define LINE_MAX_BYTES ((size_t) 16 * 1024 * 1024)
#define READ_CHUNK ((size_t) 64 * 1024)

/* What has been read from the daemon but not consumed yet; it outlives one reply, so that
 * watch can go on reading events after it. */
typedef struct LineReader {
        char *buf;
        /* buf[start..used) is unconsumed input, of which buf[start..scanned) has no '\n'. */
        size_t allocated, start, used, scanned;
} LineReader;

typedef struct Connection {
        const char *socket_path; /* named in messages */
        usec_t timeout;          /* what --timeout allowed, named in messages */
        usec_t deadline;         /* when the whole exchange must be over (USEC_INFINITY: never) */
        int fd;
        LineReader reader;
} Connection;

#define CONNECTION_NULL ((Connection) { .fd = -EBADF })

/* One request, one reply, on c (CONNECTION_NULL, or done). Prints the reason for a failure (it is always about the
 * conversation, never about the request) and returns negative errno. params is borrowed and
 * may be NULL (none sent). With keep_open, c stays connected after the reply, for
 * connection_read_event(); else it is closed once the reply is in. */
int connection_call(Connection *c, const char *socket_path, usec_t timeout, const char *method,
                    json_object *params, bool keep_open, json_object **ret_reply);

/* The next server notification, within the call's deadline; lines that are not one (a stray
 * reply) are dropped, and then 0 comes back with *ret_event still NULL. On failure it prints
 * why reading what (e.g. "the next change") failed, and returns negative errno. */
int connection_read_event(Connection *c, const char *what, json_object **ret_event);

/* Closes the connection and frees what was read; c may be CONNECTION_NULL. */
void connection_done(Connection *c);

/* Exactly one JSON value in text, whitespace around it allowed (strict, valid UTF-8).
 * -EBADMSG, -EMSGSIZE, -ENOMEM. */
int parse_json_value(const char *text, size_t len, json_object **ret);
