/* SPDX-License-Identifier: MIT */
/*
 * identity.h — what the daemon knows about the Microsoft identity platform's token endpoint,
 * as pure functions: the client-credentials request bodies (with a secret or a signed
 * assertion), the parsing of its answers (the token, or the error with its AADSTS code and
 * whether retrying can help), and when to renew a token. No I/O here; token.c does the
 * sending.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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

/* The same for a managed identity endpoint's answer (IMDS, Azure Arc), which may give only
 * expires_on (Unix seconds, a string or a number): the lifetime is then expires_on - now_sec. */
int managed_identity_answer_parse(long status, const char *body, size_t len, uint64_t now_sec, TokenAnswer *ret);

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

/* Whether the identity platform's error code (AADSTS65001, AADSTS7000229, …) or Graph's
 * (7504) says the application is not set up in that tenant: no service principal, no
 * consent, no permission there. Only an administrator of that tenant can fix it, so the
 * messages say so (tenant_consent_advice()). */
bool aadsts_means_not_consented(const char *aadsts);
bool graph_code_means_not_consented(long http_status, const char *graph_code, const char *message);

/* Where an administrator of tenant grants the application its permissions there (the
 * identity platform's admin consent endpoint): "{login}/{tenant}/adminconsent?client_id={id}".
 * login is the cloud's own login host (people open it, no proxy). NULL on OOM. */
char *admin_consent_url(const char *login, const char *tenant, const char *client_id);

/* One sentence for the messages: what the administrator of tenant must do. NULL on OOM. */
char *tenant_consent_advice(const char *login, const char *tenant, const char *client_id);
