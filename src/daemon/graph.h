/* SPDX-License-Identifier: MIT */
/*
 * graph.h — what the daemon knows about Graph as pure functions: request URLs and bodies,
 * parsing of cancel/operation answers, Retry-After and the retry schedule. The identity
 * platform's side (token requests and answers) is identity.h. No I/O here; graph-client.c and
 * token.c do the sending.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "errors.h"
#include "util.h"

typedef enum GraphOpStatus {
        GRAPH_OP_NONE = 0, /* the answer carried no status */
        GRAPH_OP_NOT_STARTED,
        GRAPH_OP_RUNNING,
        GRAPH_OP_COMPLETED,
        GRAPH_OP_FAILED,
} GraphOpStatus;

/* Case-insensitive, because the metadata spells the members "Completed" while the docs' JSON
 * uses "completed". Unknown strings map to GRAPH_OP_NONE. */
GraphOpStatus graph_op_status_from_string(const char *s);

/* Whether the configured calls path is one of the 2019 beta forms that still take "all". */
bool graph_config_supports_all(const Config *c);

/* {Endpoint}/{ApiVersion}{CallsPath with {appId}}/{callId}/cancelMediaProcessing. The call id
 * must already be valid; it is percent-encoded anyway so no input can change the path. */
int graph_cancel_url(const Config *c, const char *call_id, char **ret);
int graph_operation_url(const Config *c, const char *call_id, const char *op_id, char **ret);

/* {"clientContext":…} plus "all" when all >= 0. */
int graph_cancel_body(const char *client_context, int all, char **ret);

/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *url_escape(const char *s);

typedef struct GraphAnswer {
        long http_status;
        char *operation_id;   /* body "id", else last segment of Location */
        GraphOpStatus status; /* from the body; NONE when there was none */
        bool has_result_info;
        int result_code;
        int result_subcode;
        char *result_message;
        char *client_context;
        char *completion_reason;
        char *request_id;
        uint64_t retry_after_usec; /* 0 when absent or unparsable */
        Error *error;              /* GraphError for a non-2xx answer or a malformed 2xx body */
} GraphAnswer;

/* Parses an answer to cancelMediaProcessing or to GET …/operations/{id}. Returns 0 with
 * ret->error set for Graph-level failures; negative errno only on OOM. now_usec is
 * CLOCK_REALTIME, for HTTP-date Retry-After values. */
int graph_answer_parse(long http_status, const char *location, const char *request_id,
                       const char *retry_after, const char *body, size_t body_len,
                       uint64_t now_usec, GraphAnswer *ret);
void graph_answer_done(GraphAnswer *a);

/* The longest wait one Retry-After can impose, in either form: Graph's own SDKs cap a single
 * retry delay at 180 s. A server (or whatever sits in the way) that asks for more would
 * otherwise hold every cancel of the daemon for as long as it likes: a date in the year 9999
 * meant a hold of 2.9 million days, every cancel failing with Throttled until a restart. */
#define GRAPH_RETRY_AFTER_MAX_USEC (180 * USEC_PER_SEC)

/* Retry-After: seconds ("120", fractional "2.128") or an HTTP-date, as a wait from now_usec
 * (CLOCK_REALTIME), capped at GRAPH_RETRY_AFTER_MAX_USEC; a date in the past is 0. */
int parse_retry_after(const char *s, uint64_t now_usec, uint64_t *ret_usec);

/* Which answers are worth another attempt: 429, 500, 502, 503, 504. */
bool graph_status_is_retryable(long http_status);

/* Exponential backoff with full jitter: a uniform value in [0, min(max, base·2^attempt)],
 * drawn from rnd (any 64-bit random number). attempt counts from 0. */
uint64_t backoff_delay_usec(unsigned attempt, uint64_t base_usec, uint64_t max_usec, uint64_t rnd);

