/* SPDX-License-Identifier: MIT */
/*
 * check_tenants.c — tenants and clouds end to end, with the real daemon on its socket and the
 * stand-in knowing several tenants: each cancel and each poll carries the token of its own
 * tenant (the stand-in answers 7504 otherwise, as Graph does), one tenant's login going down
 * leaves the others working, AllowedTenants= refuses before any request, MaxTenants= and
 * TenantIdleSec= at their edges, a restart with pending operations of two tenants, each
 * cloud's scope, and the messages that tell a tenant's administrator what to do.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "macro.h"
#include "util.h"

#define OTHER "fabrikam-tenant"
#define THIRD "northwind-tenant"
#define TENANTS_ARGS "--tenant " OTHER " --tenant " THIRD

static char *xprintf(const char *fmt, ...) _printf_(1, 2);
static char *xprintf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
        va_end(ap);
        return s;
}

static json_object *call(Harness *h, const char *method, const char *params) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, method, params);

        close(fd);
        ck_assert_ptr_nonnull(r);
        return r;
}

static void standin_config(Harness *h, const char *json) {
        json_object *r = standin_post(h, "/_standin/config", json);
        ck_assert_msg(r && !jpath(r, "error"), "stand-in config %s: %s", json, json_object_to_json_string(r));
        json_object_put(r);
}

/* How many token requests the stand-in saw for tenant. */
static int token_requests_for(Harness *h, const char *tenant) {
        json_object *st = standin_get(h, "/_standin/stats"), *reqs = jpath(st, "requests");
        int n = 0;

        for (size_t i = 0; reqs && i < json_object_array_length(reqs); i++) {
                json_object *e = json_object_array_get_idx(reqs, i);
                if (streq_ptr(jstr(e, "kind"), "token") && streq_ptr(jstr(e, "tenant"), tenant))
                        n++;
        }
        json_object_put(st);
        return n;
}

/* The entry of status.tenants for tenant, or NULL; st keeps it alive. */
static json_object *status_tenant(json_object *st, const char *tenant) {
        json_object *a = jpath(st, "result.tenants");

        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                if (streq_ptr(jstr(json_object_array_get_idx(a, i), "tenantId"), tenant))
                        return json_object_array_get_idx(a, i);
        return NULL;
}

/* ---- two tenants under load ---- */

/* 300 cancels on three connections, pipelined, alternating between the home tenant (no
 * tenantId) and another (tenantId in another letter case): each completes, each Graph request
 * carried its own tenant's token (a call the stand-in owns for one tenant answers 7504 to the
 * other's), each tenant's token was asked for at its own token endpoint, and the operations
 * say their tenant. */
