/* SPDX-License-Identifier: MIT */
/*
 * check_federated.c — federated credentials end to end with the real mediacanceld and the
 * stand-in, which plays the external identity provider (it signs the tokens it hands out) as
 * well as the identity platform (it accepts as client_assertion only a token it signed for the
 * exchange audience). ClientAssertionFile=: rotation while cancels flow, a deleted, expired,
 * oversized, empty or non-JWT file (TokenUnavailable with the path and the reason, and recovery
 * when a good file comes back). ManagedIdentity=: the IMDS form (system and user-assigned,
 * the Metadata header), the Azure Arc form with its challenge (and key files outside the
 * tokens directory, oversized or behind a symlink refused), and plain HTTP refused anywhere
 * but on loopback or link-local addresses.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "assertion-file.h"
#include "harness.h"
#include "http.h"
#include "identity.h"
#include "managed-identity.h"
#include "util.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
/* base64url of '{"alg": "HS256", "typ"' — the start of every token the stand-in signs. */
#define FEDERATED_PREFIX "eyJhbGciOiAiSFMyNTYiLCAidHlwIjog"
#define ASSERTION_IDENTITY "ClientAssertionFile=@DIR@/sa-token\n"

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static bool log_contains(Harness *h, const char *s) {
        char *log = read_file_text(h->daemon_log);
        bool found = strstr(log, s) != NULL;

        free(log);
        return found;
}

/* A token the stand-in issues as a Kubernetes cluster would project it. */
static char *federated_token(Harness *h, const char *subject, int lifetime) {
        char body[256];

        snprintf(body, sizeof body, "{\"subject\":\"%s\",\"lifetime\":%d}", subject, lifetime);
        json_object *r = standin_post(h, "/_standin/federated-token", body);
        ck_assert_ptr_nonnull(jstr(r, "token"));
        char *t = strdup(jstr(r, "token"));
        json_object_put(r);
        return t;
}

static void token_path(Harness *h, char *buf, size_t size) {
        snprintf(buf, size, "%s/sa-token", h->dir);
}

/* Writes the file as Kubernetes' atomic writer does: a new file renamed into place. */
static void write_assertion(Harness *h, const char *text, mode_t mode) {
        char path[400], tmp[420];
        token_path(h, path, sizeof path);
        snprintf(tmp, sizeof tmp, "%s.new", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ck_assert_int_ge(fd, 0);
        size_t n = strlen(text);
        ck_assert_int_eq(write(fd, text, n), (ssize_t) n);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        close(fd);
        ck_assert_int_eq(rename(tmp, path), 0);
}

static void write_federated(Harness *h, const char *subject, int lifetime) {
        char *t = federated_token(h, subject, lifetime);
        write_assertion(h, t, 0600);
        free(t);
}

static void cancel_completes(Harness *h) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");

        ck_assert_msg(jstr(r, "result.operation.status") != NULL, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        close(fd);
}

/* A cancel fails with TokenUnavailable for reason; the message holds each of the needles. */
static void cancel_unavailable(Harness *h, const char *reason, const char *needle1, const char *needle2) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        const char *msg;

        ck_assert_msg(jint(r, "error.code") == -32002, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "TokenUnavailable");
        ck_assert_str_eq(jstr(r, "error.data.reason"), reason);
        msg = jstr(r, "error.message");
        ck_assert_msg(!needle1 || strstr(msg, needle1), "\"%s\" not in \"%s\"", needle1, msg);
        ck_assert_msg(!needle2 || strstr(msg, needle2), "\"%s\" not in \"%s\"", needle2, msg);
        json_object_put(r);

        /* status says the same, never with a token. */
        r = harness_call(h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "result.token.lastError.error"), reason);
        msg = jstr(r, "result.token.lastError.message");
        ck_assert_msg(msg && (!needle1 || strstr(msg, needle1)), "status: %s", json_object_to_json_string(r));
        ck_assert(!strstr(json_object_to_json_string(r), FEDERATED_PREFIX));
        json_object_put(r);
        close(fd);
}

static const char *token_state(Harness *h, char *buf, size_t size) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "status", NULL);
        snprintf(buf, size, "%s (%s)", jstr(r, "result.token.state") ?: "?",
                 jstr(r, "result.token.lastError.message") ?: "no error");
        json_object_put(r);
        close(fd);
        return buf;
}

