/* SPDX-License-Identifier: MIT */
/*
 * check_notification_auth.c — signed notifications end to end, with the real daemon and the
 * TLS stand-in as Graph's key host and signer: each deliberately bad token refused with its
 * reason, nothing applied and the operation unchanged; the refusal logged without the token;
 * key rotation (one refresh for the unknown kid, then accepted, and no second refresh within
 * UnknownKeyRefreshSec=); the key host down at start (deliveries held, then applied; or
 * refused at KeysWaitSec=) and later (the last good keys stay in use); Authentication=peer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "macro.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"

static void url_id(const char *id, char out[static 64]) {
        size_t k = 0;
        for (const char *p = id; *p && k < 63; p++)
                if (*p != '-')
                        out[k++] = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        out[k] = '\0';
}

/* A running operation: the stand-in answers the cancel "running". Returns the reply. */
static json_object *cancel_running(Harness *h, int fd, const char *context) {
        char params[256];
        snprintf(params, sizeof params, "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"%s\"}", context);
        json_object *r = harness_call(h, fd, "cancel", params);
        ck_assert_msg(jstr(r, "result.operation.status") && strcmp(jstr(r, "result.operation.status"), "running") == 0,
                      "cancel: %s", json_object_to_json_string(r));
        return r;
}

/* The body Graph posts when the operation completed, with "authorization" (NULL: none). */
static char *completion_body(const char *graph_id, const char *authorization) {
        char u[64], *s = NULL;
        url_id(graph_id, u);
        ck_assert_int_ge(asprintf(&s,
                                  "{%s%s%s\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/"
                                  "%s/operations/%s\",\"resourceData\":{\"@odata.type\":\"#microsoft.graph.commsOperation\","
                                  "\"id\":\"%s\",\"status\":\"completed\",\"resultInfo\":{\"code\":200,\"subcode\":0,"
                                  "\"message\":\"done\"}}}]}",
                                  authorization ? "\"authorization\":\"" : "", authorization ?: "",
                                  authorization ? "\"," : "", CALL_ID, u, graph_id),
                         0);
        return s;
}

static json_object *get_op(Harness *h, int fd, const char *id) {
        char params[128];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", id);
        return harness_call(h, fd, "operation.get", params);
}

static void standin_config(Harness *h, const char *json) {
        json_object *r = standin_post(h, "/_standin/config", json);
        ck_assert_msg(jpath(r, "error") == NULL, "stand-in config %s: %s", json, json_object_to_json_string(r));
        json_object_put(r);
}

/* deliver with a token of this variant; expects a refusal with this reason. */
static void expect_refused(Harness *h, int fd, const char *graph_id, const char *authorization, const char *reason) {
        char *body = completion_body(graph_id, authorization);
        json_object *r = harness_call(h, fd, "notifications.deliver", body);
        ck_assert_msg(jpath(r, "error") != NULL, "%s: accepted: %s", reason, json_object_to_json_string(r));
        ck_assert_int_eq(jint(r, "error.code"), -32010);
        ck_assert_str_eq(jstr(r, "error.data.class"), "NotificationRefused");
        ck_assert_msg(strcmp(jstr(r, "error.data.reason"), reason) == 0, "want %s: %s", reason,
                      json_object_to_json_string(r));
        /* The reply never quotes the token. */
        if (authorization && strlen(authorization) > 20)
                ck_assert_ptr_null(strstr(json_object_to_json_string(r), authorization + 7));
        json_object_put(r);
        free(body);
}

static json_object *status(Harness *h, int fd) {
        return harness_call(h, fd, "status", NULL);
}

