/* SPDX-License-Identifier: MIT */
/*
 * check_graph.c — unit tests for graph.c, the pure knowledge about Graph and the identity
 * platform: request URLs for every API version and calls path, percent-encoding, cancel
 * bodies, parsing of cancel/operation answers and Graph errors, Retry-After, the retry and
 * token-renewal schedules, and token answers and requests.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "graph.h"
#include "identity.h"
#include "graph-notification.h"
#include "validate.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
#define APP_ID "11111111-2222-3333-4444-555555555555"
#define OP_ID "0fe0623f-d0ee-4a1a-9b8f-9d9b1b9c1e2a"
#define SEC(x) ((uint64_t) (x) * USEC_PER_SEC)
#define MSEC(x) ((uint64_t) (x) * USEC_PER_MSEC)

/* ---- helpers ---- */

static void set_string(char **field, const char *value) {
        free(*field);
        *field = value ? strdup(value) : NULL;
        if (value)
                ck_assert_ptr_nonnull(*field);
}

static Config *make_config(const char *api_version, const char *calls_path) {
        Config *c = NULL;

        ck_assert_int_eq(config_new(&c), 0);
        set_string(&c->graph_endpoint, "https://graph.example");
        set_string(&c->api_version, api_version);
        set_string(&c->calls_path, calls_path);
        set_string(&c->client_id, APP_ID);
        return c;
}

static const char *plain(json_object *j) {
        return json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void assert_escape(const char *in, const char *expected) {
        _cleanup_free_ char *out = url_escape(in);

        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(out, expected);
}

static void assert_body(const char *client_context, int all, const char *expected) {
        _cleanup_free_ char *body = NULL;

        ck_assert_int_eq(graph_cancel_body(client_context, all, &body), 0);
        ck_assert_ptr_nonnull(body);
        ck_assert_str_eq(body, expected);
}

static int answer(long status, const char *location, const char *request_id, const char *retry_after,
                  const char *body, GraphAnswer *ret) {
        return graph_answer_parse(status, location, request_id, retry_after, body, body ? strlen(body) : 0,
                                  SEC(1700000000), ret);
}

/* A GraphError whose data is exactly expected_data (compact JSON). */
static void assert_graph_error(const GraphAnswer *a, const char *message, const char *expected_data) {
        ck_assert_ptr_nonnull(a->error);
        ck_assert_int_eq(a->error->class, ERROR_GRAPH);
        ck_assert_str_eq(a->error->message, message);
        ck_assert_ptr_nonnull(a->error->data);
        ck_assert_str_eq(plain(a->error->data), expected_data);
}

static int token(long status, const char *body, TokenAnswer *ret) {
        return token_answer_parse(status, body, body ? strlen(body) : 0, ret);
}

/* A token answer the daemon cannot use, without an error body of the platform's own. */
static void assert_token_unusable(long status, const char *body, const char *error, const char *description) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(status, body, &a), 0);
        ck_assert_ptr_null(a.access_token);
        ck_assert_str_eq(a.error, error);
        ck_assert_str_eq(a.description, description);
        ck_assert_ptr_null(a.aadsts);
        ck_assert(!a.permanent);
        token_answer_done(&a);
}

/* ---- URLs ---- */

START_TEST(test_cancel_url_v1) {
        _cleanup_(config_freep) Config *c = make_config("v1.0", "/communications/calls");
        _cleanup_free_ char *url = NULL;

        ck_assert_int_eq(graph_cancel_url(c, CALL_ID, &url), 0);
        ck_assert_str_eq(url, "https://graph.example/v1.0/communications/calls/" CALL_ID "/cancelMediaProcessing");
}
END_TEST

START_TEST(test_cancel_url_beta_app) {
        _cleanup_(config_freep) Config *c = make_config("beta", "/app/calls");
        _cleanup_free_ char *url = NULL;

        ck_assert_int_eq(graph_cancel_url(c, CALL_ID, &url), 0);
        ck_assert_str_eq(url, "https://graph.example/beta/app/calls/" CALL_ID "/cancelMediaProcessing");
}
END_TEST

START_TEST(test_cancel_url_beta_applications) {
        _cleanup_(config_freep) Config *c = make_config("beta", "/applications/{appId}/calls");
        _cleanup_free_ char *url = NULL, *escaped = NULL;

        ck_assert_int_eq(graph_cancel_url(c, CALL_ID, &url), 0);
        ck_assert_str_eq(url, "https://graph.example/beta/applications/" APP_ID "/calls/" CALL_ID "/cancelMediaProcessing");

        /* The app id is percent-encoded too: nothing from configuration changes the path shape. */
        set_string(&c->client_id, "a b/..");
        ck_assert_int_eq(graph_cancel_url(c, "X", &escaped), 0);
        ck_assert_str_eq(escaped, "https://graph.example/beta/applications/a%20b%2F../calls/X/cancelMediaProcessing");
}
END_TEST

START_TEST(test_cancel_url_invalid_call_id) {
        _cleanup_(config_freep) Config *c = make_config("beta", "/applications/{appId}/calls");
        _cleanup_free_ char *long_id = malloc(130);
        static const char *const bad[] = { "", "../x", "a/b", "%2e", "?", "#", "a b", "a.b", "\xc3\xa9" };

        ck_assert_ptr_nonnull(long_id);
        memset(long_id, 'a', 129);
        long_id[129] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *url = NULL;
                ck_assert_int_eq(graph_cancel_url(c, bad[i], &url), -EINVAL);
                ck_assert_ptr_null(url);
        }
        char *url = NULL;
        ck_assert_int_eq(graph_cancel_url(c, NULL, &url), -EINVAL);
        ck_assert_ptr_null(url);
        ck_assert_int_eq(graph_cancel_url(c, long_id, &url), -EINVAL);
        ck_assert_ptr_null(url);
        long_id[128] = '\0';
        ck_assert_int_eq(graph_cancel_url(c, long_id, &url), 0);
        ck_assert_ptr_nonnull(url);
        free(url);
}
END_TEST