START_TEST(test_two_tenants_interleaved) {
        enum { CONNECTIONS = 3, PER = 100 };
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS " --latency-ms 20",
                             .config_extra = "[Identity]\nAllowedTenants=" OTHER "\n"
                                             "[Socket]\nMaxInFlightPerConnection=1000\n",
                             .no_daemon = true };
        int fds[CONNECTIONS];
        char map[65536];
        size_t n = 0;

        harness_start(&h, &o);
        n += (size_t) snprintf(map + n, sizeof map - n, "{\"callTenants\":{");
        for (int c = 0; c < CONNECTIONS; c++)
                for (int i = 0; i < PER; i++)
                        n += (size_t) snprintf(map + n, sizeof map - n, "%s\"call-%d-%d\":\"%s\"", n > 17 ? "," : "", c, i,
                                               i % 2 ? OTHER : HARNESS_TENANT);
        snprintf(map + n, sizeof map - n, "}}");
        standin_config(&h, map);
        harness_start_daemon(&h);

        for (int c = 0; c < CONNECTIONS; c++)
                fds[c] = harness_connect(&h);
        for (int i = 0; i < PER; i++)
                for (int c = 0; c < CONNECTIONS; c++) {
                        _cleanup_free_ char *line =
                                xprintf("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":"
                                        "\"call-%d-%d\"%s}}",
                                        i, c, i, i % 2 ? ",\"tenantId\":\"Fabrikam-Tenant\"" : "");
                        harness_send(fds[c], line);
                }
        for (int c = 0; c < CONNECTIONS; c++) {
                for (int k = 0; k < PER; k++) {
                        json_object *r = harness_read(fds[c], 60000);
                        ck_assert_ptr_nonnull(r);
                        int i = (int) jint(r, "id");
                        ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "completed"), "call-%d-%d: %s", c, i,
                                      json_object_to_json_string(r));
                        ck_assert_str_eq(jstr(r, "result.operation.tenantId"), i % 2 ? OTHER : HARNESS_TENANT);
                        json_object_put(r);
                }
                close(fds[c]);
        }

        /* What reached the stand-in: every cancel, each request with its own tenant's token. A
         * slow host (valgrind) may see an attempt time out and be sent again: every copy must
         * carry the right token too. */
        json_object *st = standin_get(&h, "/_standin/stats"), *cancels = jpath(st, "cancels");
        bool seen[CONNECTIONS][PER] = {};
        ck_assert_int_ge(json_object_array_length(cancels), CONNECTIONS * PER);
        for (size_t i = 0; i < json_object_array_length(cancels); i++) {
                json_object *c = json_object_array_get_idx(cancels, i);
                int conn, k;
                ck_assert_int_eq(sscanf(jstr(c, "callId"), "call-%d-%d", &conn, &k), 2);
                ck_assert(conn >= 0 && conn < CONNECTIONS && k >= 0 && k < PER);
                ck_assert_str_eq(jstr(c, "tokenTenant"), k % 2 ? OTHER : HARNESS_TENANT);
                if (jint(c, "status") == 200)
                        seen[conn][k] = true;
        }
        for (int c = 0; c < CONNECTIONS; c++)
                for (int k = 0; k < PER; k++)
                        ck_assert_msg(seen[c][k], "call-%d-%d never got a 200 from Graph", c, k);
        json_object_put(st);
        ck_assert_int_ge(token_requests_for(&h, HARNESS_TENANT), 1);
        ck_assert_int_ge(token_requests_for(&h, OTHER), 1);
        ck_assert_int_eq(token_requests_for(&h, THIRD), 0);

        /* operation.list by tenant, in any letter case. */
        json_object *l = call(&h, "operation.list", "{\"tenantId\":\"FABRIKAM-tenant\",\"limit\":1000}");
        ck_assert_int_eq(json_object_array_length(jpath(l, "result.operations")), CONNECTIONS * PER / 2);
        for (size_t i = 0; i < json_object_array_length(jpath(l, "result.operations")); i++)
                ck_assert_str_eq(jstr(json_object_array_get_idx(jpath(l, "result.operations"), i), "tenantId"), OTHER);
        json_object_put(l);

        /* status: each tenant's token state and expiry, never a token. */
        json_object *s = call(&h, "status", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(s, "result.tenants")), 2);
        ck_assert_str_eq(jstr(s, "result.tenants.0.tenantId"), HARNESS_TENANT);
        ck_assert_str_eq(jstr(status_tenant(s, OTHER), "state"), "valid");
        ck_assert_ptr_nonnull(jstr(status_tenant(s, OTHER), "expiresAt"));
        ck_assert_str_eq(jstr(s, "result.token.tenantId"), HARNESS_TENANT);
        const char *text = json_object_to_json_string(s);
        json_object *stats = standin_get(&h, "/_standin/stats"), *issued = jpath(stats, "tokensIssued");
        for (size_t i = 0; i < json_object_array_length(issued); i++)
                ck_assert_ptr_null(strstr(text, json_object_get_string(json_object_array_get_idx(issued, i))));
        json_object_put(stats);
        json_object_put(s);

        /* mediacancelctl: --tenant on cancel and list. */
        char *out = NULL, *err = NULL;
        standin_config(&h, "{\"callTenants\":{\"ctl-call\":\"" OTHER "\"}}");
        ck_assert_int_eq(harness_ctl(&h, "--json cancel ctl-call --tenant " OTHER, &out, &err), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"tenantId\":\"" OTHER "\""));
        free(out);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "--json list --call ctl-call --tenant " OTHER, &out, &err), 0);
        ck_assert_ptr_nonnull(strstr(out, "ctl-call"));
        free(out);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "--json list --call ctl-call --tenant " HARNESS_TENANT, &out, &err), 0);
        ck_assert_ptr_null(strstr(out, "ctl-call"));
        free(out);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "get --tenant x 00000000-0000-4000-8000-000000000000", &out, &err), 2);
        ck_assert_ptr_nonnull(strstr(err, "option --tenant does not apply to 'get'"));
        free(out);
        free(err);

        harness_stop(&h);
}
END_TEST

