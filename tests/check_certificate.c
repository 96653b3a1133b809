/* SPDX-License-Identifier: MIT */
/*
 * check_certificate.c — certificate credentials end to end, and the file rules for every
 * credential: the real mediacanceld signs client assertions that the stand-in verifies with
 * the openssl command; a wrong key, an expired certificate and an assertion outside its time
 * range are refused with the identity platform's codes; assertions the daemon would never send
 * (wrong audience or issuer, a tampered signature) are made here with jwt.c and posted
 * directly; secret and key files open to group or others, symlinks in their place, and a CA
 * bundle that someone else may write stop the daemon at start-up. The
 * last test case checks config_finalize()'s rules for choosing exactly one credential.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "graph.h"
#include "identity.h"
#include "harness.h"
#include "jwt.h"
#include "util.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
/* base64url of '{"alg":"PS256",' — the start of every assertion the daemon makes. */
#define ASSERTION_PREFIX "eyJhbGciOiJQUzI1NiIs"

static void cancel_completes(Harness *h) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");

        ck_assert_msg(jstr(r, "result.operation.status") != NULL, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        close(fd);
}

static void cancel_token_unavailable(Harness *h, const char *aadsts) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");

        ck_assert_msg(jint(r, "error.code") == -32002, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "TokenUnavailable");
        ck_assert_str_eq(jstr(r, "error.data.reason"), "invalid_client");
        ck_assert_str_eq(jstr(r, "error.data.aadsts"), aadsts);
        json_object_put(r);
        ck_assert_int_eq(standin_stat(h, "cancelRequests"), 0);
        close(fd);
}

static bool log_contains(Harness *h, const char *s) {
        char *log = read_file_text(h->daemon_log);
        bool found = strstr(log, s) != NULL;

        free(log);
        return found;
}

/* Runs the daemon in the foreground and returns its exit status and stderr. */
static int daemon_run_fails(Harness *h, char **ret_err) {
        char cmd[1024], path[320];
        int st;

        snprintf(path, sizeof path, "%s/start.err", h->dir);
        snprintf(cmd, sizeof cmd, "timeout 20 '%s/mediacanceld' --config '%s' 2>'%s'",
                 getenv("MEDIACANCEL_BUILDDIR") ?: ".", h->config_path, path);
        st = system(cmd);
        *ret_err = read_file_text(path);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_certificate_good) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_GOOD };
        char aud[128];

        harness_start(&h, &o);
        cancel_completes(&h);

        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "tokenRequests"), 1);
        ck_assert_int_eq(jint(st, "assertionsVerified"), 1);
        ck_assert_int_eq(jint(st, "assertionsRefused"), 0);
        snprintf(aud, sizeof aud, "https://127.0.0.1:%d/" HARNESS_TENANT "/oauth2/v2.0/token", h.port);
        ck_assert_str_eq(jstr(st, "assertions.0.aud"), aud);
        ck_assert_str_eq(jstr(st, "assertions.0.iss"), HARNESS_CLIENT_ID);
        ck_assert_str_eq(jstr(st, "assertions.0.sub"), HARNESS_CLIENT_ID);
        ck_assert_int_eq(jint(st, "assertions.0.exp") - jint(st, "assertions.0.nbf"), 600);
        char *jti = strdup(jstr(st, "assertions.0.jti"));
        json_object_put(st);

        /* Graph drops the token: the new token request carries a new assertion. */
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_completes(&h);
        st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "assertionsVerified"), 2);
        ck_assert_str_ne(jstr(st, "assertions.1.jti"), jti);
        json_object_put(st);
        free(jti);

        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "result.token.state"), "valid");
        json_object_put(r);
        close(fd);

        ck_assert(log_contains(&h, "Signing in with the certificate"));
        ck_assert(!log_contains(&h, "the certificate expire"));
        ck_assert(!log_contains(&h, ASSERTION_PREFIX)); /* no assertion is ever logged */
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_certificate_combined_pem) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_COMBINED };

        /* CertificateFile= alone, the key in the same file (before the certificate). */
        harness_start(&h, &o);
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "assertionsVerified"), 1);
        harness_stop(&h);
}
END_TEST

