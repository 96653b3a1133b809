/* SPDX-License-Identifier: MIT */
/*
 * server-types.h — the socket server's types that both its public face (server.h) and its
 * private one (server-internal.h) need: a Call as the dispatcher sees it, and the callbacks.
 * Apart from server.h, so that the server's own files can share their structures without a
 * header that depends on its users.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "access.h"

typedef struct Server Server;
typedef struct Connection Connection;
typedef struct Batch Batch;
typedef struct Call Call;

struct Call {
        Connection *conn; /* NULL once the connection is gone: the reply is dropped */
        Batch *batch;     /* NULL for a request that was not part of a batch */
        bool has_id;      /* false for a notification: nothing is sent back */
        json_object *id;
        char *method;
        json_object *params; /* borrowed: valid only while the call is being dispatched */
        uid_t uid;
        gid_t gid;
        pid_t pid;
        const Peer *peer; /* valid only while the call is being dispatched */
        unsigned roles;   /* AccessRole bits, set by the dispatcher */
        size_t held_bytes; /* counted against MaxOutputBytes= while it waits: its id */
        void *userdata;   /* the handler's */
        Call *prev, *next;
};

/* A standing interest of a connection (server.h: subscription_new()). */
typedef struct Subscription Subscription;
typedef void (*subscription_drop_t)(Subscription *s, void *userdata);

/* Hands each request to whoever answers it (methods.h). */
typedef void (*server_dispatch_t)(Call *call, void *userdata);
