/* SPDX-License-Identifier: MIT */
/*
 * client-credential.h — the app's own credential, the proof of identity in a client-credentials
 * token request: a client secret, or a certificate whose key signs a fresh assertion for each
 * request (jwt.h). The only place that reads the files that hold them, and holds them to the
 * ownership and mode rules (docs/security.md). One credential serves every token request the
 * daemon makes; token.c asks it for the credential part of each request body.
 */
#pragma once

#include "config.h"
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
 * erase_and_free(). */
int client_credential_request_body(const ClientCredential *cc, const char *client_id, const char *token_url,
                                   const char *scope, char **ret);