START_TEST(test_certificate_wrong_key) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_WRONG_KEY };

        harness_start(&h, &o);
        cancel_token_unavailable(&h, "AADSTS700027");
        ck_assert_int_ge(standin_stat(&h, "assertionsRefused"), 1);
        ck_assert_int_eq(standin_stat(&h, "assertionsVerified"), 0);
        /* The daemon saw it coming and named both files. */
        ck_assert(log_contains(&h, "does not belong to this certificate"));
        ck_assert(log_contains(&h, h.key_path));
        harness_stop(&h);
}
END_TEST

START_TEST(test_certificate_expired) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_EXPIRED };

        harness_start(&h, &o);
        cancel_token_unavailable(&h, "AADSTS700027");
        ck_assert_int_ge(standin_stat(&h, "assertionsRefused"), 1);
        ck_assert(log_contains(&h, "the certificate expired at 2020-01-02T00:00:00.000Z"));
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_time_range) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_GOOD, .no_daemon = true };

        /* The stand-in's clock runs an hour ahead: the daemon's ten-minute assertion has
         * already expired when it arrives. */
        harness_start(&h, &o);
        json_object_put(standin_post(&h, "/_standin/config", "{\"clockOffsetSec\":3600}"));
        harness_start_daemon(&h);
        cancel_token_unavailable(&h, "AADSTS700024");

        /* Clocks agree again; a reload gives a failed state a fresh attempt at once. */
        json_object_put(standin_post(&h, "/_standin/config", "{\"clockOffsetSec\":0}"));
        ck_assert_int_eq(kill(h.daemon_pid, SIGHUP), 0);
        for (int i = 0; i < 100 && standin_stat(&h, "assertionsVerified") < 1; i++)
                usleep(50 * 1000);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

/* Posts a hand-made token request to the stand-in and returns its answer. */
static json_object *post_assertion(Harness *h, const char *assertion) {
        _cleanup_erase_ char *body = NULL;
        char path[128], scope[128];

        snprintf(path, sizeof path, "/" HARNESS_TENANT "/oauth2/v2.0/token");
        snprintf(scope, sizeof scope, "https://graph.microsoft.com/.default");
        ck_assert_int_eq(token_request_body_assertion(HARNESS_CLIENT_ID, assertion, scope, &body), 0);
        return standin_post(h, path, body);
}