/* ---- one tenant's login down ---- */

/* The other tenant's login answers 503 over and over. With MaxInFlight=2, its six cancels
 * wait for a token without holding a slot, so the home tenant's six go through and are
 * answered while those six still wait; once the login is back (a reload asks again at once),
 * they complete too. */
START_TEST(test_tenant_login_down) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS,
                             .config_extra = "[Identity]\nAllowedTenants=" OTHER "\n"
                                             "[Graph]\nMaxInFlight=2\nRequestTimeoutSec=60\n",
                             .no_daemon = true };

        harness_start(&h, &o);
        standin_config(&h, "{\"loginDownTenants\":[\"" OTHER "\"]}");
        harness_start_daemon(&h);

        int down = harness_connect(&h), up = harness_connect(&h);
        for (int i = 0; i < 6; i++) {
                _cleanup_free_ char *line = xprintf("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":"
                                                    "{\"callId\":\"down-%d\",\"tenantId\":\"" OTHER "\"}}",
                                                    i, i);
                harness_send(down, line);
        }
        for (int i = 0; i < 6; i++) {
                _cleanup_free_ char *line = xprintf(
                        "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"up-%d\"}}", i, i);
                harness_send(up, line);
        }
        for (int i = 0; i < 6; i++) {
                json_object *r = harness_read(up, 30000);
                ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "completed"), "%s",
                              json_object_to_json_string(r));
                json_object_put(r);
        }
        /* None of the other tenant's has an answer yet. */
        ck_assert_ptr_null(harness_read(down, 200));

        json_object *s = call(&h, "status", NULL);
        json_object *t = status_tenant(s, OTHER);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_ne(jstr(t, "state"), "valid");
        ck_assert_str_eq(jstr(t, "lastError.error"), "temporarily_unavailable");
        ck_assert_str_eq(jstr(status_tenant(s, HARNESS_TENANT), "state"), "valid");
        ck_assert_int_eq(jint(s, "result.graph.waitingForToken"), 6);
        json_object_put(s);
        ck_assert_int_ge(token_requests_for(&h, OTHER), 1);

        standin_config(&h, "{\"loginDownTenants\":[]}");
        ck_assert_int_eq(kill(h.daemon_pid, SIGHUP), 0);
        for (int i = 0; i < 6; i++) {
                json_object *r = harness_read(down, 30000);
                ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "completed"), "%s",
                              json_object_to_json_string(r));
                ck_assert_str_eq(jstr(r, "result.operation.tenantId"), OTHER);
                json_object_put(r);
        }
        close(down);
        close(up);
        harness_stop(&h);
}
END_TEST

/* ---- AllowedTenants= ---- */

/* A tenant outside AllowedTenants= is refused with TenantNotAllowed before anything happens:
 * no token request for it, no operation. Malformed names and the multi-tenant aliases are
 * InvalidParams. With "*" any tenant is allowed, and one the identity platform does not know
 * fails at once with its AADSTS90002. */
