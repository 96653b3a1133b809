/* SPDX-License-Identifier: MIT */
/*
 * client-credential.h — the app's own credential, the proof of identity in a client-credentials
 * token request: a client secret, a certificate whose key signs a fresh assertion for each
 * request (jwt.h), or a federated credential: an assertion another identity provider issued,
 * read from a file (assertion-file.h) or fetched from the host's managed identity endpoint
 * (managed-identity.h). The only place that reads the files that hold them, and holds them to
 * the ownership and mode rules (docs/security.md). One credential serves every token request
 * the daemon makes; token.c asks it for the credential part of each request body.
 *
 * Every kind but the managed identity answers at once. The managed identity's token comes over
 * the network: client_credential_request_body() then says -EAGAIN until one is held, and
 * client_credential_wait() calls back when it is (or when getting it failed), so that the event
 * loop never blocks.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "credential-problem.h"
#include "event-curl.h"
#include "macro.h"

typedef struct ClientCredential ClientCredential;

/* Reads the credential config names (exactly one is configured: config_finalize()), and checks
 * CAFile= by the same rules. Logs why and returns a negative errno when a file is unusable. */
int client_credential_load(const Config *c, ClientCredential **ret);
ClientCredential *client_credential_free(ClientCredential *cc);
DEFINE_CLEANUP_FUNC(ClientCredential *, client_credential_free);

/* Whether going from a to b changes which files hold the credential. */
bool client_credential_config_changed(const Config *a, const Config *b);

/* The whole application/x-www-form-urlencoded body of a token request to token_url (the exact
 * URL: an assertion's aud must equal it) for scope. It holds a credential: free it with
 * erase_and_free(). Returns -EAGAIN when the credential must first be fetched (wait with
 * client_credential_wait()), -ENOMEM, or another negative errno with *ret_problem set (free it
 * with credential_problem_done()). */
int client_credential_request_body(ClientCredential *cc, const char *client_id, const char *token_url,
                                   const char *scope, char **ret, CredentialProblem *ret_problem);


/* Fetches the credential (one fetch however many wait) and calls cb from the event loop. Free
 * the waiter with credential_waiter_free() to stop waiting; it is freed after the callback. */
int client_credential_wait(ClientCredential *cc, sd_event *event, CurlGlue *glue, credential_ready_t cb,
                           void *userdata, CredentialWaiter **ret);
