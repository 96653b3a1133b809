/* SPDX-License-Identifier: MIT */
/*
 * check_config.c — unit tests for config.c, config-files.c and credentials.c: defaults, every
 * key, every error message (exact text, since users act on it), the secret rules, value parsers
 * at their edges, and drop-in order on a real temporary directory. The INI tokenizer and the
 * value parsers on their own are in check_basic.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-files.h"
#include "config.h"
#include "tenant-tokens.h"
#include "parse-util.h"

#define FILENAME "mediacanceld.conf"

/* ---- helpers ---- */

/* asprintf() without depending on _GNU_SOURCE; fails the test on OOM. */
static char *xprintf(const char *fmt, ...) _printf_(1, 2);

static char *xprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(n, 0);
        s = malloc((size_t) n + 1);
        ck_assert_ptr_nonnull(s);
        va_start(ap, fmt);
        (void) vsnprintf(s, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return s;
}

static int parse(const char *text, Config **ret, char **ret_error) {
        Config *c = NULL;
        int r;

        r = config_new(&c);
        ck_assert_int_eq(r, 0);
        r = config_parse_text(c, FILENAME, text, strlen(text), ret_error);
        *ret = c;
        return r;
}

/* Parses text that must fail and compares the whole message. */
static void assert_parse_error(const char *text, const char *expected) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(parse(text, &c, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err, expected);
}

static void assert_parse_ok(const char *text) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r = parse(text, &c, &err);

        ck_assert_msg(r == 0, "parse failed (%d): %s\n--- text:\n%s", r, strempty(err), text);
        ck_assert_ptr_null(err);
}

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/check-config-XXXXXX");
        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

static char *write_file(const char *dir, const char *name, const char *content) {
        char *p = NULL;
        FILE *f;

        p = xprintf("%s/%s", dir, name);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(content, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
        return p;
}

static void rm_rf(const char *dir) {
        char *cmd = NULL;

        cmd = xprintf("rm -rf '%s'", dir);
        (void) !system(cmd);
        free(cmd);
}

/* ---- defaults and the full key set ---- */

START_TEST(test_defaults) {
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_ptr_null(c->source);
        ck_assert_ptr_null(c->tenant_id);
        ck_assert_ptr_null(c->client_id);
        ck_assert_ptr_null(c->client_secret_file);
        ck_assert_ptr_null(c->client_secret_file_origin);
        /* The cloud's, filled in by config_finalize() (test_finalize_clouds). */
        ck_assert_str_eq(c->cloud, "Global");
        ck_assert_ptr_null(c->login_endpoint);
        ck_assert_ptr_null(c->graph_endpoint);
        ck_assert_ptr_null(c->scope);
        ck_assert_uint_eq(c->n_allowed_tenants, 0);
        ck_assert(!c->allow_any_tenant);
        ck_assert_uint_eq(c->tenant_idle_usec, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_tenants, 1000);
        ck_assert_str_eq(c->api_version, "v1.0");
        ck_assert_str_eq(c->calls_path, "/communications/calls");
        ck_assert_ptr_null(c->ca_file);
        ck_assert_uint_eq(c->request_timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->connect_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c->attempt_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_attempts, 5);
        ck_assert_uint_eq(c->retry_base_usec, 200 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->retry_max_usec, 10000 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->max_in_flight, 256);
        ck_assert_uint_eq(c->max_queued, 10000);
        ck_assert_str_eq(c->socket_path, CONFIG_DEFAULT_SOCKET_PATH);
        ck_assert_uint_eq(c->max_request_bytes, 1048576);
        ck_assert_uint_eq(c->max_connections, 256);
        ck_assert_uint_eq(c->max_connections_per_user, 32);
        ck_assert_uint_eq(c->max_in_flight_per_connection, 64);
        ck_assert_uint_eq(c->max_batch_items, 64);
        ck_assert_uint_eq(c->max_values_per_line, 65536);
        ck_assert_uint_eq(c->idle_timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_output_bytes, 8 * 1024 * 1024);
        ck_assert_uint_eq(c->completion_timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->retention_usec, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_operations, 100000);
        ck_assert_uint_eq(c->journal_sync_delay_usec, USEC_PER_MSEC);
}
END_TEST

START_TEST(test_free_null) {
        ck_assert_ptr_null(config_free(NULL));
}
END_TEST

static const char full_text[] =
        "[Identity]\n"
        "TenantId=72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "ClientId=contoso.onmicrosoft.com\n"
        "ClientSecretFile=/etc/mediacancel/secret\n"
        "LoginEndpoint=https://login.microsoftonline.us/\n"
        "[Graph]\n"
        "Endpoint=https://graph.microsoft.us:8443/proxy/\n"
        "ApiVersion=beta\n"
        "CallsPath=/applications/{appId}/calls\n"
        "CAFile=/etc/ssl/graph.pem\n"
        "RequestTimeoutSec=2min\n"
        "ConnectTimeoutSec=3\n"
        "AttemptTimeoutSec=4.5s\n"
        "MaxAttempts=7\n"
        "RetryBaseMs=150\n"
        "RetryMaxMs=2s\n"
        "MaxInFlight=17\n"
        "MaxQueued=0\n"
        "[Socket]\n"
        "Path=/run/test/x.sock\n"
        "MaxRequestBytes=64K\n"
        "MaxConnections=9\n"
        "MaxConnectionsPerUser=3\n"
        "MaxInFlightPerConnection=11\n"
        "IdleTimeoutSec=45s\n"
        "MaxOutputBytes=2M\n"
        "[Operations]\n"
        "CompletionTimeoutSec=1min\n"
        "RetentionSec=2h\n"
        "MaxOperations=12345\n";

START_TEST(test_full_file) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(parse(full_text, &c, &err), 0);
        ck_assert_ptr_null(err);

        ck_assert_str_eq(c->tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
        ck_assert_str_eq(c->client_id, "contoso.onmicrosoft.com");
        ck_assert_str_eq(c->client_secret_file, "/etc/mediacancel/secret");
        ck_assert_str_eq(c->client_secret_file_origin, FILENAME ":4");
        ck_assert_str_eq(c->login_endpoint, "https://login.microsoftonline.us");
        ck_assert_str_eq(c->graph_endpoint, "https://graph.microsoft.us:8443/proxy");
        ck_assert_str_eq(c->api_version, "beta");
        /* {appId} stays literal: the Graph module substitutes it. */
        ck_assert_str_eq(c->calls_path, "/applications/{appId}/calls");
        ck_assert_str_eq(c->ca_file, "/etc/ssl/graph.pem");
        ck_assert_uint_eq(c->request_timeout_usec, 120 * USEC_PER_SEC);
        ck_assert_uint_eq(c->connect_timeout_usec, 3 * USEC_PER_SEC);
        ck_assert_uint_eq(c->attempt_timeout_usec, 4500 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->max_attempts, 7);
        ck_assert_uint_eq(c->retry_base_usec, 150 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->retry_max_usec, 2 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_in_flight, 17);
        ck_assert_uint_eq(c->max_queued, 0);
        ck_assert_str_eq(c->socket_path, "/run/test/x.sock");
        ck_assert_uint_eq(c->max_request_bytes, 65536);
        ck_assert_uint_eq(c->max_connections, 9);
        ck_assert_uint_eq(c->max_connections_per_user, 3);
        ck_assert_uint_eq(c->max_in_flight_per_connection, 11);
        ck_assert_uint_eq(c->idle_timeout_usec, 45 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_output_bytes, 2 * 1024 * 1024);
        ck_assert_uint_eq(c->completion_timeout_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->retention_usec, 7200 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_operations, 12345);
}
END_TEST

START_TEST(test_empty_value_resets) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(parse(full_text, &c, &err), 0);
        static const char reset[] =
                "[Identity]\nTenantId=\nClientSecretFile=\nLoginEndpoint=\n"
                "[Graph]\nEndpoint=\nApiVersion=\nCallsPath=  \nCAFile=\nRequestTimeoutSec=\n"
                "MaxAttempts=\nRetryBaseMs=\nMaxQueued=\n"
                "[Socket]\nPath=\nMaxRequestBytes=\nMaxOutputBytes=\n"
                "[Operations]\nRetentionSec=\nMaxOperations=\n";
        ck_assert_int_eq(config_parse_text(c, FILENAME, reset, strlen(reset), &err), 0);
        ck_assert_ptr_null(err);

        ck_assert_ptr_null(c->tenant_id);
        ck_assert_str_eq(c->client_id, "contoso.onmicrosoft.com"); /* not reset */
        ck_assert_ptr_null(c->client_secret_file);
        ck_assert_ptr_null(c->client_secret_file_origin);
        ck_assert_ptr_null(c->login_endpoint);
        ck_assert_ptr_null(c->graph_endpoint);
        ck_assert_str_eq(c->api_version, "v1.0");
        ck_assert_str_eq(c->calls_path, "/communications/calls");
        ck_assert_ptr_null(c->ca_file);
        ck_assert_uint_eq(c->request_timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->connect_timeout_usec, 3 * USEC_PER_SEC); /* not reset */
        ck_assert_uint_eq(c->max_attempts, 5);
        ck_assert_uint_eq(c->retry_base_usec, 200 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->max_queued, 10000);
        ck_assert_str_eq(c->socket_path, CONFIG_DEFAULT_SOCKET_PATH);
        ck_assert_uint_eq(c->max_request_bytes, 1048576);
        ck_assert_uint_eq(c->max_output_bytes, 8 * 1024 * 1024);
        ck_assert_uint_eq(c->retention_usec, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c->max_operations, 100000);
}
END_TEST

