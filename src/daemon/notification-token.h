/* SPDX-License-Identifier: MIT */
/*
 * notification-token.h — checking the bearer token Graph sends with every notification it
 * POSTs to the bot (graph-api.md 3.3, identity.md 4.1), which the bot forwards to
 * notifications.deliver as "authorization". Two pure pieces: a key set (a JWKS document parsed
 * into RSA public keys, looked up by kid) and the verifier (a compact JWT, RS256 only, checked
 * against a key set and a policy: issuers, audience, times, tenant). No I/O and no logging, so
 * the unit tests and fuzz-notification-token drive every path; fetching the key set is
 * notification-keys.c.
 *
 * Why so strict: the token is the only thing that separates what Graph said from what any
 * local process with the notify role says. Everything that lets a token choose how it is
 * checked (alg "none", HMAC with a public key as the secret, a key carried in the header) is
 * refused outright.
 */
#pragma once

#include "base64url.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "macro.h"

/* A compact JWT longer than this is refused before it is decoded: Graph's tokens are about
 * 1-2 KiB, so this leaves room for larger keys and claims while bounding the work a forged
 * one can cause. */
#define NOTIFICATION_TOKEN_MAX_BYTES (16 * 1024)
/* RSA keys below this size are left out of a key set. */
#define NOTIFICATION_KEY_MIN_BITS 2048
/* A JWKS document longer than this is refused, and so is one with more keys. */
#define NOTIFICATION_JWKS_MAX_BYTES (256 * 1024)
#define NOTIFICATION_JWKS_MAX_KEYS 64

/* Why a token was refused; each has a stable name (notification_token_reason_to_string()) that
 * goes into error.data.reason and the log. */
typedef enum TokenReason {
        TOKEN_OK,
        TOKEN_MISSING,               /* no authorization given */
        TOKEN_MALFORMED,             /* not "Bearer <header>.<claims>.<signature>" of JSON objects */
        TOKEN_TOO_LARGE,             /* longer than NOTIFICATION_TOKEN_MAX_BYTES */
        TOKEN_UNSUPPORTED_ALGORITHM, /* alg other than RS256, or key material or crit in the header */
        TOKEN_UNKNOWN_KEY,           /* no kid, or a kid the key set does not have */
        TOKEN_BAD_SIGNATURE,
        TOKEN_WRONG_ISSUER,
        TOKEN_WRONG_AUDIENCE,
        TOKEN_EXPIRED,
        TOKEN_NOT_YET_VALID,
        TOKEN_NO_TENANT,
        TOKEN_TENANT_NOT_ALLOWED,
        TOKEN_KEYS_UNAVAILABLE, /* no key set within the wait (set by the caller, not the verifier) */
        _TOKEN_REASON_MAX,
} TokenReason;

const char *token_reason_to_string(TokenReason r);

typedef struct KeySet KeySet;

/* Parses a JWKS ({"keys":[{"kty":"RSA","kid":…,"n":…,"e":…},…]}). Keys that are not RSA, are
 * marked for another use than "sig" or another alg than RS256, have no kid, or are smaller
 * than NOTIFICATION_KEY_MIN_BITS are skipped; a document without one usable key is refused.
 * -EINVAL with *ret_reason (a sentence, may be NULL) for a bad document, -ENOMEM on OOM. */
int key_set_parse(const char *json, size_t len, KeySet **ret, char **ret_reason);
KeySet *key_set_free(KeySet *k);
DEFINE_CLEANUP_FUNC(KeySet *, key_set_free);
size_t key_set_count(const KeySet *k);
/* The key with this kid, or NULL. */
EVP_PKEY *key_set_find(const KeySet *k, const char *kid);

/* What a good token must satisfy besides its signature. */
typedef struct TokenPolicy {
        const char *const *issuers; /* NULL-terminated */
        const char *audience;       /* ClientId= */
        int64_t now;                /* Unix seconds */
        int64_t clock_skew;         /* seconds, both ways */
        /* Whether a token's tid may speak for one of our tenants. */
        bool (*tenant_allowed)(const char *tid, void *userdata);
        void *userdata;
} TokenPolicy;

/* Checks one compact JWT (without "Bearer "). Returns TOKEN_OK and the tid (*ret_tenant,
 * allocated, may be NULL) for a good token, a TokenReason for a bad one, -ENOMEM on OOM.
 * keys may be NULL (every kid is unknown). */
int notification_token_verify(const char *token, size_t len, const KeySet *keys, const TokenPolicy *p,
                              char **ret_tenant);

/* The token in an Authorization header value: "Bearer " (scheme case-insensitive, one or more
 * spaces) then the token. TOKEN_OK with *ret and *ret_len pointing into header, else TOKEN_MISSING
 * (NULL or empty) or TOKEN_MALFORMED (another scheme). */
TokenReason notification_token_from_header(const char *header, const char **ret, size_t *ret_len);