/* The retry after a failure comes with the token life's backoff (at most 15 s apart). */
static void wait_token_valid(Harness *h) {
        char st[1024];
        for (int i = 0; i < 400 * harness_slowdown(); i++) {
                if (strncmp(token_state(h, st, sizeof st), "valid ", 6) == 0)
                        return;
                sleep_ms(100);
        }
        ck_abort_msg("the token did not come back: %s", st);
}

static void start_with_assertion(Harness *h, const char *subject, int lifetime) {
        HarnessOptions o = { .identity = ASSERTION_IDENTITY, .no_daemon = true };

        harness_start(h, &o);
        if (subject)
                write_federated(h, subject, lifetime);
        harness_start_daemon(h);
}

START_TEST(test_assertion_file_rotation) {
        Harness h;

        start_with_assertion(&h, "system:serviceaccount:calls:one", 3600);
        cancel_completes(&h);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "federatedVerified"), 1);
        ck_assert_str_eq(jstr(st, "federated.0.sub"), "system:serviceaccount:calls:one");
        json_object_put(st);

        /* Rotated while cancels flow; the next token request (Graph dropped the token) carries
         * the new one, although the old one is still valid and was read moments ago. */
        write_federated(&h, "system:serviceaccount:calls:two", 3600);
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_completes(&h);
        st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "federatedVerified"), 2);
        ck_assert_str_eq(jstr(st, "federated.1.sub"), "system:serviceaccount:calls:two");
        json_object_put(st);

        /* Rewritten in place (same inode): the size or the mtime tells. */
        char path[400];
        token_path(&h, path, sizeof path);
        char *t = federated_token(&h, "system:serviceaccount:calls:three", 7200);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(t, f);
        fclose(f);
        free(t);
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_completes(&h);
        ck_assert_str_eq(jstr(st = standin_get(&h, "/_standin/stats"), "federated.2.sub"),
                         "system:serviceaccount:calls:three");
        json_object_put(st);

        ck_assert(log_contains(&h, "Signing in with the client assertion in"));
        ck_assert(!log_contains(&h, FEDERATED_PREFIX));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_file_deleted_then_restored) {
        Harness h;
        char path[400];

        start_with_assertion(&h, "system:serviceaccount:calls:one", 3600);
        token_path(&h, path, sizeof path);
        cancel_completes(&h);

        /* Gone while the token is still good: cancels go on with the token they have. */
        ck_assert_int_eq(unlink(path), 0);
        cancel_completes(&h);

        /* Graph drops the token: a new one cannot be had, and the error says which file. */
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_unavailable(&h, "client_assertion_unavailable", path, "No such file or directory");
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        cancel_unavailable(&h, "client_assertion_unavailable", path, NULL);

        /* It comes back: the daemon's retry finds it, without a reload. */
        write_federated(&h, "system:serviceaccount:calls:back", 3600);
        wait_token_valid(&h);
        cancel_completes(&h);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_str_eq(jstr(st, "federated.1.sub"), "system:serviceaccount:calls:back");
        json_object_put(st);
        ck_assert(log_contains(&h, "Token request for tenant " HARNESS_TENANT " succeeded again."));
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_file_missing_at_start) {
        Harness h;
        char path[400];

        /* Not there yet when the daemon starts: it starts, and says so per request. */
        start_with_assertion(&h, NULL, 0);
        token_path(&h, path, sizeof path);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "No such file or directory");
        write_federated(&h, "system:serviceaccount:calls:late", 3600);
        wait_token_valid(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_file_expired) {
        Harness h;
        char path[400];

        /* Expired an hour ago, and one that expires within the safety margin: neither is sent. */
        start_with_assertion(&h, "system:serviceaccount:calls:old", -3600);
        token_path(&h, path, sizeof path);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "(its exp claim)");
        write_federated(&h, "system:serviceaccount:calls:old", CLIENT_ASSERTION_EXPIRY_MARGIN_SEC - 5);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "has not rotated it");
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* The platform's own check: its clock is two hours ahead, so a token the daemon finds
         * good has expired there (AADSTS700024). */
        json_object_put(standin_post(&h, "/_standin/config", "{\"clockOffsetSec\":7200}"));
        write_federated(&h, "system:serviceaccount:calls:skewed", 3600);
        for (int i = 0; i < 400 && standin_stat(&h, "federatedRefused") < 1; i++)
                sleep_ms(100);
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "error.data.class"), "TokenUnavailable");
        ck_assert_str_eq(jstr(r, "error.data.aadsts"), "AADSTS700024");
        json_object_put(r);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* A JWT-shaped text of exactly n bytes: a real token's signature part lengthened. */