START_TEST(test_comments_and_whitespace) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        static const char text[] =
                "\xEF\xBB\xBF# leading comment\n"
                "; another comment\n"
                "\n"
                "   \t\n"
                "  [Graph]  \r\n"
                "   # indented comment with = sign\n"
                "\tMaxAttempts \t=\t 9  \r\n"
                "RequestTimeoutSec = 2 min\n"
                "[Identity]\n"
                "TenantId =  contoso.example  "; /* no final newline */

        ck_assert_int_eq(parse(text, &c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_uint_eq(c->max_attempts, 9);
        ck_assert_uint_eq(c->request_timeout_usec, 120 * USEC_PER_SEC);
        ck_assert_str_eq(c->tenant_id, "contoso.example");

        /* Empty text, and repeated sections and keys: the last assignment wins. */
        ck_assert_int_eq(config_parse_text(c, FILENAME, "", 0, &err), 0);
        static const char again[] = "[Graph]\nMaxAttempts=1\n[Socket]\n[Graph]\nMaxAttempts=2\n";
        ck_assert_int_eq(config_parse_text(c, FILENAME, again, strlen(again), &err), 0);
        ck_assert_uint_eq(c->max_attempts, 2);
        ck_assert_ptr_null(err);
}
END_TEST

/* ---- error messages ---- */

START_TEST(test_error_unknown_section) {
        assert_parse_error("[Graph]\nMaxAttempts=3\n[Foo]\nBar=1\n", FILENAME ":3: Unknown section [Foo].");
        /* Section names are case sensitive, as in systemd. */
        assert_parse_error("[graph]\n", FILENAME ":1: Unknown section [graph].");
        assert_parse_error("[Graph\n", FILENAME ":1: Invalid section header, expected \"[Name]\".");
        assert_parse_error("[]\n", FILENAME ":1: Invalid section header, expected \"[Name]\".");
        assert_parse_error("[Graph] x\n", FILENAME ":1: Invalid section header, expected \"[Name]\".");
}
END_TEST

START_TEST(test_error_unknown_key) {
        assert_parse_error("# 1\n"
                           "[Identity]\n"
                           "TenantId=a\n"
                           "\n"
                           "[Graph]\n"
                           "; 6\n"
                           "Foo=bar\n",
                           FILENAME ":7: Unknown key \"Foo\" in section [Graph].");
        /* A key of another section is unknown here. */
        assert_parse_error("[Socket]\nMaxAttempts=3\n",
                           FILENAME ":2: Unknown key \"MaxAttempts\" in section [Socket].");
        assert_parse_error("[Graph]\nmaxattempts=3\n",
                           FILENAME ":2: Unknown key \"maxattempts\" in section [Graph].");
        assert_parse_error("[Graph]\n  = 3\n", FILENAME ":2: Assignment without a key name.");
}
END_TEST

START_TEST(test_error_key_outside_section) {
        assert_parse_error("# comment\nMaxAttempts=3\n[Graph]\n",
                           FILENAME ":2: MaxAttempts= appears before any [Section] header.");
}
END_TEST

START_TEST(test_error_missing_equals) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        assert_parse_error("[Graph]\nMaxAttempts 3\n",
                           FILENAME ":2: Missing \"=\": expected a [Section] header, a comment or a "
                           "Key=Value assignment.");

        /* A stray line may be a pasted secret: it must not be quoted back. */
        ck_assert_int_eq(parse("[Identity]\nS3cr3t~Value.xyz\n", &c, &err), -EINVAL);
        ck_assert_ptr_null(strstr(err, "S3cr3t"));
}
END_TEST

START_TEST(test_error_nul_byte) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        static const char text[] = "[Graph]\nMaxAttempts=3\0\n";

        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, sizeof(text) - 1, &err), -EINVAL);
        ck_assert_str_eq(err, FILENAME ":2: Line contains a NUL byte.");
}
END_TEST

START_TEST(test_error_bad_timespan) {
        assert_parse_error("[Graph]\n\nRequestTimeoutSec=abc\n",
                           FILENAME ":3: Invalid value for RequestTimeoutSec=: \"abc\" is not a time span.");
        assert_parse_error("[Graph]\nRequestTimeoutSec=-5s\n",
                           FILENAME ":2: Invalid value for RequestTimeoutSec=: \"-5s\" is not a time span.");
        assert_parse_error("[Socket]\nIdleTimeoutSec=10 parsecs\n",
                           FILENAME ":2: Invalid value for IdleTimeoutSec=: \"10 parsecs\" is not a time span.");
}
END_TEST

START_TEST(test_error_out_of_range) {
        /* Edges of RequestTimeoutSec=, 1s..1h, and one step past each. */
        assert_parse_ok("[Graph]\nRequestTimeoutSec=1s\n");
        assert_parse_ok("[Graph]\nRequestTimeoutSec=1h\n");
        assert_parse_ok("[Graph]\nRequestTimeoutSec=3600\n");
        assert_parse_error("[Graph]\nRequestTimeoutSec=999ms\n",
                           FILENAME ":2: Invalid value for RequestTimeoutSec=: \"999ms\" is out of range 1s..1h.");
        assert_parse_error("[Graph]\nRequestTimeoutSec=3601\n",
                           FILENAME ":2: Invalid value for RequestTimeoutSec=: \"3601\" is out of range 1s..1h.");
        assert_parse_error("[Graph]\nRequestTimeoutSec=0\n",
                           FILENAME ":2: Invalid value for RequestTimeoutSec=: \"0\" is out of range 1s..1h.");
        assert_parse_error("[Graph]\nRequestTimeoutSec=99999999999999999999999\n",
                           FILENAME ":2: Invalid value for RequestTimeoutSec=: \"99999999999999999999999\" "
                           "is out of range 1s..1h.");

        /* MaxAttempts=, 1..100. */
        assert_parse_ok("[Graph]\nMaxAttempts=1\n");
        assert_parse_ok("[Graph]\nMaxAttempts=100\n");
        assert_parse_error("[Graph]\nMaxAttempts=0\n",
                           FILENAME ":2: Invalid value for MaxAttempts=: \"0\" is out of range 1..100.");
        assert_parse_error("[Graph]\nMaxAttempts=101\n",
                           FILENAME ":2: Invalid value for MaxAttempts=: \"101\" is out of range 1..100.");
        assert_parse_error("[Graph]\nMaxAttempts=-1\n",
                           FILENAME ":2: Invalid value for MaxAttempts=: \"-1\" is not an unsigned integer.");
        assert_parse_error("[Graph]\nMaxAttempts=5x\n",
                           FILENAME ":2: Invalid value for MaxAttempts=: \"5x\" is not an unsigned integer.");
        assert_parse_error("[Graph]\nMaxAttempts=18446744073709551616\n",
                           FILENAME ":2: Invalid value for MaxAttempts=: \"18446744073709551616\" is out of "
                           "range 1..100.");

        /* TenantIdleSec=, 1s..7d, and MaxTenants=, 1..1000000. */
        assert_parse_ok("[Identity]\nTenantIdleSec=1s\nMaxTenants=1\n");
        assert_parse_ok("[Identity]\nTenantIdleSec=7d\nMaxTenants=1000000\n");
        assert_parse_error("[Identity]\nTenantIdleSec=999ms\n",
                           FILENAME ":2: Invalid value for TenantIdleSec=: \"999ms\" is out of range 1s..7d.");
        assert_parse_error("[Identity]\nTenantIdleSec=7d 1s\n",
                           FILENAME ":2: Invalid value for TenantIdleSec=: \"7d 1s\" is out of range 1s..7d.");
        assert_parse_error("[Identity]\nMaxTenants=0\n",
                           FILENAME ":2: Invalid value for MaxTenants=: \"0\" is out of range 1..1000000.");
        assert_parse_error("[Identity]\nMaxTenants=1000001\n",
                           FILENAME ":2: Invalid value for MaxTenants=: \"1000001\" is out of range 1..1000000.");

        /* MaxQueued=, 0..10000000. */
        assert_parse_ok("[Graph]\nMaxQueued=10000000\n");
        assert_parse_error("[Graph]\nMaxQueued=10000001\n",
                           FILENAME ":2: Invalid value for MaxQueued=: \"10000001\" is out of range 0..10000000.");

        /* MaxInFlight= and the connection limits, 1..65536. */
        assert_parse_ok("[Graph]\nMaxInFlight=65536\n");
        assert_parse_error("[Graph]\nMaxInFlight=65537\n",
                           FILENAME ":2: Invalid value for MaxInFlight=: \"65537\" is out of range 1..65536.");
        assert_parse_error("[Socket]\nMaxConnections=0\n",
                           FILENAME ":2: Invalid value for MaxConnections=: \"0\" is out of range 1..65536.");

        /* MaxBatchItems=, 1..65536, and MaxValuesPerLine=, 16..10000000. */
        assert_parse_ok("[Socket]\nMaxBatchItems=1\nMaxValuesPerLine=16\n");
        assert_parse_ok("[Socket]\nMaxBatchItems=65536\nMaxValuesPerLine=10000000\n");
        assert_parse_error("[Socket]\nMaxBatchItems=0\n",
                           FILENAME ":2: Invalid value for MaxBatchItems=: \"0\" is out of range 1..65536.");
        assert_parse_error("[Socket]\nMaxBatchItems=65537\n",
                           FILENAME ":2: Invalid value for MaxBatchItems=: \"65537\" is out of range 1..65536.");
        assert_parse_error("[Socket]\nMaxValuesPerLine=15\n",
                           FILENAME ":2: Invalid value for MaxValuesPerLine=: \"15\" is out of range 16..10000000.");
        assert_parse_error("[Socket]\nMaxValuesPerLine=10000001\n",
                           FILENAME ":2: Invalid value for MaxValuesPerLine=: \"10000001\" is out of range "
                           "16..10000000.");

        /* MaxOperations=, 1..10000000. */
        assert_parse_ok("[Operations]\nMaxOperations=10000000\n");
        assert_parse_error("[Operations]\nMaxOperations=0\n",
                           FILENAME ":2: Invalid value for MaxOperations=: \"0\" is out of range 1..10000000.");

        /* JournalSyncDelaySec=, 0..1s: 0 syncs back to back. */
        assert_parse_ok("[Operations]\nJournalSyncDelaySec=0\n");
        assert_parse_ok("[Operations]\nJournalSyncDelaySec=1s\n");
        assert_parse_ok("[Operations]\nJournalSyncDelaySec=250us\n");
        assert_parse_error("[Operations]\nJournalSyncDelaySec=1001ms\n",
                           FILENAME ":2: Invalid value for JournalSyncDelaySec=: \"1001ms\" is out of range 0..1s.");

        /* MaxRequestBytes=, 256..64M. */
        assert_parse_ok("[Socket]\nMaxRequestBytes=256\n");
        assert_parse_ok("[Socket]\nMaxRequestBytes=64M\n");
        assert_parse_ok("[Socket]\nMaxRequestBytes=67108864\n");
        assert_parse_error("[Socket]\nMaxRequestBytes=255\n",
                           FILENAME ":2: Invalid value for MaxRequestBytes=: \"255\" is out of range 256..64M.");
        assert_parse_error("[Socket]\nMaxRequestBytes=67108865\n",
                           FILENAME ":2: Invalid value for MaxRequestBytes=: \"67108865\" is out of range 256..64M.");
        assert_parse_error("[Socket]\nMaxRequestBytes=lots\n",
                           FILENAME ":2: Invalid value for MaxRequestBytes=: \"lots\" is not a size.");

        /* MaxOutputBytes=, at least 64K. */
        assert_parse_ok("[Socket]\nMaxOutputBytes=64K\n");
        assert_parse_error("[Socket]\nMaxOutputBytes=65535\n",
                           FILENAME ":2: Invalid value for MaxOutputBytes=: \"65535\" is out of range 64K..1G.");

        /* The *Ms keys take a bare number as milliseconds. */
        assert_parse_error("[Graph]\nRetryBaseMs=0\n",
                           FILENAME ":2: Invalid value for RetryBaseMs=: \"0\" is out of range 1ms..1min.");
}
END_TEST