START_TEST(test_allowed_tenants) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS };
        json_object *r;

        harness_start(&h, &o);
        r = call(&h, "cancel", "{\"callId\":\"c1\",\"tenantId\":\"" OTHER "\"}");
        ck_assert_msg(jint(r, "error.code") == -32009, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "TenantNotAllowed");
        ck_assert_str_eq(jstr(r, "error.data.param"), "tenantId");
        ck_assert_str_eq(jstr(r, "error.data.tenantId"), OTHER);
        json_object_put(r);

        r = call(&h, "cancel", "{\"callId\":\"c1\",\"tenantId\":\"a/b\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        ck_assert_str_eq(jstr(r, "error.data.param"), "tenantId");
        json_object_put(r);
        r = call(&h, "cancel", "{\"callId\":\"c1\",\"tenantId\":\"Common\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        ck_assert_str_eq(jstr(r, "error.data.param"), "tenantId");
        json_object_put(r);
        r = call(&h, "cancel", "{\"callId\":\"c1\",\"tenantId\":7}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        json_object_put(r);
        /* Its own tenant by name, in any case, is TenantId=. */
        r = call(&h, "cancel", "{\"callId\":\"c2\",\"tenantId\":\"CONTOSO-tenant\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_str_eq(jstr(r, "result.operation.tenantId"), HARNESS_TENANT);
        json_object_put(r);

        ck_assert_int_eq(token_requests_for(&h, OTHER), 0);
        r = call(&h, "operation.list", "{}");
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        json_object_put(r);
        r = call(&h, "status", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.tenants")), 1);
        json_object_put(r);

        char *out = NULL, *err = NULL;
        ck_assert_int_eq(harness_ctl(&h, "cancel c3 --tenant " OTHER, &out, &err), 1);
        ck_assert_ptr_nonnull(strstr(err, "TenantNotAllowed"));
        free(out);
        free(err);
        harness_stop(&h);

        /* AllowedTenants=*: any, and an unknown one is the identity platform's to refuse. */
        o.config_extra = "[Identity]\nAllowedTenants=*\n";
        harness_start(&h, &o);
        r = call(&h, "cancel", "{\"callId\":\"c4\",\"tenantId\":\"" THIRD "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        r = call(&h, "cancel", "{\"callId\":\"c5\",\"tenantId\":\"unknown-tenant.example\"}");
        ck_assert_msg(jint(r, "error.code") == -32002, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.aadsts"), "AADSTS90002");
        ck_assert_str_eq(jstr(r, "error.data.tenantId"), "unknown-tenant.example");
        json_object_put(r);
        harness_stop(&h);
}
END_TEST

/* ---- MaxTenants= and TenantIdleSec= ---- */

/* MaxTenants=2 holds TenantId='s and one more. While a cancel waits for the second tenant's
 * token (its login is down), that tenant cannot be dropped, and a third is refused with
 * LimitExceeded naming MaxTenants, before any request. Once its cancel is through,
 * TenantIdleSec=1s drops the second (never TenantId='s), which makes room for the third; and
 * a tenant dropped needs a new token when it comes back. */
START_TEST(test_tenant_limits) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS,
                             .config_extra = "[Identity]\nAllowedTenants=*\nMaxTenants=2\nTenantIdleSec=1s\n",
                             .no_daemon = true };
        json_object *r;

        harness_start(&h, &o);
        standin_config(&h, "{\"loginDownTenants\":[\"" OTHER "\"]}");
        harness_start_daemon(&h);
        int waiting = harness_connect(&h);
        harness_send(waiting, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"l1\","
                              "\"tenantId\":\"" OTHER "\"}}");
        for (int i = 0; i < 100 && token_requests_for(&h, OTHER) < 1; i++)
                usleep(50 * 1000);
        ck_assert_int_ge(token_requests_for(&h, OTHER), 1);

        r = call(&h, "cancel", "{\"callId\":\"l2\",\"tenantId\":\"" THIRD "\"}");
        ck_assert_msg(jint(r, "error.code") == -32006, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxTenants");
        json_object_put(r);
        ck_assert_int_eq(token_requests_for(&h, THIRD), 0);
        r = call(&h, "operation.list", "{\"callId\":\"l2\"}");
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 0);
        json_object_put(r);

        /* The login is back; the waiting cancel goes through. */
        standin_config(&h, "{\"loginDownTenants\":[]}");
        ck_assert_int_eq(kill(h.daemon_pid, SIGHUP), 0);
        r = harness_read(waiting, 30000);
        ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "completed"), "%s", json_object_to_json_string(r));
        json_object_put(r);
        close(waiting);

        /* Unused for a second, the second tenant's token goes; TenantId='s stays. */
        int tenants = 2;
        for (int i = 0; i < 100 && tenants != 1; i++) {
                usleep(100 * 1000);
                r = call(&h, "status", NULL);
                tenants = (int) json_object_array_length(jpath(r, "result.tenants"));
                json_object_put(r);
        }
        ck_assert_int_eq(tenants, 1);
        r = call(&h, "status", NULL);
        ck_assert_str_eq(jstr(r, "result.tenants.0.tenantId"), HARNESS_TENANT);
        ck_assert_str_eq(jstr(r, "result.tenants.0.state"), "valid");
        json_object_put(r);

        r = call(&h, "cancel", "{\"callId\":\"l3\",\"tenantId\":\"" THIRD "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        ck_assert_int_eq(token_requests_for(&h, THIRD), 1);

        /* The second tenant again, once the third has gone idle in turn: a new token. */
        int before = token_requests_for(&h, OTHER);
        r = NULL;
        for (int i = 0; i < 100; i++) {
                r = call(&h, "cancel", "{\"callId\":\"l4\",\"tenantId\":\"" OTHER "\"}");
                if (jstr(r, "result.operation.status"))
                        break;
                ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxTenants");
                json_object_put(r);
                r = NULL;
                usleep(100 * 1000);
        }
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        ck_assert_int_eq(token_requests_for(&h, OTHER), before + 1);
        harness_stop(&h);
}
END_TEST

/* ---- restart ---- */

/* Pending operations of two tenants survive a crash; after the restart, polling each one
 * carries its own tenant's token (the stand-in would answer 7504 to the other's). */
START_TEST(test_restart_two_tenants) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS " --cancel-status running",
                             .config_extra = "[Identity]\nAllowedTenants=" OTHER "\n"
                                             "[Operations]\nPollIntervalSec=1\nCompletionTimeoutSec=600\n",
                             .no_daemon = true };
        char ids[2][64];
        json_object *r;

        harness_start(&h, &o);
        standin_config(&h, "{\"callTenants\":{\"home-call\":\"" HARNESS_TENANT "\",\"other-call\":\"" OTHER "\"}}");
        harness_start_daemon(&h);
        r = call(&h, "cancel", "{\"callId\":\"home-call\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        snprintf(ids[0], sizeof ids[0], "%s", jstr(r, "result.operation.id"));
        json_object_put(r);
        r = call(&h, "cancel", "{\"callId\":\"other-call\",\"tenantId\":\"" OTHER "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        snprintf(ids[1], sizeof ids[1], "%s", jstr(r, "result.operation.id"));
        json_object_put(r);

        harness_kill_daemon(&h);
        char path[512];
        harness_journal_path(&h, path, sizeof path);
        char *journal = read_file_text(path);
        ck_assert_ptr_nonnull(strstr(journal, "\"tenantId\":\"" OTHER "\""));
        free(journal);

        /* Now Graph says completed to a GET. */
        standin_config(&h, "{\"operationSteps\":[\"completed\"]}");
        json_object_put(standin_post(&h, "/_standin/reset", "{}"));
        harness_start_daemon(&h);
        for (int k = 0; k < 2; k++) {
                const char *status = NULL;
                for (int i = 0; i < 150; i++) {
                        _cleanup_free_ char *p = xprintf("{\"operationId\":\"%s\"}", ids[k]);
                        r = call(&h, "operation.get", p);
                        status = jstr(r, "result.operation.status");
                        if (streq_ptr(status, "completed"))
                                break;
                        json_object_put(r);
                        r = NULL;
                        usleep(100 * 1000);
                }
                ck_assert_msg(r, "operation %s was not settled by polling", ids[k]);
                ck_assert_str_eq(jstr(r, "result.operation.tenantId"), k ? OTHER : HARNESS_TENANT);
                json_object_put(r);
        }
        json_object *st = standin_get(&h, "/_standin/stats"), *reqs = jpath(st, "requests");
        int gets = 0;
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                json_object *e = json_object_array_get_idx(reqs, i);
                if (!streq_ptr(jstr(e, "kind"), "operation"))
                        continue;
                gets++;
                ck_assert_int_eq(jint(e, "status"), 200);
                ck_assert_str_eq(jstr(e, "tokenTenant"), strstr(jstr(e, "path"), "other-call") ? OTHER : HARNESS_TENANT);
        }
        ck_assert_int_ge(gets, 2);
        json_object_put(st);
        harness_stop(&h);
}
END_TEST

/* A cancel journaled on the wire for a tenant that the operator then took out of
 * AllowedTenants=: after the restart it is not sent again in that tenant's name (no token
 * request, no cancel) but fails with TenantNotAllowed, and the journal keeps that. */
START_TEST(test_restart_tenant_no_longer_allowed) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS " --latency-ms 3000",
                             .config_extra = "[Identity]\nAllowedTenants=" OTHER "\n"
                                             "[Operations]\nCompletionTimeoutSec=600\n",
                             .no_daemon = true };
        char id[64] = "";

        harness_start(&h, &o);
        harness_start_daemon(&h);
        int fd = harness_connect(&h), fd2 = harness_connect(&h);
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"other-call\","
                         "\"tenantId\":\"" OTHER "\"}}");
        for (int i = 0; i < 300 && !*id; i++) {
                json_object *r = harness_call(&h, fd2, "operation.list", "{\"callId\":\"other-call\"}");
                if (streq_ptr(jstr(r, "result.operations.0.status"), "submitting"))
                        snprintf(id, sizeof id, "%s", jstr(r, "result.operations.0.id"));
                json_object_put(r);
                if (!*id)
                        usleep(50 * 1000);
        }
        ck_assert_msg(*id, "the cancel was not on the wire within 15 s");
        harness_kill_daemon(&h);
        close(fd);
        close(fd2);

        /* The operator removes the tenant. */
        char *conf = read_file_text(h.config_path);
        char *line = strstr(conf, "AllowedTenants=" OTHER "\n");
        ck_assert_ptr_nonnull(line);
        memmove(line, line + strlen("AllowedTenants=" OTHER "\n"), strlen(line + strlen("AllowedTenants=" OTHER "\n")) + 1);
        FILE *f = fopen(h.config_path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(conf, f);
        fclose(f);
        free(conf);

        json_object_put(standin_post(&h, "/_standin/reset", "{}"));
        harness_start_daemon(&h);
        _cleanup_free_ char *p = xprintf("{\"operationId\":\"%s\"}", id);
        json_object *r = call(&h, "operation.get", p);
        ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "failed"), "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.error.class"), "TenantNotAllowed");
        ck_assert_str_eq(jstr(r, "result.operation.tenantId"), OTHER);
        json_object_put(r);
        ck_assert_int_eq(token_requests_for(&h, OTHER), 0);
        json_object *st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(json_object_array_length(jpath(st, "cancels")), 0);
        json_object_put(st);

        /* Journaled: a second restart finds it failed and sends nothing either. */
        harness_kill_daemon(&h);
        harness_start_daemon(&h);
        r = call(&h, "operation.get", p);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "failed");
        ck_assert_str_eq(jstr(r, "result.operation.error.class"), "TenantNotAllowed");
        json_object_put(r);
        st = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(json_object_array_length(jpath(st, "cancels")), 0);
        json_object_put(st);
        harness_stop(&h);
}
END_TEST