static char *padded_token(Harness *h, size_t n) {
        char *t = federated_token(h, "system:serviceaccount:calls:big", 3600);
        size_t len = strlen(t);
        ck_assert_uint_lt(len, n);
        t = realloc(t, n + 1);
        memset(t + len, 'A', n - len);
        t[n] = '\0';
        return t;
}

START_TEST(test_assertion_file_size_limit) {
        Harness h;
        char path[400], limit[64];

        start_with_assertion(&h, NULL, 0);
        token_path(&h, path, sizeof path);

        /* One byte over: refused here, never sent. */
        char *t = padded_token(&h, CLIENT_ASSERTION_MAX_BYTES + 1);
        write_assertion(&h, t, 0600);
        free(t);
        snprintf(limit, sizeof limit, "larger than %d bytes", CLIENT_ASSERTION_MAX_BYTES);
        cancel_unavailable(&h, "client_assertion_unavailable", path, limit);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* Exactly at the limit: read and sent; the platform finds the signature wrong. */
        t = padded_token(&h, CLIENT_ASSERTION_MAX_BYTES);
        write_assertion(&h, t, 0600);
        free(t);
        for (int i = 0; i < 400 && standin_stat(&h, "federatedRefused") < 1; i++)
                sleep_ms(100);
        ck_assert_int_ge(standin_stat(&h, "federatedRefused"), 1);
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "error.data.aadsts"), "AADSTS700027");
        json_object_put(r);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_file_unusable) {
        Harness h;
        char path[400];

        start_with_assertion(&h, NULL, 0);
        token_path(&h, path, sizeof path);

        write_assertion(&h, "", 0600);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "is empty");
        write_assertion(&h, "not a token at all\n", 0600);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "not a JWT");
        write_assertion(&h, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", 0600); /* no exp */
        cancel_unavailable(&h, "client_assertion_unavailable", path, "no numeric exp");
        /* A good token in a file others may read is refused like a secret would be. */
        char *t = federated_token(&h, "system:serviceaccount:calls:open", 3600);
        write_assertion(&h, t, 0644);
        free(t);
        cancel_unavailable(&h, "client_assertion_unavailable", path, "mode 0644");
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);

        /* A symlink to a good file is followed (that is how Kubernetes rotates). */
        char target[420];
        snprintf(target, sizeof target, "%s/..data-token", h.dir);
        t = federated_token(&h, "system:serviceaccount:calls:linked", 3600);
        int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_eq(write(fd, t, strlen(t)), (ssize_t) strlen(t));
        close(fd);
        free(t);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(symlink(target, path), 0);
        wait_token_valid(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST


/* ---- managed identity ---- */

#define MI_USER "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define IMDS_IDENTITY(who) \
        "ManagedIdentity=" who "\nManagedIdentitySource=imds\n" \
        "ManagedIdentityEndpoint=@MI@/metadata/identity/oauth2/token\n"
#define ARC_IDENTITY \
        "ManagedIdentity=system\nManagedIdentitySource=arc\n" \
        "ManagedIdentityEndpoint=@MI@/arc/metadata/identity/oauth2/token\n"

/* standin_setup, if not NULL, is posted to /_standin/config before the daemon starts (it asks
 * for its first token at once). */
static void start_mi_with(Harness *h, const char *identity, const char *standin_args, const char *faults,
                          const char *standin_setup) {
        HarnessOptions o = { .identity = identity, .mi_endpoint = true, .standin_args = standin_args, .no_daemon = true };
        harness_start(h, &o);
        if (faults)
                json_object_put(standin_post(h, "/_standin/faults", faults));
        if (standin_setup)
                json_object_put(standin_post(h, "/_standin/config", standin_setup));
        harness_start_daemon(h);
}

static void start_mi(Harness *h, const char *identity, const char *standin_args) {
        start_mi_with(h, identity, standin_args, NULL, NULL);
}

/* Polls status until lastError's message holds needle (the retry after a change of the
 * stand-in's behaviour has happened). */
static void wait_last_error(Harness *h, const char *needle) {
        char last[1024] = "";
        for (int i = 0; i < 400 * harness_slowdown(); i++) {
                int fd = harness_connect(h);
                json_object *r = harness_call(h, fd, "status", NULL);
                snprintf(last, sizeof last, "%s", jstr(r, "result.token.lastError.message") ?: "");
                json_object_put(r);
                close(fd);
                if (strstr(last, needle))
                        return;
                sleep_ms(100);
        }
        ck_abort_msg("lastError never said \"%s\": %s", needle, last);
}

START_TEST(test_imds_system_assigned) {
        Harness h;

        start_mi(&h, IMDS_IDENTITY("system"), NULL);
        cancel_completes(&h);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "miRequests"), 1);
        ck_assert_str_eq(jstr(st, "miRequestLog.0.path"), "/metadata/identity/oauth2/token");
        ck_assert_str_eq(jstr(st, "miRequestLog.0.metadata"), "true");
        ck_assert_str_eq(jstr(st, "miRequestLog.0.query.api-version"), "2018-02-01");
        ck_assert_str_eq(jstr(st, "miRequestLog.0.query.resource"), "api://AzureADTokenExchange");
        ck_assert_ptr_null(jpath(st, "miRequestLog.0.query.client_id"));
        ck_assert_ptr_null(jpath(st, "miRequestLog.0.authorization"));
        ck_assert_int_eq(jint(st, "federatedVerified"), 1);
        ck_assert_str_eq(jstr(st, "federated.0.sub"), "mi-system");
        json_object_put(st);

        /* A new app token while the identity's token is still good: it is not fetched again. */
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "miRequests"), 1);
        ck_assert_int_eq(standin_stat(&h, "federatedVerified"), 2);

        ck_assert(log_contains(&h, "Signing in with the system-assigned managed identity"));
        ck_assert(!log_contains(&h, FEDERATED_PREFIX));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_imds_user_assigned) {
        Harness h;

        start_mi(&h, IMDS_IDENTITY(MI_USER), NULL);
        cancel_completes(&h);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_str_eq(jstr(st, "miRequestLog.0.query.client_id"), MI_USER);
        ck_assert_str_eq(jstr(st, "miRequestLog.0.metadata"), "true");
        ck_assert_str_eq(jstr(st, "federated.0.sub"), "mi-user-" MI_USER);
        json_object_put(st);
        harness_stop(&h);

        /* An identity the host does not have: IMDS's 400, said plainly. */
        start_mi(&h, IMDS_IDENTITY("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"), NULL);
        cancel_unavailable(&h, "managed_identity_unavailable", "answered HTTP 400", "Identity not found");
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_imds_failures_and_expiry) {
        Harness h;

        /* Two server errors, then an answer: the cancel waits through the retries. */
        start_mi_with(&h, IMDS_IDENTITY("system"), NULL, "{\"rules\":[{\"kind\":\"mi\",\"status\":503,\"count\":2}]}",
                      NULL);
        cancel_completes(&h);
        ck_assert_int_ge(standin_stat(&h, "miRequests"), 3);
        harness_stop(&h);

        /* The identity's token is used only until shortly before it expires. */
        start_mi_with(&h, IMDS_IDENTITY("system"), NULL, NULL, "{\"miTokenLifetime\":2}");
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "miRequests"), 1);
        sleep_ms(2500);
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "miRequests"), 2);

        /* A token that is already expired (expires_in 0) is not used. */
        json_object_put(standin_post(&h, "/_standin/config", "{\"miTokenLifetime\":0}"));
        sleep_ms(2500);
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        int fd = harness_connect(&h);
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}");
        wait_last_error(&h, "without a usable token");
        close(fd);

        /* The retry gets an answer with only expires_on: that is enough. */
        json_object_put(standin_post(&h, "/_standin/config", "{\"miTokenLifetime\":3600,\"miOnlyExpiresOn\":true}"));
        wait_token_valid(&h);
        cancel_completes(&h);
        harness_stop(&h);
}
END_TEST

