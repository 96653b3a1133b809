/* SPDX-License-Identifier: MIT */
/*
 * check_integration.c — the cancel path end to end: the real mediacanceld from the build tree,
 * the Graph/login stand-in over real TLS on loopback, real Unix sockets, and mediacancelctl.
 * Each test asserts both what the caller got and what the stand-in received.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

START_TEST(test_cancel_v1) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"ivr-42\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_str_eq(jstr(r, "result.operation.callId"), CALL_ID);
        ck_assert_str_eq(jstr(r, "result.operation.clientContext"), "ivr-42");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 200);
        const char *gid = jstr(r, "result.operation.graphOperationId");
        ck_assert_ptr_nonnull(gid);
        char *op_id = strdup(jstr(r, "result.operation.id"));
        char *graph_id = strdup(gid);
        ck_assert_int_eq(strlen(op_id), 36);
        json_object_put(r);

        /* What Graph saw: one cancel on the v1.0 path with our clientContext. */
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "cancelRequests"), 1);
        ck_assert_str_eq(jstr(st, "cancels.0.path"), "/v1.0/communications/calls/" CALL_ID "/cancelMediaProcessing");
        ck_assert_str_eq(jstr(st, "cancels.0.clientContext"), "ivr-42");
        json_object_put(st);

        /* operation.get by our id and by Graph's id in its URL spelling (upper case, no dashes). */
        char params[256];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op_id);
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.id"), op_id);
        json_object_put(r);
        char upper[64];
        size_t k = 0;
        for (const char *p = graph_id; *p && k < sizeof upper - 1; p++)
                if (*p != '-')
                        upper[k++] = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        upper[k] = '\0';
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", upper);
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.id"), op_id);
        json_object_put(r);

        r = harness_call(&h, fd, "operation.get", "{\"operationId\":\"nope\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32005);
        ck_assert_str_eq(jstr(r, "error.data.class"), "OperationNotFound");
        json_object_put(r);

        r = harness_call(&h, fd, "operation.list", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        json_object_put(r);
        r = harness_call(&h, fd, "operation.list", "{\"status\":\"failed\"}");
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 0);
        json_object_put(r);

        r = harness_call(&h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "result.token.state"), "valid");
        ck_assert_int_eq(jint(r, "result.operations.completed"), 1);
        ck_assert_int_eq(jint(r, "result.protocolVersion"), 2);
        ck_assert_str_eq(jstr(r, "result.graph.apiVersion"), "v1.0");
        json_object_put(r);

        free(op_id);
        free(graph_id);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

static void legacy_beta(const char *calls_path, const char *expect_path) {
        Harness h;
        char extra[256];
        snprintf(extra, sizeof extra, "[Graph]\nApiVersion=beta\nCallsPath=%s\n", calls_path);
        HarnessOptions o = { .config_extra = extra };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"all\":true}");
        /* The 2019 beta answered 202 with only a Location: accepted, outcome to follow. */
        ck_assert_str_eq(jstr(r, "result.operation.status"), "notStarted");
        ck_assert_ptr_nonnull(jstr(r, "result.operation.graphOperationId"));
        ck_assert(json_object_get_boolean(jpath(r, "result.operation.all")));
        json_object_put(r);

        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(st, "cancelRequests"), 1);
        ck_assert_str_eq(jstr(st, "cancels.0.path"), expect_path);
        ck_assert_int_eq(jint(st, "cancels.0.status"), 202);
        json_object_put(st);
        close(fd);
        harness_stop(&h);
}

START_TEST(test_cancel_legacy_app) {
        legacy_beta("/app/calls", "/beta/app/calls/" CALL_ID "/cancelMediaProcessing");
}
END_TEST

START_TEST(test_cancel_legacy_applications) {
        legacy_beta("/applications/{appId}/calls",
                    "/beta/applications/11111111-2222-3333-4444-555555555555/calls/" CALL_ID "/cancelMediaProcessing");
}
END_TEST