START_TEST(test_operation_url) {
        _cleanup_(config_freep) Config *v1 = make_config("v1.0", "/communications/calls");
        _cleanup_(config_freep) Config *beta = make_config("beta", "/applications/{appId}/calls");
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL, *q = NULL;
        char *none = NULL;

        ck_assert_int_eq(graph_operation_url(v1, CALL_ID, OP_ID, &a), 0);
        ck_assert_str_eq(a, "https://graph.example/v1.0/communications/calls/" CALL_ID "/operations/" OP_ID);
        ck_assert_int_eq(graph_operation_url(beta, "X", "17e3b46c-aaaa", &b), 0);
        ck_assert_str_eq(b, "https://graph.example/beta/applications/" APP_ID "/calls/X/operations/17e3b46c-aaaa");
        /* The operation id comes from Graph; it is escaped so it cannot climb out of the path. */
        ck_assert_int_eq(graph_operation_url(v1, "X", "..", &d), 0);
        ck_assert_str_eq(d, "https://graph.example/v1.0/communications/calls/X/operations/%2E%2E");
        ck_assert_int_eq(graph_operation_url(v1, "X", "a/b?c#d", &q), 0);
        ck_assert_str_eq(q, "https://graph.example/v1.0/communications/calls/X/operations/a%2Fb%3Fc%23d");

        ck_assert_int_eq(graph_operation_url(v1, "X", "", &none), -EINVAL);
        ck_assert_int_eq(graph_operation_url(v1, "X", NULL, &none), -EINVAL);
        ck_assert_int_eq(graph_operation_url(v1, "a/b", OP_ID, &none), -EINVAL);
        ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_url_escape) {
        assert_escape("", "");
        assert_escape("AZaz09-._~", "AZaz09-._~");
        assert_escape(" ", "%20");
        assert_escape("/?#%&=+", "%2F%3F%23%25%26%3D%2B");
        assert_escape(":@!$'()*,;", "%3A%40%21%24%27%28%29%2A%2C%3B");
        assert_escape("\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D");
        assert_escape("\xc3\xa9", "%C3%A9");
        assert_escape("\x01\x7f\x80\xff", "%01%7F%80%FF");
        /* Dot-segments alone would change the path; dots elsewhere are plain. */
        assert_escape(".", "%2E");
        assert_escape("..", "%2E%2E");
        assert_escape("...", "...");
        assert_escape("a..", "a..");
        assert_escape(".a", ".a");
        assert_escape("%2e", "%252e");
}
END_TEST

START_TEST(test_cancel_body) {
        assert_body(NULL, -1, "{}");
        assert_body("ivr-42", -1, "{\"clientContext\":\"ivr-42\"}");
        assert_body("ivr-42", 1, "{\"clientContext\":\"ivr-42\",\"all\":true}");
        assert_body("ivr-42", 0, "{\"clientContext\":\"ivr-42\",\"all\":false}");
        assert_body(NULL, 1, "{\"all\":true}");
        assert_body(NULL, 0, "{\"all\":false}");
        /* Quotes and backslashes are escaped, '/' and UTF-8 kept as they are. */
        assert_body("a\"b\\c/d \xc3\xa9", -1, "{\"clientContext\":\"a\\\"b\\\\c/d \xc3\xa9\"}");
}
END_TEST

