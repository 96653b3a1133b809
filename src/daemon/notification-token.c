/* SPDX-License-Identifier: MIT */
/*
 * notification-token.c — see notification-token.h. The order of the checks matters: size and
 * shape first (nothing is decoded past the limit), then the header (the algorithm is ours to
 * choose, never the token's), then the signature, and only then the claims: a claim of a token
 * nobody signed says nothing, and reporting "expired" for it would tell a forger which part to
 * change.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "json-check.h"
#include "json-util.h"
#include "base64url.h"
#include "notification-token.h"
#include "util.h"

#define JSON_MAX_DEPTH 16

static const char *const reason_names[_TOKEN_REASON_MAX] = {
        [TOKEN_OK] = "ok",
        [TOKEN_MISSING] = "missing",
        [TOKEN_MALFORMED] = "malformed",
        [TOKEN_TOO_LARGE] = "tooLarge",
        [TOKEN_UNSUPPORTED_ALGORITHM] = "unsupportedAlgorithm",
        [TOKEN_UNKNOWN_KEY] = "unknownKey",
        [TOKEN_BAD_SIGNATURE] = "badSignature",
        [TOKEN_WRONG_ISSUER] = "wrongIssuer",
        [TOKEN_WRONG_AUDIENCE] = "wrongAudience",
        [TOKEN_EXPIRED] = "expired",
        [TOKEN_NOT_YET_VALID] = "notYetValid",
        [TOKEN_NO_TENANT] = "noTenant",
        [TOKEN_TENANT_NOT_ALLOWED] = "tenantNotAllowed",
        [TOKEN_KEYS_UNAVAILABLE] = "keysUnavailable",
};

const char *token_reason_to_string(TokenReason r) {
        return (unsigned) r < _TOKEN_REASON_MAX ? reason_names[r] : "unknown";
}

/* Decodes a base64url part and parses it as one JSON object. NULL: malformed; -ENOMEM is
 * reported through *ret_oom. */
static json_object *decode_json_part(const char *s, size_t n, bool *ret_oom) {
        _cleanup_free_ uint8_t *raw = NULL;
        size_t len;
        int r;

        r = base64url_decode(s, n, &raw, &len);
        if (r == -ENOMEM)
                *ret_oom = true;
        if (r < 0)
                return NULL;
        if (!json_text_is_valid((const char *) raw, len, JSON_MAX_DEPTH))
                return NULL;
        json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok) {
                *ret_oom = true;
                return NULL;
        }
        json_object *j = json_tokener_parse_ex(tok, (const char *) raw, (int) len);
        bool whole = json_tokener_get_error(tok) == json_tokener_success && (size_t) json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!j || !whole || !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return NULL;
        }
        return j;
}

static const char *member_string(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* ---- key sets ----------------------------------------------------------------------- */

typedef struct Key {
        char *kid;
        EVP_PKEY *pkey;
} Key;

struct KeySet {
        size_t n;
        Key keys[NOTIFICATION_JWKS_MAX_KEYS];
};

KeySet *key_set_free(KeySet *k) {
        if (!k)
                return NULL;
        for (size_t i = 0; i < k->n; i++) {
                free(k->keys[i].kid);
                EVP_PKEY_free(k->keys[i].pkey);
        }
        free(k);
        return NULL;
}

size_t key_set_count(const KeySet *k) {
        return k ? k->n : 0;
}

EVP_PKEY *key_set_find(const KeySet *k, const char *kid) {
        if (!k || !kid)
                return NULL;
        for (size_t i = 0; i < k->n; i++)
                if (streq(k->keys[i].kid, kid))
                        return k->keys[i].pkey;
        return NULL;
}

static int set_reason(char **ret_reason, const char *text) {
        if (ret_reason) {
                *ret_reason = strdup(text);
                if (!*ret_reason)
                        return -ENOMEM;
        }
        return -EINVAL;
}

/* An RSA public key from the big-endian n and e of a JWK. 0 and *ret on success, 1 for a key
 * to skip (unusable numbers, too small), -ENOMEM. */
static int rsa_key_from_jwk(const char *n64, const char *e64, EVP_PKEY **ret) {
        _cleanup_free_ uint8_t *n = NULL, *e = NULL;
        size_t n_len, e_len;
        OSSL_PARAM_BLD *bld = NULL;
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        BIGNUM *bn_n = NULL, *bn_e = NULL;
        int r;

        r = base64url_decode(n64, strlen(n64), &n, &n_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n_len == 0 || n_len > 2048 || n[0] == 0)
                return 1; /* no leading zero octets (RFC 7518 6.3.1.1) */
        r = base64url_decode(e64, strlen(e64), &e, &e_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || e_len == 0 || e_len > 8)
                return 1;

        r = -ENOMEM;
        bn_n = BN_bin2bn(n, (int) n_len, NULL);
        bn_e = BN_bin2bn(e, (int) e_len, NULL);
        if (!bn_n || !bn_e)
                goto finish;
        if (BN_num_bits(bn_n) < NOTIFICATION_KEY_MIN_BITS || !BN_is_odd(bn_e) || BN_is_one(bn_e)) {
                r = 1;
                goto finish;
        }
        bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) || !(params = OSSL_PARAM_BLD_to_param(bld)))
                goto finish;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0)
                goto finish;
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                r = 1;
                goto finish;
        }
        *ret = pkey;
        r = 0;