START_TEST(test_bad_tokens_refused) {
        static const struct {
                const char *variant, *reason;
        } bad[] = {
                { "expired", "expired" },
                { "notYetValid", "notYetValid" },
                { "wrongAudience", "wrongAudience" },
                { "wrongIssuer", "wrongIssuer" },
                { "otherTenant", "tenantNotAllowed" },
                { "unknownKid", "unknownKey" },
                { "algNone", "unsupportedAlgorithm" },
                { "hs256PublicKey", "unsupportedAlgorithm" },
                { "changedPayload", "badSignature" },
                { "truncatedSignature", "badSignature" },
        };
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "auth-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        json_object *before = get_op(&h, fd, id);
        const char *updated = jstr(before, "result.operation.updatedAt");

        expect_refused(&h, fd, gid, NULL, "missing");
        expect_refused(&h, fd, gid, "Basic dXNlcjpwYXNz", "malformed");
        expect_refused(&h, fd, gid, "Bearer not-a-jwt", "malformed");
        char **tokens = calloc(ELEMENTSOF(bad), sizeof(char *));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                tokens[i] = harness_notification_token(&h, bad[i].variant, NULL);
                expect_refused(&h, fd, gid, tokens[i], bad[i].reason);
        }
        /* The unknown kid made the daemon look once for a newer key set, no more. */
        ck_assert_int_eq(standin_stat(&h, "keysRequests"), 2);
        ck_assert_int_eq(standin_stat(&h, "openidRequests"), 2);

        /* Nothing was applied: the operation is as it was, in status, result and updatedAt. */
        json_object *after = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(after, "result.operation.status"), "running");
        ck_assert_str_eq(jstr(after, "result.operation.updatedAt"), updated);
        ck_assert_ptr_null(jpath(after, "result.operation.resultInfo"));
        json_object_put(after);

        /* A good token: applied. */
        char *good = harness_notification_token(&h, "good", NULL), *body = completion_body(gid, good);
        json_object *r = harness_call(&h, fd, "notifications.deliver", body);
        ck_assert_msg(jint(r, "result.matched") == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        after = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(after, "result.operation.status"), "completed");
        json_object_put(after);

        /* The refusals are in the log with their reason, the tokens are not. */
        harness_stop_daemon(&h);
        char *log = read_file_text(h.daemon_log);
        ck_assert_ptr_nonnull(strstr(log, "Refused notifications"));
        ck_assert_ptr_nonnull(strstr(log, "(missing)"));
        ck_assert_ptr_nonnull(strstr(log, "(expired)"));
        /* 13 refusals; at most 10 lines per 10 s are written, so at least the first 10. */
        int lines = 0;
        for (const char *p = log; (p = strstr(p, "Refused notifications")); p++)
                lines++;
        ck_assert_int_ge(lines, 10);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *sig = strrchr(tokens[i], '.');
                if (sig && strlen(sig) > 16)
                        ck_assert_msg(!strstr(log, sig + 1), "token of %s in the log", bad[i].variant);
                ck_assert_ptr_null(strstr(log, tokens[i] + 7));
                free(tokens[i]);
        }
        ck_assert_ptr_null(strstr(log, strrchr(good, '.') + 1));
        free(tokens);
        free(log);
        free(good);
        free(body);
        json_object_put(before);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

START_TEST(test_rotation) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "rot-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        /* The first key set is in (a delivery would wait for it otherwise). */
        json_object *s = NULL;
        for (int i = 0; i < 200; i++) {
                json_object_put(s);
                s = status(&h, fd);
                if (jint(s, "result.notifications.keys.count") == 1)
                        break;
                usleep(20000);
        }
        ck_assert_int_eq(jint(s, "result.notifications.keys.count"), 1);
        json_object_put(s);
        int before = standin_stat(&h, "keysRequests");

        /* Graph switches keys: the old set has no key for the new tokens. */
        json_object_put(standin_post(&h, "/_standin/rotate-keys", "{}"));
        char *token = harness_notification_token(&h, "good", NULL), *body = completion_body(gid, token);
        json_object *r = harness_call(&h, fd, "notifications.deliver", body);
        ck_assert_msg(jint(r, "result.matched") == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "keysRequests"), before + 1);
        json_object *op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "completed");
        json_object_put(op);

        /* A kid nobody publishes: no second refresh within UnknownKeyRefreshSec=. */
        char *unknown = harness_notification_token(&h, "unknownKid", NULL), *b2 = completion_body(gid, unknown);
        r = harness_call(&h, fd, "notifications.deliver", b2);
        ck_assert_str_eq(jstr(r, "error.data.reason"), "unknownKey");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "keysRequests"), before + 1);

        free(unknown);
        free(b2);
        free(token);
        free(body);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