/* [Notifications]: defaults, each range at its edges, the choice, and Issuers= as a list. */
START_TEST(test_notifications) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_str_eq(c->notification_authentication, "jwt");
        ck_assert(config_notifications_need_token(c));
        ck_assert_ptr_null(c->openid_configuration_url); /* the cloud's, from config_finalize() */
        ck_assert_uint_eq(c->keys_refresh_usec, 2 * 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c->unknown_key_refresh_usec, 300 * USEC_PER_SEC);
        ck_assert_uint_eq(c->keys_max_age_usec, 5 * 24 * 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c->keys_wait_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c->clock_skew_usec, 300 * USEC_PER_SEC);
        ck_assert_ptr_null(c->notification_issuers);
        const char *const *iss = config_notification_issuers(c);
        ck_assert_str_eq(iss[0], "https://api.botframework.com");
        ck_assert_str_eq(iss[1], "https://graph.microsoft.com");
        ck_assert_ptr_null(iss[2]);

        const char *text = "[Notifications]\nAuthentication=peer\nIssuers=https://a.test  https://b.test/x\n";
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        ck_assert(!config_notifications_need_token(c));
        iss = config_notification_issuers(c);
        ck_assert_str_eq(iss[0], "https://a.test");
        ck_assert_str_eq(iss[1], "https://b.test/x");
        ck_assert_ptr_null(iss[2]);
        /* Empty puts the cloud's default back. */
        text = "[Notifications]\nIssuers=\n";
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        ck_assert_ptr_null(c->notification_issuers);
        ck_assert_str_eq(config_notification_issuers(c)[0], "https://api.botframework.com");

        assert_parse_error("[Notifications]\nAuthentication=none\n",
                           FILENAME ":2: Invalid value for Authentication=: \"none\" is not one of jwt or peer.");
        assert_parse_error("[Notifications]\nIssuers=http://api.botframework.com\n",
                           FILENAME ":2: Invalid value for Issuers=: \"http://api.botframework.com\" is not an https:// "
                           "issuer of at most 256 characters.");
        assert_parse_error("[Notifications]\nIssuers=https://\n",
                           FILENAME ":2: Invalid value for Issuers=: \"https://\" is not an https:// issuer of at most "
                           "256 characters.");
        assert_parse_error("[Notifications]\nIssuers=https://1 https://2 https://3 https://4 https://5 https://6 https://7 "
                           "https://8 https://9 https://10 https://11 https://12 https://13 https://14 https://15 "
                           "https://16 https://17\n",
                           FILENAME ":2: Invalid value for Issuers=: more than 16 issuers.");
        assert_parse_error("[Notifications]\nOpenIdConfigurationUrl=http://api.aps.skype.com/x\n",
                           FILENAME ":2: Invalid value for OpenIdConfigurationUrl=: \"http://api.aps.skype.com/x\" "
                           "must be an https:// URL.");

        assert_parse_ok("[Notifications]\nKeysRefreshSec=1min\nUnknownKeyRefreshSec=1s\nKeysMaxAgeSec=1h\n"
                        "KeysWaitSec=0\nClockSkewSec=0\n");
        assert_parse_ok("[Notifications]\nKeysRefreshSec=7d\nUnknownKeyRefreshSec=1d\nKeysMaxAgeSec=30d\n"
                        "KeysWaitSec=300\nClockSkewSec=3600\n");
        assert_parse_error("[Notifications]\nKeysRefreshSec=59s\n",
                           FILENAME ":2: Invalid value for KeysRefreshSec=: \"59s\" is out of range 1min..7d.");
        assert_parse_error("[Notifications]\nKeysRefreshSec=169h1s\n",
                           FILENAME ":2: Invalid value for KeysRefreshSec=: \"169h1s\" is out of range 1min..7d.");
        assert_parse_error("[Notifications]\nUnknownKeyRefreshSec=999ms\n",
                           FILENAME ":2: Invalid value for UnknownKeyRefreshSec=: \"999ms\" is out of range 1s..1d.");
        assert_parse_error("[Notifications]\nUnknownKeyRefreshSec=86401\n",
                           FILENAME ":2: Invalid value for UnknownKeyRefreshSec=: \"86401\" is out of range 1s..1d.");
        assert_parse_error("[Notifications]\nKeysMaxAgeSec=3599\n",
                           FILENAME ":2: Invalid value for KeysMaxAgeSec=: \"3599\" is out of range 1h..30d.");
        assert_parse_error("[Notifications]\nKeysMaxAgeSec=2592001\n",
                           FILENAME ":2: Invalid value for KeysMaxAgeSec=: \"2592001\" is out of range 1h..30d.");
        assert_parse_error("[Notifications]\nKeysWaitSec=301\n",
                           FILENAME ":2: Invalid value for KeysWaitSec=: \"301\" is out of range 0..5min.");
        /* [Operations] MaxCancelledOperations=, 0..256, default 64. */
        ck_assert_uint_eq(c->max_cancelled_operations, 64);
        assert_parse_ok("[Operations]\nMaxCancelledOperations=0\n");
        assert_parse_ok("[Operations]\nMaxCancelledOperations=256\n");
        assert_parse_error("[Operations]\nMaxCancelledOperations=257\n",
                           FILENAME ":2: Invalid value for MaxCancelledOperations=: \"257\" is out of range 0..256.");
        assert_parse_error("[Notifications]\nClockSkewSec=3601\n",
                           FILENAME ":2: Invalid value for ClockSkewSec=: \"3601\" is out of range 0..1h.");
}
END_TEST

