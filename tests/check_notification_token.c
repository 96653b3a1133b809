/* SPDX-License-Identifier: MIT */
/*
 * check_notification_token.c — the notification token verifier and the key set, without a
 * network: RSA keys made at run time with libcrypto, a JWKS built from them, tokens signed
 * here, and one test per reason a token is refused, plus the good token, the Bearer header
 * forms and the JWKS documents that are refused or partly skipped.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "jwt.h"
#include "notification-token.h"
#include "string-util.h"
#include "util.h"

#define AUD "11111111-2222-3333-4444-555555555555"
#define ISS "https://api.botframework.com"
#define TID "contoso-tenant"
#define NOW 1900000000LL

static EVP_PKEY *key_a, *key_b, *key_small;

static EVP_PKEY *make_key(unsigned bits) {
        EVP_PKEY *k = EVP_RSA_gen(bits);
        if (!k) {
                fprintf(stderr, "cannot make an RSA-%u key\n", bits);
                exit(EXIT_FAILURE);
        }
        return k;
}

static char *b64_bn(EVP_PKEY *k, const char *name) {
        BIGNUM *bn = NULL;
        ck_assert(EVP_PKEY_get_bn_param(k, name, &bn) == 1);
        int n = BN_num_bytes(bn);
        unsigned char *buf = malloc((size_t) n);
        BN_bn2bin(bn, buf);
        char *s = base64url_encode(buf, (size_t) n);
        free(buf);
        BN_free(bn);
        return s;
}

static char *jwk(EVP_PKEY *k, const char *kid, const char *extra) {
        _cleanup_free_ char *n = b64_bn(k, OSSL_PKEY_PARAM_RSA_N), *e = b64_bn(k, OSSL_PKEY_PARAM_RSA_E);
        return strprintf("{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, n, e,
                         extra ?: "");
}

static KeySet *keys_of(const char *doc) {
        KeySet *ks = NULL;
        _cleanup_free_ char *why = NULL;
        int r = key_set_parse(doc, strlen(doc), &ks, &why);
        ck_assert_msg(r == 0, "key_set_parse: %d %s", r, strempty(why));
        return ks;
}

/* The standard key set: key_a as "a", key_b as "b". */
static KeySet *standard_keys(void) {
        _cleanup_free_ char *a = jwk(key_a, "a", NULL), *b = jwk(key_b, "b", ",\"alg\":\"RS256\"");
        _cleanup_free_ char *doc = strprintf("{\"keys\":[%s,%s]}", a, b);
        return keys_of(doc);
}

static char *b64_text(const char *s) {
        return base64url_encode(s, strlen(s));
}

static char *rs256_sign(EVP_PKEY *k, const char *input) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        size_t len = 0;
        ck_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
        ck_assert(EVP_DigestSign(md, NULL, &len, (const unsigned char *) input, strlen(input)) == 1);
        unsigned char *sig = malloc(len);
        ck_assert(EVP_DigestSign(md, sig, &len, (const unsigned char *) input, strlen(input)) == 1);
        EVP_MD_CTX_free(md);
        char *s = base64url_encode(sig, len);
        free(sig);
        return s;
}

/* header and claims as JSON text; signed with k (NULL: an empty signature). */
static char *token(const char *header, const char *claims, EVP_PKEY *k) {
        _cleanup_free_ char *h = b64_text(header), *c = b64_text(claims);
        _cleanup_free_ char *input = strprintf("%s.%s", h, c);
        _cleanup_free_ char *sig = k ? rs256_sign(k, input) : strdup("");
        return strprintf("%s.%s", input, sig);
}

static char *claims_with(const char *iss, const char *aud, long long exp, long long nbf, const char *tid) {
        char t[128] = "";
        if (tid)
                snprintf(t, sizeof t, ",\"tid\":\"%s\"", tid);
        return strprintf("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld%s}", iss, aud, nbf, nbf,
                         exp, t);
}

static char *good_claims(void) {
        return claims_with(ISS, AUD, NOW + 3600, NOW - 60, TID);
}