START_TEST(test_keys_down_at_start) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running", .no_daemon = true,
                             .config_extra = "[Notifications]\nKeysWaitSec=60\n" };
        harness_start(&h, &o);
        standin_config(&h, "{\"keysDown\":true}");
        harness_start_daemon(&h);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "down-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        /* The fetch failed: no keys, the error in status. */
        json_object *s = NULL;
        for (int i = 0; i < 200; i++) {
                json_object_put(s);
                s = status(&h, fd);
                if (jstr(s, "result.notifications.keys.lastError"))
                        break;
                usleep(20000);
        }
        ck_assert_int_eq(jint(s, "result.notifications.keys.count"), 0);
        ck_assert_ptr_nonnull(strstr(jstr(s, "result.notifications.keys.lastError"), "503"));
        json_object_put(s);

        /* A delivery now is held, not refused ... */
        char *token = harness_notification_token(&h, "good", NULL), *body = completion_body(gid, token), *line = NULL;
        ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":\"held\",\"method\":\"notifications.deliver\","
                                         "\"params\":%s}",
                                  body),
                         0);
        harness_send(fd, line);
        json_object *early = harness_read(fd, 300);
        ck_assert_msg(early == NULL, "answered before there were keys: %s", json_object_to_json_string(early));
        json_object *op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "running");
        json_object_put(op);

        /* ... and applied once the keys can be fetched. */
        standin_config(&h, "{\"keysDown\":false}");
        json_object *r = harness_read(fd, 30000 * harness_slowdown());
        ck_assert_msg(r && jstr(r, "id") && strcmp(jstr(r, "id"), "held") == 0, "%s", json_object_to_json_string(r));
        ck_assert_msg(jint(r, "result.matched") == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "completed");
        json_object_put(op);
        s = status(&h, fd);
        ck_assert_int_eq(jint(s, "result.notifications.keys.count"), 1);
        ck_assert_ptr_null(jstr(s, "result.notifications.keys.lastError"));
        json_object_put(s);

        free(line);
        free(token);
        free(body);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

/* Keys that never come: the delivery is refused at KeysWaitSec=, with nothing applied. */
START_TEST(test_keys_never_come) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running", .no_daemon = true,
                             .config_extra = "[Notifications]\nKeysWaitSec=1\n" };
        harness_start(&h, &o);
        standin_config(&h, "{\"keysDown\":true}");
        harness_start_daemon(&h);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "never-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        char *token = harness_notification_token(&h, "good", NULL);
        expect_refused(&h, fd, gid, token, "keysUnavailable");
        json_object *op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "running");
        json_object_put(op);
        free(token);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

START_TEST(test_keys_down_later) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "later-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        json_object *s = NULL;
        for (int i = 0; i < 200; i++) {
                json_object_put(s);
                s = status(&h, fd);
                if (jint(s, "result.notifications.keys.count") == 1)
                        break;
                usleep(20000);
        }
        json_object_put(s);

        /* The key host goes down; a refresh (asked for by an unknown kid) fails. */
        standin_config(&h, "{\"keysDown\":true}");
        char *unknown = harness_notification_token(&h, "unknownKid", NULL);
        expect_refused(&h, fd, gid, unknown, "unknownKey");
        s = status(&h, fd);
        ck_assert_int_eq(jint(s, "result.notifications.keys.count"), 1);
        ck_assert_ptr_nonnull(jstr(s, "result.notifications.keys.lastError"));
        json_object_put(s);

        /* The last good keys are still used. */
        char *token = harness_notification_token(&h, "good", NULL), *body = completion_body(gid, token);
        json_object *r = harness_call(&h, fd, "notifications.deliver", body);
        ck_assert_msg(jint(r, "result.matched") == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        json_object *op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "completed");
        json_object_put(op);

        free(unknown);
        free(token);
        free(body);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

START_TEST(test_peer_mode) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Notifications]\nAuthentication=peer\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *c = cancel_running(&h, fd, "peer-1");
        const char *id = jstr(c, "result.operation.id"), *gid = jstr(c, "result.operation.graphOperationId");
        /* No token, or a bad one: the peer's notify role is all that counts. */
        char *body = completion_body(gid, "Bearer garbage");
        json_object *r = harness_call(&h, fd, "notifications.deliver", body);
        ck_assert_msg(jint(r, "result.matched") == 1, "%s", json_object_to_json_string(r));
        json_object_put(r);
        json_object *op = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(op, "result.operation.status"), "completed");
        json_object_put(op);
        json_object *s = status(&h, fd);
        ck_assert_str_eq(jstr(s, "result.notifications.authentication"), "peer");
        ck_assert_ptr_nonnull(jpath(s, "result.notifications"));
        json_object_put(s);
        /* Keys are never fetched. */
        ck_assert_int_eq(standin_stat(&h, "openidRequests"), 0);
        ck_assert_int_eq(standin_stat(&h, "keysRequests"), 0);

        free(body);
        json_object_put(c);
        harness_stop(&h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("notification-auth");
        TCase *tc = tcase_create("notification-auth");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_bad_tokens_refused);
        tcase_add_test(tc, test_rotation);
        tcase_add_test(tc, test_keys_down_at_start);
        tcase_add_test(tc, test_keys_never_come);
        tcase_add_test(tc, test_keys_down_later);
        tcase_add_test(tc, test_peer_mode);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(suite());
}