START_TEST(test_retry_ms_units) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(parse("[Graph]\nRetryBaseMs=1\nRetryMaxMs=1.5s\n", &c, &err), 0);
        ck_assert_uint_eq(c->retry_base_usec, 1000);
        ck_assert_uint_eq(c->retry_max_usec, 1500000);

        config_free(c);
        ck_assert_int_eq(parse("[Graph]\nRetryBaseMs=2.5\nRetryMaxMs=3600000\n", &c, &err), 0);
        ck_assert_uint_eq(c->retry_base_usec, 2500);
        ck_assert_uint_eq(c->retry_max_usec, 3600 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_error_https) {
        assert_parse_error("[Graph]\nEndpoint=http://graph.microsoft.com\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"http://graph.microsoft.com\" must be "
                           "an https:// URL.");
        assert_parse_error("[Identity]\nLoginEndpoint=login.microsoftonline.com\n",
                           FILENAME ":2: Invalid value for LoginEndpoint=: \"login.microsoftonline.com\" must "
                           "be an https:// URL.");
        assert_parse_error("[Graph]\nEndpoint=https://\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"https://\" has no host.");
        assert_parse_error("[Graph]\nEndpoint=https:///v1.0\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"https:///v1.0\" has no host.");
        assert_parse_error("[Graph]\nEndpoint=https://graph.microsoft.com/?x=1\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"https://graph.microsoft.com/?x=1\" "
                           "must not contain a query or fragment.");
        assert_parse_error("[Graph]\nEndpoint=https://graph.microsoft.com#top\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"https://graph.microsoft.com#top\" "
                           "must not contain a query or fragment.");
        assert_parse_error("[Graph]\nEndpoint=https://graph microsoft.com\n",
                           FILENAME ":2: Invalid value for Endpoint=: the URL contains whitespace or control "
                           "characters.");
        assert_parse_error("[Graph]\nEndpoint=https://gr*ph.microsoft.com\n",
                           FILENAME ":2: Invalid value for Endpoint=: \"https://gr*ph.microsoft.com\" has an "
                           "invalid host.");

        /* User information could hold a password: refused without quoting it. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(parse("[Graph]\nEndpoint=https://u:pa55word@graph.microsoft.com\n", &c, &err),
                                 -EINVAL);
                ck_assert_str_eq(err, FILENAME ":2: Invalid value for Endpoint=: URLs with user information "
                                      "(user@host) are not supported.");
        }

        /* Trailing slashes are stripped, the scheme is normalized. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(parse("[Graph]\nEndpoint=HTTPS://graph.example.com//\n", &c, &err), 0);
                ck_assert_str_eq(c->graph_endpoint, "https://graph.example.com");
        }
}
END_TEST

/* Proxy=: https:// anywhere, http:// only on loopback, the edges of 127.0.0.0/8 included. */
static void assert_proxy(const char *value, const char *stored) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *text = xprintf("[Graph]\nProxy=%s\n", value);

        ck_assert_msg(parse(text, &c, &err) == 0, "Proxy=%s refused: %s", value, strempty(err));
        ck_assert_str_eq(c->proxy, stored);
}

START_TEST(test_proxy) {
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(parse("", &c, &err), 0);
                ck_assert_ptr_null(c->proxy);
                ck_assert_ptr_null(c->no_proxy);
        }
        assert_proxy("https://proxy.example.com:3128", "https://proxy.example.com:3128");
        assert_proxy("HTTPS://proxy.example.com/", "https://proxy.example.com");
        assert_proxy("https://[2001:db8::1]:443", "https://[2001:db8::1]:443");
        assert_proxy("https://10.0.0.5", "https://10.0.0.5");
        assert_proxy("http://127.0.0.1:3128", "http://127.0.0.1:3128");
        assert_proxy("http://127.0.0.0:1", "http://127.0.0.0:1");
        assert_proxy("http://127.255.255.255:65535", "http://127.255.255.255:65535");
        assert_proxy("HTTP://LocalHost:8080/", "http://LocalHost:8080");
        assert_proxy("http://[::1]:3128", "http://[::1]:3128");
        assert_proxy("http://localhost", "http://localhost");

        static const char *const not_local[] = { "http://128.0.0.1:3128", "http://126.255.255.255",
                                                 "http://10.0.0.5:3128", "http://127.0.0.256",
                                                 "http://127.0.0.1.",    "http://127.1",
                                                 "http://0177.0.0.1",    "http://localhost.example.com",
                                                 "http://[::2]:3128",    "http://proxy.corp" };
        for (size_t i = 0; i < ELEMENTSOF(not_local); i++) {
                _cleanup_free_ char *text = xprintf("[Graph]\nProxy=%s\n", not_local[i]);
                _cleanup_free_ char *want = xprintf(FILENAME ":2: Invalid value for Proxy=: \"%s\": an http:// proxy "
                                                    "must be on this host (127.0.0.0/8, [::1] or localhost), since "
                                                    "the way to it is not encrypted; use an https:// URL for a "
                                                    "proxy elsewhere.",
                                                    not_local[i]);
                assert_parse_error(text, want);
        }
        assert_parse_error("[Graph]\nProxy=socks5://127.0.0.1:1080\n",
                           FILENAME ":2: Invalid value for Proxy=: \"socks5://127.0.0.1:1080\" must be an https:// "
                           "URL, or http:// to a proxy on this host.");
        assert_parse_error("[Graph]\nProxy=127.0.0.1:3128\n",
                           FILENAME ":2: Invalid value for Proxy=: \"127.0.0.1:3128\" must be an https:// URL, or "
                           "http:// to a proxy on this host.");
        /* A password is never quoted back. */
        assert_parse_error("[Graph]\nProxy=https://user:hunter2@proxy.example.com\n",
                           FILENAME ":2: Invalid value for Proxy=: proxy URLs with user information (user@host) are "
                           "not supported.");
        assert_parse_error("[Graph]\nProxy=https://proxy.example.com/path\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://proxy.example.com/path\" must not have a "
                           "path, query or fragment.");
        assert_parse_error("[Graph]\nProxy=https://proxy.example.com?x\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://proxy.example.com?x\" must not have a "
                           "path, query or fragment.");
        assert_parse_error("[Graph]\nProxy=https://proxy.example.com:65536\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://proxy.example.com:65536\" has an invalid "
                           "port.");
        assert_parse_error("[Graph]\nProxy=https://proxy.example.com:0\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://proxy.example.com:0\" has an invalid "
                           "port.");
        assert_parse_error("[Graph]\nProxy=https://:3128\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://:3128\" has an invalid host.");
        assert_parse_error("[Graph]\nProxy=https://\n",
                           FILENAME ":2: Invalid value for Proxy=: \"https://\" has an invalid host.");
        assert_parse_error("[Graph]\nProxy=https://pro\x01xy\n",
                           FILENAME ":2: Invalid value for Proxy=: the URL contains whitespace or control characters.");

        /* NoProxy=: curl's host list; an empty value resets both to none. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(parse("[Graph]\nProxy=http://127.0.0.1:3128\n"
                                       "NoProxy=localhost, .example.com,10.0.0.0/8,[::1]\n", &c, &err), 0);
                ck_assert_str_eq(c->no_proxy, "localhost, .example.com,10.0.0.0/8,[::1]");
                static const char reset[] = "[Graph]\nProxy=\nNoProxy=\n";
                ck_assert_int_eq(config_parse_text(c, FILENAME, reset, strlen(reset), &err), 0);
                ck_assert_ptr_null(c->proxy);
                ck_assert_ptr_null(c->no_proxy);
        }
        assert_parse_ok("[Graph]\nNoProxy=*\n");
        assert_parse_error("[Graph]\nNoProxy=a;b\n",
                           FILENAME ":2: Invalid value for NoProxy=: \"a;b\" is not a list of host names, IP "
                           "addresses or CIDR ranges separated by commas.");
}
END_TEST

START_TEST(test_error_inline_secret) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        static const char secret[] = "Zq8~verysecretvalue.ABC";

        ck_assert_int_eq(parse("[Identity]\nTenantId=t\nClientSecret = Zq8~verysecretvalue.ABC\n", &c, &err),
                         -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, FILENAME ":3: ClientSecret= is not supported"));
        ck_assert_ptr_nonnull(strstr(err, "ClientSecretFile="));
        ck_assert_ptr_null(strstr(err, secret));
        ck_assert_ptr_null(strstr(err, "Zq8"));
        ck_assert_ptr_null(c->client_secret_file);
}
END_TEST

START_TEST(test_error_choices) {
        assert_parse_error("[Graph]\nCallsPath=/communications/calls/\n",
                           FILENAME ":2: Invalid value for CallsPath=: \"/communications/calls/\" is not one of "
                           "/communications/calls, /app/calls or /applications/{appId}/calls.");
        assert_parse_error("[Graph]\nCallsPath=/applications/1234/calls\n",
                           FILENAME ":2: Invalid value for CallsPath=: \"/applications/1234/calls\" is not one "
                           "of /communications/calls, /app/calls or /applications/{appId}/calls.");
        assert_parse_error("[Graph]\nApiVersion=v2.0\n",
                           FILENAME ":2: Invalid value for ApiVersion=: \"v2.0\" is not one of v1.0 or beta.");
}
END_TEST

/* Cloud=, Scope= and AllowedTenants=. */
START_TEST(test_identity_clouds_and_tenants) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        char scope[600];

        assert_parse_error("[Identity]\nCloud=Germany\n",
                           FILENAME ":2: Invalid value for Cloud=: \"Germany\" is not one of Global, USGovernment, "
                           "USGovernmentDoD or China.");
        assert_parse_error("[Identity]\nCloud=global\n",
                           FILENAME ":2: Invalid value for Cloud=: \"global\" is not one of Global, USGovernment, "
                           "USGovernmentDoD or China.");

        /* Scope=: a resource and "/.default", at most 512 characters. */
        assert_parse_ok("[Identity]\nScope=https://graph.microsoft.com/.default\n");
        assert_parse_error("[Identity]\nScope=https://graph.microsoft.com/Calls.Initiate.All\n",
                           FILENAME ":2: Invalid value for Scope=: \"https://graph.microsoft.com/Calls.Initiate.All\" "
                           "is not a resource followed by \"/.default\" (at most 512 characters).");
        assert_parse_error("[Identity]\nScope=/.default\n",
                           FILENAME ":2: Invalid value for Scope=: \"/.default\" is not a resource followed by "
                           "\"/.default\" (at most 512 characters).");
        assert_parse_error("[Identity]\nScope=a b/.default\n",
                           FILENAME ":2: Invalid value for Scope=: the scope contains whitespace or control characters.");
        memset(scope, 'a', sizeof scope);
        memcpy(scope + 512 - 9, "/.default", 10);
        _cleanup_free_ char *ok = xprintf("[Identity]\nScope=%s\n", scope);
        assert_parse_ok(ok);
        memset(scope, 'a', sizeof scope);
        memcpy(scope + 513 - 9, "/.default", 10);
        _cleanup_free_ char *bad = xprintf("[Identity]\nScope=%s\n", scope);
        ck_assert_int_eq(parse(bad, &c, &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "is not a resource followed by \"/.default\" (at most 512 characters)"));
        c = config_free(c);
        err = mfree(err);

        /* AllowedTenants=: names (lower case, once each) or "*"; assignments add, empty clears. */
        ck_assert_int_eq(parse("[Identity]\nTenantId=Home.onmicrosoft.com\n"
                               "AllowedTenants=Contoso.onmicrosoft.com  72f988bf-86f1-41af-91ab-2d7cd011db47\n"
                               "AllowedTenants=contoso.ONMICROSOFT.com\tfabrikam.com\n",
                               &c, &err),
                         0);
        ck_assert_ptr_null(err);
        ck_assert_uint_eq(c->n_allowed_tenants, 3);
        ck_assert_str_eq(c->allowed_tenants[0], "contoso.onmicrosoft.com");
        ck_assert_str_eq(c->allowed_tenants[1], "72f988bf-86f1-41af-91ab-2d7cd011db47");
        ck_assert_str_eq(c->allowed_tenants[2], "fabrikam.com");
        ck_assert(!c->allow_any_tenant);
        ck_assert(tenant_allowed(c, "home.onmicrosoft.com"));
        ck_assert(tenant_allowed(c, "FABRIKAM.com"));
        ck_assert(!tenant_allowed(c, "northwind.com"));
        static const char any[] = "[Identity]\nAllowedTenants=*\n", clear[] = "[Identity]\nAllowedTenants=\n";
        ck_assert_int_eq(config_parse_text(c, FILENAME, any, strlen(any), &err), 0);
        ck_assert(c->allow_any_tenant);
        ck_assert(tenant_allowed(c, "northwind.com"));
        ck_assert_int_eq(config_parse_text(c, FILENAME, clear, strlen(clear), &err), 0);
        ck_assert_uint_eq(c->n_allowed_tenants, 0);
        ck_assert(!c->allow_any_tenant);
        ck_assert(tenant_allowed(c, "home.onmicrosoft.com")); /* TenantId= always */
        ck_assert(!tenant_allowed(c, "fabrikam.com"));

        assert_parse_error("[Identity]\nAllowedTenants=contoso.com a/b\n",
                           FILENAME ":2: Invalid value for AllowedTenants=: \"a/b\" is not \"*\" or a GUID or domain "
                           "name (1-64 characters of A-Z, a-z, 0-9, \".\" and \"-\").");
        char longname[70];
        memset(longname, 'a', 65);
        longname[65] = '\0';
        _cleanup_free_ char *too_long = xprintf("[Identity]\nAllowedTenants=%s\n", longname);
        c = config_free(c);
        err = mfree(err);
        ck_assert_int_eq(parse(too_long, &c, &err), -EINVAL);
        longname[64] = '\0';
        _cleanup_free_ char *longest = xprintf("[Identity]\nAllowedTenants=%s\n", longname);
        assert_parse_ok(longest);
}
END_TEST

START_TEST(test_error_names_and_paths) {
        char longid[66], text[256];

        memset(longid, 'a', 64);
        longid[64] = '\0';
        snprintf(text, sizeof text, "[Identity]\nTenantId=%s\n", longid);
        assert_parse_ok(text);
        strcat(longid, "b");
        snprintf(text, sizeof text, "[Identity]\nTenantId=%s\n", longid);
        ck_assert_int_eq(strlen(longid), 65);
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(parse(text, &c, &err), -EINVAL);
                ck_assert_ptr_nonnull(strstr(err, FILENAME ":2: Invalid value for TenantId=: "));
                ck_assert_ptr_nonnull(strstr(err, "is not a GUID or domain name (1-64 characters"));
        }
        assert_parse_error("[Identity]\nClientId=abc/def\n",
                           FILENAME ":2: Invalid value for ClientId=: \"abc/def\" is not a GUID or domain name "
                           "(1-64 characters of A-Z, a-z, 0-9, \".\" and \"-\").");

        assert_parse_error("[Identity]\nClientSecretFile=secret.txt\n",
                           FILENAME ":2: Invalid value for ClientSecretFile=: \"secret.txt\" is not an absolute path.");
        assert_parse_error("[Graph]\nCAFile=ca.pem\n",
                           FILENAME ":2: Invalid value for CAFile=: \"ca.pem\" is not an absolute path.");

        /* Socket path: 107 bytes fit sockaddr_un, 108 do not. */
        char path[120];
        memset(path, 'x', sizeof path);
        path[0] = '/';
        path[107] = '\0';
        snprintf(text, sizeof text, "[Socket]\nPath=%s\n", path);
        assert_parse_ok(text);
        path[107] = 'x';
        path[108] = '\0';
        snprintf(text, sizeof text, "[Socket]\nPath=%s\n", path);
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(parse(text, &c, &err), -EINVAL);
                ck_assert_ptr_nonnull(strstr(err, FILENAME ":2: Invalid value for Path=: "));
                ck_assert_ptr_nonnull(strstr(err, "is longer than 107 bytes."));
        }
}
END_TEST