/* ---- clouds ---- */

/* Each cloud's scope: the stand-in accepts only "{that cloud's Graph root}/.default", while
 * LoginEndpoint= and Endpoint= point at it; status names the cloud and its scope, and China
 * warns once at start and in status. */
START_TEST(test_cloud_scopes) {
        static const struct {
                const char *cloud, *scope;
        } clouds[] = {
                { "Global", "https://graph.microsoft.com/.default" },
                { "USGovernment", "https://graph.microsoft.us/.default" },
                { "USGovernmentDoD", "https://dod-graph.microsoft.us/.default" },
                { "China", "https://microsoftgraph.chinacloudapi.cn/.default" },
        };

        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_free_ char *args = xprintf("--cloud %s", clouds[i].cloud);
                _cleanup_free_ char *extra = xprintf("[Identity]\nCloud=%s\n[Notifications]\nAuthentication=peer\n",
                                                     clouds[i].cloud);
                Harness h;
                HarnessOptions o = { .standin_args = args, .config_extra = extra };
                json_object *r;

                harness_start(&h, &o);
                r = call(&h, "cancel", "{\"callId\":\"cloud-call\"}");
                ck_assert_msg(streq_ptr(jstr(r, "result.operation.status"), "completed"), "%s: %s", clouds[i].cloud,
                              json_object_to_json_string(r));
                json_object_put(r);
                r = call(&h, "status", NULL);
                ck_assert_str_eq(jstr(r, "result.cloud.name"), clouds[i].cloud);
                ck_assert_str_eq(jstr(r, "result.cloud.scope"), clouds[i].scope);
                bool china = streq(clouds[i].cloud, "China");
                ck_assert_int_eq(!!jstr(r, "result.cloud.warning"), china);
                json_object_put(r);
                char *log = read_file_text(h.daemon_log);
                char *w = strstr(log, "Cloud=China: Microsoft does not document");
                ck_assert_int_eq(!!w, china);
                if (w)
                        ck_assert_ptr_null(strstr(w + 1, "Cloud=China: Microsoft does not document"));
                free(log);
                harness_stop(&h);
        }

        /* The scope is the cloud's, whatever Endpoint= says: the stand-in of another cloud refuses it. */
        Harness h;
        HarnessOptions o = { .standin_args = "--cloud USGovernment" };
        harness_start(&h, &o);
        json_object *r = call(&h, "cancel", "{\"callId\":\"cloud-call\"}");
        ck_assert_msg(jint(r, "error.code") == -32002, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.reason"), "invalid_scope");
        json_object_put(r);
        harness_stop(&h);
}
END_TEST