/* A non-loopback address of this host, or false. */
static bool other_local_address(char buf[static INET_ADDRSTRLEN]) {
        struct ifaddrs *ifa = NULL;
        bool found = false;

        if (getifaddrs(&ifa) < 0)
                return false;
        for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next)
                if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !http_address_is_local(i->ifa_addr)) {
                        inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, buf, INET_ADDRSTRLEN);
                        found = true;
                }
        freeifaddrs(ifa);
        return found;
}

START_TEST(test_mi_plain_http_refused_elsewhere) {
        Harness h;
        char addr[INET_ADDRSTRLEN], identity[512];

        if (!other_local_address(addr)) {
                fprintf(stderr, "check_federated: this host has no non-loopback IPv4 address; the refusal of "
                                "plain HTTP elsewhere is not tested here.\n");
                return;
        }
        /* The endpoint listens on every address; the daemon must still not speak plain HTTP to
         * one that is not loopback or link-local, although it is this very host. */
        snprintf(identity, sizeof identity,
                 "ManagedIdentity=system\nManagedIdentitySource=imds\n"
                 "ManagedIdentityEndpoint=http://%s:@MIPORT@/metadata/identity/oauth2/token\n", addr);
        start_mi(&h, identity, "--mi-listen 0.0.0.0");
        cancel_unavailable(&h, "managed_identity_unavailable", "neither a loopback nor a link-local address", addr);
        ck_assert_int_eq(standin_stat(&h, "miRequests"), 0);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 0);
        harness_stop(&h);
}
END_TEST