START_TEST(test_supports_all) {
        static const struct {
                const char *version, *path;
                bool expected;
        } cases[] = {
                { "v1.0", "/communications/calls", false },
                { "beta", "/communications/calls", false },
                { "beta", "/app/calls", true },
                { "beta", "/applications/{appId}/calls", true },
                { "v1.0", "/app/calls", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = make_config(cases[i].version, cases[i].path);
                ck_assert_msg(graph_config_supports_all(c) == cases[i].expected, "case %zu", i);
        }
}
END_TEST

/* ---- answers ---- */

START_TEST(test_answer_v1_200) {
        GraphAnswer a = {};

        ck_assert_int_eq(answer(200, "https://graph.example/v1.0/communications/calls/X/operations/other-id", "req-9",
                                NULL,
                                "{\"@odata.type\":\"#microsoft.graph.cancelMediaProcessingOperation\","
                                "\"status\":\"completed\",\"clientContext\":\"c\",\"id\":\"" OP_ID "\","
                                "\"resultInfo\":{\"code\":200,\"subcode\":0,\"message\":\"ok\"}}",
                                &a),
                         0);
        ck_assert_int_eq(a.http_status, 200);
        ck_assert_ptr_null(a.error);
        ck_assert_str_eq(a.operation_id, OP_ID); /* the body wins over Location */
        ck_assert_int_eq(a.status, GRAPH_OP_COMPLETED);
        ck_assert(a.has_result_info);
        ck_assert_int_eq(a.result_code, 200);
        ck_assert_int_eq(a.result_subcode, 0);
        ck_assert_str_eq(a.result_message, "ok");
        ck_assert_str_eq(a.client_context, "c");
        ck_assert_ptr_null(a.completion_reason);
        ck_assert_str_eq(a.request_id, "req-9");
        ck_assert_uint_eq(a.retry_after_usec, 0);
        graph_answer_done(&a);
        ck_assert_ptr_null(a.operation_id);
        ck_assert_int_eq(a.http_status, 0);
}
END_TEST

START_TEST(test_answer_operation_get) {
        GraphAnswer a = {};

        ck_assert_int_eq(answer(200, NULL, NULL, NULL,
                                "{\"id\":\"op-1\",\"status\":\"failed\",\"completionReason\":\"timeout\","
                                "\"resultInfo\":{\"code\":500,\"subcode\":8500,\"message\":\"gone\"}}",
                                &a),
                         0);
        ck_assert_ptr_null(a.error);
        ck_assert_str_eq(a.operation_id, "op-1");
        ck_assert_int_eq(a.status, GRAPH_OP_FAILED);
        ck_assert_str_eq(a.completion_reason, "timeout");
        ck_assert_int_eq(a.result_code, 500);
        ck_assert_int_eq(a.result_subcode, 8500);
        ck_assert_str_eq(a.result_message, "gone");
        ck_assert_ptr_null(a.client_context);
        ck_assert_ptr_null(a.request_id);
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_answer_beta_202_location) {
        static const struct {
                const char *location, *expected;
        } cases[] = {
                { "https://graph/beta/app/calls/X/operations/17e3b46c-aaaa?x=1", "17e3b46c-aaaa" },
                { "https://graph/beta/app/calls/X/operations/17e3b46c-aaaa", "17e3b46c-aaaa" },
                { "https://graph/beta/app/calls/X/operations/17e3b46c-aaaa#frag", "17e3b46c-aaaa" },
                { "https://graph/beta/app/calls/X/operations/17e3b46c-aaaa?next=/a/b", "17e3b46c-aaaa" },
                { "/operations/op-2", "op-2" },
                { "op-3", "op-3" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GraphAnswer a = {};

                ck_assert_int_eq(answer(202, cases[i].location, NULL, NULL, NULL, &a), 0);
                ck_assert_int_eq(a.http_status, 202);
                ck_assert_ptr_null(a.error);
                ck_assert_ptr_nonnull(a.operation_id);
                ck_assert_msg(streq(a.operation_id, cases[i].expected), "%s: got %s", cases[i].location, a.operation_id);
                ck_assert_int_eq(a.status, GRAPH_OP_NONE);
                ck_assert(!a.has_result_info);
                ck_assert_ptr_null(a.result_message);
                graph_answer_done(&a);
        }

        /* Location ending in '/' or '?': no segment, no id. */
        GraphAnswer a = {};
        ck_assert_int_eq(answer(202, "https://graph/beta/app/calls/X/operations/", NULL, NULL, NULL, &a), 0);
        ck_assert_ptr_null(a.error);
        ck_assert_ptr_null(a.operation_id);
        graph_answer_done(&a);
        ck_assert_int_eq(answer(202, "https://graph/beta/app/calls/X/operations/?x=1", NULL, NULL, NULL, &a), 0);
        ck_assert_ptr_null(a.operation_id);
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_answer_204) {
        GraphAnswer a = {};

        ck_assert_int_eq(answer(204, NULL, "req-1", NULL, NULL, &a), 0);
        ck_assert_int_eq(a.http_status, 204);
        ck_assert_ptr_null(a.error);
        ck_assert_int_eq(a.status, GRAPH_OP_NONE);
        ck_assert_ptr_null(a.operation_id);
        ck_assert(!a.has_result_info);
        ck_assert_str_eq(a.request_id, "req-1");
        graph_answer_done(&a);

        /* An empty body with a 200 or 202 is not an error either. */
        ck_assert_int_eq(answer(202, "", NULL, NULL, "", &a), 0);
        ck_assert_ptr_null(a.error);
        ck_assert_ptr_null(a.operation_id);
        ck_assert_int_eq(a.status, GRAPH_OP_NONE);
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_answer_status_case) {
        static const struct {
                const char *s;
                GraphOpStatus expected;
        } cases[] = {
                { "completed", GRAPH_OP_COMPLETED },  { "Completed", GRAPH_OP_COMPLETED },
                { "RUNNING", GRAPH_OP_RUNNING },      { "running", GRAPH_OP_RUNNING },
                { "notStarted", GRAPH_OP_NOT_STARTED }, { "NotStarted", GRAPH_OP_NOT_STARTED },
                { "FAILED", GRAPH_OP_FAILED },        { "unknownFutureValue", GRAPH_OP_NONE },
                { "", GRAPH_OP_NONE },                { "complete", GRAPH_OP_NONE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char body[128];
                GraphAnswer a = {};

                ck_assert_int_eq(graph_op_status_from_string(cases[i].s), cases[i].expected);
                snprintf(body, sizeof body, "{\"id\":\"o\",\"status\":\"%s\"}", cases[i].s);
                ck_assert_int_eq(answer(200, NULL, NULL, NULL, body, &a), 0);
                ck_assert_ptr_null(a.error);
                ck_assert_msg(a.status == cases[i].expected, "\"%s\": got %d", cases[i].s, (int) a.status);
                graph_answer_done(&a);
        }
        ck_assert_int_eq(graph_op_status_from_string(NULL), GRAPH_OP_NONE);

        /* A status that is not a string is no status. */
        GraphAnswer a = {};
        ck_assert_int_eq(answer(200, NULL, NULL, NULL, "{\"id\":\"o\",\"status\":3}", &a), 0);
        ck_assert_ptr_null(a.error);
        ck_assert_int_eq(a.status, GRAPH_OP_NONE);
        graph_answer_done(&a);
}
END_TEST

#define NOT_FOUND_BODY                                                                              \
        "{\"error\":{\"code\":\"itemNotFound\",\"message\":\"Call not found\",\"innerError\":{" \
        "\"request-id\":\"rid-1\",\"date\":\"2026-11-26T21:00:00\"}}}"

START_TEST(test_answer_graph_error) {
        GraphAnswer a = {};

        /* The request-id header wins over the body's copy. */
        ck_assert_int_eq(answer(404, NULL, "hdr-1", NULL, NOT_FOUND_BODY, &a), 0);
        ck_assert_int_eq(a.http_status, 404);
        assert_graph_error(&a, "Graph answered 404 itemNotFound: Call not found",
                           "{\"httpStatus\":404,\"graphCode\":\"itemNotFound\",\"requestId\":\"hdr-1\"}");
        ck_assert_str_eq(a.request_id, "hdr-1");
        ck_assert_ptr_null(a.operation_id);
        graph_answer_done(&a);

        ck_assert_int_eq(answer(404, NULL, NULL, NULL, NOT_FOUND_BODY, &a), 0);
        assert_graph_error(&a, "Graph answered 404 itemNotFound: Call not found",
                           "{\"httpStatus\":404,\"graphCode\":\"itemNotFound\",\"requestId\":\"rid-1\"}");
        ck_assert_ptr_null(a.request_id);
        graph_answer_done(&a);

        /* Graph also spells it "innererror". */
        ck_assert_int_eq(answer(403, NULL, NULL, NULL,
                                "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"request-id\":\"rid-2\"}}}", &a),
                         0);
        assert_graph_error(&a, "Graph answered 403 Forbidden",
                           "{\"httpStatus\":403,\"graphCode\":\"Forbidden\",\"requestId\":\"rid-2\"}");
        graph_answer_done(&a);

        /* Not a Graph error body at all. */
        ck_assert_int_eq(answer(502, NULL, NULL, NULL, "<html>Bad Gateway</html>", &a), 0);
        assert_graph_error(&a, "Graph answered 502", "{\"httpStatus\":502,\"graphCode\":null,\"requestId\":null}");
        graph_answer_done(&a);

        ck_assert_int_eq(answer(400, NULL, NULL, NULL, NULL, &a), 0);
        assert_graph_error(&a, "Graph answered 400", "{\"httpStatus\":400,\"graphCode\":null,\"requestId\":null}");
        graph_answer_done(&a);

        /* Status codes outside 2xx are errors even with a success-shaped body. */
        ck_assert_int_eq(answer(302, "https://elsewhere/x", NULL, NULL, "{\"id\":\"x\",\"status\":\"completed\"}", &a), 0);
        assert_graph_error(&a, "Graph answered 302", "{\"httpStatus\":302,\"graphCode\":null,\"requestId\":null}");
        ck_assert_ptr_null(a.operation_id);
        ck_assert_int_eq(a.status, GRAPH_OP_NONE);
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_answer_2xx_not_json) {
        static const char *const bodies[] = { "<html>ok</html>", "[]", "\"completed\"", "{\"id\":" };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                GraphAnswer a = {};

                ck_assert_int_eq(answer(200, "https://graph/x/operations/op", "req-7", NULL, bodies[i], &a), 0);
                assert_graph_error(&a, "Graph answered 200 with a body that is not a JSON object",
                                   "{\"httpStatus\":200,\"graphCode\":null,\"requestId\":\"req-7\"}");
                ck_assert_ptr_null(a.operation_id);
                ck_assert_int_eq(a.status, GRAPH_OP_NONE);
                graph_answer_done(&a);
        }
}
END_TEST

START_TEST(test_answer_retry_after) {
        GraphAnswer a = {};

        ck_assert_int_eq(answer(429, NULL, NULL, "2.128", NULL, &a), 0);
        ck_assert_uint_eq(a.retry_after_usec, 2128000);
        ck_assert_ptr_nonnull(a.error);
        graph_answer_done(&a);

        ck_assert_int_eq(answer(503, NULL, NULL, "120", NULL, &a), 0);
        ck_assert_uint_eq(a.retry_after_usec, SEC(120));
        graph_answer_done(&a);

        /* now is 1700000000 s: Tue, 14 Nov 2023 22:13:20 GMT. */
        ck_assert_int_eq(answer(503, NULL, NULL, "Tue, 14 Nov 2023 22:13:50 GMT", NULL, &a), 0);
        ck_assert_uint_eq(a.retry_after_usec, SEC(30));
        graph_answer_done(&a);

        /* Unparsable: treated as absent, the answer itself still parses. */
        ck_assert_int_eq(answer(429, NULL, NULL, "soon", NULL, &a), 0);
        ck_assert_uint_eq(a.retry_after_usec, 0);
        ck_assert_ptr_nonnull(a.error);
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_parse_retry_after) {
        const uint64_t date = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
        uint64_t v = 0;

        ck_assert_int_eq(parse_retry_after("120", 0, &v), 0);
        ck_assert_uint_eq(v, SEC(120));
        ck_assert_int_eq(parse_retry_after("0", 0, &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_retry_after("2.128", 0, &v), 0);
        ck_assert_uint_eq(v, 2128000);
        ck_assert_int_eq(parse_retry_after("0.0005", 0, &v), 0);
        ck_assert_uint_eq(v, 500);
        ck_assert_int_eq(parse_retry_after("0.0000005", 0, &v), 0); /* half a µs rounds up */
        ck_assert_uint_eq(v, 1);
        ck_assert_int_eq(parse_retry_after("0.0000004", 0, &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_retry_after(" 5 ", 0, &v), 0);
        ck_assert_uint_eq(v, SEC(5));
        ck_assert_int_eq(parse_retry_after("180", 0, &v), 0);
        ck_assert_uint_eq(v, GRAPH_RETRY_AFTER_MAX_USEC);
        ck_assert_uint_eq(GRAPH_RETRY_AFTER_MAX_USEC, SEC(180));
        /* Longer waits are capped, not refused: the server does want a pause. */
        static const char *const long_waits[] = { "180.0000001", "181", "86400", "86401", "1e999", "0x1p99999" };
        for (size_t i = 0; i < ELEMENTSOF(long_waits); i++) {
                v = 0;
                ck_assert_msg(parse_retry_after(long_waits[i], 0, &v) == 0, "refused \"%s\"", long_waits[i]);
                ck_assert_msg(v == GRAPH_RETRY_AFTER_MAX_USEC, "\"%s\" is %" PRIu64 " µs", long_waits[i], v);
        }
        ck_assert_int_eq(parse_retry_after("179.9999999", 0, &v), 0);
        ck_assert_uint_eq(v, SEC(180)); /* rounds to the cap */
        ck_assert_int_eq(parse_retry_after("179.999", 0, &v), 0);
        ck_assert_uint_eq(v, SEC(180) - 1000);

        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", SEC(date - 30), &v), 0);
        ck_assert_uint_eq(v, SEC(30));
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", SEC(date) - 1500000, &v), 0);
        ck_assert_uint_eq(v, 1500000);
        /* A date in the past means "now". */
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", SEC(date + 10), &v), 0);
        ck_assert_uint_eq(v, 0);
        /* A date further ahead than the cap is the cap, in any year strptime() takes (a hold of
         * 2.9 million days for the year 9999 before), at the edge to the second. */
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:52:37 GMT", SEC(date), &v), 0);
        ck_assert_uint_eq(v, SEC(180));
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:52:38 GMT", SEC(date), &v), 0);
        ck_assert_uint_eq(v, SEC(180));
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:52:36 GMT", SEC(date), &v), 0);
        ck_assert_uint_eq(v, SEC(179));
        ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:52:37 GMT", SEC(date) + 1, &v), 0);
        ck_assert_uint_eq(v, SEC(180) - 1);
        ck_assert_int_eq(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", SEC(date), &v), 0);
        ck_assert_uint_eq(v, GRAPH_RETRY_AFTER_MAX_USEC);
        ck_assert_int_eq(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", SEC(1700000000), &v), 0);
        ck_assert_uint_eq(v, GRAPH_RETRY_AFTER_MAX_USEC);
        /* Before 1970 (a negative time_t, which wrapped to a wait of 584,000 years): now. */
        static const char *const past[] = { "Sun, 06 Nov 1960 08:49:37 GMT", "Mon, 01 Jan 1900 00:00:00 GMT",
                                            "Thu, 01 Jan 1970 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:01 GMT" };
        for (size_t i = 0; i < ELEMENTSOF(past); i++) {
                v = 4242;
                ck_assert_msg(parse_retry_after(past[i], SEC(date), &v) == 0, "refused \"%s\"", past[i]);
                ck_assert_msg(v == 0, "\"%s\" is %" PRIu64 " µs", past[i], v);
        }

        static const char *const bad[] = { "soon", "", " ", "-5", "-0", "12abc", "1 2", "+5",
                                           "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT x",
                                           "Sunday, 06-Nov-94 08:49:37 GMT" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = 4242;
                ck_assert_msg(parse_retry_after(bad[i], SEC(date), &v) == -EINVAL, "accepted \"%s\"", bad[i]);
                ck_assert_uint_eq(v, 4242);
        }
        ck_assert_int_eq(parse_retry_after(NULL, 0, &v), -EINVAL);
        ck_assert_uint_eq(v, 4242);
}
END_TEST

START_TEST(test_retryable) {
        static const long yes[] = { 429, 500, 502, 503, 504 };
        static const long no[] = { 200, 202, 204, 400, 401, 403, 404, 408, 409, 501, 505, 599 };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                ck_assert_msg(graph_status_is_retryable(yes[i]), "%ld", yes[i]);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                ck_assert_msg(!graph_status_is_retryable(no[i]), "%ld", no[i]);
}
END_TEST

/* ---- retry schedule ---- */

START_TEST(test_backoff_bounds) {
        const uint64_t base = MSEC(200), max = SEC(10);
        /* min(max, base·2^attempt) for attempts 0..7 */
        static const uint64_t caps[] = { MSEC(200), MSEC(400), MSEC(800), MSEC(1600),
                                         MSEC(3200), MSEC(6400), SEC(10), SEC(10) };

        for (unsigned attempt = 0; attempt < ELEMENTSOF(caps); attempt++) {
                uint64_t cap = caps[attempt];

                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, 0), 0);
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, cap), cap);       /* the bound is reached */
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, cap + 1), 0);     /* and never passed */
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, cap + 2), 1);
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, 2 * cap + 1), cap);
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, 2 * cap + 2), 0);
                ck_assert_uint_eq(backoff_delay_usec(attempt, base, max, cap / 2), cap / 2);
                ck_assert_uint_le(backoff_delay_usec(attempt, base, max, UINT64_MAX), cap);
                ck_assert_uint_le(backoff_delay_usec(attempt, base, max, UINT64_MAX - 12345), cap);
        }
}
END_TEST