static bool tenant_allowed(const char *tid, void *userdata) {
        (void) userdata;
        return strcasecmp(tid, TID) == 0;
}

static const char *const issuers[] = { ISS, "https://graph.microsoft.com", NULL };

static const TokenPolicy policy = {
        .issuers = issuers,
        .audience = AUD,
        .now = NOW,
        .clock_skew = 300,
        .tenant_allowed = tenant_allowed,
};

static int verify(const KeySet *ks, const char *t, char **ret_tid) {
        return notification_token_verify(t, strlen(t), ks, &policy, ret_tid);
}

#define HEADER_A "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"a\"}"

static void expect(const char *header, const char *claims, EVP_PKEY *k, TokenReason want) {
        _cleanup_(key_set_freep) KeySet *ks = standard_keys();
        _cleanup_free_ char *t = token(header, claims, k), *tid = NULL;
        int r = verify(ks, t, &tid);
        ck_assert_msg(r == (int) want, "%s %s: got %s, want %s", header, claims, token_reason_to_string(r),
                      token_reason_to_string(want));
        if (want != TOKEN_OK)
                ck_assert_ptr_null(tid);
}

START_TEST(test_good) {
        _cleanup_(key_set_freep) KeySet *ks = standard_keys();
        _cleanup_free_ char *c = good_claims(), *t = token(HEADER_A, c, key_a), *tid = NULL;

        ck_assert_int_eq(key_set_count(ks), 2);
        ck_assert_int_eq(verify(ks, t, &tid), TOKEN_OK);
        ck_assert_str_eq(tid, TID);
        /* The other key, the other issuer, aud in an array, a fractional exp. */
        _cleanup_free_ char *t2 = token("{\"alg\":\"RS256\",\"kid\":\"b\"}",
                                        "{\"iss\":\"https://graph.microsoft.com\",\"aud\":[\"x\",\"" AUD "\"],"
                                        "\"exp\":1900003600.5,\"tid\":\"CONTOSO-TENANT\"}",
                                        key_b);
        ck_assert_int_eq(verify(ks, t2, NULL), TOKEN_OK);
}
END_TEST

START_TEST(test_times) {
        _cleanup_free_ char *expired = claims_with(ISS, AUD, NOW - 301, NOW - 3600, TID),
                            *skewed_exp = claims_with(ISS, AUD, NOW - 299, NOW - 3600, TID),
                            *future = claims_with(ISS, AUD, NOW + 7200, NOW + 301, TID),
                            *skewed_nbf = claims_with(ISS, AUD, NOW + 7200, NOW + 299, TID);
        expect(HEADER_A, expired, key_a, TOKEN_EXPIRED);
        expect(HEADER_A, skewed_exp, key_a, TOKEN_OK);
        expect(HEADER_A, future, key_a, TOKEN_NOT_YET_VALID);
        expect(HEADER_A, skewed_nbf, key_a, TOKEN_OK);
        /* No exp at all is not a token that never expires. */
        expect(HEADER_A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"tid\":\"" TID "\"}", key_a, TOKEN_EXPIRED);
        expect(HEADER_A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"soon\",\"tid\":\"" TID "\"}", key_a,
               TOKEN_MALFORMED);
}
END_TEST

START_TEST(test_claims) {
        _cleanup_free_ char *aud = claims_with(ISS, "99999999-2222-3333-4444-555555555555", NOW + 3600, NOW, TID),
                            *iss = claims_with("https://sts.windows.net/x/", AUD, NOW + 3600, NOW, TID),
                            *no_tid = claims_with(ISS, AUD, NOW + 3600, NOW, NULL),
                            *empty_tid = claims_with(ISS, AUD, NOW + 3600, NOW, ""),
                            *other = claims_with(ISS, AUD, NOW + 3600, NOW, "fabrikam-tenant");
        expect(HEADER_A, aud, key_a, TOKEN_WRONG_AUDIENCE);
        expect(HEADER_A, iss, key_a, TOKEN_WRONG_ISSUER);
        expect(HEADER_A, no_tid, key_a, TOKEN_NO_TENANT);
        expect(HEADER_A, empty_tid, key_a, TOKEN_NO_TENANT);
        expect(HEADER_A, other, key_a, TOKEN_TENANT_NOT_ALLOWED);
        expect(HEADER_A, "{\"aud\":\"" AUD "\",\"exp\":1900003600,\"tid\":\"" TID "\"}", key_a, TOKEN_WRONG_ISSUER);
}
END_TEST