finish:
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn_n);
        BN_free(bn_e);
        return r;
}

int key_set_parse(const char *json, size_t len, KeySet **ret, char **ret_reason) {
        _cleanup_(key_set_freep) KeySet *k = NULL;
        _cleanup_json_ json_object *root = NULL;
        json_object *keys;

        if (len > NOTIFICATION_JWKS_MAX_BYTES)
                return set_reason(ret_reason, "The key set document is too large.");
        if (!json_text_is_valid(json, len, JSON_MAX_DEPTH))
                return set_reason(ret_reason, "The key set document is not JSON.");
        json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, json, (int) len);
        json_tokener_free(tok);
        if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "keys", &keys) ||
            !json_object_is_type(keys, json_type_array))
                return set_reason(ret_reason, "The key set document has no \"keys\" array.");

        k = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        size_t n = json_object_array_length(keys);
        for (size_t i = 0; i < n && k->n < NOTIFICATION_JWKS_MAX_KEYS; i++) {
                json_object *jwk = json_object_array_get_idx(keys, i);
                const char *kty, *kid, *use, *alg, *n64, *e64;
                EVP_PKEY *pkey = NULL;
                int r;

                if (!json_object_is_type(jwk, json_type_object))
                        continue;
                kty = member_string(jwk, "kty");
                kid = member_string(jwk, "kid");
                use = member_string(jwk, "use");
                alg = member_string(jwk, "alg");
                n64 = member_string(jwk, "n");
                e64 = member_string(jwk, "e");
                if (!streq_ptr(kty, "RSA") || isempty(kid) || strlen(kid) > 256 || !n64 || !e64 ||
                    (use && !streq(use, "sig")) || (alg && !streq(alg, "RS256")) || key_set_find(k, kid))
                        continue;
                r = rsa_key_from_jwk(n64, e64, &pkey);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                k->keys[k->n].kid = strdup(kid);
                if (!k->keys[k->n].kid) {
                        EVP_PKEY_free(pkey);
                        return -ENOMEM;
                }
                k->keys[k->n++].pkey = pkey;
        }
        if (k->n == 0)
                return set_reason(ret_reason, "The key set has no usable RSA signing key (RS256, at least 2048 bits).");
        *ret = TAKE_PTR(k);
        return 0;
}

/* ---- tokens ------------------------------------------------------------------------- */

TokenReason notification_token_from_header(const char *header, const char **ret, size_t *ret_len) {
        const char *p;

        if (isempty(header))
                return TOKEN_MISSING;
        if (strncasecmp(header, "Bearer ", 7) != 0)
                return TOKEN_MALFORMED;
        p = header + 7;
        p += strspn(p, " ");
        if (*p == '\0')
                return TOKEN_MISSING;
        *ret = p;
        *ret_len = strlen(p);
        return TOKEN_OK;
}

/* Header members that carry or point at a key, or ask for semantics we do not implement:
 * a token must never bring its own key (RFC 8725 3.10), and "crit" must be understood or the
 * token refused (RFC 7515 4.1.11). */
static const char *const refused_header_members[] = { "jwk", "jku", "x5u", "x5c", "crit", NULL };

static int check_header(json_object *h, const KeySet *keys, EVP_PKEY **ret_key) {
        const char *alg = member_string(h, "alg"), *kid;

        if (!streq_ptr(alg, "RS256"))
                return TOKEN_UNSUPPORTED_ALGORITHM;
        for (size_t i = 0; refused_header_members[i]; i++)
                if (json_object_object_get_ex(h, refused_header_members[i], NULL))
                        return TOKEN_UNSUPPORTED_ALGORITHM;
        kid = member_string(h, "kid");
        *ret_key = key_set_find(keys, kid);
        return *ret_key ? TOKEN_OK : TOKEN_UNKNOWN_KEY;
}