/* ---- Azure Arc: the key files live in a fixed directory, so these need root ---- */

static bool arc_dir_made, arc_parent_made;

/* Unchecked fixture: runs in the parent, before and after the Arc cases, failed or not. */
static void arc_fixture_setup(void) {
        struct stat st;
        arc_parent_made = stat("/var/opt/azcmagent", &st) < 0;
        arc_dir_made = stat(MANAGED_IDENTITY_ARC_TOKENS_DIR, &st) < 0;
}

static void arc_fixture_teardown(void) {
        /* The stand-in names its key files standin-*.key. */
        (void) !system("rm -f " MANAGED_IDENTITY_ARC_TOKENS_DIR "/standin-*.key");
        if (arc_dir_made)
                (void) rmdir(MANAGED_IDENTITY_ARC_TOKENS_DIR);
        if (arc_parent_made)
                (void) rmdir("/var/opt/azcmagent");
}

static void arc_setup(void) {
}

/* Removes the key files the stand-in made (the ones outside the tokens directory too). */
static void arc_cleanup(Harness *h) {
        json_object *st = standin_get(h, "/_standin/stats");
        json_object *files = jpath(st, "arcKeyFiles");
        for (size_t i = 0; files && i < json_object_array_length(files); i++)
                (void) unlink(json_object_get_string(json_object_array_get_idx(files, i)));
        json_object_put(st);
}