/* ---- what a tenant's administrator must do ---- */

/* Graph's 7504 (the call is another tenant's, or this one never consented) and the identity
 * platform's AADSTS7000229 (no service principal in the tenant) come back with a message that
 * names the tenant and its admin consent URL. */
START_TEST(test_consent_messages) {
        Harness h;
        HarnessOptions o = { .standin_args = TENANTS_ARGS, .config_extra = "[Identity]\nAllowedTenants=" OTHER "\n",
                             .no_daemon = true };
        json_object *r;

        harness_start(&h, &o);
        standin_config(&h, "{\"callTenants\":{\"theirs\":\"" OTHER "\"}}");
        /* The other tenant's login says the app has no service principal there. */
        json_object_put(standin_post(
                &h, "/_standin/faults",
                "{\"rules\":[{\"kind\":\"token\",\"status\":400,\"count\":1,\"body\":{\"error\":\"invalid_client\","
                "\"error_description\":\"AADSTS7000229: The client application is missing service principal in the "
                "tenant.\",\"error_codes\":[7000229]}}]}"));
        harness_start_daemon(&h);
        /* TenantId='s token is fetched first, at start; the fault is spent on it. Wait for it. */
        for (int i = 0; i < 100 && token_requests_for(&h, HARNESS_TENANT) < 1; i++)
                usleep(50 * 1000);

        r = call(&h, "status", NULL);
        json_object_put(r);
        json_object *st = call(&h, "cancel", "{\"callId\":\"theirs\"}");
        /* The home tenant's login was refused: the consent advice names it. */
        const char *m = jstr(st, "error.message");
        ck_assert_msg(jint(st, "error.code") == -32002, "%s", json_object_to_json_string(st));
        ck_assert_ptr_nonnull(strstr(m, "AADSTS7000229"));
        ck_assert_ptr_nonnull(strstr(m, "an administrator of tenant " HARNESS_TENANT " must grant it admin consent"));
        ck_assert_str_eq(jstr(st, "error.data.adminConsentUrl"),
                         "https://login.microsoftonline.com/" HARNESS_TENANT "/adminconsent?client_id=" HARNESS_CLIENT_ID);
        json_object_put(st);
        harness_stop(&h);

        /* 7504: the home tenant's token on the other tenant's call. */
        o.no_daemon = false;
        harness_start(&h, &o);
        standin_config(&h, "{\"callTenants\":{\"theirs\":\"" OTHER "\"}}");
        r = call(&h, "cancel", "{\"callId\":\"theirs\"}");
        ck_assert_msg(jint(r, "error.code") == -32004, "%s", json_object_to_json_string(r));
        ck_assert_int_eq(jint(r, "error.data.httpStatus"), 403);
        ck_assert_str_eq(jstr(r, "error.data.graphCode"), "7504");
        ck_assert_str_eq(jstr(r, "error.data.tenantId"), HARNESS_TENANT);
        m = jstr(r, "error.message");
        ck_assert_ptr_nonnull(strstr(m, "Insufficient enterprise tenant permissions"));
        ck_assert_ptr_nonnull(strstr(m, "the call belongs to another tenant (send the cancel with that tenant as tenantId)"));
        ck_assert_ptr_nonnull(strstr(m, "an administrator of tenant " HARNESS_TENANT " must grant it admin consent"));
        ck_assert_ptr_nonnull(strstr(m, "https://login.microsoftonline.com/" HARNESS_TENANT "/adminconsent?client_id="));
        /* The operation keeps the same error. */
        ck_assert_str_eq(jstr(r, "error.data.class"), "GraphError");
        json_object_put(r);
        /* With the right tenant it goes through. */
        r = call(&h, "cancel", "{\"callId\":\"theirs\",\"tenantId\":\"" OTHER "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        harness_stop(&h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("tenants");
        TCase *tc;

        tc = tcase_create("interleaved");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_two_tenants_interleaved);
        suite_add_tcase(s, tc);

        tc = tcase_create("login_down");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_tenant_login_down);
        suite_add_tcase(s, tc);

        tc = tcase_create("allowed");
        tcase_add_test(tc, test_allowed_tenants);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_tenant_limits);
        suite_add_tcase(s, tc);

        tc = tcase_create("restart");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_restart_two_tenants);
        tcase_add_test(tc, test_restart_tenant_no_longer_allowed);
        suite_add_tcase(s, tc);

        tc = tcase_create("clouds");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_cloud_scopes);
        suite_add_tcase(s, tc);

        tc = tcase_create("consent");
        tcase_add_test(tc, test_consent_messages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(suite());
}