START_TEST(test_all_refused_on_v1) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"all\":true}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        ck_assert_str_eq(jstr(r, "error.data.param"), "all");
        json_object_put(r);

        /* Crafted call ids never reach Graph. */
        const char *bad[] = { "../x", "%2e", "a/b", "a?b", "a#b", "a b", "\\u00e9t\\u00e9", "", "a.b" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                char params[128];
                snprintf(params, sizeof params, "{\"callId\":\"%s\"}", bad[i]);
                r = harness_call(&h, fd, "cancel", params);
                ck_assert_msg(jint(r, "error.code") == -32602, "callId %s accepted", bad[i]);
                ck_assert_str_eq(jstr(r, "error.data.param"), "callId");
                json_object_put(r);
        }
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"bogus\":1}");
        ck_assert_str_eq(jstr(r, "error.data.param"), "bogus");
        json_object_put(r);

        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_unknown_call_404) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"unknown-call-1\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32004);
        ck_assert_str_eq(jstr(r, "error.data.class"), "GraphError");
        ck_assert_int_eq(jint(r, "error.data.httpStatus"), 404);
        ck_assert_ptr_nonnull(jstr(r, "error.data.graphCode"));
        ck_assert_ptr_nonnull(jstr(r, "error.data.requestId"));
        char params[128];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", jstr(r, "error.data.operationId"));
        json_object_put(r);

        /* The operation is kept, as failed, with the error that ended it. */
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "failed");
        ck_assert_str_eq(jstr(r, "result.operation.error.class"), "GraphError");
        ck_assert_int_eq(jint(r, "result.operation.error.httpStatus"), 404);
        json_object_put(r);
        /* 4xx is not retried. */
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_wrong_secret) {
        Harness h;
        HarnessOptions o = { .daemon_secret = "not-the-secret" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32002);
        ck_assert_str_eq(jstr(r, "error.data.class"), "TokenUnavailable");
        ck_assert_str_eq(jstr(r, "error.data.reason"), "invalid_client");
        ck_assert_str_eq(jstr(r, "error.data.aadsts"), "AADSTS7000215");
        json_object_put(r);

        r = harness_call(&h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "result.token.state"), "failed");
        ck_assert_str_eq(jstr(r, "result.token.lastError.aadsts"), "AADSTS7000215");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        /* A permanent error is not hammered. */
        ck_assert_int_le(standin_stat(&h, "tokenRequests"), 2);
        close(fd);

        /* The secret never shows in what the daemon wrote. */
        char *log = read_file_text(h.daemon_log);
        ck_assert_ptr_null(strstr(log, "not-the-secret"));
        ck_assert_ptr_null(strstr(log, "test-Secret"));
        free(log);
        harness_stop(&h);
}
END_TEST