START_TEST(test_arc_challenge) {
        Harness h;

        arc_setup();
        start_mi(&h, ARC_IDENTITY, NULL);
        cancel_completes(&h);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "arcChallenges"), 1);
        ck_assert_int_eq(jint(st, "miRequests"), 2);
        ck_assert_str_eq(jstr(st, "miRequestLog.0.query.api-version"), "2020-06-01");
        ck_assert_str_eq(jstr(st, "miRequestLog.0.metadata"), "true");
        ck_assert_ptr_null(jpath(st, "miRequestLog.0.authorization"));
        ck_assert_str_eq(jstr(st, "miRequestLog.1.authorization"), "Basic");
        ck_assert_str_eq(jstr(st, "miRequestLog.1.metadata"), "true");
        ck_assert_str_eq(jstr(st, "federated.0.sub"), "mi-system");
        json_object_put(st);
        ck_assert(log_contains(&h, "the Azure Arc agent"));
        arc_cleanup(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_arc_key_refused) {
        static const struct {
                const char *mode, *needle;
        } cases[] = {
                { "outside", "which is not a .key file directly in " MANAGED_IDENTITY_ARC_TOKENS_DIR },
                { "traversal", "which is not a .key file directly in " MANAGED_IDENTITY_ARC_TOKENS_DIR },
                { "oversized", "the key file is larger than 4096 bytes" },
                { "symlink", "the key file is a symbolic link" },
        };
        Harness h;
        char body[128];

        arc_setup();
        snprintf(body, sizeof body, "{\"arcKeyMode\":\"%s\"}", cases[0].mode);
        start_mi_with(&h, ARC_IDENTITY, NULL, NULL, body);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (i > 0) {
                        snprintf(body, sizeof body, "{\"arcKeyMode\":\"%s\"}", cases[i].mode);
                        json_object_put(standin_post(&h, "/_standin/config", body));
                        ck_assert_int_eq(kill(h.daemon_pid, SIGHUP), 0); /* a fresh attempt at once */
                }
                wait_last_error(&h, cases[i].needle);
                ck_assert_int_ge(standin_stat(&h, "arcChallenges"), (int) i + 1);
                cancel_unavailable(&h, "managed_identity_unavailable", cases[i].needle, NULL);
        }
        /* No key was ever sent back, and no token requested. */
        json_object *st = standin_get(&h, "/_standin/stats");
        json_object *log = jpath(st, "miRequestLog");
        for (size_t i = 0; i < json_object_array_length(log); i++)
                ck_assert_ptr_null(jpath(json_object_array_get_idx(log, i), "authorization"));
        ck_assert_int_eq(jint(st, "tokenRequests"), 0);
        json_object_put(st);

        /* A good key again, exactly at the size limit: it recovers. */
        json_object_put(standin_post(&h, "/_standin/config", "{\"arcKeyMode\":\"max\"}"));
        ck_assert_int_eq(kill(h.daemon_pid, SIGHUP), 0);
        wait_token_valid(&h);
        cancel_completes(&h);
        arc_cleanup(&h);
        harness_stop(&h);
}
END_TEST

START_TEST(test_assertion_file_credentials_directory) {
        Harness h;
        HarnessOptions o = { .identity = "ClientAssertionFile=@DIR@/creds/sa-token\n", .no_daemon = true };
        char dir[400], path[420], env[440];
        const char *envv[2] = { env, NULL };

        /* In $CREDENTIALS_DIRECTORY the owner and mode are systemd's business: 0644 is fine. */
        harness_start(&h, &o);
        snprintf(dir, sizeof dir, "%s/creds", h.dir);
        snprintf(path, sizeof path, "%s/sa-token", dir);
        snprintf(env, sizeof env, "CREDENTIALS_DIRECTORY=%s", dir);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        char *t = federated_token(&h, "system:serviceaccount:calls:cred", 3600);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_eq(write(fd, t, strlen(t)), (ssize_t) strlen(t));
        ck_assert_int_eq(fchmod(fd, 0644), 0);
        close(fd);
        free(t);
        h.daemon_env = envv;
        harness_start_daemon(&h);
        cancel_completes(&h);
        ck_assert_int_eq(standin_stat(&h, "federatedVerified"), 1);
        harness_stop(&h);
}
END_TEST

/* The stand-in as the platform: only a federated token it signed, for the exchange audience,
 * inside its lifetime. */
static json_object *post_assertion(Harness *h, const char *assertion) {
        _cleanup_erase_ char *body = NULL;
        /* The scope of the stand-in's default cloud (Global). */
        const char *scope = "https://graph.microsoft.com/.default";

        ck_assert_int_eq(token_request_body_assertion(HARNESS_CLIENT_ID, assertion, scope, &body), 0);
        return standin_post(h, "/" HARNESS_TENANT "/oauth2/v2.0/token", body);
}

static void expect_aadsts(json_object *r, int code) {
        ck_assert_msg(jint(r, "error_codes.0") == code, "expected AADSTS%d: %s", code, json_object_to_json_string(r));
        json_object_put(r);
}