START_TEST(test_backoff_large_attempts) {
        static const unsigned attempts[] = { 64, 65, 100, 1000, UINT_MAX };

        /* The extremes of the configuration: RetryBaseMs=1 reaches RetryMaxMs=3600000 at attempt 22. */
        ck_assert_uint_eq(backoff_delay_usec(21, MSEC(1), SEC(3600), MSEC(2097152)), MSEC(2097152));
        ck_assert_uint_eq(backoff_delay_usec(21, MSEC(1), SEC(3600), MSEC(2097152) + 1), 0);
        ck_assert_uint_eq(backoff_delay_usec(22, MSEC(1), SEC(3600), SEC(3600)), SEC(3600));
        for (size_t i = 0; i < ELEMENTSOF(attempts); i++) {
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], MSEC(200), SEC(10), SEC(10)), SEC(10));
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], MSEC(200), SEC(10), SEC(10) + 1), 0);
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], MSEC(1), SEC(3600), SEC(3600)), SEC(3600));
                ck_assert_uint_le(backoff_delay_usec(attempts[i], MSEC(1), SEC(3600), UINT64_MAX), SEC(3600));
                /* Doubling past 2^64 must saturate at max rather than wrap to 0. */
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], 1, UINT64_MAX / 3, UINT64_MAX / 3), UINT64_MAX / 3);
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], 3, UINT64_MAX - 1, UINT64_MAX - 1), UINT64_MAX - 1);
                ck_assert_uint_eq(backoff_delay_usec(attempts[i], 3, UINT64_MAX - 1, UINT64_MAX), 0);
        }
        /* base·2^attempt just below, at and above UINT64_MAX: the cap is max, no wrap-around. */
        ck_assert_uint_eq(backoff_delay_usec(63, 1, UINT64_MAX, 12345), 12345);
        ck_assert_uint_eq(backoff_delay_usec(64, 1, UINT64_MAX, UINT64_MAX), UINT64_MAX);
        ck_assert_uint_eq(backoff_delay_usec(0, UINT64_MAX, UINT64_MAX, 777), 777);
        ck_assert_uint_eq(backoff_delay_usec(5, UINT64_MAX / 2 + 1, UINT64_MAX, UINT64_MAX - 1), UINT64_MAX - 1);
}
END_TEST