START_TEST(test_token_renewal_under_load) {
        Harness h;
        HarnessOptions o = { .standin_args = "--token-lifetime 3" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        int ok = 0, sent = 0;
        struct timespec t0;

        /* 200 cancels spread evenly over 10 s against 3-second tokens, sent on schedule
         * whatever the answers' latency. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (ok < 200) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long elapsed_ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
                while (sent < 200 && sent * 50 <= elapsed_ms) {
                        char line[256];
                        snprintf(line, sizeof line,
                                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}",
                                 sent);
                        harness_send(fd, line);
                        sent++;
                }
                json_object *r = harness_read(fd, sent < 200 ? 10 : 30000);
                if (!r) {
                        ck_assert_msg(sent < 200, "replies missing: %d of 200", ok);
                        continue;
                }
                const char *status = jstr(r, "result.operation.status");
                ck_assert_msg(status && strcmp(status, "completed") == 0, "cancel failed: %s", json_object_to_json_string(r));
                ok++;
                json_object_put(r);
        }
        ck_assert_int_eq(ok, 200);
        int tokens = standin_stat(&h, "tokenRequests");
        /* Renewed at half of each 3 s lifetime: a handful of fetches, not one per cancel. */
        ck_assert_msg(tokens >= 4 && tokens <= 12, "token requests: %d", tokens);
        ck_assert_int_eq(standin_stat(&h, "unauthorized"), 0);

        /* No token the stand-in issued appears in the daemon's output. */
        json_object *st = standin_get(&h, "/_standin/stats");
        char *log = read_file_text(h.daemon_log);
        json_object *issued = jpath(st, "tokensIssued");
        ck_assert_int_ge(json_object_array_length(issued), 3);
        for (size_t i = 0; i < json_object_array_length(issued); i++)
                ck_assert_ptr_null(strstr(log, json_object_get_string(json_object_array_get_idx(issued, i))));
        free(log);
        json_object_put(st);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_401_refreshes_once) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        int before = standin_stat(&h, "tokenRequests");

        /* Graph stops accepting the token it handed out; the daemon must fetch a new one and
         * retry that request once. */
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_msg(jstr(r, "result.operation.status") != NULL, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), before + 1);
        ck_assert_int_eq(standin_stat(&h, "unauthorized"), 1);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_concurrent_connections) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 100" };
        harness_start(&h, &o);
        int fds[10];
        int seen[100] = { 0 };

        for (int c = 0; c < 10; c++)
                fds[c] = harness_connect(&h);
        /* 100 cancels pipelined over 10 connections, string and number ids mixed. */
        for (int i = 0; i < 100; i++) {
                char line[256];
                if (i % 2)
                        snprintf(line, sizeof line,
                                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"call-%d\",\"clientContext\":\"ctx-%d\"}}",
                                 i, i, i);
                else
                        snprintf(line, sizeof line,
                                 "{\"jsonrpc\":\"2.0\",\"id\":\"s-%d\",\"method\":\"cancel\",\"params\":{\"callId\":\"call-%d\",\"clientContext\":\"ctx-%d\"}}",
                                 i, i, i);
                harness_send(fds[i % 10], line);
        }
        for (int i = 0; i < 100; i++) {
                json_object *r = harness_read(fds[i % 10], 30000);
                ck_assert_ptr_nonnull(r);
                json_object *id = jpath(r, "id");
                int n = json_object_is_type(id, json_type_string) ? atoi(json_object_get_string(id) + 2)
                                                                   : json_object_get_int(id);
                ck_assert_int_ge(n, 0);
                ck_assert_int_lt(n, 100);
                ck_assert_int_eq(n % 10, i % 10); /* the reply came on the connection that asked */
                ck_assert_int_eq(json_object_is_type(id, json_type_string), n % 2 == 0);
                char expect[32];
                snprintf(expect, sizeof expect, "ctx-%d", n);
                ck_assert_str_eq(jstr(r, "result.operation.clientContext"), expect);
                ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
                seen[n]++;
                json_object_put(r);
        }
        for (int i = 0; i < 100; i++)
                ck_assert_int_eq(seen[i], 1);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 100);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        /* ~100 transfers were in flight at once, more than the easy-handle pool keeps: once
         * the burst has been over for 2 s the daemon hands the memory back (memory-trim.c). */
        bool trimmed = false;
        for (int waited = 0; !trimmed && waited < 5000 * harness_slowdown(); waited += 100) {
                sleep_ms(100);
                char *log = read_file_text(h.daemon_log);
                trimmed = log && strstr(log, "freed memory returned to the system");
                free(log);
        }
        ck_assert_msg(trimmed, "no memory trim logged after a burst of 100 cancels");
        for (int c = 0; c < 10; c++)
                close(fds[c]);
        harness_stop(&h);
}
END_TEST