/* ---- value parsers ---- */

START_TEST(test_parse_timespan) {
        uint64_t u = 42;

        ck_assert_int_eq(parse_timespan_sec("30", &u), 0);
        ck_assert_uint_eq(u, 30 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan_sec("1.5", &u), 0);
        ck_assert_uint_eq(u, 1500000);
        ck_assert_int_eq(parse_timespan_sec("0.1s", &u), 0);
        ck_assert_uint_eq(u, 100000);
        ck_assert_int_eq(parse_timespan_sec("250ms", &u), 0);
        ck_assert_uint_eq(u, 250000);
        ck_assert_int_eq(parse_timespan_sec("30s", &u), 0);
        ck_assert_uint_eq(u, 30000000);
        ck_assert_int_eq(parse_timespan_sec("2min", &u), 0);
        ck_assert_uint_eq(u, 120000000);
        ck_assert_int_eq(parse_timespan_sec("2 min", &u), 0);
        ck_assert_uint_eq(u, 120000000);
        ck_assert_int_eq(parse_timespan_sec("1h", &u), 0);
        ck_assert_uint_eq(u, 3600 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan_sec("500us", &u), 0);
        ck_assert_uint_eq(u, 500);
        ck_assert_int_eq(parse_timespan_sec("1h 30min", &u), 0);
        ck_assert_uint_eq(u, 5400 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan_sec("1d", &u), 0);
        ck_assert_uint_eq(u, 86400 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan_sec(" 7 sec ", &u), 0);
        ck_assert_uint_eq(u, 7 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan_sec("0", &u), 0);
        ck_assert_uint_eq(u, 0);
        ck_assert_int_eq(parse_timespan_sec("1.0000005", &u), 0); /* sub-microsecond truncated */
        ck_assert_uint_eq(u, 1000000);

        /* Largest representable value, and one microsecond more. */
        ck_assert_int_eq(parse_timespan_sec("18446744073709551615us", &u), 0);
        ck_assert_uint_eq(u, UINT64_MAX);

        u = 42;
        ck_assert_int_eq(parse_timespan_sec("18446744073709551616us", &u), -ERANGE);
        ck_assert_int_eq(parse_timespan_sec("18446744073709551615us 1us", &u), -ERANGE);
        ck_assert_int_eq(parse_timespan_sec("18446744073710s", &u), -ERANGE);
        ck_assert_int_eq(parse_timespan_sec("99999999999999999999999", &u), -ERANGE);
        ck_assert_int_eq(parse_timespan_sec("", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("   ", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("-1", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("-1s", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("+1s", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("abc", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("5 years", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("5x", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("1.", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec(".5", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("1.5.5", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec("30s;", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan_sec(NULL, &u), -EINVAL);
        ck_assert_uint_eq(u, 42); /* untouched on failure */
}
END_TEST

START_TEST(test_parse_size) {
        size_t s = 42;

        ck_assert_int_eq(parse_size("1048576", &s), 0);
        ck_assert_uint_eq(s, 1048576);
        ck_assert_int_eq(parse_size("64K", &s), 0);
        ck_assert_uint_eq(s, 65536);
        ck_assert_int_eq(parse_size("64KiB", &s), 0);
        ck_assert_uint_eq(s, 65536);
        ck_assert_int_eq(parse_size("1M", &s), 0);
        ck_assert_uint_eq(s, 1048576);
        ck_assert_int_eq(parse_size("1G", &s), 0);
        ck_assert_uint_eq(s, 1073741824);
        ck_assert_int_eq(parse_size("8 MiB", &s), 0);
        ck_assert_uint_eq(s, 8 * 1024 * 1024);
        ck_assert_int_eq(parse_size("0", &s), 0);
        ck_assert_uint_eq(s, 0);
        ck_assert_int_eq(parse_size("100B", &s), 0);
        ck_assert_uint_eq(s, 100);

        if (sizeof(size_t) == 8) {
                ck_assert_int_eq(parse_size("18446744073709551615", &s), 0);
                ck_assert_uint_eq(s, SIZE_MAX);
                ck_assert_int_eq(parse_size("16777215T", &s), 0);
                ck_assert_uint_eq(s, (size_t) 16777215 << 40);
                ck_assert_int_eq(parse_size("16777216T", &s), -ERANGE);
        }

        s = 42;
        ck_assert_int_eq(parse_size("18446744073709551616", &s), -ERANGE);
        ck_assert_int_eq(parse_size("99999999999999999999G", &s), -ERANGE);
        ck_assert_int_eq(parse_size("", &s), -EINVAL);
        ck_assert_int_eq(parse_size("K", &s), -EINVAL);
        ck_assert_int_eq(parse_size("-1", &s), -EINVAL);
        ck_assert_int_eq(parse_size("1.5M", &s), -EINVAL);
        ck_assert_int_eq(parse_size("64k", &s), -EINVAL);
        ck_assert_int_eq(parse_size("64X", &s), -EINVAL);
        ck_assert_int_eq(parse_size("64K junk", &s), -EINVAL);
        ck_assert_int_eq(parse_size(NULL, &s), -EINVAL);
        ck_assert_uint_eq(s, 42);
}
END_TEST

/* ---- finalize and loading ---- */

/* A minimal valid configuration pointing at a readable secret in dir. */
static Config *valid_config(const char *dir) {
        Config *c = NULL;
        _cleanup_free_ char *secret = write_file(dir, "secret", "s3cr3t\n");
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *err = NULL;

        text = xprintf("[Identity]\nTenantId=t\nClientId=c\nClientSecretFile=%s\n", secret);
        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        return c;
}

START_TEST(test_finalize_required) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        static const char t1[] = "[Identity]\nClientId=c\nClientSecretFile=/dev/null\n";
        static const char t2[] = "[Identity]\nTenantId=t\nClientSecretFile=/dev/null\n";

        ck_assert_int_eq(config_new(&c), 0);
        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_parse_text(c, FILENAME, t1, strlen(t1), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        ck_assert_str_eq(err, FILENAME ": [Identity] TenantId= is required.");

        config_free(c);
        ck_assert_int_eq(config_new(&c), 0);
        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_parse_text(c, FILENAME, t2, strlen(t2), &err2), 0);
        ck_assert_int_eq(config_finalize(c, &err2), -EINVAL);
        ck_assert_str_eq(err2, FILENAME ": [Identity] ClientId= is required.");
}
END_TEST

START_TEST(test_finalize_legacy_calls_path) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(config_freep) Config *c = valid_config(dir);
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        static const char legacy[] = "[Graph]\nCallsPath=/app/calls\n";
        static const char beta[] = "[Graph]\nApiVersion=beta\n";
        static const char applications[] = "[Graph]\nCallsPath=/applications/{appId}/calls\n";

        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_finalize(c, &err), 0);
        ck_assert_ptr_null(err);

        ck_assert_int_eq(config_parse_text(c, FILENAME, legacy, strlen(legacy), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        ck_assert_str_eq(err, FILENAME ": [Graph] CallsPath=/app/calls requires ApiVersion=beta (it is a "
                              "legacy form that only the beta API serves), but ApiVersion=v1.0.");

        ck_assert_int_eq(config_parse_text(c, FILENAME, beta, strlen(beta), &err2), 0);
        ck_assert_int_eq(config_finalize(c, &err2), 0);
        ck_assert_ptr_null(err2);

        ck_assert_int_eq(config_parse_text(c, FILENAME, applications, strlen(applications), &err2), 0);
        ck_assert_int_eq(config_finalize(c, &err2), 0);
        ck_assert_str_eq(c->calls_path, "/applications/{appId}/calls");

        rm_rf(dir);
}
END_TEST

/* Each cloud's hosts and scope, from the one table; LoginEndpoint= and Endpoint= move where
 * requests go but never the scope; Scope= alone changes it. */
/* Only the Global cloud has documented notification issuers and keys: elsewhere
 * Authentication=jwt needs both keys set, and says so; Global fills in its OpenID URL. */
START_TEST(test_finalize_cloud_notifications) {
        _cleanup_free_ char *dir = make_tmpdir();
        static const char *const clouds[] = { "USGovernment", "USGovernmentDoD", "China" };

        {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(config_finalize(c, &err), 0);
                ck_assert_str_eq(c->openid_configuration_url,
                                 "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration");
                ck_assert_str_eq(config_notification_issuers(c)[0], "https://api.botframework.com");
        }
        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL, *expected = NULL,
                                    *text = xprintf("[Identity]\nCloud=%s\n", clouds[i]);

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
                expected = xprintf(": Microsoft documents neither the issuers nor the signing keys of "
                                   "Graph's notifications in Cloud=%s: set [Notifications] Issuers= and "
                                   "OpenIdConfigurationUrl=, or Authentication=peer.", clouds[i]);
                ck_assert_msg(strstr(err, expected), "%s", err);
        }
        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL,
                                    *text = xprintf("[Identity]\nCloud=%s\n[Notifications]\n"
                                                    "Issuers=https://issuer.example\n"
                                                    "OpenIdConfigurationUrl=https://keys.example/openid\n", clouds[i]);

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), 0);
                ck_assert_str_eq(config_notification_issuers(c)[0], "https://issuer.example");
                ck_assert_str_eq(c->openid_configuration_url, "https://keys.example/openid");
        }
}
END_TEST

START_TEST(test_finalize_clouds) {
        static const struct {
                const char *cloud, *login, *graph, *scope;
        } clouds[] = {
                { "Global", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                  "https://graph.microsoft.com/.default" },
                { "USGovernment", "https://login.microsoftonline.us", "https://graph.microsoft.us",
                  "https://graph.microsoft.us/.default" },
                { "USGovernmentDoD", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
                  "https://dod-graph.microsoft.us/.default" },
                { "China", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
                  "https://microsoftgraph.chinacloudapi.cn/.default" },
        };
        _cleanup_free_ char *dir = make_tmpdir();

        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL, *text = xprintf("[Identity]\nCloud=%s\n"
                                                                 "[Notifications]\nAuthentication=peer\n",
                                                                 clouds[i].cloud);

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), 0);
                ck_assert_str_eq(c->cloud_info->name, clouds[i].cloud);
                ck_assert_str_eq(c->login_endpoint, clouds[i].login);
                ck_assert_str_eq(c->graph_endpoint, clouds[i].graph);
                ck_assert_str_eq(c->scope, clouds[i].scope);
                /* Only China warns. */
                ck_assert_int_eq(!!c->cloud_info->warning, streq(clouds[i].cloud, "China"));
        }
        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL,
                                    *text = xprintf("[Identity]\nCloud=%s\nLoginEndpoint=https://127.0.0.1:8443\n"
                                                    "[Graph]\nEndpoint=https://proxy.example:9443/graph\n"
                                                    "[Notifications]\nAuthentication=peer\n",
                                                    clouds[i].cloud);

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), 0);
                ck_assert_str_eq(c->login_endpoint, "https://127.0.0.1:8443");
                ck_assert_str_eq(c->graph_endpoint, "https://proxy.example:9443/graph");
                ck_assert_str_eq(c->scope, clouds[i].scope); /* not the endpoint's */
        }
        {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL;
                static const char text[] = "[Identity]\nCloud=USGovernment\nScope=api://graph-test/.default\n"
                                            "[Notifications]\nAuthentication=peer\n";

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), 0);
                ck_assert_str_eq(c->scope, "api://graph-test/.default");
                ck_assert_str_eq(c->graph_endpoint, "https://graph.microsoft.us");
        }
        rm_rf(dir);
}
END_TEST

