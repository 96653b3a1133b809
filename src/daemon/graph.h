/* SPDX-License-Identifier: MIT */
/*
 * graph.h — what the daemon knows about Graph and the identity platform as pure functions:
 * request URLs and bodies, parsing of cancel/operation answers and of token answers, the
 * retry and token-renewal schedules. No I/O here; graph-client.c and token.c do the sending.
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

typedef struct TokenAnswer {
        char *access_token;       /* must be wiped: erase_and_free() */
        uint64_t expires_in_usec;
        uint64_t refresh_in_usec; /* 0 when absent */
        /* On failure: */
        char *error;              /* "invalid_client", … */
        char *aadsts;             /* "AADSTS7000215" */
        char *description;        /* first line of error_description, without trace ids */
        bool permanent;           /* retrying without a config change will not help */
} TokenAnswer;

/* Returns 0 with either access_token or error set; -ENOMEM on OOM. */
int token_answer_parse(long http_status, const char *body, size_t body_len, TokenAnswer *ret);
void token_answer_done(TokenAnswer *a);

/* When to start renewing a token that was just issued, in µs from now: at refresh_in when the
 * answer has it, otherwise when 5 minutes remain, or at half its lifetime for tokens shorter
 * than 10 minutes; minus up to 5% jitter taken from rnd so hosts do not renew in lockstep. */
uint64_t token_renewal_delay_usec(uint64_t expires_in_usec, uint64_t refresh_in_usec, uint64_t rnd);

/* application/x-www-form-urlencoded body of a client-credentials request with a secret.
 * The result holds the secret: free it with erase_and_free(). */
int token_request_body(const char *client_id, const char *client_secret, const char *scope, char **ret);

#define TOKEN_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* The same with a certificate: client_assertion_type and the signed client_assertion (a JWT,
 * see jwt.h) instead of client_secret. Free the result with erase_and_free(): the assertion
 * is a bearer credential until it expires. */
int token_request_body_assertion(const char *client_id, const char *client_assertion, const char *scope,
                                 char **ret);