START_TEST(test_protocol_framing) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxRequestBytes=1024\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        json_object *r;

        /* Malformed JSON: ParseError with a null id, and the connection stays usable. */
        harness_send(fd, "{\"jsonrpc\":\"2.0\",");
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32700);
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_null));
        json_object_put(r);
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"nope\"}");
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32601);
        ck_assert_str_eq(jstr(r, "id"), "x");
        json_object_put(r);

        /* A notification gets no reply; the status after it does. */
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}");
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"status\"}");
        r = harness_read(fd, 5000);
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_double));
        ck_assert_ptr_nonnull(jpath(r, "result.version"));
        json_object_put(r);

        /* A batch: one array of replies, invalid entries answered individually, the
         * notification in it not at all. */
        harness_send(fd, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"},"
                         "{\"jsonrpc\":\"2.0\",\"method\":\"status\"},"
                         "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"status\"},"
                         "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}]");
        r = harness_read(fd, 10000);
        ck_assert(json_object_is_type(r, json_type_array));
        ck_assert_int_eq(json_object_array_length(r), 3);
        int found = 0;
        for (int i = 0; i < 3; i++) {
                json_object *e = json_object_array_get_idx(r, (size_t) i);
                int id = json_object_get_int(jpath(e, "id"));
                if (id == 1 && jpath(e, "result.version"))
                        found |= 1;
                if (id == 3 && jint(e, "error.code") == -32600)
                        found |= 2;
                if (id == 4 && jstr(e, "result.operation.status"))
                        found |= 4;
        }
        ck_assert_int_eq(found, 7);
        json_object_put(r);

        harness_send(fd, "[]");
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32600);
        json_object_put(r);

        /* Exactly MaxRequestBytes is fine… */
        char line[2048];
        const char *head = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"status\",\"params\":{},\"x\":\"";
        /* (an unknown member: InvalidRequest, but parsed — what matters is the size) */
        size_t n = strlen(head);
        memcpy(line, head, n);
        while (n < 1024 - 2)
                line[n++] = 'a';
        line[n++] = '"';
        line[n++] = '}';
        line[n] = '\0';
        ck_assert_int_eq(strlen(line), 1024);
        harness_send(fd, line);
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32600);
        ck_assert_int_eq(jint(r, "id"), 9);
        json_object_put(r);

        /* …one byte more is LimitExceeded, and the connection is closed. */
        memmove(line + n - 2, "a\"}", 4);
        ck_assert_int_eq(strlen(line), 1025);
        harness_send(fd, line);
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32006);
        ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxRequestBytes");
        json_object_put(r);
        ck_assert_ptr_null(harness_read(fd, 5000));
        close(fd);

        /* Others are still served. */
        fd = harness_connect(&h);
        r = harness_call(&h, fd, "status", NULL);
        ck_assert_ptr_nonnull(jpath(r, "result"));
        json_object_put(r);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_out_of_order_replies) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 400" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        /* A slow cancel first, a status second: the status answer must not wait for Graph. */
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"slow\",\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}");
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"fast\",\"method\":\"status\"}");
        json_object *a = harness_read(fd, 10000), *b = harness_read(fd, 10000);
        ck_assert_str_eq(jstr(a, "id"), "fast");
        ck_assert_str_eq(jstr(b, "id"), "slow");
        ck_assert_str_eq(jstr(b, "result.operation.status"), "completed");
        json_object_put(a);
        json_object_put(b);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_completion_timeout_unknown) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=1\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        char params[128];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", jstr(r, "result.operation.id"));
        json_object_put(r);

        sleep_ms(300);
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        json_object_put(r);
        sleep_ms(1500);
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "unknown");
        json_object_put(r);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_ctl) {
        Harness h;
        HarnessOptions o = { .config_extra = "" };
        harness_start(&h, &o);
        char *out = NULL, *err = NULL;

        ck_assert_int_eq(harness_ctl(&h, "cancel " CALL_ID " --context from-ctl", &out, &err), 0);
        ck_assert_ptr_nonnull(strstr(out, "completed"));
        ck_assert_ptr_nonnull(strstr(out, "from-ctl"));
        free(out);
        free(err);

        ck_assert_int_eq(harness_ctl(&h, "--json list", &out, &err), 0);
        json_object *j = json_tokener_parse(out);
        ck_assert_int_eq(json_object_array_length(jpath(j, "operations")), 1);
        json_object_put(j);
        free(out);
        free(err);

        ck_assert_int_eq(harness_ctl(&h, "--json status", &out, &err), 0);
        j = json_tokener_parse(out);
        ck_assert_str_eq(jstr(j, "token.state"), "valid");
        json_object_put(j);
        free(out);
        free(err);

        /* 1: the daemon said no, with the class on stderr. */
        ck_assert_int_eq(harness_ctl(&h, "cancel 'a/b'", &out, &err), 1);
        ck_assert_ptr_nonnull(strstr(err, "InvalidParams"));
        free(out);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "get no-such-op", &out, &err), 1);
        ck_assert_ptr_nonnull(strstr(err, "OperationNotFound"));
        free(out);
        free(err);

        /* 2: usage. */
        ck_assert_int_eq(harness_ctl(&h, "frobnicate", &out, &err), 2);
        free(out);
        free(err);

        /* 3: no daemon; the message names the socket it tried. */
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        ck_assert_int_eq(harness_ctl(&h, "status", &out, &err), 3);
        ck_assert_ptr_nonnull(strstr(err, h.socket_path));
        free(out);
        free(err);
        harness_stop(&h);
}
END_TEST