/* The beta API exists only in the Global cloud. */
START_TEST(test_finalize_beta_only_global) {
        static const char *const clouds[] = { "USGovernment", "USGovernmentDoD", "China" };
        _cleanup_free_ char *dir = make_tmpdir();

        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL, *expected = NULL,
                                    *text = xprintf("[Identity]\nCloud=%s\n[Graph]\nApiVersion=beta\n"
                                                    "[Notifications]\nAuthentication=peer\n", clouds[i]);

                c->source = strdup(FILENAME);
                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
                expected = xprintf(FILENAME ": [Graph] ApiVersion=beta is not available in Cloud=%s: the beta API "
                                            "exists only in the Global cloud. Use ApiVersion=v1.0.",
                                   clouds[i]);
                ck_assert_str_eq(err, expected);
        }
        {
                _cleanup_(config_freep) Config *c = valid_config(dir);
                _cleanup_free_ char *err = NULL;
                static const char text[] = "[Identity]\nCloud=Global\n[Graph]\nApiVersion=beta\n";

                ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(c, &err), 0);
        }
        rm_rf(dir);
}
END_TEST

START_TEST(test_finalize_retry_order) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(config_freep) Config *c = valid_config(dir);
        _cleanup_free_ char *err = NULL;
        static const char text[] = "[Graph]\nRetryBaseMs=5000\nRetryMaxMs=4000\n";

        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        ck_assert_str_eq(err, FILENAME ": [Graph] RetryBaseMs= must not be larger than RetryMaxMs=.");
        rm_rf(dir);
}
END_TEST

