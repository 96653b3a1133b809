/* SPDX-License-Identifier: MIT */
/*
 * jwt.c — see jwt.h. It owns everything the daemon does with libcrypto: parsing the app's
 * certificate and private key, the x5t#S256 thumbprint, and signing client assertions.
 *
 * PS256 (RSASSA-PSS with SHA-256) and x5t#S256 are what the current identity-platform
 * documentation asks for (reference 5.2); the older RS256 + SHA-1 x5t form is deliberately not
 * offered, so there is one code path to get right. JSON is produced with json-c, and slashes
 * are left unescaped: "https:\/\/…" would be valid JSON too, but the exact aud string is what
 * the identity platform compares and what people read when they decode an assertion.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base64url.h"
#include "jwt.h"
#include "util.h"
#include "json-util.h"

struct JwtCredential {
        EVP_PKEY *key;
        char *thumbprint; /* x5t#S256 */
        int64_t not_after;
        bool key_matches;
};

static void bio_freep(BIO **b) {
        BIO_free(*b);
}

static void x509_freep(X509 **x) {
        X509_free(*x);
}

static void evp_pkey_freep(EVP_PKEY **k) {
        EVP_PKEY_free(*k);
}

static void md_ctx_freep(EVP_MD_CTX **m) {
        EVP_MD_CTX_free(*m);
}

int jwt_x5t_s256(X509 *cert, char **ret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        char *s;

        /* X509_digest() hashes the DER encoding of the whole certificate, which is what the
         * thumbprint is defined over (not the public key, not the PEM text). */
        if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32) {
                ERR_clear_error();
                return -EINVAL;
        }
        s = base64url_encode(md, len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int set_reason(char **ret_reason, const char *reason) {
        if (ret_reason) {
                char *copy = strdup(reason);
                if (!copy)
                        return -ENOMEM;
                *ret_reason = copy;
        }
        return -EINVAL;
}

/* Never ask for a passphrase: without this callback libcrypto would prompt on the terminal.
 * Keys at rest are protected by file permissions or by systemd's encrypted credentials. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata) {
        bool *asked = userdata;

        (void) buf;
        (void) size;
        (void) rwflag;
        *asked = true;
        return -1;
}

static int asn1_time_to_unix(const ASN1_TIME *t, int64_t *ret) {
        struct tm tm = {};

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EINVAL;
        *ret = (int64_t) timegm(&tm);
        return 0;
}

int jwt_credential_new(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
                       JwtCredential **ret, char **ret_reason) {
        _cleanup_(bio_freep) BIO *cb = NULL, *kb = NULL;
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(evp_pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *thumbprint = NULL;
        bool asked = false;
        int64_t not_after;
        JwtCredential *c;
        int r;

        if (!cert_pem || !key_pem)
                return -EINVAL;
        if (cert_len > INT_MAX || key_len > INT_MAX)
                return set_reason(ret_reason, "the file is too large");
        cb = BIO_new_mem_buf(cert_pem, (int) cert_len);
        kb = BIO_new_mem_buf(key_pem, (int) key_len);
        if (!cb || !kb)
                return -ENOMEM;

        /* Both readers skip PEM blocks of other types, which is what lets one file hold the
         * certificate and the key in either order. */
        cert = PEM_read_bio_X509(cb, NULL, refuse_passphrase, &asked);
        if (!cert) {
                ERR_clear_error();
                return set_reason(ret_reason, "no PEM certificate (\"-----BEGIN CERTIFICATE-----\") could be read");
        }
        key = PEM_read_bio_PrivateKey(kb, NULL, refuse_passphrase, &asked);
        if (!key) {
                ERR_clear_error();
                return set_reason(ret_reason,
                                  asked ? "the private key is encrypted with a passphrase, which the daemon cannot "
                                          "ask for; store it unencrypted and protect the file (or use an encrypted "
                                          "systemd credential) instead"
                                        : "no PEM private key (\"-----BEGIN PRIVATE KEY-----\" or \"-----BEGIN RSA "
                                          "PRIVATE KEY-----\") could be read");
        }
        if (!EVP_PKEY_is_a(key, "RSA"))
                return set_reason(ret_reason, "the private key is not an RSA key; PS256 client assertions need RSA");
        if (EVP_PKEY_get_bits(key) < JWT_RSA_MIN_BITS)
                return set_reason(ret_reason, "the RSA key is shorter than 2048 bits, which the identity platform refuses");

        if (asn1_time_to_unix(X509_get0_notAfter(cert), &not_after) < 0)
                return set_reason(ret_reason, "the certificate's expiry date (notAfter) cannot be read");

        r = jwt_x5t_s256(cert, &thumbprint);
        if (r == -EINVAL)
                return set_reason(ret_reason, "the certificate's SHA-256 thumbprint cannot be computed");
        if (r < 0)
                return r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->key_matches = X509_check_private_key(cert, key) == 1;
        ERR_clear_error(); /* a mismatch leaves an error on the queue, and curl shares it */
        c->key = TAKE_PTR(key);
        c->thumbprint = TAKE_PTR(thumbprint);
        c->not_after = not_after;
        *ret = c;
        return 0;
}

