/* SPDX-License-Identifier: MIT */
/*
 * check_jwt.c — certificate credentials without a network: the x5t#S256 thumbprint against
 * what the openssl command computes, the exact header and claims of a client assertion, its
 * PS256 signature checked independently with libcrypto, fresh jti values, the PEM forms that
 * are accepted or refused, and the token request body that carries the assertion. The keys
 * and certificates are made once per run with the openssl command.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "graph.h"
#include "identity.h"
#include "jwt.h"
#include "util.h"

#define AUD "https://login.example.test/contoso-tenant/oauth2/v2.0/token"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define JTI "0f0e0d0c-0b0a-4908-8706-050403020100"

static char dir[64];

static void run(const char *fmt, ...) _printf_(1, 2);

static void run(const char *fmt, ...) {
        char cmd[2048], full[2300];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        snprintf(full, sizeof full, "cd '%s' && { %s; } >/dev/null 2>>openssl.log", dir, cmd);
        if (system(full) != 0) {
                fprintf(stderr, "command failed: %s\n", cmd);
                exit(EXIT_FAILURE);
        }
}

static char *slurp(const char *name) {
        char path[256];
        char *buf = NULL;
        size_t n = 0;
        FILE *f, *m;
        char chunk[4096];
        size_t k;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "re");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        m = open_memstream(&buf, &n);
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                fwrite(chunk, 1, k, m);
        fclose(f);
        fclose(m);
        return buf;
}

static JwtCredential *load(const char *cert_name, const char *key_name) {
        _cleanup_free_ char *cert = slurp(cert_name), *key = slurp(key_name), *reason = NULL;
        JwtCredential *c = NULL;
        int r = jwt_credential_new(cert, strlen(cert), key, strlen(key), &c, &reason);

        ck_assert_msg(r == 0, "%s/%s: %d %s", cert_name, key_name, r, strempty(reason));
        return c;
}

/* -EINVAL and the reason, for PEM text that must be refused. */
static char *refuse(const char *cert_name, const char *key_name) {
        _cleanup_free_ char *cert = slurp(cert_name), *key = slurp(key_name);
        JwtCredential *c = NULL;
        char *reason = NULL;

        ck_assert_int_eq(jwt_credential_new(cert, strlen(cert), key, strlen(key), &c, &reason), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(reason);
        return reason;
}

/* Base64url back to bytes, for looking inside the assertion (the test's own decoder, strict
 * about the alphabet and padding like a JWS consumer). */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *ret_len) {
        size_t padded = (len + 3) / 4 * 4;
        char *t = calloc(padded + 1, 1);
        unsigned char *out = calloc(padded, 1);
        int n;

        ck_assert_int_ne(len % 4, 1);
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                ck_assert_msg((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                      c == '_',
                              "character %c is not base64url", c);
                t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        for (size_t i = len; i < padded; i++)
                t[i] = '=';
        n = EVP_DecodeBlock(out, (unsigned char *) t, (int) padded);
        ck_assert_int_ge(n, 0);
        *ret_len = (size_t) n - (padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
        free(t);
        return out;
}

typedef struct Parts {
        char *header_json, *claims_json;
        unsigned char *sig;
        size_t sig_len;
        char *signing_input;
} Parts;

static void parts_done(Parts *p) {
        free(p->header_json);
        free(p->claims_json);
        free(p->sig);
        free(p->signing_input);
}

static Parts split(const char *jwt) {
        const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        Parts p = {};
        size_t n;

        ck_assert_ptr_nonnull(d1);
        ck_assert_ptr_nonnull(d2);
        ck_assert_ptr_null(strchr(d2 + 1, '.')); /* exactly three parts */
        ck_assert_ptr_null(strchr(jwt, '='));    /* no padding anywhere */
        p.header_json = (char *) b64url_decode(jwt, (size_t) (d1 - jwt), &n);
        p.header_json[n] = '\0';
        p.claims_json = (char *) b64url_decode(d1 + 1, (size_t) (d2 - d1 - 1), &n);
        p.claims_json[n] = '\0';
        p.sig = b64url_decode(d2 + 1, strlen(d2 + 1), &p.sig_len);
        p.signing_input = strndup(jwt, (size_t) (d2 - jwt));
        return p;
}

/* The PS256 check a relying party does, with libcrypto directly rather than through jwt.c. */
static bool verify_ps256(const char *cert_name, const char *input, const unsigned char *sig, size_t sig_len) {
        _cleanup_free_ char *pem = slurp(cert_name);
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        bool ok;

        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, X509_get0_pubkey(x)), 1);
        ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 0);
        ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 0);
        ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 0);
        ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *) input, strlen(input)) == 1;
        EVP_MD_CTX_free(md);
        X509_free(x);
        BIO_free(b);
        return ok;
}