START_TEST(test_finalize_credentials_directory) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *secret = write_file(dir, "client-secret", "s3cr3t\n");
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *expected = NULL;
        static const char text[] = "[Identity]\nTenantId=t\nClientId=c\n";

        /* Neither the key nor the credential: the dedicated message. */
        ck_assert_int_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
        ck_assert_int_eq(config_new(&c), 0);
        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        ck_assert_str_eq(err, FILENAME ": no client credential: set ClientSecretFile= or CertificateFile=, or "
                              "provide the credential client-secret or client-certificate.");
        free(err);
        err = NULL;

        /* The credential is found. */
        ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
        ck_assert_int_eq(config_finalize(c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(c->client_secret_file, secret);
        ck_assert_str_eq(c->client_secret_file_origin, "credential client-secret");

        /* An explicit ClientSecretFile= wins over the credential. */
        {
                _cleanup_(config_freep) Config *d = NULL;
                _cleanup_free_ char *other = write_file(dir, "other", "x\n"), *t = NULL;

                t = xprintf("%s[Identity]\nClientSecretFile=%s\n", text, other);
                ck_assert_int_eq(config_new(&d), 0);
                ck_assert_int_eq(config_parse_text(d, FILENAME, t, strlen(t), &err), 0);
                ck_assert_int_eq(config_finalize(d, &err), 0);
                ck_assert_str_eq(d->client_secret_file, other);
                ck_assert_str_eq(d->client_secret_file_origin, FILENAME ":5");
        }

        /* The directory exists (the unit has other credentials) but client-secret is missing. */
        ck_assert_int_eq(unlink(secret), 0);
        {
                _cleanup_(config_freep) Config *d = NULL;

                ck_assert_int_eq(config_new(&d), 0);
                d->source = strdup(FILENAME);
                ck_assert_int_eq(config_parse_text(d, FILENAME, text, strlen(text), &err), 0);
                ck_assert_int_eq(config_finalize(d, &err), -EINVAL);
                expected = xprintf(FILENAME ": no client credential: set ClientSecretFile= or CertificateFile=, "
                                                   "or provide the credential client-secret or client-certificate "
                                                   "(cannot read %s: No such file or directory).",
                                          secret);
                ck_assert_str_eq(err, expected);
                ck_assert_ptr_null(d->client_secret_file);
        }

        ck_assert_int_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
        rm_rf(dir);
}
END_TEST

START_TEST(test_finalize_secret_file_missing) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        static const char text[] = "[Identity]\n"
                                   "TenantId=t\n"
                                   "ClientId=c\n"
                                   "\n"
                                   "ClientSecretFile=/nonexistent/mediacancel/secret\n";

        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_int_eq(config_parse_text(c, "/etc/mediacancel/mediacanceld.conf", text, strlen(text), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        ck_assert_str_eq(err, "/etc/mediacancel/mediacanceld.conf:5: Cannot read "
                              "ClientSecretFile=/nonexistent/mediacancel/secret: No such file or directory.");
}
END_TEST

START_TEST(test_finalize_secret_file_unreadable) {
        _cleanup_free_ char *dir = NULL, *secret = NULL, *text = NULL, *err = NULL, *expected = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        /* root passes access(R_OK) regardless of the mode. */
        if (geteuid() == 0)
                return;

        dir = make_tmpdir();
        secret = write_file(dir, "secret", "s3cr3t\n");
        ck_assert_int_eq(chmod(secret, 0), 0);
        text = xprintf("[Identity]\nTenantId=t\nClientId=c\nClientSecretFile=%s\n", secret);
        ck_assert_int_eq(config_new(&c), 0);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), &err), 0);
        ck_assert_int_eq(config_finalize(c, &err), -EINVAL);
        expected = xprintf(FILENAME ":4: Cannot read ClientSecretFile=%s: Permission denied.",
                                  secret);
        ck_assert_str_eq(err, expected);
        rm_rf(dir);
}
END_TEST

/* Finalizes text (with FILENAME as its source); returns config_finalize()'s result. */
static int finalize_text(const char *text, Config **ret, char **ret_error) {
        Config *c = NULL;

        ck_assert_int_eq(config_new(&c), 0);
        c->source = strdup(FILENAME);
        ck_assert_int_eq(config_parse_text(c, FILENAME, text, strlen(text), ret_error), 0);
        *ret = c;
        return config_finalize(c, ret_error);
}

#define FED_HEAD "[Identity]\nTenantId=t\nClientId=c\n"
#define MI_GUID "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

START_TEST(test_finalize_federated_credentials) {
        static const struct {
                const char *text, *error;
        } refused[] = {
                { FED_HEAD "ClientSecretFile=/dev/null\nClientAssertionFile=/run/token\n",
                  FILENAME ": both ClientSecretFile= (" FILENAME ":4) and ClientAssertionFile= (" FILENAME
                           ":5) are set; the application signs in with exactly one credential, remove one of them." },
                { FED_HEAD "CertificateFile=/dev/null\nManagedIdentity=system\n",
                  FILENAME ": both CertificateFile= (" FILENAME ":4) and ManagedIdentity= (" FILENAME
                           ":5) are set; the application signs in with exactly one credential, remove one of them." },
                { FED_HEAD "ClientAssertionFile=/run/token\nManagedIdentity=" MI_GUID "\n",
                  FILENAME ": both ClientAssertionFile= (" FILENAME ":4) and ManagedIdentity= (" FILENAME
                           ":5) are set; the application signs in with exactly one credential, remove one of them." },
                { FED_HEAD "ClientSecretFile=/dev/null\nCertificateFile=/dev/null\nClientAssertionFile=/run/t\n"
                           "ManagedIdentity=system\n",
                  FILENAME ": ClientSecretFile= (" FILENAME ":4), CertificateFile= (" FILENAME
                           ":5), ClientAssertionFile= (" FILENAME ":6) and ManagedIdentity= (" FILENAME
                           ":7) are all set; the application signs in with exactly one credential, remove all but "
                           "one of them." },
                { FED_HEAD "ClientSecretFile=/dev/null\nManagedIdentityEndpoint=http://127.0.0.1:1/x\n",
                  FILENAME ": ManagedIdentityEndpoint=http://127.0.0.1:1/x is set but ManagedIdentity= is not; the "
                           "endpoint is only asked for a managed identity's token." },
                { FED_HEAD "ClientSecretFile=/dev/null\nManagedIdentitySource=arc\n",
                  FILENAME ": ManagedIdentitySource= is set but ManagedIdentity= is not." },
        };

        ck_assert_int_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(finalize_text(refused[i].text, &c, &err), -EINVAL);
                ck_assert_str_eq(err, refused[i].error);
        }

        /* Each alone is fine, and needs no file at start: the assertion file may come later. */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(finalize_text(FED_HEAD "ClientAssertionFile=/nonexistent/token\n", &c, &err), 0);
                ck_assert_str_eq(c->client_assertion_file, "/nonexistent/token");
                ck_assert_ptr_null(c->client_secret_file);
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(finalize_text(FED_HEAD "ManagedIdentity=" MI_GUID "\nManagedIdentitySource=imds\n"
                                                        "ManagedIdentityEndpoint=http://127.0.0.1:8080/m/token/\n",
                                               &c, &err),
                                 0);
                ck_assert_str_eq(c->managed_identity, MI_GUID);
                ck_assert_str_eq(c->managed_identity_source, "imds");
                ck_assert_str_eq(c->managed_identity_endpoint, "http://127.0.0.1:8080/m/token/");
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;
                ck_assert_int_eq(finalize_text(FED_HEAD "ManagedIdentity=system\n", &c, &err), 0);
                ck_assert_str_eq(c->managed_identity_source, "auto");
                ck_assert_ptr_null(c->managed_identity_endpoint);
        }

        /* A systemd credential left next to a federated credential is a conflict too. */
        {
                _cleanup_free_ char *dir = make_tmpdir();
                _cleanup_free_ char *secret = write_file(dir, "client-secret", "s\n");
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL;

                ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
                ck_assert_int_eq(finalize_text(FED_HEAD "ManagedIdentity=system\n", &c, &err), -EINVAL);
                ck_assert_str_eq(err, FILENAME ": both ManagedIdentity= and the systemd credential client-secret are "
                                      "set; the application signs in with exactly one credential, remove one of them.");
                ck_assert_int_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
                rm_rf(dir);
        }
}
END_TEST