START_TEST(test_backoff_degenerate) {
        ck_assert_uint_eq(backoff_delay_usec(3, 0, SEC(10), 123456), 0);
        ck_assert_uint_eq(backoff_delay_usec(UINT_MAX, 0, SEC(10), 123456), 0);
        ck_assert_uint_eq(backoff_delay_usec(3, MSEC(200), 0, 123456), 0);
        /* base above max: max is the cap from the first attempt on */
        ck_assert_uint_eq(backoff_delay_usec(0, SEC(20), SEC(10), SEC(10)), SEC(10));
        ck_assert_uint_eq(backoff_delay_usec(0, SEC(20), SEC(10), SEC(10) + 1), 0);
}
END_TEST

/* ---- tokens ---- */

START_TEST(test_token_success) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(200, "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                                    "\"access_token\":\"eyJ0eXAiOiJKV1Qi.x.y\"}",
                               &a),
                         0);
        ck_assert_str_eq(a.access_token, "eyJ0eXAiOiJKV1Qi.x.y");
        ck_assert_uint_eq(a.expires_in_usec, SEC(3599));
        ck_assert_uint_eq(a.refresh_in_usec, 0);
        ck_assert_ptr_null(a.error);
        ck_assert_ptr_null(a.aadsts);
        ck_assert_ptr_null(a.description);
        ck_assert(!a.permanent);
        token_answer_done(&a);
        ck_assert_ptr_null(a.access_token);
        ck_assert_uint_eq(a.expires_in_usec, 0);

        ck_assert_int_eq(token(200, "{\"token_type\":\"bearer\",\"expires_in\":\"3599\",\"refresh_in\":1800,"
                                    "\"access_token\":\"t2\"}",
                               &a),
                         0);
        ck_assert_str_eq(a.access_token, "t2");
        ck_assert_uint_eq(a.expires_in_usec, SEC(3599));
        ck_assert_uint_eq(a.refresh_in_usec, SEC(1800));
        ck_assert_ptr_null(a.error);
        token_answer_done(&a);

        ck_assert_int_eq(token(200, "{\"token_type\":\"Bearer\",\"expires_in\":\"86399\",\"refresh_in\":\"43199\","
                                    "\"access_token\":\"t3\"}",
                               &a),
                         0);
        ck_assert_uint_eq(a.expires_in_usec, SEC(86399));
        ck_assert_uint_eq(a.refresh_in_usec, SEC(43199));
        token_answer_done(&a);

        /* A refresh_in we cannot read is ignored; the token is still good. */
        ck_assert_int_eq(token(200, "{\"token_type\":\"Bearer\",\"expires_in\":60,\"refresh_in\":\"soon\","
                                    "\"access_token\":\"t4\"}",
                               &a),
                         0);
        ck_assert_str_eq(a.access_token, "t4");
        ck_assert_uint_eq(a.expires_in_usec, SEC(60));
        ck_assert_uint_eq(a.refresh_in_usec, 0);
        token_answer_done(&a);
}
END_TEST