static void expect_aadsts(json_object *r, int code) {
        ck_assert_msg(jint(r, "error_codes.0") == code, "expected AADSTS%d: %s", code, json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error"), "invalid_client");
        json_object_put(r);
}

START_TEST(test_standin_refuses_bad_assertions) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_GOOD, .no_daemon = true };
        char aud[160], wrong_aud[160], jti[37];
        int64_t now = (int64_t) time(NULL);

        harness_start(&h, &o);
        char *cert = read_file_text(h.cert_path), *key = read_file_text(h.key_path);
        _cleanup_(jwt_credential_freep) JwtCredential *c = NULL;
        ck_assert_int_eq(jwt_credential_new(cert, strlen(cert), key, strlen(key), &c, NULL), 0);
        erase_and_free(key);
        free(cert);
        snprintf(aud, sizeof aud, "https://127.0.0.1:%d/" HARNESS_TENANT "/oauth2/v2.0/token", h.port);
        /* The audience of another tenant: a daemon configured right never makes this one. */
        snprintf(wrong_aud, sizeof wrong_aud, "https://127.0.0.1:%d/other-tenant/oauth2/v2.0/token", h.port);

        /* The control: a correct hand-made assertion is accepted, so the refusals below are
         * about the one thing each changes. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, aud, now, jti, &a),
                                 0);
                json_object *r = post_assertion(&h, a);
                ck_assert_msg(jstr(r, "access_token") != NULL, "%s", json_object_to_json_string(r));
                json_object_put(r);
        }
        /* Wrong audience: AADSTS50012. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, wrong_aud, now, jti, &a),
                                 0);
                expect_aadsts(post_assertion(&h, a), 50012);
        }
        /* The audience without the exact path (the older doc's ".../v2.0" form). */
        {
                _cleanup_erase_ char *a = NULL;
                char short_aud[160];
                snprintf(short_aud, sizeof short_aud, "https://127.0.0.1:%d/" HARNESS_TENANT "/v2.0", h.port);
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, short_aud, now, jti, &a),
                                 0);
                expect_aadsts(post_assertion(&h, a), 50012);
        }
        /* iss/sub of another application, with client_id still ours. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      "99999999-2222-3333-4444-555555555555", aud, now, jti, &a),
                                 0);
                expect_aadsts(post_assertion(&h, a), 50012);
        }
        /* A thumbprint the app registration does not have: AADSTS700027. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                                      HARNESS_CLIENT_ID, aud, now, jti, &a),
                                 0);
                expect_aadsts(post_assertion(&h, a), 700027);
        }
        /* A tampered signature: AADSTS700027. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, aud, now, jti, &a),
                                 0);
                char *last = a + strlen(a) - 2;
                *last = *last == 'A' ? 'B' : 'A';
                expect_aadsts(post_assertion(&h, a), 700027);
        }
        /* Out of its time range: exp passed an hour ago. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, aud, now - 3600, jti, &a),
                                 0);
                json_object *r = post_assertion(&h, a);
                ck_assert_msg(jint(r, "error_codes.0") == 700024, "%s", json_object_to_json_string(r));
                json_object_put(r);
        }
        /* nbf an hour ahead, far beyond any clock skew. */
        {
                _cleanup_erase_ char *a = NULL;
                ck_assert_int_eq(uuid_random(jti), 0);
                ck_assert_int_eq(jwt_client_assertion(jwt_credential_key(c), jwt_credential_thumbprint(c),
                                                      HARNESS_CLIENT_ID, aud, now + 3600, jti, &a),
                                 0);
                json_object *r = post_assertion(&h, a);
                ck_assert_msg(jint(r, "error_codes.0") == 700024, "%s", json_object_to_json_string(r));
                json_object_put(r);
        }
        /* Not a JWT at all. */
        expect_aadsts(post_assertion(&h, "not-a-jwt"), 50012);

        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "assertionsVerified"), 1);
        ck_assert_int_eq(jint(st, "assertionsRefused"), 8);
        json_object_put(st);
        harness_stop(&h);
}
END_TEST

START_TEST(test_secret_file_mode) {
        Harness h;
        HarnessOptions o = { .credential_mode = 0640, .no_daemon = true };
        char *err = NULL;

        harness_start(&h, &o);
        ck_assert_int_ne(daemon_run_fails(&h, &err), 0);
        ck_assert_msg(strstr(err, h.secret_path) && strstr(err, "mode 0640"), "%s", err);
        free(err);

        /* 0600 is what the message asks for, and it works. */
        ck_assert_int_eq(chmod(h.secret_path, 0600), 0);
        harness_start_daemon(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_key_file_mode) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_GOOD, .credential_mode = 0644, .no_daemon = true };
        char *err = NULL;

        harness_start(&h, &o);
        ck_assert_int_ne(daemon_run_fails(&h, &err), 0);
        ck_assert_msg(strstr(err, h.key_path) && strstr(err, "mode 0644") && strstr(err, "private key"), "%s", err);
        free(err);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* The certificate itself is public: only the key file is held to the rule. */
        ck_assert_int_eq(chmod(h.cert_path, 0644), 0);
        ck_assert_int_eq(chmod(h.key_path, 0400), 0);
        harness_start_daemon(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_credentials_directory_exempt) {
        Harness h;
        HarnessOptions o = { .credential_mode = 0640, .no_daemon = true };

        /* systemd decides the modes of what it puts in $CREDENTIALS_DIRECTORY. */
        harness_start(&h, &o);
        ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", h.dir, 1), 0);
        harness_start_daemon(&h);
        ck_assert_int_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

/* A symlink in place of the secret or key file: the rule is checked on the file opened, and
 * that is never a symlink's target (the old stat()-then-open() followed it, so a link to a
 * root-owned 0600 file passed whatever pointed at it later). */
static void replace_with_symlink(const char *path, char *real, size_t size) {
        snprintf(real, size, "%s.real", path);
        ck_assert_int_eq(rename(path, real), 0);
        ck_assert_int_eq(symlink(real, path), 0);
}

static void restore_from_symlink(const char *path, const char *real) {
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rename(real, path), 0);
}

