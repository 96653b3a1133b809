/* SPDX-License-Identifier: MIT */
/*
 * manager.h — the daemon's object graph: one event loop and, hanging off it, the curl glue,
 * the tenants' tokens, the Graph client, the operation table and the socket server. main.c
 * builds it and hands it the hooks of methods.c, which answers requests with it.
 */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "event-curl.h"
#include "graph-client.h"
#include "notification-keys.h"
#include "operation.h"
#include "server.h"
#include "store.h"
#include "tenant-tokens.h"

#define SHUTDOWN_GRACE_USEC (5 * USEC_PER_SEC)

typedef struct Manager Manager;

/* What answers requests and tracks operations (methods.h), handed to manager_new() so that
 * the object graph does not depend on the methods that use it: main.c wires the two. */
typedef struct ManagerHooks {
        server_dispatch_t dispatch;          /* every request the server reads */
        operation_changed_t on_change;       /* every change of a stored operation */
        operation_destroy_t tracking_free;   /* an operation leaves the table */
        int (*resubmit)(Manager *m, Operation *op);        /* recovery: send it again (1: failed instead, not sent) */
        void (*track_restored)(Manager *m, Operation *op); /* recovery: wait for its outcome */
        void (*shutdown)(Manager *m);                      /* answer what waits for something else */
} ManagerHooks;

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        CurlGlue *glue;
        TenantTokens *tokens;
        GraphClient *graph;
        NotificationKeys *notification_keys;
        struct Delivery *held_deliveries; /* waiting for a key set (deliver.c) */
        uint64_t refusal_window_start;
        unsigned refusals_logged;
        OperationTable *operations;
        Server *server;
        Store *store;
        bool restoring;        /* replaying the journal: changes are not journaled again */
        unsigned orphan_records; /* change records without their operation, seen while replaying */
        Buffer record;         /* scratch for one journal record, reused */
        uid_t self_uid;        /* always allowed, like root */
        uint64_t denial_window_start;
        unsigned denials_logged;
        uint64_t started_usec; /* CLOCK_MONOTONIC */
        sd_event_source *prune_timer;
        sd_event_source *shutdown_timer;
        uint64_t shutdown_deadline;
        bool shutting_down;
        const ManagerHooks *hooks;
};

/* Takes ownership of config on success only: on failure the caller still owns it. */
/* Takes config only on success. hooks must outlive the manager. */
int manager_new(Config *config, const char *config_path, const ManagerHooks *hooks, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP_FUNC(Manager *, manager_free);

int manager_start(Manager *m, const char *socket_override);

/* Stop accepting, let in-flight cancels finish for up to SHUTDOWN_GRACE_USEC, answer the rest
 * with an error, then leave the loop. */
void manager_begin_shutdown(Manager *m);

/* Re-reads the configuration; on error the old one stays in force. */
int manager_reload(Manager *m);


/* One-line summary for sd_notify STATUS=. */
char *manager_status_line(Manager *m);
