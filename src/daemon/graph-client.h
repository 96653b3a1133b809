/* SPDX-License-Identifier: MIT */
/*
 * graph-client.h — sends requests to Graph and owns the policy around them: admission (at
 * most MaxInFlight on the wire, then a FIFO queue up to MaxQueued, which also bounds the
 * requests waiting for their tenant's token), one deadline per request
 * (RequestTimeoutSec) that every retry respects, retries of 429/5xx/transport failures with
 * Retry-After or jittered backoff, a daemon-wide hold while Graph says to wait (then one probe
 * before the rest), MaxRequestsPerSecond, and the one token refresh a 401 earns.
 */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "event-curl.h"
#include "graph.h"
#include "tenant-tokens.h"

typedef struct GraphClient GraphClient;
typedef struct GraphRequest GraphRequest;

/* Called exactly once. answer is NULL when no HTTP answer settles the request (deadline,
 * transport failure, token failure); error is NULL on success, else the answer's or ours. The
 * request is freed after the callback returns. */
typedef void (*graph_done_t)(GraphRequest *r, GraphAnswer *answer, const Error *error, void *userdata);

int graph_client_new(sd_event *event, CurlGlue *glue, TenantTokens *tokens, const Config *config,
                     GraphClient **ret);
GraphClient *graph_client_free(GraphClient *g);
DEFINE_CLEANUP_FUNC(GraphClient *, graph_client_free);

void graph_client_set_config(GraphClient *g, const Config *config);

/* Called when a request leaves the queue for the wire (perhaps before graph_client_cancel()
 * returns). */
typedef void (*graph_started_t)(GraphRequest *r, void *userdata);

/* Sent with the token of tenant (normalised; the caller checked it is allowed). -ENOBUFS when
 * MaxQueued requests already wait. started may be NULL. */
int graph_client_cancel(GraphClient *g, const char *tenant, const char *call_id, const char *client_context, int all,
                        graph_started_t started, graph_done_t cb, void *userdata, GraphRequest **ret);
int graph_client_get_operation(GraphClient *g, const char *tenant, const char *call_id, const char *op_id,
                               graph_done_t cb, void *userdata, GraphRequest **ret);

/* Stops a request without calling its callback. */
void graph_request_abandon(GraphRequest *r);

/* Finishes every request with err (shutdown). */
void graph_client_fail_all(GraphClient *g, const Error *err);

/* On the wire. */
unsigned graph_client_in_flight(GraphClient *g);
/* Waiting: in the queue, or for their tenant's token (graph_client_waiting_for_token()). */
unsigned graph_client_queued(GraphClient *g);
unsigned graph_client_waiting_for_token(GraphClient *g);
unsigned graph_client_attempts(GraphClient *g);
/* How much longer Graph's Retry-After holds every send (0: no hold). */
uint64_t graph_client_hold_usec(GraphClient *g);