START_TEST(test_token_malformed) {
        static const char *const bodies[] = {
                "{\"token_type\":\"pop\",\"expires_in\":3599,\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":-5,\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":\"\",\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":\"3599s\",\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":true,\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":null,\"access_token\":\"t\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"\"}",
                "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
                "not json",
        };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++)
                assert_token_unusable(200, bodies[i], "malformed_response",
                                      "token endpoint answered HTTP 200 without a usable body");
        assert_token_unusable(200, NULL, "malformed_response", "token endpoint answered HTTP 200 without a usable body");
}
END_TEST

START_TEST(test_token_error_invalid_client) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(401,
                               "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                               "secret provided.\\r\\nTrace ID: x\\r\\nCorrelation ID: y\\r\\nTimestamp: z\","
                               "\"error_codes\":[7000215]}",
                               &a),
                         0);
        ck_assert_ptr_null(a.access_token);
        ck_assert_str_eq(a.error, "invalid_client");
        ck_assert_str_eq(a.aadsts, "AADSTS7000215");
        ck_assert_str_eq(a.description, "AADSTS7000215: Invalid client secret provided.");
        ck_assert(a.permanent);
        ck_assert_uint_eq(a.expires_in_usec, 0);
        token_answer_done(&a);
        ck_assert_ptr_null(a.error);
}
END_TEST

START_TEST(test_token_error_transient) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(400, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS50196: "
                                    "The server is busy.\\nTrace ID: t\"}",
                               &a),
                         0);
        ck_assert_str_eq(a.error, "temporarily_unavailable");
        ck_assert_str_eq(a.aadsts, "AADSTS50196");
        ck_assert_str_eq(a.description, "AADSTS50196: The server is busy.");
        ck_assert(!a.permanent);
        token_answer_done(&a);

        ck_assert_int_eq(token(500, "{\"error\":\"server_error\"}", &a), 0);
        ck_assert_str_eq(a.error, "server_error");
        ck_assert_ptr_null(a.aadsts);
        ck_assert_ptr_null(a.description);
        ck_assert(!a.permanent);
        token_answer_done(&a);

        ck_assert_int_eq(token(429, "{\"error\":\"invalid_request\"}", &a), 0);
        ck_assert(!a.permanent);
        token_answer_done(&a);

        assert_token_unusable(503, "<html>Service Unavailable</html>", "http_error",
                              "token endpoint answered HTTP 503 without a usable body");
        assert_token_unusable(503, NULL, "http_error", "token endpoint answered HTTP 503 without a usable body");
}
END_TEST

START_TEST(test_token_error_codes_only) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(400, "{\"error\":\"unauthorized_client\",\"error_description\":\"Application with "
                                    "identifier 'x' was not found.\\r\\nTrace ID: t\",\"error_codes\":[700016,1]}",
                               &a),
                         0);
        ck_assert_str_eq(a.error, "unauthorized_client");
        ck_assert_str_eq(a.aadsts, "AADSTS700016");
        ck_assert_str_eq(a.description, "Application with identifier 'x' was not found.");
        ck_assert(a.permanent);
        token_answer_done(&a);

        /* Neither: no AADSTS at all. */
        ck_assert_int_eq(token(400, "{\"error\":\"invalid_scope\",\"error_description\":\"bad scope\"}", &a), 0);
        ck_assert_str_eq(a.error, "invalid_scope");
        ck_assert_ptr_null(a.aadsts);
        ck_assert_str_eq(a.description, "bad scope");
        ck_assert(a.permanent);
        token_answer_done(&a);
}
END_TEST

/* ---- token renewal ---- */

START_TEST(test_renewal_default) {
        const uint64_t at = SEC(3300), span = SEC(165); /* 5 minutes before expiry, 5% jitter */

        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), 0, 0), at);
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), 0, span), at - span);
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), 0, span + 1), at);
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), 0, SEC(100)), SEC(3200));
        for (uint64_t rnd = UINT64_MAX - 1000; rnd != 0; rnd++) {
                uint64_t d = token_renewal_delay_usec(SEC(3600), 0, rnd);
                ck_assert_uint_ge(d, at - span);
                ck_assert_uint_le(d, at);
        }
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3599), 0, 0), SEC(3299));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(86399), 0, 0), SEC(86099));
}
END_TEST

START_TEST(test_renewal_short_lifetimes) {
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(300), 0, 0), SEC(150));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(300), 0, MSEC(7500)), MSEC(142500));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3), 0, 0), MSEC(1500));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3), 0, MSEC(75)), MSEC(1425));
        ck_assert_uint_le(token_renewal_delay_usec(SEC(3), 0, UINT64_MAX), MSEC(1500));
        ck_assert_uint_ge(token_renewal_delay_usec(SEC(3), 0, UINT64_MAX), MSEC(1425));
        /* Around the 10-minute switch. */
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(599), 0, 0), MSEC(299500));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(600), 0, 0), SEC(300));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(601), 0, 0), SEC(301));
        ck_assert_uint_eq(token_renewal_delay_usec(0, 0, 12345), 0);
        ck_assert_uint_eq(token_renewal_delay_usec(19, 0, 12345), 9);
}
END_TEST

