/* SPDX-License-Identifier: MIT */
/*
 * tracking.h — what happens to an operation once its cancel is admitted: it is submitted to
 * Graph and its answer applied, every change journaled and announced to its listeners (callers
 * waiting for an answer or a final state, and watches), a completion timer and optional polling
 * while it is pending, and the same after a restart for the operations restored from the
 * journal. The methods (methods.c) attach listeners and submit; the manager calls the rest
 * through its hooks.
 */
#pragma once

#include <stdbool.h>

#include "manager.h"
#include "operation.h"
#include "server.h"

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

/* A new listener of kind on op (one reference, the caller's), or NULL on OOM. */
Listener *listener_attach(Manager *m, Operation *op, ListenerKind kind);
/* Unlinks l from its operation and drops the caller's reference. */
void listener_detach(Listener *l);
/* The drop callback of a watch's Subscription (server.h). */
void listener_on_watch_dropped(Subscription *s, void *userdata);

/* Sends op's cancel to Graph; call (NULL after a restart) is answered when Graph has answered,
 * or once op is settled with wait_settled. -ENOBUFS when MaxQueued= is reached. */
int tracking_submit(Manager *m, Operation *op, Call *call, bool wait_settled);

/* The manager's hooks (ManagerHooks). */
void tracking_on_change(Operation *op, void *userdata);
void tracking_free(Operation *op);
int tracking_resubmit(Manager *m, Operation *op);
void tracking_restored(Manager *m, Operation *op);