#define FFFD "\xef\xbf\xbd"

/* Whether s holds a C1 control (U+0080..U+009F, UTF-8 C2 80..C2 9F) or DEL. */
static bool has_c1_or_del(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
                        return true;
        return false;
}

/* Graph's free text reaches clients and the journal without control characters: replaced by
 * U+FFFD (tab and LF kept, CR a space); a Graph error code with one is dropped. */
START_TEST(test_graph_text_controls) {
        Harness h;
        HarnessOptions o = { .config_extra = "" };
        harness_start(&h, &o);
        char journal[320];

        json_object_put(standin_post(&h, "/_standin/config",
                                     "{\"resultMessage\":\"done\\u009b2J\\u009d0;title\\u0007\\u001b[31m\\tred\\u007f\"}"));
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_msg(jstr(r, "result.operation.resultInfo.message"), "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.resultInfo.message"),
                         "done" FFFD "2J" FFFD "0;title" FFFD FFFD "[31m\tred" FFFD);
        char *id = strdup(jstr(r, "result.operation.id"));
        json_object_put(r);

        json_object_put(standin_post(&h, "/_standin/faults",
                                     "{\"rules\":[{\"kind\":\"cancel\",\"status\":400,\"count\":1,\"body\":{\"error\":"
                                     "{\"code\":\"bad\\u009bRequest\",\"message\":\"no\\u009d0;x\\u0007pe\"}}}]}"));
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_msg(jstr(r, "error.message"), "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.message"), "Graph answered 400: no" FFFD "0;x" FFFD "pe");
        ck_assert_ptr_null(jpath(r, "error.data.graphCode"));
        json_object_put(r);
        close(fd);

        /* What was stored: the journal (read after a clean stop) and ctl's view of it. */
        char *out = NULL, *err = NULL, args[128];
        snprintf(args, sizeof args, "--json get %s", id);
        ck_assert_int_eq(harness_ctl(&h, args, &out, &err), 0);
        ck_assert_msg(strstr(out, FFFD "2J"), "%s", out);
        free(out);
        free(err);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_journal_path(&h, journal, sizeof journal);
        char *text = read_file_text(journal);
        ck_assert_ptr_nonnull(strstr(text, FFFD "2J"));
        ck_assert(!has_c1_or_del(text));
        ck_assert_ptr_null(strstr(text, "\\u009"));
        ck_assert_ptr_null(strstr(text, "\\u001b"));
        free(text);
        free(id);
        harness_stop(&h);
}
END_TEST

/* A stand-in for the daemon on the socket: accepts one connection, reads the request line and
 * answers it with reply (one line). Returns the child's pid. */
static pid_t fake_daemon(const char *socket_path, const char *reply) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(lfd, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
        (void) unlink(socket_path);
        ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(listen(lfd, 1), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char buf[4096];
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(20);
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                        _exit(1);
                for (size_t n = 0; n < sizeof buf;) {
                        ssize_t k = read(fd, buf + n, sizeof buf - n);
                        if (k <= 0 || memchr(buf + n, '\n', (size_t) k))
                                break;
                        n += (size_t) k;
                }
                (void) !write(fd, reply, strlen(reply));
                (void) !write(fd, "\n", 1);
                sleep(1); /* let the client read before the close */
                _exit(0);
        }
        close(lfd);
        return pid;
}

