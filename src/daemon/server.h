/* SPDX-License-Identifier: MIT */
/*
 * server.h — the Unix socket: accepting connections (or taking the one systemd passes),
 * identifying peers by SO_PEERCRED, reading newline-delimited JSON-RPC, enforcing the socket
 * limits, and writing replies through a per-connection output buffer so a client that stops
 * reading never blocks the daemon. Each request becomes a Call handed to the dispatcher; the
 * dispatcher answers it once, now or later, and the reply finds its way back, also into a batch.
 * Inside: server.c (the server), connection.c (a connection's bytes), call.c (what its lines
 * ask), sharing server-internal.h.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "access.h"
#include "config.h"
#include "errors.h"
#include "server-types.h"

/* Answers the call and frees it. result is consumed. */
void call_reply(Call *c, json_object *result);
void call_reply_error(Call *c, const Error *e);

/* True the first time a call on its connection is refused, so denials are logged once per
 * connection, not once per request. */
bool call_first_denial(Call *call);

/* Sends a notification on the call's connection (e.g. operation.changed), if it still exists. */
int connection_notify(Connection *conn, const char *method, json_object *params);

/* A standing interest of a connection (operation.watch) that outlives the Call that made it.
 * When the connection closes, drop() is called and the subscription is freed by the server. */
Subscription *subscription_new(Call *call, subscription_drop_t drop, void *userdata);
int subscription_notify(Subscription *s, const char *method, json_object *params);
/* Ends it without calling drop(). Accepts NULL. */
Subscription *subscription_free(Subscription *s);

int server_new(sd_event *event, const Config *config, server_dispatch_t dispatch, void *userdata, Server **ret);
Server *server_free(Server *s);
DEFINE_CLEANUP_FUNC(Server *, server_free);

/* Uses the socket systemd passed (LISTEN_FDS) or binds config->socket_path itself. */
int server_listen(Server *s, const char *path_override);
void server_set_config(Server *s, const Config *config);

/* Stops accepting; existing connections go on. */
void server_stop_listening(Server *s);

/* Tries to flush every connection, then closes them all. */
void server_close_all(Server *s);

unsigned server_connections(Server *s);
unsigned server_pending_calls(Server *s);
const char *server_socket_path(Server *s);