START_TEST(test_renewal_refresh_in) {
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(1800), 0), SEC(1800));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(1800), SEC(90)), SEC(1710));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(1800), SEC(90) + 1), SEC(1800));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(300), SEC(200), 0), SEC(200));
        /* refresh_in at or past expiry makes no sense: ignored. */
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(3600), 0), SEC(3300));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(7200), 0), SEC(3300));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(300), SEC(300), 0), SEC(150));
        ck_assert_uint_eq(token_renewal_delay_usec(SEC(3600), SEC(3600) - 1, 0), SEC(3600) - 1);
}
END_TEST

START_TEST(test_token_request_body) {
        char *body = NULL;

        ck_assert_int_eq(token_request_body(APP_ID, "a+b/c=d&e", "https://graph.microsoft.com/.default", &body), 0);
        ck_assert_str_eq(body, "client_id=" APP_ID "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
                               "&client_secret=a%2Bb%2Fc%3Dd%26e&grant_type=client_credentials");
        body = erase_and_free(body);

        ck_assert_int_eq(token_request_body("id", "s p%~\xc3\xa9\"", "x y", &body), 0);
        ck_assert_str_eq(body, "client_id=id&scope=x%20y&client_secret=s%20p%25~%C3%A9%22&grant_type=client_credentials");
        body = erase_and_free(body);
        ck_assert_ptr_null(body);
}
END_TEST

/* ---- text from outside: no control characters kept ---- */

#define CSI "\xc2\x9b" /* U+009B */
#define OSC "\xc2\x9d" /* U+009D */
#define FFFD "\xef\xbf\xbd"

static void assert_replaced(const char *in, const char *expected) {
        char *s = in ? strdup(in) : NULL;

        ck_assert_int_eq(text_replace_controls(&s), 0);
        if (expected)
                ck_assert_str_eq(s, expected);
        else
                ck_assert_ptr_null(s);
        /* Tab and LF are the only controls left. */
        for (char *p = s; p && *p; p++)
                if (*p == '\t' || *p == '\n')
                        *p = ' ';
        ck_assert(!text_has_control(s));
        free(s);
}

START_TEST(test_text_controls) {
        ck_assert(!text_has_control(NULL));
        ck_assert(!text_has_control(""));
        ck_assert(!text_has_control("Action completed, operation cancelled."));
        /* U+00A0 and U+00FF start with C2/C3 too, U+0100 is C4 80: not controls. */
        ck_assert(!text_has_control("\xc2\xa0 \xc3\xbf \xc4\x80 \xe2\x82\xac \xf0\x9f\x98\x80"));
        ck_assert(text_has_control("a\x01"));
        ck_assert(text_has_control("\x1b[31m"));
        ck_assert(text_has_control("a\tb"));
        ck_assert(text_has_control("del\x7f"));
        ck_assert(text_has_control("x" CSI "31m"));
        ck_assert(text_has_control(OSC "0;title\x07"));
        ck_assert(text_has_control("\xc2\x80"));
        ck_assert(text_has_control("\xc2\x9f"));

        assert_replaced(NULL, NULL);
        assert_replaced("", "");
        assert_replaced("plain é €", "plain é €");
        assert_replaced("a\tb\nc\rd", "a\tb\nc d");
        assert_replaced("\x1b[31mred", FFFD "[31mred");
        assert_replaced("x" CSI "31m" OSC "0;t\x07" "\x7f", "x" FFFD "31m" FFFD "0;t" FFFD FFFD);
        assert_replaced("\xc2\x80\xc2\x9f\xc2\xa0", FFFD FFFD "\xc2\xa0");
        assert_replaced("\x01\x02\x03", FFFD FFFD FFFD);

        /* Unchanged text keeps its buffer (the common case costs no copy). */
        char *s = strdup("no controls"), *before = s;
        ck_assert_int_eq(text_replace_controls(&s), 0);
        ck_assert_ptr_eq(s, before);
        free(s);
}
END_TEST

/* An id longer than Graph's ids is no id (validate.h), and an id that is not a string is
 * none either, whatever its size: the body's, then Location's last segment. */
START_TEST(test_answer_id_bounds) {
        GraphAnswer a = {};
        char body[512], id129[130];

        memset(id129, 'b', 129);
        id129[129] = '\0';
        snprintf(body, sizeof body, "{\"id\":\"%s\",\"status\":\"running\"}", id129);
        ck_assert_int_eq(answer(200, NULL, NULL, NULL, body, &a), 0);
        ck_assert_ptr_null(a.operation_id);
        ck_assert_int_eq(a.status, GRAPH_OP_RUNNING);
        graph_answer_done(&a);
        id129[128] = '\0';
        snprintf(body, sizeof body, "{\"id\":\"%s\"}", id129);
        ck_assert_int_eq(answer(200, NULL, NULL, NULL, body, &a), 0);
        ck_assert_str_eq(a.operation_id, id129);
        graph_answer_done(&a);
        ck_assert_int_eq(answer(200, NULL, NULL, NULL, "{\"id\":5,\"status\":\"running\"}", &a), 0);
        ck_assert_ptr_null(a.operation_id);
        graph_answer_done(&a);
        ck_assert_int_eq(answer(200, "https://graph/calls/c/operations/from-location", NULL, NULL, "{\"id\":[1]}", &a), 0);
        ck_assert_str_eq(a.operation_id, "from-location");
        graph_answer_done(&a);
}
END_TEST

/* Graph's free text is kept with the controls replaced; its ids and codes with one are dropped. */
START_TEST(test_answer_controls) {
        GraphAnswer a = {};

        ck_assert_int_eq(answer(200, "https://graph/v1.0/communications/calls/c/operations/loc-id", "req" CSI "1", NULL,
                                "{\"id\":\"op\\u009b1\",\"status\":\"completed\",\"completionReason\":\"done\\u0007\","
                                "\"resultInfo\":{\"code\":200,\"subcode\":0,\"message\":\"ok\\u009b31m\\u009d0;x\\u0007 "
                                "\\tend\\u007f\"}}",
                                &a),
                         0);
        ck_assert_ptr_null(a.error);
        ck_assert_str_eq(a.result_message, "ok" FFFD "31m" FFFD "0;x" FFFD " \tend" FFFD);
        ck_assert_ptr_null(a.request_id);
        ck_assert_ptr_null(a.completion_reason);
        /* The body's id is not one; the Location's is. */
        ck_assert_str_eq(a.operation_id, "loc-id");
        graph_answer_done(&a);

        ck_assert_int_eq(answer(202, "https://graph/v1.0/communications/calls/c/operations/x" CSI, NULL, NULL, NULL, &a), 0);
        ck_assert_ptr_null(a.operation_id);
        graph_answer_done(&a);

        ck_assert_int_eq(answer(400, NULL, NULL, NULL,
                                "{\"error\":{\"code\":\"bad\\u009bcode\",\"message\":\"boom\\u009d0;x\\u0007\\nnext\","
                                "\"innerError\":{\"request-id\":\"r\\u0001\"}}}",
                                &a),
                         0);
        assert_graph_error(&a, "Graph answered 400: boom" FFFD "0;x" FFFD "\nnext",
                           "{\"httpStatus\":400,\"graphCode\":null,\"requestId\":null}");
        graph_answer_done(&a);
}
END_TEST