START_TEST(test_standin_federated_rules) {
        Harness h;
        HarnessOptions o = { .identity = ASSERTION_IDENTITY, .no_daemon = true };

        harness_start(&h, &o);
        char *good = federated_token(&h, "s", 600);
        json_object *r = post_assertion(&h, good);
        ck_assert_msg(jstr(r, "access_token") != NULL, "%s", json_object_to_json_string(r));
        json_object_put(r);

        char *expired = federated_token(&h, "s", -1);
        expect_aadsts(post_assertion(&h, expired), 700024);
        json_object *w = standin_post(&h, "/_standin/federated-token", "{\"audience\":\"api://other\"}");
        expect_aadsts(post_assertion(&h, jstr(w, "token")), 700212);
        json_object_put(w);
        good[strlen(good) - 2] = good[strlen(good) - 2] == 'A' ? 'B' : 'A'; /* tampered signature */
        expect_aadsts(post_assertion(&h, good), 700027);
        free(good);
        free(expired);
        harness_stop(&h);
}
END_TEST

START_TEST(test_jwt_peek_exp) {
        const char *why = NULL;
        int64_t exp = 0;

        /* {"alg":"none"} . {"exp":1700000000} . sig */
        ck_assert_int_eq(jwt_peek_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.c2ln", &exp, &why), 0);
        ck_assert_int_eq(exp, 1700000000);
        ck_assert_int_eq(jwt_peek_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9", &exp, &why), -EBADMSG);
        ck_assert_int_eq(jwt_peek_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.c2ln.x", &exp, &why), -EBADMSG);
        ck_assert_int_eq(jwt_peek_exp("eyJhbGciOiJub25lIn0.eyJleHAiOiIxIn0.c2ln", &exp, &why), -EBADMSG); /* "1" */
        ck_assert_int_eq(jwt_peek_exp("e30.eyJleHAiOjE3MDAwMDAwMDB9.c2ln", &exp, &why), 0);              /* {} */
        ck_assert_int_eq(jwt_peek_exp("W10.eyJleHAiOjE3MDAwMDAwMDB9.c2ln", &exp, &why), -EBADMSG);       /* [] */
        ck_assert_int_eq(jwt_peek_exp("e30.eyJleHAiOjE3MDAwMDAwMDB9.c2 ln", &exp, &why), -EBADMSG);
        ck_assert_int_eq(jwt_peek_exp("e30.eyJleHAiOjE3MDAwMDAwMDB9.c2ln\n", &exp, &why), -EBADMSG);
        ck_assert_int_eq(jwt_peek_exp("e30.e30.c2ln", &exp, &why), -EBADMSG);
}
END_TEST

/* Managed identity answers: numbers as strings, and expires_on alone is enough. */
START_TEST(test_managed_identity_answer) {
        TokenAnswer a = {};
        static const char both[] = "{\"access_token\":\"t\",\"expires_in\":\"3599\",\"expires_on\":\"1\"}";
        static const char on[] = "{\"access_token\":\"t\",\"expires_on\":\"1700003600\",\"token_type\":\"Bearer\"}";
        static const char on_num[] = "{\"access_token\":\"t\",\"expires_on\":1700000600}";
        static const char past[] = "{\"access_token\":\"t\",\"expires_on\":\"1699999999\"}";
        static const char junk[] = "{\"access_token\":\"t\",\"expires_on\":\"17e8\"}";

        ck_assert_int_eq(managed_identity_answer_parse(200, both, strlen(both), 1700000000, &a), 0);
        ck_assert_uint_eq(a.expires_in_usec, 3599 * USEC_PER_SEC); /* expires_in wins */
        token_answer_done(&a);
        ck_assert_int_eq(managed_identity_answer_parse(200, on, strlen(on), 1700000000, &a), 0);
        ck_assert_str_eq(a.access_token, "t");
        ck_assert_uint_eq(a.expires_in_usec, 3600 * USEC_PER_SEC);
        token_answer_done(&a);
        ck_assert_int_eq(managed_identity_answer_parse(200, on_num, strlen(on_num), 1700000000, &a), 0);
        ck_assert_uint_eq(a.expires_in_usec, 600 * USEC_PER_SEC);
        token_answer_done(&a);
        ck_assert_int_eq(managed_identity_answer_parse(200, past, strlen(past), 1700000000, &a), 0);
        ck_assert_ptr_null(a.access_token);
        ck_assert_str_eq(a.error, "malformed_response");
        token_answer_done(&a);
        ck_assert_int_eq(managed_identity_answer_parse(200, junk, strlen(junk), 1700000000, &a), 0);
        ck_assert_ptr_null(a.access_token);
        token_answer_done(&a);
        /* The identity platform's own answers never count expires_on. */
        ck_assert_int_eq(token_answer_parse(200, on, strlen(on), &a), 0);
        ck_assert_ptr_null(a.access_token);
        token_answer_done(&a);
}
END_TEST

static bool local4(const char *a) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        ck_assert_int_eq(inet_pton(AF_INET, a, &sa.sin_addr), 1);
        return http_address_is_local((struct sockaddr *) &sa);
}

static bool local6(const char *a) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
        ck_assert_int_eq(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
        return http_address_is_local((struct sockaddr *) &sa);
}

/* The rule plain HTTP is held to (HttpOptions.plain_local_only), at the edges of each range. */
START_TEST(test_http_plain_local_addresses) {
        ck_assert(local4("127.0.0.1"));
        ck_assert(local4("127.255.255.254"));
        ck_assert(local4("169.254.169.254"));
        ck_assert(local4("169.254.0.0"));
        ck_assert(!local4("126.255.255.255"));
        ck_assert(!local4("128.0.0.1"));
        ck_assert(!local4("169.253.255.255"));
        ck_assert(!local4("169.255.0.1"));
        ck_assert(!local4("10.0.0.1"));
        ck_assert(!local4("0.0.0.0"));
        ck_assert(local6("::1"));
        ck_assert(local6("fe80::1"));
        ck_assert(local6("febf:ffff::1"));
        ck_assert(local6("::ffff:127.0.0.1"));
        ck_assert(local6("::ffff:169.254.169.254"));
        ck_assert(!local6("fec0::1"));
        ck_assert(!local6("::"));
        ck_assert(!local6("::2"));
        ck_assert(!local6("::ffff:10.0.0.1"));
        ck_assert(!local6("2001:db8::1"));

        struct sockaddr_un un = { .sun_family = AF_UNIX };
        ck_assert(!http_address_is_local((struct sockaddr *) &un));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("federated");
        TCase *file = tcase_create("assertion-file");
        TCase *unit = tcase_create("unit");
        TCase *mi = tcase_create("managed-identity");
        TCase *arc = tcase_create("arc");

        tcase_set_timeout(file, 180);
        tcase_add_test(file, test_assertion_file_rotation);
        tcase_add_test(file, test_assertion_file_deleted_then_restored);
        tcase_add_test(file, test_assertion_file_missing_at_start);
        tcase_add_test(file, test_assertion_file_expired);
        tcase_add_test(file, test_assertion_file_size_limit);
        tcase_add_test(file, test_assertion_file_unusable);
        tcase_add_test(file, test_assertion_file_credentials_directory);
        tcase_add_test(file, test_standin_federated_rules);
        suite_add_tcase(s, file);

        tcase_set_timeout(mi, 180);

        tcase_add_test(mi, test_imds_system_assigned);
        tcase_add_test(mi, test_imds_user_assigned);
        tcase_add_test(mi, test_imds_failures_and_expiry);
        tcase_add_test(mi, test_mi_plain_http_refused_elsewhere);
        suite_add_tcase(s, mi);

        if (geteuid() == 0) {
                tcase_set_timeout(arc, 180);
                tcase_add_unchecked_fixture(arc, arc_fixture_setup, arc_fixture_teardown);
                tcase_add_test(arc, test_arc_challenge);
                tcase_add_test(arc, test_arc_key_refused);
                suite_add_tcase(s, arc);
        } else
                fprintf(stderr, "check_federated: the Azure Arc cases need root (the agent's key directory "
                                MANAGED_IDENTITY_ARC_TOKENS_DIR " is fixed); skipped.\n");

        tcase_add_test(unit, test_jwt_peek_exp);
        tcase_add_test(unit, test_http_plain_local_addresses);
        tcase_add_test(unit, test_managed_identity_answer);
        suite_add_tcase(s, unit);
        return s;
}

int main(void) {
        return harness_main(suite());
}