static const char *member_string(json_object *j, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(j, key, &v), "no member %s", key);
        ck_assert_msg(json_object_is_type(v, json_type_string), "member %s is not a string", key);
        return json_object_get_string(v);
}

static int64_t member_int(json_object *j, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(j, key, &v), "no member %s", key);
        ck_assert_msg(json_object_is_type(v, json_type_int), "member %s is not an integer", key);
        return json_object_get_int64(v);
}

START_TEST(test_base64url) {
        static const struct {
                const char *in, *out;
        } v[] = {
                /* RFC 4648 section 10 vectors, without the padding. */
                { "", "" },         { "f", "Zg" },          { "fo", "Zm8" },       { "foo", "Zm9v" },
                { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
                /* The two characters that differ from base64. */
                { "\xfb\xff\xbf", "-_-_" },
        };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                _cleanup_free_ char *s = base64url_encode(v[i].in, strlen(v[i].in));
                ck_assert_str_eq(s, v[i].out);
        }
}
END_TEST

START_TEST(test_thumbprint_matches_openssl) {
        _cleanup_(jwt_credential_freep) JwtCredential *c = load("client.pem", "client.key");
        _cleanup_free_ char *expected = NULL;

        /* What the stand-in and the Entra portal do: SHA-256 over the DER certificate. */
        run("openssl x509 -in client.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | "
            "tr '+/' '-_' | tr -d '=\\n' >x5t.txt");
        expected = slurp("x5t.txt");
        ck_assert_int_eq(strlen(expected), 43);
        ck_assert_str_eq(jwt_credential_thumbprint(c), expected);
        ck_assert(jwt_credential_key_matches(c));

        /* -days 30 */
        int64_t left = jwt_credential_not_after(c) - (int64_t) time(NULL);
        ck_assert_int_gt(left, 29 * 86400);
        ck_assert_int_le(left, 30 * 86400 + 60);
}
END_TEST