START_TEST(test_token_controls) {
        TokenAnswer a = {};

        ck_assert_int_eq(token(401,
                               "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: bad\\u009b2J "
                               "secret\\u0007.\\r\\nTrace ID: x\"}",
                               &a),
                         0);
        ck_assert_str_eq(a.error, "invalid_client");
        ck_assert_str_eq(a.aadsts, "AADSTS7000215");
        ck_assert_str_eq(a.description, "AADSTS7000215: bad" FFFD "2J secret" FFFD ".");
        token_answer_done(&a);

        /* An error code with a control is not the platform's: the answer is unusable. */
        ck_assert_int_eq(token(400, "{\"error\":\"invalid\\u009bclient\"}", &a), 0);
        ck_assert_str_eq(a.error, "http_error");
        ck_assert(!text_has_control(a.description));
        token_answer_done(&a);
}
END_TEST

static int notify(const char *text, NotifyBatch **ret, Error **ret_error) {
        json_object *j = json_tokener_parse(text);
        int r;

        ck_assert_ptr_nonnull(j);
        r = notify_parse(j, ret, ret_error);
        json_object_put(j);
        return r;
}

#define NOTIFY_URL "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/op-1"

/* A forwarded notification: its message is kept with the controls replaced, an id or code with
 * one refuses the body, naming the entry. */
START_TEST(test_notify_controls) {
        _cleanup_(notify_batch_freep) NotifyBatch *b = NULL;
        Error *e = NULL;

        ck_assert_int_eq(notify("{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\","
                                "\"resourceData\":{\"status\":\"completed\",\"resultInfo\":{\"code\":200,"
                                "\"message\":\"done\\u009b31m\\u0007\"}}}]}",
                                &b, &e),
                         0);
        ck_assert_ptr_null(e);
        ck_assert_uint_eq(b->n_entries, 1);
        ck_assert_str_eq(b->entries[0].result_message, "done" FFFD "31m" FFFD);

        static const char *const bad[] = {
                "{\"value\":[{\"changeType\":\"upd\\u009bated\",\"resourceUrl\":\"" NOTIFY_URL "\"}]}",
                "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\\u0007\"}]}",
                "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\","
                "\"resourceData\":{\"completionReason\":\"x\\u009d\"}}]}",
                "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\","
                "\"resourceData\":{\"id\":\"op\\u0085\"}}]}",
                "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\"},"
                "{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\","
                "\"resourceData\":{\"clientContext\":\"c\\u001b\"}}]}",
                "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"" NOTIFY_URL "\","
                "\"resourceData\":{\"status\":\"completed\\u009b\"}}]}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                NotifyBatch *nb = NULL;
                ck_assert_int_eq(notify(bad[i], &nb, &e), -EINVAL);
                ck_assert_ptr_null(nb);
                ck_assert_ptr_nonnull(e);
                ck_assert_int_eq(e->class, ERROR_INVALID_PARAMS);
                ck_assert_msg(strstr(e->message, "control character"), "%s", e->message);
                ck_assert_msg(strstr(e->message, i == 4 ? "value[1]" : "value[0]"), "%s", e->message);
                e = error_free(e);
        }
}
END_TEST

static Suite *graph_suite(void) {
        Suite *s = suite_create("graph");
        TCase *tc;

        tc = tcase_create("requests");
        tcase_add_test(tc, test_cancel_url_v1);
        tcase_add_test(tc, test_cancel_url_beta_app);
        tcase_add_test(tc, test_cancel_url_beta_applications);
        tcase_add_test(tc, test_cancel_url_invalid_call_id);
        tcase_add_test(tc, test_operation_url);
        tcase_add_test(tc, test_url_escape);
        tcase_add_test(tc, test_cancel_body);
        tcase_add_test(tc, test_supports_all);
        suite_add_tcase(s, tc);

        tc = tcase_create("answers");
        tcase_add_test(tc, test_answer_v1_200);
        tcase_add_test(tc, test_answer_operation_get);
        tcase_add_test(tc, test_answer_beta_202_location);
        tcase_add_test(tc, test_answer_204);
        tcase_add_test(tc, test_answer_status_case);
        tcase_add_test(tc, test_answer_graph_error);
        tcase_add_test(tc, test_answer_2xx_not_json);
        tcase_add_test(tc, test_answer_retry_after);
        tcase_add_test(tc, test_parse_retry_after);
        tcase_add_test(tc, test_retryable);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_text_controls);
        tcase_add_test(tc, test_answer_id_bounds);
        tcase_add_test(tc, test_answer_controls);
        tcase_add_test(tc, test_token_controls);
        tcase_add_test(tc, test_notify_controls);
        suite_add_tcase(s, tc);

        tc = tcase_create("backoff");
        tcase_add_test(tc, test_backoff_bounds);
        tcase_add_test(tc, test_backoff_large_attempts);
        tcase_add_test(tc, test_backoff_degenerate);
        suite_add_tcase(s, tc);

        tc = tcase_create("tokens");
        tcase_add_test(tc, test_token_success);
        tcase_add_test(tc, test_token_malformed);
        tcase_add_test(tc, test_token_error_invalid_client);
        tcase_add_test(tc, test_token_error_transient);
        tcase_add_test(tc, test_token_error_codes_only);
        tcase_add_test(tc, test_renewal_default);
        tcase_add_test(tc, test_renewal_short_lifetimes);
        tcase_add_test(tc, test_renewal_refresh_in);
        tcase_add_test(tc, test_token_request_body);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(graph_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