START_TEST(test_secret_file_symlink) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        char real[400], *err = NULL;

        harness_start(&h, &o);
        replace_with_symlink(h.secret_path, real, sizeof real);
        ck_assert_int_eq(daemon_run_fails(&h, &err), 1);
        ck_assert_msg(strstr(err, h.secret_path) && strstr(err, "symbolic link") && strstr(err, "client secret"), "%s",
                      err);
        free(err);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        restore_from_symlink(h.secret_path, real);
        harness_start_daemon(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_key_file_symlink) {
        Harness h;
        HarnessOptions o = { .certificate = HARNESS_CERTIFICATE_GOOD, .no_daemon = true };
        char real[400], cert_real[400], *err = NULL;

        harness_start(&h, &o);
        replace_with_symlink(h.key_path, real, sizeof real);
        ck_assert_int_eq(daemon_run_fails(&h, &err), 1);
        ck_assert_msg(strstr(err, h.key_path) && strstr(err, "symbolic link") && strstr(err, "private key"), "%s", err);
        free(err);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* The certificate is public and may be a symlink (to the current one, say). */
        restore_from_symlink(h.key_path, real);
        replace_with_symlink(h.cert_path, cert_real, sizeof cert_real);
        harness_start_daemon(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

/* CAFile= decides whom the daemon sends the secret and the token to: a bundle that a user other
 * than root or the daemon's could write is refused, as is a symlink. */
START_TEST(test_ca_file_rule) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        char ca[320], real[400], cmd[1024], *err = NULL;

        harness_start(&h, &o);
        /* A copy of the test CA in this test's directory, so the shared one keeps its mode. */
        char *config = read_file_text(h.config_path);
        char *line = strstr(config, "CAFile=");
        ck_assert_ptr_nonnull(line);
        snprintf(ca, sizeof ca, "%s/ca.pem", h.dir);
        snprintf(cmd, sizeof cmd, "cp '%.*s' '%s'", (int) strcspn(line + 7, "\n"), line + 7, ca);
        free(config);
        ck_assert_int_eq(system(cmd), 0);
        FILE *f = fopen(h.config_path, "ae");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "[Graph]\nCAFile=%s\n", ca);
        fclose(f);

        static const mode_t bad_modes[] = { 0666, 0664, 0646 };
        for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
                char mode[16];
                ck_assert_int_eq(chmod(ca, bad_modes[i]), 0);
                ck_assert_int_eq(daemon_run_fails(&h, &err), 1);
                snprintf(mode, sizeof mode, "mode %04o", (unsigned) bad_modes[i]);
                ck_assert_msg(strstr(err, ca) && strstr(err, mode) && strstr(err, "CAFile="), "%s", err);
                free(err);
        }
        ck_assert_int_eq(chmod(ca, 0644), 0);
        ck_assert_int_eq(chown(ca, 65534, 65534), 0);
        ck_assert_int_eq(daemon_run_fails(&h, &err), 1);
        ck_assert_msg(strstr(err, ca) && strstr(err, "belongs to uid 65534"), "%s", err);
        free(err);
        ck_assert_int_eq(chown(ca, 0, 0), 0);
        replace_with_symlink(ca, real, sizeof real);
        ck_assert_int_eq(daemon_run_fails(&h, &err), 1);
        ck_assert_msg(strstr(err, ca) && strstr(err, "symbolic link"), "%s", err);
        free(err);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* Root's, readable by all (what /etc/ssl/certs holds): fine. */
        restore_from_symlink(ca, real);
        harness_start_daemon(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

/* ---- config_finalize(): exactly one credential ---- */

static char tmp[64];

static void tmp_setup(void) {
        snprintf(tmp, sizeof tmp, "/tmp/mediacancel-certcfg-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmp));
        (void) unsetenv("CREDENTIALS_DIRECTORY");
}

static void tmp_teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        (void) !system(cmd);
        (void) unsetenv("CREDENTIALS_DIRECTORY");
}

static char *touch(const char *name) {
        char *p;
        FILE *f;

        ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs("x\n", f);
        fclose(f);
        return p;
}

/* Parses text as "test.conf" and finalizes; returns the result, the Config and the error. */
static int finalize(const char *text, Config **ret, char **ret_error) {
        Config *c = NULL;
        int r;

        ck_assert_int_eq(config_new(&c), 0);
        c->source = strdup("test.conf");
        ck_assert_int_eq(config_parse_text(c, "test.conf", text, strlen(text), ret_error), 0);
        r = config_finalize(c, ret_error);
        *ret = c;
        return r;
}

#define HEAD "[Identity]\nTenantId=t\nClientId=c\n"

START_TEST(test_config_certificate_only) {
        _cleanup_free_ char *cert = touch("app.pem"), *text = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "CertificateFile=%s\n", cert), 0);
        ck_assert_int_eq(finalize(text, &c, &err), 0);
        ck_assert_str_eq(c->certificate_file, cert);
        ck_assert_str_eq(c->certificate_file_origin, "test.conf:4");
        /* The key is looked for in the certificate's file. */
        ck_assert_str_eq(c->private_key_file, cert);
        ck_assert_ptr_null(c->client_secret_file);
}
END_TEST