START_TEST(test_assertion_exact) {
        _cleanup_(jwt_credential_freep) JwtCredential *c = load("client.pem", "client.key");
        _cleanup_erase_ char *jwt = NULL;
        const int64_t now = 1795734000;
        json_object *h, *cl;

        ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c), CLIENT_ID, AUD,
                                              now, JTI, &jwt),
                         0);
        Parts p = split(jwt);

        /* The exact text, member order included: nothing but what reference 5.2 lists, and the
         * aud URL with its slashes as they are. */
        char expect_header[128];
        snprintf(expect_header, sizeof expect_header, "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                 jwt_credential_thumbprint(c));
        ck_assert_str_eq(p.header_json, expect_header);
        ck_assert_str_eq(p.claims_json, "{\"aud\":\"" AUD "\",\"iss\":\"" CLIENT_ID "\",\"sub\":\"" CLIENT_ID
                                        "\",\"jti\":\"" JTI "\",\"nbf\":1795734000,\"iat\":1795734000,"
                                        "\"exp\":1795734600}");

        /* The same, member by member, as a JSON consumer sees it. */
        h = json_tokener_parse(p.header_json);
        cl = json_tokener_parse(p.claims_json);
        ck_assert_int_eq(json_object_object_length(h), 3);
        ck_assert_str_eq(member_string(h, "alg"), "PS256");
        ck_assert_str_eq(member_string(h, "typ"), "JWT");
        ck_assert_str_eq(member_string(h, "x5t#S256"), jwt_credential_thumbprint(c));
        ck_assert_int_eq(json_object_object_length(cl), 7);
        ck_assert_str_eq(member_string(cl, "aud"), AUD);
        ck_assert_str_eq(member_string(cl, "iss"), CLIENT_ID);
        ck_assert_str_eq(member_string(cl, "sub"), CLIENT_ID);
        ck_assert_str_eq(member_string(cl, "jti"), JTI);
        ck_assert_int_eq(member_int(cl, "nbf"), now);
        ck_assert_int_eq(member_int(cl, "iat"), now);
        ck_assert_int_eq(member_int(cl, "exp"), now + 600);
        json_object_put(h);
        json_object_put(cl);

        /* RSA 2048: a 256-byte signature that the certificate's public key accepts. */
        ck_assert_int_eq(p.sig_len, 256);
        ck_assert(verify_ps256("client.pem", p.signing_input, p.sig, p.sig_len));
        /* …and only for exactly this input. */
        p.signing_input[strlen(p.signing_input) - 1] ^= 1;
        ck_assert(!verify_ps256("client.pem", p.signing_input, p.sig, p.sig_len));
        parts_done(&p);
}
END_TEST

START_TEST(test_assertion_verified_by_openssl_command) {
        _cleanup_(jwt_credential_freep) JwtCredential *c = load("client.pem", "client.key");
        _cleanup_erase_ char *jwt = NULL;
        FILE *f;
        char path[128];

        ck_assert_int_eq(jwt_credential_assertion(c, CLIENT_ID, AUD, &jwt), 0);
        Parts p = split(jwt);

        /* The stand-in's way of checking, so the two verifiers cannot drift apart. */
        snprintf(path, sizeof path, "%s/input", dir);
        f = fopen(path, "we");
        fputs(p.signing_input, f);
        fclose(f);
        snprintf(path, sizeof path, "%s/sig", dir);
        f = fopen(path, "we");
        fwrite(p.sig, 1, p.sig_len, f);
        fclose(f);
        run("openssl x509 -in client.pem -noout -pubkey >pub.pem && "
            "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify pub.pem "
            "-signature sig input");
        parts_done(&p);
}
END_TEST

START_TEST(test_fresh_jti_and_time) {
        _cleanup_(jwt_credential_freep) JwtCredential *c = load("client.pem", "client.key");
        _cleanup_erase_ char *a = NULL, *b = NULL;
        int64_t before = (int64_t) time(NULL);

        ck_assert_int_eq(jwt_credential_assertion(c, CLIENT_ID, AUD, &a), 0);
        ck_assert_int_eq(jwt_credential_assertion(c, CLIENT_ID, AUD, &b), 0);
        int64_t after = (int64_t) time(NULL);
        Parts pa = split(a), pb = split(b);
        json_object *ca = json_tokener_parse(pa.claims_json), *cb = json_tokener_parse(pb.claims_json);

        ck_assert_int_eq(strlen(member_string(ca, "jti")), 36);
        ck_assert_str_ne(member_string(ca, "jti"), member_string(cb, "jti"));
        int64_t nbf = member_int(ca, "nbf");
        ck_assert_int_ge(nbf, before);
        ck_assert_int_le(nbf, after);
        ck_assert_int_eq(member_int(ca, "iat"), nbf);
        ck_assert_int_eq(member_int(ca, "exp"), nbf + JWT_ASSERTION_LIFETIME_SEC);
        /* PSS is randomised: even the same input would get another signature. */
        ck_assert(pa.sig_len != pb.sig_len || memcmp(pa.sig, pb.sig, pa.sig_len) != 0);
        json_object_put(ca);
        json_object_put(cb);
        parts_done(&pa);
        parts_done(&pb);
}
END_TEST

