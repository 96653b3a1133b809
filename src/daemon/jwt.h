/* SPDX-License-Identifier: MIT */
/*
 * jwt.h — certificate credentials for the client-credentials grant: the app's X.509
 * certificate and RSA private key (parsed with libcrypto from PEM text that token.c read), the
 * certificate's x5t#S256 thumbprint, and the signed client assertion (a PS256 JWT) that replaces
 * the client secret in a token request. No file or network I/O and no logging here, so the
 * unit tests can drive every function; the key is held only as an EVP_PKEY and every buffer
 * that held an assertion is wiped before it is freed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "base64url.h"
#include "macro.h"

/* An assertion is short-lived on purpose (the identity platform's guidance is 5-10 minutes):
 * it is a bearer credential for anyone who sees it before exp. */
#define JWT_ASSERTION_LIFETIME_SEC 600
/* What the identity platform accepts for app credentials. */
#define JWT_RSA_MIN_BITS 2048

typedef struct JwtCredential JwtCredential;

/* Parses the first certificate in cert_pem and the first private key in key_pem (the same
 * text when one PEM holds both). The key must be an unencrypted RSA key of at least
 * JWT_RSA_MIN_BITS bits. Returns -EINVAL with *ret_reason set to a sentence for the user when
 * the text is unusable (ret_reason may be NULL), -ENOMEM on OOM. A key that belongs to another
 * certificate is accepted (see jwt_credential_key_matches()): only the identity platform can
 * say which of the two is wrong. */
int jwt_credential_new(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
                       JwtCredential **ret, char **ret_reason);
JwtCredential *jwt_credential_free(JwtCredential *c);
DEFINE_CLEANUP_FUNC(JwtCredential *, jwt_credential_free);

/* base64url(SHA-256(DER certificate)), no padding: 43 characters. */
const char *jwt_credential_thumbprint(const JwtCredential *c);
/* The certificate's notAfter, in Unix seconds. */
int64_t jwt_credential_not_after(const JwtCredential *c);
/* Whether the private key is the one the certificate certifies. */
bool jwt_credential_key_matches(const JwtCredential *c);
EVP_PKEY *jwt_credential_key(const JwtCredential *c);

/* A fresh client assertion: a new random jti, nbf = iat = now (CLOCK_REALTIME). The result
 * must be freed with erase_and_free(). */
int jwt_credential_assertion(const JwtCredential *c, const char *client_id, const char *aud, char **ret);

/* The assertion itself, from explicit inputs:
 *   header  {"alg":"PS256","typ":"JWT","x5t#S256":x5t_s256}
 *   claims  {"aud":aud,"iss":client_id,"sub":client_id,"jti":jti,"nbf":now,"iat":now,
 *            "exp":now+JWT_ASSERTION_LIFETIME_SEC}
 * signed with RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32. PSS signatures are randomised,
 * so only the first two parts are a function of the inputs. The result must be freed with
 * erase_and_free(). */
int jwt_client_assertion(EVP_PKEY *key, const char *x5t_s256, const char *client_id, const char *aud,
                         int64_t now, const char *jti, char **ret);

/* x5t#S256 of a certificate. */
int jwt_x5t_s256(X509 *cert, char **ret);