static int verify_signature(EVP_PKEY *key, const char *input, size_t input_len, const char *sig64, size_t sig64_len) {
        _cleanup_free_ uint8_t *sig = NULL;
        size_t sig_len;
        EVP_MD_CTX *md;
        int r;

        r = base64url_decode(sig64, sig64_len, &sig, &sig_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return TOKEN_BAD_SIGNATURE; /* a cut or altered signature, whichever way it decodes */
        /* RSASSA-PKCS1-v1_5 signatures are exactly as long as the modulus. */
        if (sig_len != (size_t) EVP_PKEY_get_size(key))
                return TOKEN_BAD_SIGNATURE;
        md = EVP_MD_CTX_new();
        if (!md)
                return -ENOMEM;
        r = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
                            EVP_DigestVerify(md, sig, sig_len, (const unsigned char *) input, input_len) == 1
                    ? TOKEN_OK
                    : TOKEN_BAD_SIGNATURE;
        EVP_MD_CTX_free(md);
        return r;
}

/* A NumericDate claim: an integer, or a number with a fraction (RFC 7519 2). 1: present,
 * 0: absent, -1: not a number. */
static int numeric_date(json_object *claims, const char *key, int64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(claims, key, &v) || !v)
                return 0;
        if (json_object_is_type(v, json_type_int)) {
                *ret = json_object_get_int64(v);
                return 1;
        }
        if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                if (!(d > -9e15 && d < 9e15))
                        return -1;
                *ret = (int64_t) d;
                return 1;
        }
        return -1;
}

static bool audience_matches(json_object *claims, const char *audience) {
        json_object *aud;

        if (!audience || !json_object_object_get_ex(claims, "aud", &aud) || !aud)
                return false;
        if (json_object_is_type(aud, json_type_string))
                return strcaseeq(json_object_get_string(aud), audience);
        if (json_object_is_type(aud, json_type_array)) {
                size_t n = json_object_array_length(aud);
                for (size_t i = 0; i < n; i++) {
                        json_object *a = json_object_array_get_idx(aud, i);
                        if (json_object_is_type(a, json_type_string) && strcaseeq(json_object_get_string(a), audience))
                                return true;
                }
        }
        return false;
}

static int check_claims(json_object *claims, const TokenPolicy *p, const char **ret_tid) {
        const char *iss = member_string(claims, "iss"), *tid;
        bool known = false;
        int64_t exp = 0, nbf = 0;
        int r;

        for (size_t i = 0; iss && p->issuers && p->issuers[i]; i++)
                if (streq(iss, p->issuers[i]))
                        known = true;
        if (!known)
                return TOKEN_WRONG_ISSUER;
        if (!audience_matches(claims, p->audience))
                return TOKEN_WRONG_AUDIENCE;
        r = numeric_date(claims, "exp", &exp);
        if (r < 0)
                return TOKEN_MALFORMED;
        if (r == 0 || exp <= p->now - p->clock_skew)
                return TOKEN_EXPIRED; /* a token without exp would be good for ever */
        r = numeric_date(claims, "nbf", &nbf);
        if (r < 0)
                return TOKEN_MALFORMED;
        if (r > 0 && nbf > p->now + p->clock_skew)
                return TOKEN_NOT_YET_VALID;
        tid = member_string(claims, "tid");
        if (isempty(tid))
                return TOKEN_NO_TENANT;
        if (!p->tenant_allowed || !p->tenant_allowed(tid, p->userdata))
                return TOKEN_TENANT_NOT_ALLOWED;
        *ret_tid = tid;
        return TOKEN_OK;
}

int notification_token_verify(const char *token, size_t len, const KeySet *keys, const TokenPolicy *p,
                              char **ret_tenant) {
        _cleanup_json_ json_object *header = NULL, *claims = NULL;
        const char *dot1, *dot2, *tid = NULL;
        EVP_PKEY *key = NULL;
        bool oom = false;
        int r;

        if (!token || len == 0)
                return TOKEN_MISSING;
        if (len > NOTIFICATION_TOKEN_MAX_BYTES)
                return TOKEN_TOO_LARGE;
        if (memchr(token, '\0', len))
                return TOKEN_MALFORMED;
        dot1 = memchr(token, '.', len);
        if (!dot1)
                return TOKEN_MALFORMED;
        dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
        /* Exactly three parts: a fourth would be a JWE, which we do not take. */
        if (!dot2 || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)))
                return TOKEN_MALFORMED;

        header = decode_json_part(token, (size_t) (dot1 - token), &oom);
        if (!header)
                return oom ? -ENOMEM : TOKEN_MALFORMED;
        claims = decode_json_part(dot1 + 1, (size_t) (dot2 - dot1 - 1), &oom);
        if (!claims)
                return oom ? -ENOMEM : TOKEN_MALFORMED;

        r = check_header(header, keys, &key);
        if (r != TOKEN_OK)
                return r;
        r = verify_signature(key, token, (size_t) (dot2 - token), dot2 + 1, len - (size_t) (dot2 + 1 - token));
        if (r != TOKEN_OK)
                return r;
        r = check_claims(claims, p, &tid);
        if (r != TOKEN_OK)
                return r;
        if (ret_tenant) {
                char *t = strdup(tid);
                if (!t)
                        return -ENOMEM;
                *ret_tenant = t;
        }
        return TOKEN_OK;
}