START_TEST(test_pem_forms) {
        /* Key before certificate in one file, and the traditional "RSA PRIVATE KEY" form. */
        _cleanup_(jwt_credential_freep) JwtCredential *a = load("combined.pem", "combined.pem");
        _cleanup_(jwt_credential_freep) JwtCredential *b = load("client.pem", "client-traditional.key");
        _cleanup_(jwt_credential_freep) JwtCredential *c = load("client.pem", "client.key");

        ck_assert_str_eq(jwt_credential_thumbprint(a), jwt_credential_thumbprint(c));
        ck_assert(jwt_credential_key_matches(a));
        ck_assert(jwt_credential_key_matches(b));

        /* The key of another certificate loads (the platform gives the verdict) but is flagged. */
        _cleanup_(jwt_credential_freep) JwtCredential *d = load("client.pem", "other.key");
        ck_assert(!jwt_credential_key_matches(d));
}
END_TEST

START_TEST(test_pem_refused) {
        _cleanup_free_ char *r1 = refuse("client.key", "client.key");
        ck_assert_ptr_nonnull(strstr(r1, "no PEM certificate"));
        _cleanup_free_ char *r2 = refuse("client.pem", "client.pem");
        ck_assert_ptr_nonnull(strstr(r2, "no PEM private key"));
        _cleanup_free_ char *r3 = refuse("client.pem", "encrypted.key");
        ck_assert_ptr_nonnull(strstr(r3, "passphrase"));
        _cleanup_free_ char *r4 = refuse("ec.pem", "ec.key");
        ck_assert_ptr_nonnull(strstr(r4, "not an RSA key"));
        _cleanup_free_ char *r5 = refuse("small.pem", "small.key");
        ck_assert_ptr_nonnull(strstr(r5, "2048"));

        /* The reason is optional. */
        JwtCredential *c = NULL;
        ck_assert_int_eq(jwt_credential_new("x", 1, "y", 1, &c, NULL), -EINVAL);
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_token_request_body_assertion) {
        _cleanup_erase_ char *body = NULL;

        ck_assert_int_eq(token_request_body_assertion(CLIENT_ID, "aGVhZA.Y2xhaW1z.c2ln-_", "https://graph.microsoft.com/.default",
                                                      &body),
                         0);
        ck_assert_str_eq(body, "client_id=" CLIENT_ID "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
                               "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                               "&client_assertion=aGVhZA.Y2xhaW1z.c2ln-_&grant_type=client_credentials");
        ck_assert_ptr_null(strstr(body, "client_secret"));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("jwt");
        TCase *tc = tcase_create("jwt");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_base64url);
        tcase_add_test(tc, test_thumbprint_matches_openssl);
        tcase_add_test(tc, test_assertion_exact);
        tcase_add_test(tc, test_assertion_verified_by_openssl_command);
        tcase_add_test(tc, test_fresh_jti_and_time);
        tcase_add_test(tc, test_pem_forms);
        tcase_add_test(tc, test_pem_refused);
        tcase_add_test(tc, test_token_request_body_assertion);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        char cmd[128];

        snprintf(dir, sizeof dir, "/tmp/mediacancel-jwt-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        run("openssl req -x509 -newkey rsa:2048 -nodes -sha256 -keyout client.key -out client.pem "
            "-subj /CN=mediacancel-jwt-test -days 30");
        run("cat client.key client.pem >combined.pem");
        run("openssl pkey -in client.key -traditional -out client-traditional.key");
        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key");
        run("openssl pkey -in client.key -aes256 -passout pass:secret -out encrypted.key");
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem "
            "-subj /CN=ec -days 1");
        run("openssl req -x509 -newkey rsa:1024 -nodes -keyout small.key -out small.pem -subj /CN=small -days 1");

        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