START_TEST(test_error_federated_values) {
        assert_parse_error("[Identity]\nManagedIdentity=user\n",
                           FILENAME ":2: Invalid value for ManagedIdentity=: \"user\" is neither \"system\" nor a "
                                    "user-assigned identity's client ID (a GUID).");
        assert_parse_error("[Identity]\nManagedIdentity=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9fg\n",
                           FILENAME ":2: Invalid value for ManagedIdentity=: \"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9fg\" "
                                    "is neither \"system\" nor a user-assigned identity's client ID (a GUID).");
        assert_parse_error("[Identity]\nManagedIdentityEndpoint=https://127.0.0.1/x\n",
                           FILENAME ":2: Invalid value for ManagedIdentityEndpoint=: \"https://127.0.0.1/x\" must be "
                                    "an http:// URL (the managed identity endpoints are plain HTTP on this host or at "
                                    "the link-local metadata address).");
        assert_parse_error("[Identity]\nManagedIdentityEndpoint=http://127.0.0.1:5\n",
                           FILENAME ":2: Invalid value for ManagedIdentityEndpoint=: \"http://127.0.0.1:5\" has no "
                                    "path; give the whole token URL, such as "
                                    "http://169.254.169.254/metadata/identity/oauth2/token.");
        assert_parse_error("[Identity]\nManagedIdentityEndpoint=http://127.0.0.1/x?api-version=1\n",
                           FILENAME ":2: Invalid value for ManagedIdentityEndpoint=: "
                                    "\"http://127.0.0.1/x?api-version=1\" must not contain a query or fragment.");
        assert_parse_error("[Identity]\nManagedIdentitySource=vm\n",
                           FILENAME ":2: Invalid value for ManagedIdentitySource=: \"vm\" is not one of auto, imds or arc.");
        assert_parse_error("[Identity]\nClientAssertionFile=token\n",
                           FILENAME ":2: Invalid value for ClientAssertionFile=: \"token\" is not an absolute path.");
        assert_parse_ok("[Identity]\nManagedIdentity=system\nManagedIdentity=\n"); /* empty: back to none */
}
END_TEST

START_TEST(test_load_missing_file) {
        Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(config_load("/nonexistent/mediacanceld.conf", &c, &err), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, "/nonexistent/mediacanceld.conf: No such file or directory");
}
END_TEST

START_TEST(test_load_dropins) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *secret = write_file(dir, "secret", "s3cr3t\n");
        _cleanup_free_ char *main_text = NULL, *main_path = NULL, *d = NULL, *err = NULL;
        _cleanup_(config_freep) Config *c = NULL;

        main_text = xprintf("[Identity]\nTenantId=t\nClientId=c\nClientSecretFile=%s\n"
                                  "[Graph]\nMaxAttempts=2\nMaxInFlight=10\nMaxQueued=20\n"
                                  "[Socket]\nMaxConnections=30\n",
                                  secret);
        main_path = write_file(dir, "mediacanceld.conf", main_text);

        d = xprintf("%s.d", main_path);
        ck_assert_int_eq(mkdir(d, 0755), 0);

        /* strcmp() order, independent of the locale: digits sort before upper case letters, so
         * 10-a, 15-reset, 20-b, then Z-upper. */
        free(write_file(d, "20-b.conf", "[Graph]\nMaxAttempts=4\nMaxInFlight=40\n"));
        free(write_file(d, "10-a.conf", "[Graph]\nMaxAttempts=3\nMaxInFlight=30\nMaxQueued=33\n"));
        free(write_file(d, "Z-upper.conf", "[Graph]\nMaxAttempts=9\n"));
        /* Not *.conf, hidden: ignored even though they are invalid. */
        free(write_file(d, "30-c.conf.disabled", "garbage\n"));
        free(write_file(d, ".hidden.conf", "garbage\n"));
        /* An empty value in a drop-in resets the main file's value to the default. */
        free(write_file(d, "15-reset.conf", "[Socket]\nMaxConnections=\n"));

        ck_assert_int_eq(config_load(main_path, &c, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(c->source, main_path);
        ck_assert_uint_eq(c->max_attempts, 9);   /* Z-upper.conf, last */
        ck_assert_uint_eq(c->max_in_flight, 40); /* 20-b.conf after 10-a.conf */
        ck_assert_uint_eq(c->max_queued, 33);    /* 10-a.conf, not overridden */
        ck_assert_uint_eq(c->max_connections, 256);
        ck_assert_str_eq(c->client_secret_file, secret);

        /* An error in a drop-in names the drop-in and its line. */
        {
                _cleanup_(config_freep) Config *e = NULL;
                _cleanup_free_ char *bad = write_file(d, "40-bad.conf", "\n[Graph]\nMaxAttempts=0\n");
                _cleanup_free_ char *expected = NULL, *err2 = NULL;

                ck_assert_int_eq(config_load(main_path, &e, &err2), -EINVAL);
                ck_assert_ptr_null(e);
                expected = xprintf("%s:3: Invalid value for MaxAttempts=: \"0\" is out of range 1..100.",
                                          bad);
                ck_assert_str_eq(err2, expected);
        }

        rm_rf(dir);
}
END_TEST

START_TEST(test_load_finalize_names_main_file) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *main_path = write_file(dir, "mediacanceld.conf", "[Identity]\nClientId=c\n");
        _cleanup_free_ char *err = NULL, *expected = NULL;
        Config *c = NULL;

        ck_assert_int_eq(config_load(main_path, &c, &err), -EINVAL);
        ck_assert_ptr_null(c);
        expected = xprintf("%s: [Identity] TenantId= is required.", main_path);
        ck_assert_str_eq(err, expected);
        rm_rf(dir);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("parse");
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_free_null);
        tcase_add_test(tc, test_full_file);
        tcase_add_test(tc, test_empty_value_resets);
        tcase_add_test(tc, test_comments_and_whitespace);
        tcase_add_test(tc, test_retry_ms_units);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_error_unknown_section);
        tcase_add_test(tc, test_error_unknown_key);
        tcase_add_test(tc, test_error_key_outside_section);
        tcase_add_test(tc, test_error_missing_equals);
        tcase_add_test(tc, test_error_nul_byte);
        tcase_add_test(tc, test_error_bad_timespan);
        tcase_add_test(tc, test_error_out_of_range);
        tcase_add_test(tc, test_error_https);
        tcase_add_test(tc, test_proxy);
        tcase_add_test(tc, test_error_inline_secret);
        tcase_add_test(tc, test_error_choices);
        tcase_add_test(tc, test_error_names_and_paths);
        tcase_add_test(tc, test_identity_clouds_and_tenants);
        tcase_add_test(tc, test_error_federated_values);
        suite_add_tcase(s, tc);

        tc = tcase_create("values");
        tcase_add_test(tc, test_parse_timespan);
        tcase_add_test(tc, test_parse_size);
        suite_add_tcase(s, tc);

        tc = tcase_create("load");
        tcase_add_test(tc, test_finalize_required);
        tcase_add_test(tc, test_finalize_legacy_calls_path);
        tcase_add_test(tc, test_finalize_retry_order);
        tcase_add_test(tc, test_finalize_clouds);
        tcase_add_test(tc, test_finalize_cloud_notifications);
        tcase_add_test(tc, test_finalize_beta_only_global);
        tcase_add_test(tc, test_finalize_credentials_directory);
        tcase_add_test(tc, test_finalize_secret_file_missing);
        tcase_add_test(tc, test_finalize_secret_file_unreadable);
        tcase_add_test(tc, test_finalize_federated_credentials);
        tcase_add_test(tc, test_load_missing_file);
        tcase_add_test(tc, test_load_dropins);
        tcase_add_test(tc, test_load_finalize_names_main_file);
        tcase_add_test(tc, test_notifications);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