START_TEST(test_keys_and_algorithms) {
        _cleanup_free_ char *c = good_claims();

        expect("{\"alg\":\"RS256\",\"kid\":\"zzz\"}", c, key_a, TOKEN_UNKNOWN_KEY);
        expect("{\"alg\":\"RS256\"}", c, key_a, TOKEN_UNKNOWN_KEY);
        /* Signed by b, claims to be a. */
        expect(HEADER_A, c, key_b, TOKEN_BAD_SIGNATURE);
        expect("{\"alg\":\"none\",\"kid\":\"a\"}", c, NULL, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS384\",\"kid\":\"a\"}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"PS256\",\"kid\":\"a\"}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"kid\":\"a\"}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS256\",\"kid\":\"a\",\"jwk\":{\"kty\":\"RSA\"}}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS256\",\"kid\":\"a\",\"jku\":\"https://evil.test/k\"}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS256\",\"kid\":\"a\",\"x5u\":\"https://evil.test/c\"}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS256\",\"kid\":\"a\",\"x5c\":[\"MII\"]}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
        expect("{\"alg\":\"RS256\",\"kid\":\"a\",\"crit\":[\"exp\"]}", c, key_a, TOKEN_UNSUPPORTED_ALGORITHM);
}
END_TEST

/* HS256 with the public key as the HMAC secret: the classic confusion attack. */
START_TEST(test_hs256_with_public_key) {
        _cleanup_(key_set_freep) KeySet *ks = standard_keys();
        _cleanup_free_ char *c = good_claims(), *h = b64_text("{\"alg\":\"HS256\",\"kid\":\"a\"}"), *p = b64_text(c);
        _cleanup_free_ char *input = strprintf("%s.%s", h, p), *n = b64_bn(key_a, OSSL_PKEY_PARAM_RSA_N);
        unsigned char mac[32];
        unsigned mac_len = 0;

        ck_assert(HMAC(EVP_sha256(), n, (int) strlen(n), (unsigned char *) input, strlen(input), mac, &mac_len));
        _cleanup_free_ char *sig = base64url_encode(mac, mac_len), *t = strprintf("%s.%s", input, sig);
        ck_assert_int_eq(verify(ks, t, NULL), TOKEN_UNSUPPORTED_ALGORITHM);
}
END_TEST

START_TEST(test_tampering) {
        _cleanup_(key_set_freep) KeySet *ks = standard_keys();
        _cleanup_free_ char *c = good_claims(), *t = token(HEADER_A, c, key_a);
        _cleanup_free_ char *other = claims_with(ISS, AUD, NOW + 3600, NOW - 60, "fabrikam-tenant"),
                            *t2 = token(HEADER_A, other, key_a);
        size_t len = strlen(t);

        /* The claims of one token with the signature of another. */
        char *dot = strrchr(t, '.'), *dot2 = strrchr(t2, '.');
        _cleanup_free_ char *swapped = strprintf("%.*s%s", (int) (dot2 - t2), t2, dot);
        ck_assert_int_eq(verify(ks, swapped, NULL), TOKEN_BAD_SIGNATURE);

        /* Truncated signatures: a whole group of four, and one character. */
        _cleanup_free_ char *cut = strndup(t, len - 4);
        ck_assert_int_eq(verify(ks, cut, NULL), TOKEN_BAD_SIGNATURE);
        _cleanup_free_ char *cut1 = strndup(t, len - 1);
        ck_assert_int_eq(verify(ks, cut1, NULL), TOKEN_BAD_SIGNATURE);

        /* One flipped signature character. */
        _cleanup_free_ char *flip = strdup(t);
        flip[len - 10] = flip[len - 10] == 'A' ? 'B' : 'A';
        ck_assert_int_eq(verify(ks, flip, NULL), TOKEN_BAD_SIGNATURE);

        /* No signature at all. */
        _cleanup_free_ char *bare = strndup(t, (size_t) (dot - t + 1));
        ck_assert_int_eq(verify(ks, bare, NULL), TOKEN_BAD_SIGNATURE);

        /* No key set. */
        ck_assert_int_eq(notification_token_verify(t, len, NULL, &policy, NULL), TOKEN_UNKNOWN_KEY);
}
END_TEST

START_TEST(test_malformed_and_size) {
        _cleanup_(key_set_freep) KeySet *ks = standard_keys();
        static const char *const bad[] = {
                "abc",        "a.b",      "a.b.c.d",     "....",         "e30=.e30.x",
                "!!!.e30.AA", "W10.e30.", "e30.W10.AA",  "e30 .e30.AA",  "e30.e30x.AA", "bnVsbA.e30.",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = verify(ks, bad[i], NULL);
                ck_assert_msg(r == TOKEN_MALFORMED, "%s: %s", bad[i], token_reason_to_string(r));
        }
        ck_assert_int_eq(verify(ks, "e30.e30.", NULL), TOKEN_UNSUPPORTED_ALGORITHM);
        ck_assert_int_eq(notification_token_verify("", 0, ks, &policy, NULL), TOKEN_MISSING);
        ck_assert_int_eq(notification_token_verify("a\0b.c.d", 7, ks, &policy, NULL), TOKEN_MALFORMED);

        /* The limit, at its edge: a token of exactly the maximum is read (and found malformed:
         * one part), one byte more is refused unread. */
        char *big = malloc(NOTIFICATION_TOKEN_MAX_BYTES + 2);
        memset(big, 'A', NOTIFICATION_TOKEN_MAX_BYTES);
        big[NOTIFICATION_TOKEN_MAX_BYTES] = '\0';
        ck_assert_int_eq(verify(ks, big, NULL), TOKEN_MALFORMED);
        memset(big, 'A', NOTIFICATION_TOKEN_MAX_BYTES + 1);
        big[NOTIFICATION_TOKEN_MAX_BYTES + 1] = '\0';
        ck_assert_int_eq(verify(ks, big, NULL), TOKEN_TOO_LARGE);
        free(big);
}
END_TEST

START_TEST(test_header_forms) {
        const char *t = NULL;
        size_t n = 0;

        ck_assert_int_eq(notification_token_from_header("Bearer abc.def.ghi", &t, &n), TOKEN_OK);
        ck_assert_int_eq(n, 11);
        ck_assert(strncmp(t, "abc.def.ghi", n) == 0);
        ck_assert_int_eq(notification_token_from_header("bearer   x", &t, &n), TOKEN_OK);
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(notification_token_from_header(NULL, &t, &n), TOKEN_MISSING);
        ck_assert_int_eq(notification_token_from_header("", &t, &n), TOKEN_MISSING);
        ck_assert_int_eq(notification_token_from_header("Bearer ", &t, &n), TOKEN_MISSING);
        ck_assert_int_eq(notification_token_from_header("Basic dXNlcjpwdw==", &t, &n), TOKEN_MALFORMED);
        ck_assert_int_eq(notification_token_from_header("abc.def.ghi", &t, &n), TOKEN_MALFORMED);
}
END_TEST

START_TEST(test_key_set_documents) {
        KeySet *ks = NULL;
        _cleanup_free_ char *why = NULL;
        _cleanup_free_ char *small = jwk(key_small, "small", NULL), *a = jwk(key_a, "a", NULL),
                            *enc = jwk(key_b, "enc", NULL);
        /* use:"enc" instead of "sig". */
        char *u = strstr(enc, "\"sig\"");
        memcpy(u, "\"enc\"", 5);

        static const char *const refused[] = { "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":[1,\"x\"]}",
                                               "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\"}]}", "{\"keys\":[" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                int r = key_set_parse(refused[i], strlen(refused[i]), &ks, &why);
                ck_assert_msg(r == -EINVAL, "%s: %d", refused[i], r);
                ck_assert_ptr_nonnull(why);
                why = mfree(why);
        }
        /* Only small or wrong-use keys: none usable. */
        _cleanup_free_ char *only_small = strprintf("{\"keys\":[%s,%s]}", small, enc);
        ck_assert_int_eq(key_set_parse(only_small, strlen(only_small), &ks, NULL), -EINVAL);

        /* Skipped ones do not hide the good one; unknown members are ignored; a kid twice keeps the first. */
        _cleanup_free_ char *a2 = jwk(key_b, "a", NULL);
        _cleanup_free_ char *mixed = strprintf("{\"keys\":[%s,{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"AAAA\"},%s,%s,%s],"
                                               "\"other\":true}",
                                               small, enc, a, a2);
        ks = keys_of(mixed);
        ck_assert_int_eq(key_set_count(ks), 1);
        ck_assert_ptr_nonnull(key_set_find(ks, "a"));
        ck_assert_ptr_null(key_set_find(ks, "small"));
        ck_assert_ptr_null(key_set_find(ks, "enc"));
        ck_assert_ptr_null(key_set_find(ks, "h"));
        _cleanup_free_ char *c = good_claims(), *t = token(HEADER_A, c, key_a), *tb = token(HEADER_A, c, key_b);
        ck_assert_int_eq(verify(ks, t, NULL), TOKEN_OK);
        ck_assert_int_eq(verify(ks, tb, NULL), TOKEN_BAD_SIGNATURE);
        key_set_free(ks);
}
END_TEST

START_TEST(test_base64url_decode) {
        uint8_t *out = NULL;
        size_t n = 0;

        ck_assert_int_eq(base64url_decode("aGk", 3, &out, &n), 0);
        ck_assert_int_eq(n, 2);
        ck_assert(memcmp(out, "hi", 2) == 0);
        free(out);
        ck_assert_int_eq(base64url_decode("", 0, &out, &n), 0);
        ck_assert_int_eq(n, 0);
        free(out);
        ck_assert_int_eq(base64url_decode("aGl", 3, &out, &n), -EINVAL); /* stray bits */
        ck_assert_int_eq(base64url_decode("aGk=", 4, &out, &n), -EINVAL);
        ck_assert_int_eq(base64url_decode("a", 1, &out, &n), -EINVAL);
        ck_assert_int_eq(base64url_decode("a+b/", 4, &out, &n), -EINVAL);
}
END_TEST

START_TEST(test_reason_names) {
        for (int i = 0; i < _TOKEN_REASON_MAX; i++)
                ck_assert_ptr_nonnull(token_reason_to_string((TokenReason) i));
        ck_assert_str_eq(token_reason_to_string(TOKEN_EXPIRED), "expired");
        ck_assert_str_eq(token_reason_to_string(TOKEN_BAD_SIGNATURE), "badSignature");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("notification-token");
        TCase *tc = tcase_create("token");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_times);
        tcase_add_test(tc, test_claims);
        tcase_add_test(tc, test_keys_and_algorithms);
        tcase_add_test(tc, test_hs256_with_public_key);
        tcase_add_test(tc, test_tampering);
        tcase_add_test(tc, test_malformed_and_size);
        tcase_add_test(tc, test_header_forms);
        tcase_add_test(tc, test_key_set_documents);
        tcase_add_test(tc, test_base64url_decode);
        tcase_add_test(tc, test_reason_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        key_a = make_key(2048);
        key_b = make_key(2048);
        key_small = make_key(1024);

        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        EVP_PKEY_free(key_a);
        EVP_PKEY_free(key_b);
        EVP_PKEY_free(key_small);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