START_TEST(test_config_certificate_and_key) {
        _cleanup_free_ char *cert = touch("app.pem"), *key = touch("app.key"), *text = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "CertificateFile=%s\nPrivateKeyFile=%s\n", cert, key), 0);
        ck_assert_int_eq(finalize(text, &c, &err), 0);
        ck_assert_str_eq(c->private_key_file, key);
        ck_assert_str_eq(c->private_key_file_origin, "test.conf:5");
}
END_TEST

START_TEST(test_config_both_refused) {
        _cleanup_free_ char *cert = touch("app.pem"), *secret = touch("secret"), *text = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "ClientSecretFile=%s\nCertificateFile=%s\n", secret, cert), 0);
        ck_assert_int_eq(finalize(text, &c, &err), -EINVAL);
        ck_assert_str_eq(err, "test.conf: both ClientSecretFile= (test.conf:4) and CertificateFile= (test.conf:5) are "
                              "set; the application signs in with exactly one credential, remove one of them.");
}
END_TEST

START_TEST(test_config_dropin_switches_to_certificate) {
        _cleanup_free_ char *cert = touch("app.pem"), *secret = touch("secret"), *text = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        /* A drop-in moves from the secret to a certificate by emptying ClientSecretFile=. */
        ck_assert_int_ge(asprintf(&text, HEAD "ClientSecretFile=%s\n[Identity]\nClientSecretFile=\nCertificateFile=%s\n",
                                  secret, cert),
                         0);
        ck_assert_int_eq(finalize(text, &c, &err), 0);
        ck_assert_ptr_null(c->client_secret_file);
        ck_assert_str_eq(c->certificate_file, cert);
}
END_TEST

START_TEST(test_config_key_without_certificate) {
        _cleanup_free_ char *key = touch("app.key"), *secret = touch("secret"), *text = NULL, *err = NULL,
                            *expected = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "ClientSecretFile=%s\nPrivateKeyFile=%s\n", secret, key), 0);
        ck_assert_int_eq(finalize(text, &c, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&expected,
                                  "test.conf:5: PrivateKeyFile=%s is set but CertificateFile= is not; the key is only "
                                  "used together with its certificate.",
                                  key),
                         0);
        ck_assert_str_eq(err, expected);
}
END_TEST