JwtCredential *jwt_credential_free(JwtCredential *c) {
        if (!c)
                return NULL;
        /* EVP_PKEY_free() clears the private key's numbers before releasing them. */
        EVP_PKEY_free(c->key);
        free(c->thumbprint);
        free(c);
        return NULL;
}

const char *jwt_credential_thumbprint(const JwtCredential *c) {
        return c->thumbprint;
}

int64_t jwt_credential_not_after(const JwtCredential *c) {
        return c->not_after;
}

bool jwt_credential_key_matches(const JwtCredential *c) {
        return c->key_matches;
}

EVP_PKEY *jwt_credential_key(const JwtCredential *c) {
        return c->key;
}

static int add_string(json_object *o, const char *k, const char *v) {
        json_object *s = json_object_new_string(v);

        if (!s || json_object_object_add(o, k, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int add_int(json_object *o, const char *k, int64_t v) {
        json_object *n = json_object_new_int64(v);

        if (!n || json_object_object_add(o, k, n) < 0) {
                json_object_put(n);
                return -ENOMEM;
        }
        return 0;
}

static char *json_part(json_object *o) {
        size_t n;
        const char *s = json_to_text(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        return s ? base64url_encode(s, n) : NULL;
}

/* RSASSA-PSS over the signing input. The salt is as long as the digest (32 bytes): RFC 7518
 * section 3.5 fixes that for PS256, while libcrypto's own default would be the maximum. */
static int sign_ps256(EVP_PKEY *key, const char *input, unsigned char **ret, size_t *ret_len) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *md = NULL;
        EVP_PKEY_CTX *pctx = NULL; /* owned by md */
        unsigned char *sig;
        size_t len = 0;

        md = EVP_MD_CTX_new();
        if (!md)
                return -ENOMEM;
        if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
            EVP_DigestSign(md, NULL, &len, (const unsigned char *) input, strlen(input)) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        sig = malloc(len);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(md, sig, &len, (const unsigned char *) input, strlen(input)) != 1) {
                ERR_clear_error();
                free(sig);
                return -EIO;
        }
        *ret = sig;
        *ret_len = len;
        return 0;
}

int jwt_client_assertion(EVP_PKEY *key, const char *x5t_s256, const char *client_id, const char *aud,
                         int64_t now, const char *jti, char **ret) {
        _cleanup_json_ json_object *header = NULL, *claims = NULL;
        _cleanup_free_ char *h64 = NULL, *c64 = NULL, *input = NULL;
        _cleanup_erase_ char *s64 = NULL;
        unsigned char *sig = NULL;
        size_t sig_len = 0;
        char *jwt;
        int r;

        if (!key || !x5t_s256 || !client_id || !aud || !jti)
                return -EINVAL;

        header = json_object_new_object();
        claims = json_object_new_object();
        if (!header || !claims)
                return -ENOMEM;
        if ((r = add_string(header, "alg", "PS256")) < 0 || (r = add_string(header, "typ", "JWT")) < 0 ||
            (r = add_string(header, "x5t#S256", x5t_s256)) < 0)
                return r;
        /* iss and sub are both the application: the app asserts its own identity. */
        if ((r = add_string(claims, "aud", aud)) < 0 || (r = add_string(claims, "iss", client_id)) < 0 ||
            (r = add_string(claims, "sub", client_id)) < 0 || (r = add_string(claims, "jti", jti)) < 0 ||
            (r = add_int(claims, "nbf", now)) < 0 || (r = add_int(claims, "iat", now)) < 0 ||
            (r = add_int(claims, "exp", now + JWT_ASSERTION_LIFETIME_SEC)) < 0)
                return r;

        h64 = json_part(header);
        c64 = json_part(claims);
        if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
                input = NULL;
                return -ENOMEM;
        }

        r = sign_ps256(key, input, &sig, &sig_len);
        if (r < 0)
                return r;
        s64 = base64url_encode(sig, sig_len);
        OPENSSL_cleanse(sig, sig_len);
        free(sig);
        if (!s64)
                return -ENOMEM;

        if (asprintf(&jwt, "%s.%s", input, s64) < 0)
                return -ENOMEM;
        *ret = jwt;
        return 0;
}

int jwt_credential_assertion(const JwtCredential *c, const char *client_id, const char *aud, char **ret) {
        char jti[37];
        int r;

        /* A new jti for every assertion: the identity platform may refuse one it has seen. */
        r = uuid_random(jti);
        if (r < 0)
                return r;
        return jwt_client_assertion(c->key, c->thumbprint, client_id, aud,
                                    (int64_t) (now_usec(CLOCK_REALTIME) / UINT64_C(1000000)), jti, ret);
}