/* mediacancelctl --json escapes C1 controls and DEL (json-c escapes only C0), so that what it
 * prints cannot drive a terminal, and stays the same JSON value. The daemon keeps no such
 * characters (test_graph_text_controls), so a stand-in daemon sends them. */
START_TEST(test_ctl_json_controls) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        harness_start(&h, &o);
        static const char message[] = "a\xc2\x9b" "2J\xc2\x9d" "0;t\x07 \x7f\xc2\x85 \xc2\xa0é";
        static const char reply[] =
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"operation\":{\"id\":\"op-1\",\"callId\":\"c\","
                "\"status\":\"completed\",\"resultInfo\":{\"code\":200,\"subcode\":0,"
                "\"message\":\"a\\u009b2J\\u009d0;t\\u0007 \\u007f\\u0085 \\u00a0\\u00e9\"}}}}";
        char *out = NULL, *err = NULL;
        int status;

        for (int json = 0; json < 2; json++) {
                pid_t pid = fake_daemon(h.socket_path, reply);
                ck_assert_int_eq(harness_ctl(&h, json ? "--json get op-1" : "get op-1", &out, &err), 0);
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_msg(!has_c1_or_del(out) && !strchr(out, '\x07'), "%s", out);
                if (json) {
                        ck_assert_msg(strstr(out, "\\u009b2J\\u009d0;t\\u0007 \\u007f\\u0085 \xc2\xa0é"), "%s", out);
                        json_object *j = json_tokener_parse(out);
                        ck_assert_ptr_nonnull(j);
                        ck_assert_str_eq(jstr(j, "operation.resultInfo.message"), message);
                        json_object_put(j);
                } else
                        ck_assert_msg(strstr(out, "a?2J?0;t? ?? \xc2\xa0é"), "%s", out);
                free(out);
                free(err);
        }
        harness_stop(&h);
}
END_TEST

START_TEST(test_config_errors) {
        Harness h;
        HarnessOptions o = { .no_daemon = true, .config_extra = "[Graph]\nEndpoint=http://127.0.0.1:1\n" };
        harness_start(&h, &o);
        char cmd[1024];

        snprintf(cmd, sizeof cmd, "'%s/mediacanceld' --config '%s' 2>'%s/err'", getenv("MEDIACANCEL_BUILDDIR") ?: ".",
                 h.config_path, h.dir);
        int st = system(cmd);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
        snprintf(cmd, sizeof cmd, "%s/err", h.dir);
        char *err = read_file_text(cmd);
        ck_assert_msg(strstr(err, "mediacanceld.conf:") && strstr(err, "Endpoint"), "%s", err);
        ck_assert_ptr_nonnull(strstr(err, "https://"));
        free(err);
        harness_stop(&h);
}
END_TEST

START_TEST(test_sigterm_drains) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 700" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}");
        sleep_ms(200);
        kill(h.daemon_pid, SIGTERM);
        /* The cancel in flight still gets its answer before the daemon exits. */
        json_object *r = harness_read(fd, 10000);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        close(fd);
        harness_stop(&h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("integration");
        TCase *tc = tcase_create("cancel-path");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_cancel_v1);
        tcase_add_test(tc, test_cancel_legacy_app);
        tcase_add_test(tc, test_cancel_legacy_applications);
        tcase_add_test(tc, test_all_refused_on_v1);
        tcase_add_test(tc, test_unknown_call_404);
        tcase_add_test(tc, test_wrong_secret);
        tcase_add_test(tc, test_401_refreshes_once);
        tcase_add_test(tc, test_token_renewal_under_load);
        tcase_add_test(tc, test_concurrent_connections);
        tcase_add_test(tc, test_protocol_framing);
        tcase_add_test(tc, test_out_of_order_replies);
        tcase_add_test(tc, test_completion_timeout_unknown);
        tcase_add_test(tc, test_ctl);
        tcase_add_test(tc, test_graph_text_controls);
        tcase_add_test(tc, test_ctl_json_controls);
        tcase_add_test(tc, test_config_errors);
        tcase_add_test(tc, test_sigterm_drains);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(suite());
}