START_TEST(test_config_unreadable_files) {
        _cleanup_free_ char *cert = touch("app.pem"), *text = NULL, *err = NULL, *expected = NULL;
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "CertificateFile=%s/missing.pem\n", tmp), 0);
        ck_assert_int_eq(finalize(text, &c, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&expected, "test.conf:4: Cannot read CertificateFile=%s/missing.pem: No such file or directory.",
                                  tmp),
                         0);
        ck_assert_str_eq(err, expected);
        free(text);
        free(err);
        free(expected);
        err = NULL;

        ck_assert_int_ge(asprintf(&text, HEAD "CertificateFile=%s\nPrivateKeyFile=%s/missing.key\n", cert, tmp), 0);
        ck_assert_int_eq(finalize(text, &d, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&expected, "test.conf:5: Cannot read PrivateKeyFile=%s/missing.key: No such file or directory.",
                                  tmp),
                         0);
        ck_assert_str_eq(err, expected);
}
END_TEST

START_TEST(test_config_credentials_directory_certificate) {
        _cleanup_free_ char *cert = touch("client-certificate"), *err = NULL;
        _cleanup_(config_freep) Config *c = NULL, *d = NULL, *e = NULL;

        ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", tmp, 1), 0);

        /* client-certificate alone: the key is in it. */
        ck_assert_int_eq(finalize(HEAD, &c, &err), 0);
        ck_assert_str_eq(c->certificate_file, cert);
        ck_assert_str_eq(c->certificate_file_origin, "credential client-certificate");
        ck_assert_str_eq(c->private_key_file, cert);
        ck_assert_ptr_null(c->client_secret_file);

        /* With client-key. */
        _cleanup_free_ char *key = touch("client-key");
        ck_assert_int_eq(finalize(HEAD, &d, &err), 0);
        ck_assert_str_eq(d->private_key_file, key);
        ck_assert_str_eq(d->private_key_file_origin, "credential client-key");

        /* And client-secret too: which one is meant? */
        _cleanup_free_ char *secret = touch("client-secret");
        ck_assert_int_eq(finalize(HEAD, &e, &err), -EINVAL);
        ck_assert_str_eq(err, "test.conf: both credentials client-secret and client-certificate are provided; the "
                              "application signs in with exactly one, remove one of them.");
}
END_TEST

START_TEST(test_config_explicit_wins_over_credentials) {
        _cleanup_free_ char *cred_secret = touch("client-secret"), *cert = touch("app.pem"), *text = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        /* An explicit CertificateFile= is used even though the unit also has a client-secret. */
        ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", tmp, 1), 0);
        ck_assert_int_ge(asprintf(&text, HEAD "CertificateFile=%s\n", cert), 0);
        ck_assert_int_eq(finalize(text, &c, &err), 0);
        ck_assert_str_eq(c->certificate_file, cert);
        ck_assert_ptr_null(c->client_secret_file);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("certificate");
        TCase *tc = tcase_create("daemon");
        TCase *cfg = tcase_create("config");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_certificate_good);
        tcase_add_test(tc, test_certificate_combined_pem);
        tcase_add_test(tc, test_certificate_wrong_key);
        tcase_add_test(tc, test_certificate_expired);
        tcase_add_test(tc, test_assertion_time_range);
        tcase_add_test(tc, test_standin_refuses_bad_assertions);
        tcase_add_test(tc, test_secret_file_mode);
        tcase_add_test(tc, test_key_file_mode);
        tcase_add_test(tc, test_credentials_directory_exempt);
        tcase_add_test(tc, test_secret_file_symlink);
        tcase_add_test(tc, test_key_file_symlink);
        tcase_add_test(tc, test_ca_file_rule);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(cfg, tmp_setup, tmp_teardown);
        tcase_add_test(cfg, test_config_certificate_only);
        tcase_add_test(cfg, test_config_certificate_and_key);
        tcase_add_test(cfg, test_config_both_refused);
        tcase_add_test(cfg, test_config_dropin_switches_to_certificate);
        tcase_add_test(cfg, test_config_key_without_certificate);
        tcase_add_test(cfg, test_config_unreadable_files);
        tcase_add_test(cfg, test_config_credentials_directory_certificate);
        tcase_add_test(cfg, test_config_explicit_wins_over_credentials);
        suite_add_tcase(s, cfg);
        return s;
}

int main(void) {
        return harness_main(suite());
}
