/* SPDX-License-Identifier: MIT */
/*
 * token.h — one tenant's app-only access token: asks the identity platform for it
 * ({LoginEndpoint}/{tenant}/oauth2/v2.0/token), and schedules its renewal before it expires.
 * One fetch at a time however many requests wait (single flight); requests that find no valid
 * token wait here and are called back when one arrives or when the failure is final. The
 * credential is client-credential.c's, borrowed; which tenant's manager serves a request is
 * tenant-tokens.c's.
 */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "client-credential.h"
#include "config.h"
#include "errors.h"
#include "event-curl.h"

typedef enum TokenState {
        TOKEN_NONE,
        TOKEN_VALID,
        TOKEN_REFRESHING,
        TOKEN_FAILED,
        _TOKEN_STATE_MAX,
} TokenState;

const char *token_state_to_string(TokenState s);

typedef struct TokenManager TokenManager;
typedef struct TokenWaiter TokenWaiter;

/* token is NULL and error set when no token can be had without a configuration change. */
typedef void (*token_ready_t)(const char *token, const Error *error, void *userdata);

/* The token of tenant (lower case, tenant_id_is_valid()). config and credential are borrowed:
 * token_manager_set_config() replaces them before the old ones are freed. */
int token_manager_new(sd_event *event, CurlGlue *glue, const Config *config, ClientCredential *credential,
                      const char *tenant, TokenManager **ret);
TokenManager *token_manager_free(TokenManager *t);
DEFINE_CLEANUP_FUNC(TokenManager *, token_manager_free);

/* Starts the first fetch. */
void token_manager_start(TokenManager *t);

/* Replaces the configuration and the credential (after a reload). When identity_changed (the
 * client, the endpoints, the scope or the credential), or after a failure, the next token is
 * fetched at once; the current one stays in use until then. */
void token_manager_set_config(TokenManager *t, const Config *config, ClientCredential *credential,
                              bool identity_changed);

const char *token_manager_tenant(TokenManager *t);
/* Whether requests wait for it or a fetch is under way: such a manager is never dropped. */
bool token_manager_busy(TokenManager *t);

/* A token valid now, or NULL. */
const char *token_manager_peek(TokenManager *t);

/* Calls cb once a token is available (perhaps before returning, never: always from the event
 * loop) or the failure is final. The waiter is freed by the manager after the callback; free it
 * earlier with token_waiter_free() to stop waiting. */
int token_manager_wait(TokenManager *t, token_ready_t cb, void *userdata, TokenWaiter **ret);
TokenWaiter *token_waiter_free(TokenWaiter *w);

/* Graph said 401 to this token: drop it if it is still the current one and fetch another. */
void token_manager_invalidate(TokenManager *t, const char *token);

/* TokenUnavailable describing the last failure (reason, aadsts), for callers whose deadline
 * passed while they waited. */
Error *token_manager_error(TokenManager *t);

TokenState token_manager_state(TokenManager *t);
unsigned token_manager_fetches(TokenManager *t);
/* NULL when memory ran out. */
json_object *token_manager_status_json(TokenManager *t);
