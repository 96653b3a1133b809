/* SPDX-License-Identifier: MIT */
/*
 * check_tracking.c — what happens to an operation after its cancel was answered, end to end
 * with the real daemon, the TLS stand-in and mediacancelctl: notifications.deliver and its
 * matching rules, operation.watch and wait:"completed", polling, the completion timeout, the
 * durable journal (crash recovery after SIGKILL, torn tail, corrupted middle, unusable state
 * directory, compaction), retention limits at their edges and the dedupe of repeated cancels.
 * Each test asserts what the client saw, what the stand-in (Graph) received and, where it
 * matters, what is on disk.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
#define CALL_ID_UPPER "57DAB8B1894C409AB240BD8BEAE78896"
#define CALL_ID2 "0b5e2c1d-7f3a-4e8b-9c6d-2a1f0e9d8c7b"

/* ---- helpers ------------------------------------------------------------------------ */

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *builddir(void) {
        return getenv("MEDIACANCEL_BUILDDIR") ?: ".";
}

/* Graph's spelling of an id in resourceUrl: upper case, no dashes. */
static void url_id(const char *id, char out[static 64]) {
        size_t k = 0;
        for (const char *p = id; *p && k < 63; p++)
                if (*p != '-')
                        out[k++] = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        out[k] = '\0';
}

static json_object *cancel_ctx(Harness *h, int fd, const char *call_id, const char *context) {
        char params[1024];
        snprintf(params, sizeof params, "{\"callId\":\"%s\",\"clientContext\":\"%s\"}", call_id, context);
        return harness_call(h, fd, "cancel", params);
}

/* A cancel that must succeed; returns its operation (a reference the caller puts). */
static json_object *cancel_ok(Harness *h, int fd, const char *call_id, const char *context, const char *status) {
        json_object *r = cancel_ctx(h, fd, call_id, context);
        ck_assert_msg(jstr(r, "result.operation.status") != NULL, "cancel failed: %s", json_object_to_json_string(r));
        if (status)
                ck_assert_str_eq(jstr(r, "result.operation.status"), status);
        json_object *op = json_object_get(jpath(r, "result.operation"));
        json_object_put(r);
        return op;
}

static json_object *get_op(Harness *h, int fd, const char *id) {
        char params[256];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", id);
        return harness_call(h, fd, "operation.get", params);
}

/* The operation's status now, or the error class when there is none. */
static char *status_of(Harness *h, int fd, const char *id) {
        json_object *r = get_op(h, fd, id);
        const char *s = jstr(r, "result.operation.status") ?: jstr(r, "error.data.class") ?: "?";
        char *copy = strdup(s);
        json_object_put(r);
        return copy;
}

static void assert_status(Harness *h, int fd, const char *id, const char *expect) {
        char *s = status_of(h, fd, id);
        ck_assert_msg(strcmp(s, expect) == 0, "operation %s is %s, expected %s", id, s, expect);
        free(s);
}

/* One commsNotification about an operation. url_key is "resourceUrl" or "resource"; op_id
 * goes into the URL as given; data_id, context, result_code < 0 and reason are left out when
 * NULL. */
static char *entry(const char *url_key, const char *call_id, const char *op_id, const char *change, const char *data_id,
                   const char *context, const char *status, int result_code, const char *reason) {
        char *s = NULL, data[1024] = "";
        size_t n = 0;

        n += (size_t) snprintf(data + n, sizeof data - n, "\"@odata.type\":\"#microsoft.graph.cancelMediaProcessingOperation\"");
        if (data_id)
                n += (size_t) snprintf(data + n, sizeof data - n, ",\"id\":\"%s\"", data_id);
        if (context)
                n += (size_t) snprintf(data + n, sizeof data - n, ",\"clientContext\":\"%s\"", context);
        if (status)
                n += (size_t) snprintf(data + n, sizeof data - n, ",\"status\":\"%s\"", status);
        if (result_code >= 0)
                n += (size_t) snprintf(data + n, sizeof data - n,
                                       ",\"resultInfo\":{\"code\":%d,\"subcode\":%d,\"message\":\"r%d\"}", result_code,
                                       result_code / 100, result_code);
        if (reason)
                n += (size_t) snprintf(data + n, sizeof data - n, ",\"completionReason\":\"%s\"", reason);
        ck_assert_int_ge(asprintf(&s,
                                  "{\"@odata.type\":\"#microsoft.graph.commsNotification\",\"changeType\":\"%s\","
                                  "\"%s\":\"/communications/calls/%s/operations/%s\",\"resourceData\":{%s}}",
                                  change, url_key, call_id, op_id, data),
                         0);
        return s;
}

/* The completion Graph sends for a known operation: deleted, completed, 200. */
static char *completion(const char *call_id, const char *graph_id, const char *status) {
        char u[64];
        url_id(graph_id, u);
        return entry("resourceUrl", call_id, u, "deleted", graph_id, NULL, status,
                     strcmp(status, "completed") == 0 ? 200 : 500, NULL);
}

/* {"value":[e1,e2,…]}; takes the entries (NULL-terminated). */
static char *body_of(bool odata_type, ...) {
        va_list ap;
        char *s = strdup(odata_type ? "{\"@odata.type\":\"#microsoft.graph.commsNotifications\",\"value\":["
                                    : "{\"value\":[");
        bool first = true;

        va_start(ap, odata_type);
        for (char *e; (e = va_arg(ap, char *));) {
                char *t;
                ck_assert_int_ge(asprintf(&t, "%s%s%s", s, first ? "" : ",", e), 0);
                free(s);
                free(e);
                s = t;
                first = false;
        }
        va_end(ap);
        char *t;
        ck_assert_int_ge(asprintf(&t, "%s]}", s), 0);
        free(s);
        return t;
}

/* notifications.deliver with this body (consumed), signed as Graph signs it; the whole reply. */
static json_object *deliver(Harness *h, int fd, char *body) {
        char *signed_body = harness_signed_body(h, body, "good");
        json_object *r = harness_call(h, fd, "notifications.deliver", signed_body);
        free(signed_body);
        free(body);
        return r;
}

static void deliver_expect(Harness *h, int fd, char *body, int matched, int ignored) {
        json_object *r = deliver(h, fd, body);
        ck_assert_msg(jpath(r, "result") != NULL, "deliver failed: %s", json_object_to_json_string(r));
        ck_assert_int_eq(jint(r, "result.matched"), matched);
        ck_assert_int_eq(jint(r, "result.ignored"), ignored);
        json_object_put(r);
}

static void standin_config(Harness *h, const char *json) {
        json_object *r = standin_post(h, "/_standin/config", json);
        ck_assert_msg(jpath(r, "error") == NULL, "stand-in config %s: %s", json, json_object_to_json_string(r));
        json_object_put(r);
}

/* Cancels with this clientContext that the stand-in answered 200. */
static int standin_cancels_ok(json_object *stats, const char *context) {
        json_object *cancels = jpath(stats, "cancels");
        int n = 0;
        for (size_t i = 0; cancels && i < json_object_array_length(cancels); i++) {
                json_object *c = json_object_array_get_idx(cancels, i);
                const char *ctx = jstr(c, "clientContext");
                if (ctx && strcmp(ctx, context) == 0 && jint(c, "status") == 200)
                        n++;
        }
        return n;
}

/* The next line on fd that is an operation.changed event; NULL after timeout_ms. Replies
 * and other lines fail the test: the connections that use it only watch. */
static json_object *next_event(int fd, int timeout_ms) {
        json_object *j = harness_read(fd, timeout_ms);
        if (!j)
                return NULL;
        ck_assert_msg(jstr(j, "method") && strcmp(jstr(j, "method"), "operation.changed") == 0 && !jpath(j, "id"),
                      "expected an operation.changed event, got %s", json_object_to_json_string(j));
        return j;
}

static void expect_event(int fd, const char *id, const char *status, const char *message) {
        json_object *e = next_event(fd, 10000);
        ck_assert_msg(e != NULL, "no operation.changed event (%s) for %s", status, id);
        ck_assert_str_eq(jstr(e, "params.operation.id"), id);
        ck_assert_msg(strcmp(jstr(e, "params.operation.status"), status) == 0, "event %s, expected %s",
                      json_object_to_json_string(e), status);
        if (message)
                ck_assert_str_eq(jstr(e, "params.operation.resultInfo.message"), message);
        json_object_put(e);
}

static void expect_no_event(int fd, int ms) {
        json_object *e = harness_read(fd, ms);
        ck_assert_msg(e == NULL, "unexpected line: %s", e ? json_object_to_json_string(e) : "");
}

static json_object *watch(Harness *h, int fd, const char *id, const char *status) {
        char params[256];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", id);
        json_object *r = harness_call(h, fd, "operation.watch", params);
        ck_assert_msg(jstr(r, "result.operation.id") != NULL, "watch failed: %s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.id"), id);
        if (status)
                ck_assert_str_eq(jstr(r, "result.operation.status"), status);
        return r;
}

static off_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : -1;
}

static int count_substr(const char *s, const char *needle) {
        int n = 0;
        for (const char *p = s; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

/* Runs the daemon in the foreground (bounded by timeout(1)), for startups that must fail;
 * returns its exit status and stderr. */
static int run_daemon_once(Harness *h, char **ret_stderr) {
        char cmd[1024], err[320];

        snprintf(err, sizeof err, "%s/startup.err", h->dir);
        snprintf(cmd, sizeof cmd, "timeout 20 '%s/mediacanceld' --config '%s' >/dev/null 2>'%s'", builddir(), h->config_path,
                 err);
        int st = system(cmd);
        *ret_stderr = read_file_text(err);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* mediacancelctl in the background, output to out_path. */
static pid_t ctl_start(Harness *h, const char *args, const char *out_path) {
        char cmd[2048];
        pid_t parent = getpid();

        snprintf(cmd, sizeof cmd, "exec '%s/mediacancelctl' --socket '%s' %s >'%s' 2>&1", builddir(), h->socket_path, args,
                 out_path);
        (void) unlink(out_path); /* nothing from the previous run may be taken for this one's */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* Exit status, or -1 when it was still running after timeout_ms (then it is killed). */
static int ctl_wait(pid_t pid, int timeout_ms) {
        int status;
        for (long end = now_ms() + timeout_ms; now_ms() <= end; sleep_ms(10))
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

static bool ctl_running(pid_t pid) {
        int status;
        return waitpid(pid, &status, WNOHANG) == 0;
}

/* Waits until the file holds needle. */
static bool wait_file_contains(const char *path, const char *needle, int timeout_ms) {
        for (long end = now_ms() + timeout_ms;; sleep_ms(20)) {
                char *t = read_file_text(path);
                bool ok = strstr(t, needle) != NULL;
                free(t);
                if (ok)
                        return true;
                if (now_ms() > end)
                        return false;
        }
}

/* n cancels pipelined on fd, at most window unanswered; each clientContext is
 * "<prefix>-<i>" padded with 'x' to context_len; all must complete. */
static void many_cancels(Harness *h, int fd, const char *prefix, int n, int context_len, int window) {
        int sent = 0, done = 0;
        while (done < n) {
                while (sent < n && sent - done < window) {
                        char ctx[300], line[600];
                        int k = snprintf(ctx, sizeof ctx, "%s-%d-", prefix, sent);
                        while (k < context_len && k < (int) sizeof ctx - 1)
                                ctx[k++] = 'x';
                        ctx[k] = '\0';
                        snprintf(line, sizeof line,
                                 "{\"jsonrpc\":\"2.0\",\"id\":\"m%d\",\"method\":\"cancel\",\"params\":{\"callId\":\"%s\","
                                 "\"clientContext\":\"%s\"}}",
                                 sent, CALL_ID, ctx);
                        harness_send(fd, line);
                        sent++;
                }
                json_object *r = harness_read(fd, 30000);
                ck_assert_msg(r != NULL, "replies missing: %d of %d", done, n);
                ck_assert_msg(jstr(r, "result.operation.status") && strcmp(jstr(r, "result.operation.status"), "completed") == 0,
                              "cancel failed: %s", json_object_to_json_string(r));
                json_object_put(r);
                done++;
        }
}

/* ---- notifications.deliver ---------------------------------------------------------- */

START_TEST(test_notify_matching) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        json_object *a = cancel_ok(&h, fd, CALL_ID, "ctx-a", "running");
        json_object *b = cancel_ok(&h, fd, CALL_ID, "ctx-b", "running");
        json_object *c = cancel_ok(&h, fd, CALL_ID, "ctx-c", "running");
        json_object *d = cancel_ok(&h, fd, CALL_ID2, "ctx-d", "running");
        const char *ga = jstr(a, "graphOperationId"), *gb = jstr(b, "graphOperationId"),
                   *gc = jstr(c, "graphOperationId"), *gd = jstr(d, "graphOperationId");
        char ua[64], uc[64], ud[64], other[64];
        ck_assert_ptr_nonnull(ga);
        ck_assert_ptr_nonnull(gb);
        /* Graph's body ids are dashed lower case; its URLs use upper case without dashes. */
        ck_assert_ptr_nonnull(strchr(ga, '-'));
        url_id(ga, ua);
        url_id(gc, uc);
        url_id(gd, ud);
        url_id("5d1c9a62-0000-4000-8000-00000000abcd", other);

        char *call_level;
        ck_assert_int_ge(asprintf(&call_level,
                                  "{\"changeType\":\"updated\",\"resourceUrl\":\"/communications/calls/%s\","
                                  "\"resourceData\":{\"@odata.type\":\"#microsoft.graph.call\",\"state\":\"established\"}}",
                                  CALL_ID_UPPER),
                         0);
        char *b_url;
        ck_assert_int_ge(asprintf(&b_url, "https://graph.microsoft.com/beta/app/calls/%s", CALL_ID), 0);
        /* With @odata.type: A by its URL id alone (no resourceData.id), upper case without
         * dashes; a call-level notification; an unknown operation whose clientContext is B's —
         * not B, whose Graph id is known, so no fallback; B by the older "resource" member and
         * a dashed lower-case id in an absolute URL, status spelled as the CSDL does. */
        char *eb = entry("resource", CALL_ID, gb, "deleted", NULL, NULL, "Failed", 500, "failedSomehow");
        char *eb2 = NULL;
        ck_assert_int_ge(asprintf(&eb2, "%s", eb), 0);
        {
                /* "/communications/calls/…" → the absolute beta URL */
                char *p = strstr(eb2, "/communications/calls/");
                char *t;
                *p = '\0';
                ck_assert_int_ge(asprintf(&t, "%s%s%s", eb2, b_url, p + strlen("/communications/calls/") + strlen(CALL_ID)), 0);
                free(eb2);
                eb2 = t;
        }
        free(eb);
        free(b_url);
        deliver_expect(&h, fd,
                       body_of(true,
                               entry("resourceUrl", CALL_ID_UPPER, ua, "deleted", NULL, "ctx-a", "completed", 200,
                                     "completedSuccessfully"),
                               call_level, entry("resourceUrl", CALL_ID, other, "deleted", other, "ctx-b", "completed", 200, NULL),
                               eb2, NULL),
                       2, 2);

        json_object *r = get_op(&h, fd, jstr(a, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 200);
        ck_assert_str_eq(jstr(r, "result.operation.resultInfo.message"), "r200");
        ck_assert_str_eq(jstr(r, "result.operation.completionReason"), "completedSuccessfully");
        json_object_put(r);
        r = get_op(&h, fd, jstr(b, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "failed");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 500);
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.subcode"), 5);
        ck_assert_str_eq(jstr(r, "result.operation.completionReason"), "failedSomehow");
        json_object_put(r);
        assert_status(&h, fd, jstr(c, "id"), "running");
        assert_status(&h, fd, jstr(d, "id"), "running");

        /* Without @odata.type: C by resourceData.id alone (the URL names no operation id we
         * know), an intermediate update that keeps it running, then one with a resultInfo but
         * no status (which changes only the resultInfo); D by an upper-case id on another call;
         * A again, claiming failed: matched, but a final state is final. */
        deliver_expect(&h, fd,
                       body_of(false, entry("resourceUrl", CALL_ID, "not-an-id", "updated", gc, NULL, "running", 100, NULL),
                               entry("resourceUrl", CALL_ID, uc, "updated", NULL, NULL, NULL, 150, NULL),
                               entry("resourceUrl", CALL_ID2, ud, "deleted", NULL, NULL, "completed", 200, NULL),
                               completion(CALL_ID, ga, "failed"), NULL),
                       4, 0);
        r = get_op(&h, fd, jstr(c, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 150);
        json_object_put(r);
        assert_status(&h, fd, jstr(d, "id"), "completed");
        r = get_op(&h, fd, jstr(a, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 200);
        json_object_put(r);

        /* Only operations count: an empty value array, an entry on another resource. */
        deliver_expect(&h, fd, body_of(false, NULL), 0, 0);
        deliver_expect(&h, fd,
                       body_of(false,
                               strdup("{\"changeType\":\"created\",\"resourceUrl\":\"/communications/calls/x/participants/y\"}"),
                               NULL),
                       0, 1);

        json_object_put(a);
        json_object_put(b);
        json_object_put(c);
        json_object_put(d);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

/* The bot may forward the completion before Graph's answer to the cancel reached the daemon:
 * it is matched by clientContext, applied, and the late "running" answer does not undo it. */
START_TEST(test_notify_before_answer) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 3000 --cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd1 = harness_connect(&h), fd2 = harness_connect(&h), fdw = harness_connect(&h);
        char *id = NULL;

        harness_send(fd1, "{\"jsonrpc\":\"2.0\",\"id\":\"early\",\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                          "\",\"clientContext\":\"early-1\"}}");
        for (long end = now_ms() + 1000; !id && now_ms() < end; sleep_ms(20)) {
                json_object *r = harness_call(&h, fd2, "operation.list", "{\"callId\":\"" CALL_ID "\"}");
                if (jstr(r, "result.operations.0.id") && strcmp(jstr(r, "result.operations.0.status"), "submitting") == 0)
                        id = strdup(jstr(r, "result.operations.0.id"));
                json_object_put(r);
        }
        ck_assert_msg(id != NULL, "the cancel was not on the wire within 1 s");
        long t_sent = now_ms();
        json_object_put(watch(&h, fdw, id, "submitting"));

        char u[64];
        url_id("e154200a-1111-4222-8333-944445555666", u);
        deliver_expect(&h, fd2,
                       body_of(true, entry("resourceUrl", CALL_ID_UPPER, u, "deleted", NULL, "early-1", "completed", 200, NULL),
                               NULL),
                       1, 0);
        assert_status(&h, fd2, id, "completed");
        expect_event(fdw, id, "completed", "r200");
        /* Graph has not answered yet (unless this machine is very slow). */
        if (now_ms() - t_sent < 2500)
                ck_assert_ptr_null(harness_read(fd1, 0));

        json_object *r = harness_read(fd1, 10000);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(jstr(r, "id"), "early");
        ck_assert_str_eq(jstr(r, "result.operation.id"), id);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        r = get_op(&h, fd2, id);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 200);
        json_object_put(r);
        expect_no_event(fdw, 300); /* nothing after the final event */
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);

        free(id);
        close(fd1);
        close(fd2);
        close(fdw);
        harness_stop(&h);
}
END_TEST

/* Clients as other uids: the socket and its directory open to all, as the shipped group
 * does for members, and [Access] naming them. */
#define UID_A 60001
#define UID_B 60002

static void open_socket_to_all(Harness *h) {
        ck_assert_int_eq(chmod(h->dir, 0755), 0);
        ck_assert_int_eq(chmod(h->socket_path, 0666), 0);
}

static void send_cancel(int fd, const char *id, const char *call_id, const char *context) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"cancel\",\"params\":{\"callId\":\"%s\",\"clientContext\":\"%s\"}}",
                 id, call_id, context);
        harness_send(fd, line);
}

/* Waits until the daemon counts n operations submitting (on the wire to Graph). */
static void wait_submitting(Harness *h, int fd, int64_t n) {
        int64_t got = -1;
        for (long end = now_ms() + 5000L * harness_slowdown(); now_ms() < end; sleep_ms(20)) {
                json_object *r = harness_call(h, fd, "status", NULL);
                got = jint(r, "result.operations.submitting");
                json_object_put(r);
                if (got == n)
                        return;
        }
        ck_abort_msg("%lld operations submitting, expected %lld", (long long) got, (long long) n);
}

/* The same (callId, clientContext) from two callers: each caller's repeat is recognised as its
 * own, whatever the other did in between (the dedupe index is per caller). */
START_TEST(test_context_per_caller) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Access]\nAllowUsers=60001 60002\n[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int a = harness_connect_as(&h, UID_A, 65534, NULL, 0, NULL);
        int b = harness_connect_as(&h, UID_B, 65534, NULL, 0, NULL);

        json_object *a1 = cancel_ok(&h, a, CALL_ID, "ctx-42", "running");
        json_object *b1 = cancel_ok(&h, b, CALL_ID, "ctx-42", "running");
        ck_assert_str_ne(jstr(a1, "id"), jstr(b1, "id"));
        json_object *a2 = cancel_ok(&h, a, CALL_ID, "ctx-42", "running");
        ck_assert_str_eq(jstr(a2, "id"), jstr(a1, "id"));
        json_object *b2 = cancel_ok(&h, b, CALL_ID, "ctx-42", "running");
        ck_assert_str_eq(jstr(b2, "id"), jstr(b1, "id"));
        /* One operation each, one request each to Graph. */
        json_object *r = harness_call(&h, a, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 2);

        json_object_put(a1);
        json_object_put(a2);
        json_object_put(b1);
        json_object_put(b2);
        close(a);
        close(b);
        harness_stop(&h);
}
END_TEST

/* A and B have cancels on the wire for the same call and context when a notification arrives
 * that names a Graph operation id the daemon does not know yet: either could be meant, so
 * neither is touched. Once Graph has named both, a notification by id reaches exactly its
 * operation. */
START_TEST(test_context_notification_ambiguous) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 2000 --cancel-status running",
                             .config_extra = "[Access]\nAllowUsers=60001 60002\n[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int a = harness_connect_as(&h, UID_A, 65534, NULL, 0, NULL);
        int b = harness_connect_as(&h, UID_B, 65534, NULL, 0, NULL);
        int root = harness_connect(&h);
        const char *unknown = "e154200a-1111-4222-8333-944445555666";
        char u[64];

        send_cancel(a, "a", CALL_ID, "ctx-42");
        wait_submitting(&h, root, 1);
        send_cancel(b, "b", CALL_ID, "ctx-42");
        wait_submitting(&h, root, 2);
        url_id(unknown, u);
        deliver_expect(&h, root,
                       body_of(true, entry("resourceUrl", CALL_ID_UPPER, u, "deleted", NULL, "ctx-42", "completed", 200, NULL),
                               NULL),
                       0, 1);

        /* Each caller learns Graph's own answer for its own cancel. */
        json_object *ra = harness_read(a, 20000), *rb = harness_read(b, 20000);
        ck_assert_msg(ra && rb, "no answer to the cancels");
        ck_assert_str_eq(jstr(ra, "result.operation.status"), "running");
        ck_assert_str_eq(jstr(rb, "result.operation.status"), "running");
        const char *ga = jstr(ra, "result.operation.graphOperationId"), *gb = jstr(rb, "result.operation.graphOperationId");
        ck_assert_ptr_nonnull(ga);
        ck_assert_ptr_nonnull(gb);
        ck_assert_str_ne(ga, unknown);
        ck_assert_str_ne(gb, unknown);
        ck_assert_str_ne(ga, gb);

        /* Named by Graph's id, even with the shared context: A's, and only A's. */
        url_id(ga, u);
        deliver_expect(&h, root,
                       body_of(true, entry("resourceUrl", CALL_ID_UPPER, u, "deleted", NULL, "ctx-42", "completed", 200, NULL),
                               NULL),
                       1, 0);
        json_object *oa = get_op(&h, root, jstr(ra, "result.operation.id"));
        json_object *ob = get_op(&h, root, jstr(rb, "result.operation.id"));
        ck_assert_str_eq(jstr(oa, "result.operation.status"), "completed");
        ck_assert_str_eq(jstr(ob, "result.operation.status"), "running");
        ck_assert_str_eq(jstr(ob, "result.operation.graphOperationId"), gb);

        json_object_put(oa);
        json_object_put(ob);
        json_object_put(ra);
        json_object_put(rb);
        close(a);
        close(b);
        close(root);
        harness_stop(&h);
}
END_TEST

START_TEST(test_notify_malformed) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        json_object *a = cancel_ok(&h, fd, CALL_ID, "mal-a", "running");
        json_object *b = cancel_ok(&h, fd, CALL_ID, "mal-b", "running");
        const char *ga = jstr(a, "graphOperationId"), *gb = jstr(b, "graphOperationId");
        static const struct {
                const char *bad;
                const char *param;
        } cases[] = {
                { "{\"changeType\":\"deleted\"}", "value[2]" },                           /* no resourceUrl */
                { "5", "value[2]" },                                                       /* not an object */
                { "{\"resourceUrl\":\"/communications/calls/x/operations/y\"}", "value[2]" }, /* no changeType */
                { "{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/x/operations/y\","
                  "\"resourceData\":{\"resultInfo\":{\"code\":\"200\"}}}",
                  "value[2]" },
                { "{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/x/operations/y\",\"resourceData\":7}",
                  "value[2]" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                /* Two good entries first: neither may be applied. */
                json_object *r = deliver(&h, fd,
                                         body_of(true, completion(CALL_ID, ga, "completed"), completion(CALL_ID, gb, "failed"),
                                                 strdup(cases[i].bad), completion(CALL_ID, ga, "completed"), NULL));
                ck_assert_msg(jint(r, "error.code") == -32602, "case %zu: %s", i, json_object_to_json_string(r));
                ck_assert_str_eq(jstr(r, "error.data.class"), "InvalidParams");
                ck_assert_str_eq(jstr(r, "error.data.param"), cases[i].param);
                ck_assert_ptr_nonnull(strstr(jstr(r, "error.message"), cases[i].param));
                json_object_put(r);
                assert_status(&h, fd, jstr(a, "id"), "running");
                assert_status(&h, fd, jstr(b, "id"), "running");
        }
        /* The body's own shape. */
        json_object *r = harness_call(&h, fd, "notifications.deliver", "{\"value\":{}}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        ck_assert_str_eq(jstr(r, "error.data.param"), "value");
        json_object_put(r);
        r = harness_call(&h, fd, "notifications.deliver", "{}");
        ck_assert_str_eq(jstr(r, "error.data.param"), "value");
        json_object_put(r);
        r = harness_call(&h, fd, "notifications.deliver", "{\"value\":[],\"validationTokens\":[]}");
        ck_assert_str_eq(jstr(r, "error.data.param"), "validationTokens");
        json_object_put(r);
        assert_status(&h, fd, jstr(a, "id"), "running");

        /* The same good entries alone are applied. */
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, ga, "completed"), completion(CALL_ID, gb, "failed"), NULL), 2,
                       0);
        assert_status(&h, fd, jstr(a, "id"), "completed");
        assert_status(&h, fd, jstr(b, "id"), "failed");
        json_object_put(a);
        json_object_put(b);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* ---- operation.watch and wait:"completed" ------------------------------------------- */

START_TEST(test_watch) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), w1 = harness_connect(&h), w2 = harness_connect(&h), w3 = harness_connect(&h);
        json_object *op = cancel_ok(&h, fd, CALL_ID, "watch-1", "running");
        const char *id = jstr(op, "id"), *gid = jstr(op, "graphOperationId");
        char u[64];
        url_id(gid, u);

        /* Two watches on w1, one on w2, one on w3 (which then goes away). */
        json_object_put(watch(&h, w1, id, "running"));
        json_object_put(watch(&h, w1, id, "running"));
        json_object_put(watch(&h, w2, id, "running"));
        json_object_put(watch(&h, w3, id, "running"));
        close(w3);

        /* 20 changes in one body, 5 more in separate requests, then the final one and two
         * more that change nothing. */
        char *e[21] = { 0 };
        for (int i = 0; i < 20; i++) {
                e[i] = entry("resourceUrl", CALL_ID_UPPER, u, "updated", NULL, NULL, "running", 100 + i, NULL);
        }
        char *body = body_of(false, e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11], e[12], e[13],
                             e[14], e[15], e[16], e[17], e[18], e[19], NULL);
        deliver_expect(&h, fd, body, 20, 0);
        for (int i = 20; i < 25; i++)
                deliver_expect(&h, fd, body_of(false, entry("resourceUrl", CALL_ID_UPPER, u, "updated", NULL, NULL, "running", 100 + i, NULL), NULL),
                               1, 0);
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, gid, "completed"), NULL), 1, 0);
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, gid, "failed"), completion(CALL_ID, gid, "completed"), NULL), 2,
                       0);

        /* w2: each change once, in order, none skipped; nothing after the final one. */
        for (int i = 0; i < 25; i++) {
                char m[16];
                snprintf(m, sizeof m, "r%d", 100 + i);
                expect_event(w2, id, "running", m);
        }
        expect_event(w2, id, "completed", "r200");
        expect_no_event(w2, 500);
        /* w1: the same twice (one per watch), each watch's events in order. */
        int seen[26] = { 0 };
        for (int k = 0; k < 52; k++) {
                json_object *ev = next_event(w1, 10000);
                ck_assert_msg(ev != NULL, "w1: event %d missing", k);
                const char *st = jstr(ev, "params.operation.status");
                int code = (int) jint(ev, "params.operation.resultInfo.code");
                int idx = strcmp(st, "completed") == 0 ? 25 : code - 100;
                ck_assert_int_ge(idx, 0);
                ck_assert_int_le(idx, 25);
                /* the n-th copy of change idx comes after the n-th copy of every earlier one */
                for (int j = 0; j < idx; j++)
                        ck_assert_int_gt(seen[j], seen[idx]);
                seen[idx]++;
                json_object_put(ev);
        }
        for (int i = 0; i < 26; i++)
                ck_assert_int_eq(seen[i], 2);
        expect_no_event(w1, 300);

        /* The daemon is fine after the watcher vanished. */
        json_object *r = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(r, "result.connections"), 3);
        json_object_put(r);

        /* A settled operation: its state, and no events. */
        json_object_put(watch(&h, w2, id, "completed"));
        expect_no_event(w2, 300);
        r = harness_call(&h, w2, "operation.watch", "{\"operationId\":\"no-such-op\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32005);
        json_object_put(r);
        r = harness_call(&h, w2, "operation.watch", "{}");
        ck_assert_str_eq(jstr(r, "error.data.param"), "operationId");
        json_object_put(r);

        /* Watching through the whole life of a cancel, from before Graph answered. */
        standin_config(&h, "{\"latencyMs\":700}");
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"w2\",\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                         "\",\"clientContext\":\"watch-2\"}}");
        char *id2 = NULL;
        for (long end = now_ms() + 1000; !id2 && now_ms() < end; sleep_ms(20)) {
                json_object *l = harness_call(&h, w2, "operation.list", "{\"limit\":1}");
                if (jstr(l, "result.operations.0.clientContext") &&
                    strcmp(jstr(l, "result.operations.0.clientContext"), "watch-2") == 0)
                        id2 = strdup(jstr(l, "result.operations.0.id"));
                json_object_put(l);
        }
        ck_assert_ptr_nonnull(id2);
        json_object *wr = watch(&h, w1, id2, NULL);
        bool was_submitting = strcmp(jstr(wr, "result.operation.status"), "submitting") == 0;
        json_object_put(wr);
        if (!was_submitting) /* still queued for a moment: the submitting change follows */
                expect_event(w1, id2, "submitting", NULL);
        expect_event(w1, id2, "running", NULL);
        r = harness_read(fd, 5000);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        json_object_put(r);
        deliver_expect(&h, fd, body_of(false, entry("resourceUrl", CALL_ID, "x", "deleted", NULL, NULL, "failed", 500, NULL), NULL),
                       0, 1);
        r = get_op(&h, fd, id2);
        char *g2 = strdup(jstr(r, "result.operation.graphOperationId"));
        json_object_put(r);
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, g2, "failed"), NULL), 1, 0);
        expect_event(w1, id2, "failed", "r500");
        expect_no_event(w1, 300);

        free(g2);
        free(id2);
        json_object_put(op);
        close(fd);
        close(w1);
        close(w2);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_wait_completed) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd1 = harness_connect(&h), fd2 = harness_connect(&h);
        char *id = NULL, *gid = NULL;

        harness_send(fd1, "{\"jsonrpc\":\"2.0\",\"id\":\"wait\",\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                          "\",\"clientContext\":\"wait-1\",\"wait\":\"completed\"}}");
        for (long end = now_ms() + 5000; !id && now_ms() < end; sleep_ms(20)) {
                json_object *r = harness_call(&h, fd2, "operation.list", "{\"status\":\"running\"}");
                if (jstr(r, "result.operations.0.id")) {
                        id = strdup(jstr(r, "result.operations.0.id"));
                        gid = strdup(jstr(r, "result.operations.0.graphOperationId"));
                }
                json_object_put(r);
        }
        ck_assert_msg(id != NULL, "the cancel was not answered running");
        /* Graph answered "running": the caller who asked to wait hears nothing yet. */
        ck_assert_ptr_null(harness_read(fd1, 500));
        deliver_expect(&h, fd2, body_of(false, completion(CALL_ID, gid, "completed"), NULL), 1, 0);
        json_object *r = harness_read(fd1, 5000);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(jstr(r, "id"), "wait");
        ck_assert_str_eq(jstr(r, "result.operation.id"), id);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);

        /* A cancel Graph answers "completed" at once is answered at once. */
        standin_config(&h, "{\"cancelStatus\":\"completed\"}");
        r = harness_call(&h, fd1, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"wait-2\",\"wait\":\"completed\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        r = harness_call(&h, fd1, "cancel", "{\"callId\":\"" CALL_ID "\",\"wait\":\"final\"}");
        ck_assert_str_eq(jstr(r, "error.data.param"), "wait");
        json_object_put(r);
        free(id);
        free(gid);
        close(fd1);
        close(fd2);
        harness_stop(&h);
}
END_TEST

/* ---- polling and the completion timeout --------------------------------------------- */

START_TEST(test_polling) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status notStarted",
                             .config_extra = "[Operations]\nPollIntervalSec=1\nCompletionTimeoutSec=60\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), w = harness_connect(&h);
        standin_config(&h, "{\"operationSteps\":[\"running\",\"completed\"]}");

        json_object *op = cancel_ok(&h, fd, CALL_ID, "poll-1", "notStarted");
        const char *id = jstr(op, "id");
        json_object_put(watch(&h, w, id, "notStarted"));
        /* GET after 1 s: running; after 2 s more: completed. */
        expect_event(w, id, "running", NULL);
        expect_event(w, id, "completed", NULL);
        expect_no_event(w, 300);
        assert_status(&h, fd, id, "completed");
        ck_assert_int_eq(standin_stat(&h, "operationGets"), 2);
        /* No polling once final. */
        sleep_ms(2500);
        ck_assert_int_eq(standin_stat(&h, "operationGets"), 2);

        /* A 404 (Graph forgot the operation, or the call ended) is not an error: the
         * operation keeps waiting, and a notification completes it. */
        standin_config(&h, "{\"operationSteps\":[],\"cancelStatus\":\"running\"}");
        json_object *op2 = cancel_ok(&h, fd, "gone-call-1", "poll-2", "running");
        standin_config(&h, "{\"endedCalls\":[\"gone-call-1\"]}");
        sleep_ms(3500);
        ck_assert_int_ge(standin_stat(&h, "operationGets"), 3);
        json_object *r = get_op(&h, fd, jstr(op2, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        ck_assert_ptr_null(jpath(r, "result.operation.error"));
        json_object_put(r);
        deliver_expect(&h, fd, body_of(false, completion("gone-call-1", jstr(op2, "graphOperationId"), "completed"), NULL), 1, 0);
        assert_status(&h, fd, jstr(op2, "id"), "completed");

        json_object_put(op);
        json_object_put(op2);
        close(fd);
        close(w);
        harness_stop(&h);
}
END_TEST

START_TEST(test_completion_timeout_then_notification) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=1\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), w = harness_connect(&h);

        json_object *op = cancel_ok(&h, fd, CALL_ID, "late-1", "running");
        const char *id = jstr(op, "id");
        json_object *wr = watch(&h, w, id, NULL);
        /* (under valgrind the second may be over before the watch starts) */
        if (strcmp(jstr(wr, "result.operation.status"), "running") == 0)
                expect_event(w, id, "unknown", NULL);
        else
                ck_assert_str_eq(jstr(wr, "result.operation.status"), "unknown");
        json_object_put(wr);
        expect_no_event(w, 200);
        assert_status(&h, fd, id, "unknown");

        /* The outcome arrives late: it still counts. */
        deliver_expect(&h, fd, body_of(true, completion(CALL_ID, jstr(op, "graphOperationId"), "completed"), NULL), 1, 0);
        json_object *r = get_op(&h, fd, id);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.code"), 200);
        json_object_put(r);
        expect_no_event(w, 200); /* the watch ended with unknown */

        /* wait:"completed" settles with unknown too, and says so. */
        long t0 = now_ms();
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"late-2\",\"wait\":\"completed\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "unknown");
        ck_assert_int_ge(now_ms() - t0, 900);
        json_object_put(r);
        json_object_put(op);
        close(fd);
        close(w);
        harness_stop(&h);
}
END_TEST

/* ---- the journal -------------------------------------------------------------------- */

/* A pending operation keeps its deadline across a restart: the completion timeout counts from
 * its creation, not from the restart. */
START_TEST(test_restart_keeps_deadline) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=5\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        long t0 = now_ms();
        json_object *op = cancel_ok(&h, fd, CALL_ID, "deadline-1", "running");
        char *id = strdup(jstr(op, "id")), *gid = strdup(jstr(op, "graphOperationId"));
        json_object_put(op);
        close(fd);

        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        sleep_ms((int) (3000 - (now_ms() - t0)));
        harness_start_daemon(&h);
        fd = harness_connect(&h);
        assert_status(&h, fd, id, "running");
        /* 5 s after creation it is unknown; counted from the restart it would be ~8 s. */
        sleep_ms((int) (5800 - (now_ms() - t0)));
        assert_status(&h, fd, id, "unknown");
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, gid, "completed"), NULL), 1, 0);
        assert_status(&h, fd, id, "completed");
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1); /* a pending one is not sent again */
        free(id);
        free(gid);
        close(fd);
        harness_stop(&h);
}
END_TEST

#define CRASH_CANCELS 500
#define CRASH_CONNECTIONS 10

typedef struct Acked {
        char id[40];
        char context[40];
} Acked;

static void record_ack(json_object *r, Acked *acked, int *n_acked) {
        const char *id = jstr(r, "result.operation.id");
        ck_assert_msg(id != NULL, "cancel failed: %s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        snprintf(acked[*n_acked].id, sizeof acked[*n_acked].id, "%s", id);
        snprintf(acked[*n_acked].context, sizeof acked[*n_acked].context, "%s", jstr(r, "result.operation.clientContext"));
        (*n_acked)++;
}

START_TEST(test_crash_recovery) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 1000" };
        harness_start(&h, &o);
        int fds[CRASH_CONNECTIONS];
        Acked *acked = calloc(CRASH_CANCELS, sizeof(Acked));
        int n_acked = 0;
        unsigned seed = (unsigned) time(NULL) ^ (unsigned) getpid();
        srand(seed);
        int kill_after = 1100 + rand() % 1000;

        for (int c = 0; c < CRASH_CONNECTIONS; c++)
                fds[c] = harness_connect(&h);
        for (int i = 0; i < CRASH_CANCELS; i++) {
                char line[256];
                snprintf(line, sizeof line,
                         "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"call-%d\","
                         "\"clientContext\":\"crash-%d\"}}",
                         i, i % 37, i);
                harness_send(fds[i % CRASH_CONNECTIONS], line);
        }
        long t0 = now_ms();
        /* Collect replies until the random moment (but not before the first one). */
        while (now_ms() - t0 < kill_after || n_acked == 0) {
                struct pollfd p[CRASH_CONNECTIONS];
                for (int c = 0; c < CRASH_CONNECTIONS; c++)
                        p[c] = (struct pollfd) { .fd = fds[c], .events = POLLIN };
                ck_assert_int_lt(now_ms() - t0, 30000);
                if (poll(p, CRASH_CONNECTIONS, 5) <= 0)
                        continue;
                for (int c = 0; c < CRASH_CONNECTIONS; c++)
                        if (p[c].revents) {
                                json_object *r;
                                while ((r = harness_read(fds[c], 0))) {
                                        record_ack(r, acked, &n_acked);
                                        json_object_put(r);
                                }
                        }
        }
        harness_kill_daemon(&h);
        /* Replies already written before the crash are acknowledged too. */
        for (int c = 0; c < CRASH_CONNECTIONS; c++) {
                json_object *r;
                while ((r = harness_read(fds[c], 200))) {
                        record_ack(r, acked, &n_acked);
                        json_object_put(r);
                }
                close(fds[c]);
        }
        fprintf(stderr, "crash recovery: seed %u, SIGKILL after %d ms, %d of %d cancels acknowledged\n", seed, kill_after,
                n_acked, CRASH_CANCELS);

        harness_start_daemon(&h);
        int fd = harness_connect(&h);
        /* An acknowledged cancel is never lost. Its operation is completed already, or — when
         * the crash came before the record of Graph's answer was on disk (the answer waits
         * only for the record that created it) — it is being sent again. */
        for (int i = 0; i < n_acked; i++) {
                json_object *r = get_op(&h, fd, acked[i].id);
                const char *status = jstr(r, "result.operation.status");
                ck_assert_msg(status != NULL, "acknowledged operation %s (%s) lost after the crash", acked[i].id,
                              acked[i].context);
                ck_assert_msg(strcmp(status, "completed") == 0 || strcmp(status, "submitting") == 0 ||
                                      strcmp(status, "queued") == 0,
                              "acknowledged operation %s is %s after the crash", acked[i].id, status);
                json_object_put(r);
        }
        /* Everything recorded reaches a final state: the cancels that may not have reached
         * Graph are sent again and complete. */
        json_object *st = NULL;
        long t1 = now_ms();
        for (;;) {
                st = harness_call(&h, fd, "status", NULL);
                if (jint(st, "result.operations.total") == jint(st, "result.operations.completed"))
                        break;
                ck_assert_msg(now_ms() - t1 < 30000, "not all operations final after the restart: %s",
                              json_object_to_json_string(jpath(st, "result.operations")));
                json_object_put(st);
                sleep_ms(100);
        }
        int total = (int) jint(st, "result.operations.total");
        json_object_put(st);
        ck_assert_int_ge(total, n_acked);
        ck_assert_int_le(total, CRASH_CANCELS);

        /* Graph's side: every acknowledged cancel, and every operation restored, was answered
         * 200 by Graph at least once. */
        json_object *stats = standin_get(&h, "/_standin/stats");
        for (int i = 0; i < n_acked; i++) {
                ck_assert_msg(standin_cancels_ok(stats, acked[i].context) >= 1, "Graph never completed %s", acked[i].context);
                json_object *r = get_op(&h, fd, acked[i].id);
                ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
                json_object_put(r);
        }
        json_object *list = harness_call(&h, fd, "operation.list", "{\"limit\":1000}");
        json_object *ops = jpath(list, "result.operations");
        ck_assert_int_eq(json_object_array_length(ops), total);
        int resent = 0;
        for (size_t i = 0; i < json_object_array_length(ops); i++) {
                const char *ctx = jstr(json_object_array_get_idx(ops, i), "clientContext");
                int n = standin_cancels_ok(stats, ctx);
                ck_assert_msg(n >= 1, "Graph never completed %s", ctx);
                bool was_acked = false;
                for (int k = 0; k < n_acked && !was_acked; k++)
                        was_acked = strcmp(acked[k].context, ctx) == 0;
                if (!was_acked)
                        resent++;
        }
        fprintf(stderr, "crash recovery: %d operations restored, %d of them unacknowledged and completed after the restart\n",
                total, resent);
        json_object_put(list);
        json_object_put(stats);

        char *log = read_file_text(h.daemon_log);
        ck_assert_msg(strstr(log, "damaged record") == NULL, "%s", log);
        free(log);
        free(acked);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

/* The record of Graph's answer is not something the cancel's reply waits for: it is synced
 * with the next record somebody waits for, or on its own within 100 ms. Nothing else happens
 * here after the reply, so only the second rule can put it on disk. */
START_TEST(test_answer_record_synced_lazily) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        char journal[320], want[160];

        harness_journal_path(&h, journal, sizeof journal);
        json_object *op = cancel_ok(&h, fd, CALL_ID, "lazy-1", "completed");
        snprintf(want, sizeof want, "{\"op\":{\"id\":\"%s\",\"status\":\"completed\"", jstr(op, "id"));
        long t0 = now_ms();
        for (;;) {
                char *text = read_file_text(journal);
                bool found = strstr(text, want) != NULL;
                free(text);
                if (found)
                        break;
                ck_assert_msg(now_ms() - t0 < 3000, "the answer's record is not in the journal after 3 s");
                sleep_ms(20);
        }
        fprintf(stderr, "answer record on disk %ld ms after the reply\n", now_ms() - t0);
        /* And a reply that reports a state waits for its record: get after a second cancel. */
        json_object *op2 = cancel_ok(&h, fd, CALL_ID, "lazy-2", "completed");
        json_object *r = get_op(&h, fd, jstr(op2, "id"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        char *text = read_file_text(journal);
        snprintf(want, sizeof want, "{\"op\":{\"id\":\"%s\",\"status\":\"completed\"", jstr(op2, "id"));
        ck_assert_msg(strstr(text, want), "operation.get answered before the journal held what it reports");
        free(text);
        json_object_put(r);
        json_object_put(op2);
        json_object_put(op);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_torn_tail) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        char journal[320], *ids[5];

        harness_journal_path(&h, journal, sizeof journal);
        for (int i = 0; i < 5; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "torn-%d", i);
                json_object *op = cancel_ok(&h, fd, CALL_ID, ctx, "completed");
                ids[i] = strdup(jstr(op, "id"));
                json_object_put(op);
        }
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        off_t size = file_size(journal);
        ck_assert_int_gt(size, 0);

        /* Half a record, as a crash in the middle of a write leaves it. */
        FILE *f = fopen(journal, "ae");
        ck_assert_ptr_nonnull(f);
        fputs("0badc0de {\"op\":{\"id\":\"3f0c0000-0000-4000-8000-00000000", f);
        fclose(f);

        harness_start_daemon(&h);
        char *log = read_file_text(h.daemon_log);
        char where[64];
        snprintf(where, sizeof where, "offset %lld", (long long) size);
        ck_assert_msg(strstr(log, "incomplete") && strstr(log, where) && strstr(log, journal), "%s", log);
        free(log);
        ck_assert_int_eq(file_size(journal), size); /* cut off */
        fd = harness_connect(&h);
        for (int i = 0; i < 5; i++)
                assert_status(&h, fd, ids[i], "completed");
        json_object *op = cancel_ok(&h, fd, CALL_ID, "torn-after", "completed");
        char *after = strdup(jstr(op, "id"));
        json_object_put(op);
        close(fd);

        /* Appends after the cut are whole records again. */
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_start_daemon(&h);
        fd = harness_connect(&h);
        for (int i = 0; i < 5; i++) {
                assert_status(&h, fd, ids[i], "completed");
                free(ids[i]);
        }
        assert_status(&h, fd, after, "completed");
        log = read_file_text(h.daemon_log);
        ck_assert_int_eq(count_substr(log, "incomplete"), 1);
        free(log);
        free(after);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_corrupt_middle) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        char journal[320];

        harness_journal_path(&h, journal, sizeof journal);
        for (int i = 0; i < 4; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "corrupt-%d", i);
                json_object_put(cancel_ok(&h, fd, CALL_ID, ctx, "completed"));
        }
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);

        /* Change one byte inside the JSON of the record that created the second operation
         * ("corrupt-1" → "cOrrupt-1"); records of later operations follow it. */
        char *text = read_file_text(journal);
        size_t len = strlen(text);
        char *p = strstr(text, "\"corrupt-1\"");
        ck_assert_ptr_nonnull(p);
        p++;
        char *second = p;
        while (second > text && second[-1] != '\n')
                second--;
        size_t off = (size_t) (second - text);
        ck_assert_ptr_nonnull(strstr(p, "\"corrupt-3\""));
        p[1] = 'O';
        FILE *f = fopen(journal, "we");
        ck_assert_int_eq(fwrite(text, 1, len, f), len);
        fclose(f);

        char *err = NULL;
        int rc = run_daemon_once(&h, &err);
        char where[64];
        snprintf(where, sizeof where, "offset %zu", off);
        ck_assert_msg(rc != 0 && rc != 124, "the daemon started on a damaged journal (exit %d): %s", rc, err);
        ck_assert_msg(strstr(err, journal) && strstr(err, where), "%s", err);
        free(err);
        /* Nothing was cut or rewritten. */
        char *now = read_file_text(journal);
        ck_assert_str_eq(now, text);
        free(now);
        free(text);
        harness_stop(&h);
}
END_TEST

START_TEST(test_bad_state_directory) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        harness_start(&h, &o);
        char path[320], *err = NULL;

        /* StateDirectory= is a regular file. */
        snprintf(path, sizeof path, "%s/state", h.dir);
        FILE *f = fopen(path, "we");
        fclose(f);
        int rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc != 0 && rc != 124, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, path) && strstr(err, "Not a directory"), "%s", err);
        free(err);

        /* StateDirectory= lies under a regular file. */
        char config[4096], extra[400];
        snprintf(extra, sizeof extra, "[Operations]\nStateDirectory=%s/state/sub\n", h.dir);
        char *text = read_file_text(h.config_path);
        snprintf(config, sizeof config, "%s%s", text, extra);
        free(text);
        f = fopen(h.config_path, "we");
        fputs(config, f);
        fclose(f);
        rc = run_daemon_once(&h, &err);
        snprintf(path, sizeof path, "%s/state/sub", h.dir);
        ck_assert_msg(rc != 0 && rc != 124, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, path) && strstr(err, "state directory"), "%s", err);
        free(err);
        harness_stop(&h);
}
END_TEST

/* The state directory is trusted with what the daemon replays and writes: one that another user
 * could have planted the journal in, or a journal that is a symlink, stops the daemon (exit
 * status 1, a message naming the path and the reason) before it writes anything; the file the
 * symlink points to is left as it was. */
START_TEST(test_unsafe_state_directory) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        harness_start(&h, &o);
        char state[320], real[320], journal[320], victim[320], *err = NULL;

        snprintf(state, sizeof state, "%s/state", h.dir);
        snprintf(real, sizeof real, "%s/state.real", h.dir);
        snprintf(victim, sizeof victim, "%s/victim", h.dir);
        harness_journal_path(&h, journal, sizeof journal);
        ck_assert_int_eq(mkdir(state, 0700), 0);
        FILE *f = fopen(victim, "we");
        fputs("precious\n", f);
        fclose(f);

        ck_assert_int_eq(symlink(victim, journal), 0);
        int rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, journal) && strstr(err, "symbolic link"), "%s", err);
        free(err);
        char *text = read_file_text(victim);
        ck_assert_str_eq(text, "precious\n");
        free(text);
        ck_assert_int_eq(unlink(journal), 0);

        ck_assert_int_eq(chmod(state, 0777), 0);
        rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, state) && strstr(err, "mode 0777"), "%s", err);
        free(err);
        ck_assert_int_eq(chmod(state, 0770), 0);
        rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc == 1 && strstr(err, "mode 0770"), "exit %d: %s", rc, err);
        free(err);
        ck_assert_int_eq(chmod(state, 0700), 0);

        ck_assert_int_eq(chown(state, 65534, 65534), 0);
        rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, state) && strstr(err, "belongs to uid 65534"), "%s", err);
        free(err);
        ck_assert_int_eq(chown(state, 0, 0), 0);
        ck_assert_int_eq(access(journal, F_OK), -1); /* nothing was created on the way */

        /* StateDirectory= a symlink to the real directory, as with DynamicUser=: another user's
         * is refused, root's works. */
        ck_assert_int_eq(rename(state, real), 0);
        ck_assert_int_eq(symlink("state.real", state), 0);
        ck_assert_int_eq(lchown(state, 65534, 65534), 0);
        rc = run_daemon_once(&h, &err);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        ck_assert_msg(strstr(err, state) && strstr(err, "symbolic link that belongs to uid 65534"), "%s", err);
        free(err);
        ck_assert_int_eq(lchown(state, 0, 0), 0);
        harness_start_daemon(&h);
        int fd = harness_connect(&h);
        json_object_put(cancel_ok(&h, fd, CALL_ID, "via-symlink", "completed"));
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        char real_journal[400];
        snprintf(real_journal, sizeof real_journal, "%s/operations.journal", real);
        ck_assert_int_gt(file_size(real_journal), 0);
        harness_stop(&h);
}
END_TEST

/* Retention drops the finished operations; compaction then rewrites the journal to the live
 * ones, at startup after recovery and while running. */
START_TEST(test_compaction) {
        Harness h;
        /* RetentionSec=2 only from the first restart on, so that nothing is compacted before. */
        HarnessOptions o = { .config_extra = "[Operations]\nCompletionTimeoutSec=600\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        char journal[320], *pending[5];

        harness_journal_path(&h, journal, sizeof journal);
        standin_config(&h, "{\"cancelStatus\":\"running\"}");
        for (int i = 0; i < 3; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "pending-%d", i);
                json_object *op = cancel_ok(&h, fd, CALL_ID, ctx, "running");
                pending[i] = strdup(jstr(op, "id"));
                json_object_put(op);
        }
        standin_config(&h, "{\"cancelStatus\":\"completed\"}");
        many_cancels(&h, fd, "fin", 1800, 200, 60);
        /* A cancel's answer waits only for the record that created its operation; a list
         * reply waits for every record before it, so after it the journal holds all the
         * final states and none is sent again after the crash below. */
        json_object_put(harness_call(&h, fd, "operation.list", "{\"limit\":1}"));
        close(fd);
        off_t big = file_size(journal);
        ck_assert_msg(big >= 1024 * 1024, "journal only %lld bytes", (long long) big);

        /* Crash, shorten the retention, restart once the finished ones expired. */
        harness_kill_daemon(&h);
        FILE *cf = fopen(h.config_path, "ae");
        ck_assert_ptr_nonnull(cf);
        fputs("[Operations]\nRetentionSec=2\n", cf);
        fclose(cf);
        sleep_ms(2200);
        harness_start_daemon(&h);
        /* The writer thread does the rewrite; give it a moment. */
        off_t small;
        for (long end = now_ms() + 5000; (small = file_size(journal)) >= big / 20 && now_ms() < end;)
                sleep_ms(20);
        ck_assert_msg(small > 0 && small < big / 20, "journal %lld bytes after startup compaction (was %lld)", (long long) small,
                      (long long) big);
        fd = harness_connect(&h);
        for (int i = 0; i < 3; i++)
                assert_status(&h, fd, pending[i], "running");
        json_object *st = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(st, "result.operations.total"), 3);
        json_object_put(st);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_start_daemon(&h);
        fd = harness_connect(&h);
        for (int i = 0; i < 3; i++)
                assert_status(&h, fd, pending[i], "running");

        /* While running: the periodic pruning (every 10 s) drops the finished ones and the
         * journal is rewritten; appends then go to the new file. */
        long t0 = now_ms();
        many_cancels(&h, fd, "fin2", 1800, 200, 60);
        big = file_size(journal);
        ck_assert_int_ge(big, 1024 * 1024);
        while (file_size(journal) > big / 20) {
                ck_assert_msg(now_ms() - t0 < 25000, "no compaction while running: %lld bytes", (long long) file_size(journal));
                sleep_ms(100);
        }
        standin_config(&h, "{\"cancelStatus\":\"running\"}");
        for (int i = 3; i < 5; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "pending-%d", i);
                json_object *op = cancel_ok(&h, fd, CALL_ID, ctx, "running");
                pending[i] = strdup(jstr(op, "id"));
                json_object_put(op);
        }
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        for (int round = 0; round < 2; round++) {
                harness_start_daemon(&h);
                fd = harness_connect(&h);
                for (int i = 0; i < 5; i++)
                        assert_status(&h, fd, pending[i], "running");
                st = harness_call(&h, fd, "status", NULL);
                ck_assert_int_eq(jint(st, "result.operations.total"), 5);
                json_object_put(st);
                close(fd);
                ck_assert_int_eq(harness_stop_daemon(&h), 0);
        }
        ck_assert_int_lt(file_size(journal), 64 * 1024);
        char *log = read_file_text(h.daemon_log);
        ck_assert_int_ge(count_substr(log, "Compacting the journal"), 2);
        free(log);
        for (int i = 0; i < 5; i++)
                free(pending[i]);
        harness_stop(&h);
}
END_TEST

/* ---- retention and dedupe ----------------------------------------------------------- */

START_TEST(test_retention_max_operations) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Operations]\nMaxOperations=5\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        char *ids[7];

        standin_config(&h, "{\"cancelStatus\":\"running\"}");
        json_object *p = cancel_ok(&h, fd, CALL_ID, "keep-pending", "running");
        standin_config(&h, "{\"cancelStatus\":\"completed\"}");
        for (int i = 0; i < 6; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "fin-%d", i);
                json_object *op = cancel_ok(&h, fd, CALL_ID, ctx, "completed");
                ids[i] = strdup(jstr(op, "id"));
                json_object_put(op);
                if (i == 3) {
                        /* Full: the pending one is oldest, and stays. */
                        json_object *st = harness_call(&h, fd, "status", NULL);
                        ck_assert_int_eq(jint(st, "result.operations.total"), 5);
                        json_object_put(st);
                        for (int k = 0; k <= 3; k++)
                                assert_status(&h, fd, ids[k], "completed");
                }
        }
        /* The 5th and 6th finished ones dropped the two oldest finished ones. */
        assert_status(&h, fd, ids[0], "OperationNotFound");
        assert_status(&h, fd, ids[1], "OperationNotFound");
        for (int k = 2; k < 6; k++)
                assert_status(&h, fd, ids[k], "completed");
        assert_status(&h, fd, jstr(p, "id"), "running");
        json_object *st = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(st, "result.operations.total"), 5);
        json_object_put(st);

        /* The same after a restart: the journal still holds the dropped ones, the limit applies
         * again on reload. */
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_start_daemon(&h);
        fd = harness_connect(&h);
        assert_status(&h, fd, ids[0], "OperationNotFound");
        assert_status(&h, fd, ids[1], "OperationNotFound");
        for (int k = 2; k < 6; k++)
                assert_status(&h, fd, ids[k], "completed");
        assert_status(&h, fd, jstr(p, "id"), "running");
        for (int k = 0; k < 6; k++)
                free(ids[k]);
        json_object_put(p);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_retention_all_pending) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nMaxOperations=3\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        json_object *ops[3];

        for (int i = 0; i < 3; i++) {
                char ctx[32];
                snprintf(ctx, sizeof ctx, "full-%d", i);
                ops[i] = cancel_ok(&h, fd, CALL_ID, ctx, "running");
        }
        json_object *r = cancel_ctx(&h, fd, CALL_ID, "full-3");
        ck_assert_int_eq(jint(r, "error.code"), -32006);
        ck_assert_str_eq(jstr(r, "error.data.class"), "LimitExceeded");
        ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxOperations");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3); /* refused before Graph */
        for (int i = 0; i < 3; i++)
                assert_status(&h, fd, jstr(ops[i], "id"), "running");

        /* Once one is final, it makes room. */
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, jstr(ops[1], "graphOperationId"), "completed"), NULL), 1, 0);
        json_object *op = cancel_ok(&h, fd, CALL_ID, "full-3", "running");
        assert_status(&h, fd, jstr(ops[1], "id"), "OperationNotFound");
        assert_status(&h, fd, jstr(ops[0], "id"), "running");
        assert_status(&h, fd, jstr(ops[2], "id"), "running");
        json_object_put(op);
        for (int i = 0; i < 3; i++)
                json_object_put(ops[i]);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_dedupe) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 500 --cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd1 = harness_connect(&h), fd2 = harness_connect(&h);

        /* Three times the same cancel while the first is on the wire. */
#define DUP_REQUEST "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\",\"clientContext\":\"dup\"}}"
        char line[256];
        for (int i = 1; i <= 3; i++) {
                snprintf(line, sizeof line, DUP_REQUEST, i);
                harness_send(i == 3 ? fd2 : fd1, line);
        }
        char *id = NULL;
        for (int i = 0; i < 3; i++) {
                json_object *r = harness_read(i == 2 ? fd2 : fd1, 10000);
                ck_assert_ptr_nonnull(r);
                ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
                if (!id)
                        id = strdup(jstr(r, "result.operation.id"));
                ck_assert_str_eq(jstr(r, "result.operation.id"), id);
                json_object_put(r);
        }
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);

        /* Again once Graph answered: the same operation, at once. */
        json_object *op = cancel_ok(&h, fd1, CALL_ID, "dup", "running");
        ck_assert_str_eq(jstr(op, "id"), id);
        char *gid = strdup(jstr(op, "graphOperationId"));
        json_object_put(op);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);

        /* Another call or another context is another cancel. */
        op = cancel_ok(&h, fd1, CALL_ID2, "dup", "running");
        ck_assert_str_ne(jstr(op, "id"), id);
        json_object_put(op);
        op = cancel_ok(&h, fd1, CALL_ID, "dup-other", "running");
        ck_assert_str_ne(jstr(op, "id"), id);
        json_object_put(op);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3);
        /* The first is still the one for this call and context, though a newer operation on
         * another call uses the same context. */
        op = cancel_ok(&h, fd1, CALL_ID, "dup", "running");
        ck_assert_str_eq(jstr(op, "id"), id);
        json_object_put(op);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3);
        json_object *l = harness_call(&h, fd1, "operation.list", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_int_eq(json_object_array_length(jpath(l, "result.operations")), 2);
        json_object_put(l);

        /* Once the first is final, the same cancel is a new one. */
        deliver_expect(&h, fd1, body_of(false, completion(CALL_ID, gid, "completed"), NULL), 1, 0);
        op = cancel_ok(&h, fd1, CALL_ID, "dup", "running");
        ck_assert_str_ne(jstr(op, "id"), id);
        json_object_put(op);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 4);
        free(gid);
        free(id);
        close(fd1);
        close(fd2);
        harness_stop(&h);
}
END_TEST

/* ---- mediacancelctl ----------------------------------------------------------------- */

START_TEST(test_ctl_tracking) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        char out[320], args[512], file[320], *text = NULL, *err = NULL;

        snprintf(out, sizeof out, "%s/bg.out", h.dir);
        snprintf(file, sizeof file, "%s/body.json", h.dir);

        /* watch: each change, exit 0 on completed. */
        json_object *op = cancel_ok(&h, fd, CALL_ID, "ctl-1", "running");
        snprintf(args, sizeof args, "watch %s", jstr(op, "id"));
        pid_t pid = ctl_start(&h, args, out);
        ck_assert(wait_file_contains(out, "running", 5000));
        ck_assert(ctl_running(pid));
        deliver_expect(&h, fd, body_of(false, entry("resourceUrl", CALL_ID, "x", "updated", jstr(op, "graphOperationId"), NULL, "running", 101, NULL), NULL), 1, 0);
        ck_assert(wait_file_contains(out, "101/1 r101", 5000));
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, jstr(op, "graphOperationId"), "completed"), NULL), 1, 0);
        ck_assert_int_eq(ctl_wait(pid, 5000), 0);
        text = read_file_text(out);
        ck_assert_ptr_nonnull(strstr(text, jstr(op, "id")));
        char *run = strstr(text, "running"), *upd = strstr(text, "r101"), *done = strstr(text, "completed  200/2 r200");
        ck_assert_msg(run && upd && done && run < upd && upd < done, "%s", text);
        free(text);
        /* Already final: one line and exit 0 at once. */
        ck_assert_int_eq(harness_ctl(&h, args, &text, &err), 0);
        ck_assert_ptr_nonnull(strstr(text, "completed"));
        free(text);
        free(err);
        json_object_put(op);

        /* watch --json: one JSON line per state; exit 1 on failed. */
        op = cancel_ok(&h, fd, CALL_ID, "ctl-2", "running");
        snprintf(args, sizeof args, "--json watch %s", jstr(op, "id"));
        pid = ctl_start(&h, args, out);
        ck_assert(wait_file_contains(out, "running", 5000));
        deliver_expect(&h, fd, body_of(false, completion(CALL_ID, jstr(op, "graphOperationId"), "failed"), NULL), 1, 0);
        ck_assert_int_eq(ctl_wait(pid, 5000), 1);
        text = read_file_text(out);
        char *nl = strchr(text, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        json_object *j1 = json_tokener_parse(text), *j2 = json_tokener_parse(nl + 1);
        ck_assert_str_eq(jstr(j1, "operation.status"), "running");
        ck_assert_str_eq(jstr(j2, "operation.status"), "failed");
        json_object_put(j1);
        json_object_put(j2);
        free(text);
        json_object_put(op);
        ck_assert_int_eq(harness_ctl(&h, "watch no-such-op", &text, &err), 1);
        ck_assert_ptr_nonnull(strstr(err, "OperationNotFound"));
        free(text);
        free(err);

        /* cancel --wait: answers once final, exit 0 for completed. */
        pid = ctl_start(&h, "cancel " CALL_ID " --context ctl-3 --wait", out);
        char *gid = NULL, *id = NULL;
        for (long end = now_ms() + 5000; !gid && now_ms() < end; sleep_ms(20)) {
                json_object *l = harness_call(&h, fd, "operation.list", "{\"limit\":1,\"status\":\"running\"}");
                if (jstr(l, "result.operations.0.clientContext") &&
                    strcmp(jstr(l, "result.operations.0.clientContext"), "ctl-3") == 0) {
                        gid = strdup(jstr(l, "result.operations.0.graphOperationId"));
                        id = strdup(jstr(l, "result.operations.0.id"));
                }
                json_object_put(l);
        }
        ck_assert_ptr_nonnull(gid);
        sleep_ms(300);
        ck_assert(ctl_running(pid));
        /* deliver FILE: prints matched/ignored. */
        char *body = body_of(true, completion(CALL_ID, gid, "completed"),
                             entry("resourceUrl", CALL_ID, "unknown-op", "deleted", NULL, NULL, "completed", 200, NULL), NULL);
        FILE *f = fopen(file, "we");
        fputs(body, f);
        fclose(f);
        free(body);
        /* Without the header Graph sent, the daemon refuses it (Authentication=jwt). */
        snprintf(args, sizeof args, "deliver '%s'", file);
        ck_assert_int_eq(harness_ctl(&h, args, &text, &err), 1);
        ck_assert_msg(strstr(err, "NotificationRefused") && strstr(err, "missing"), "%s", err);
        free(text);
        free(err);
        /* --authorization-file: applied, and the token is never printed (nor with --json). */
        char *auth = harness_notification_token(&h, "good", NULL), authfile[400], cmd[4096];
        snprintf(authfile, sizeof authfile, "%s/authorization", h.dir);
        f = fopen(authfile, "we");
        fprintf(f, "%s\n", auth);
        fclose(f);
        snprintf(cmd, sizeof cmd, "deliver --authorization-file '%s' '%s'", authfile, file);
        ck_assert_int_eq(harness_ctl(&h, cmd, &text, &err), 0);
        ck_assert_msg(strstr(text, "Matched: 1") && strstr(text, "Ignored: 1"), "%s", text);
        ck_assert_ptr_null(strstr(text, auth + 7));
        ck_assert_ptr_null(strstr(err, auth + 7));
        free(text);
        free(err);
        /* --authorization TEXT, and a bad token: refused with its reason, token not echoed. */
        char *expired = harness_notification_token(&h, "expired", NULL);
        snprintf(cmd, sizeof cmd, "--json deliver --authorization '%s' '%s'", expired, file);
        ck_assert_int_eq(harness_ctl(&h, cmd, &text, &err), 1);
        ck_assert_msg(strstr(err, "expired") || strstr(text, "expired"), "%s %s", text, err);
        ck_assert_ptr_null(strstr(text, expired + 7));
        ck_assert_ptr_null(strstr(err, expired + 7));
        free(text);
        free(err);
        snprintf(cmd, sizeof cmd, "deliver --authorization '%s' --authorization-file '%s' '%s'", auth, authfile, file);
        ck_assert_int_eq(harness_ctl(&h, cmd, &text, &err), 2);
        ck_assert_ptr_null(strstr(err, auth + 7));
        free(text);
        free(err);
        snprintf(cmd, sizeof cmd, "get --authorization x y");
        ck_assert_int_eq(harness_ctl(&h, cmd, &text, &err), 2);
        free(text);
        free(err);
        free(expired);
        ck_assert_int_eq(ctl_wait(pid, 5000), 0);
        text = read_file_text(out);
        ck_assert_ptr_nonnull(strstr(text, id));
        ck_assert_ptr_nonnull(strstr(text, "completed"));
        free(text);

        /* deliver - (standard input), --json. */
        snprintf(cmd, sizeof cmd, "--json deliver --authorization-file '%s' - <'%s'", authfile, file);
        ck_assert_int_eq(harness_ctl(&h, cmd, &text, &err), 0);
        json_object *j = json_tokener_parse(text);
        ck_assert_int_eq(jint(j, "matched"), 1);
        ck_assert_int_eq(jint(j, "ignored"), 1);
        json_object_put(j);
        free(text);
        free(err);
        free(auth);
        /* A malformed body: the daemon's InvalidParams, naming the entry. */
        f = fopen(file, "we");
        fputs("{\"value\":[{\"changeType\":\"deleted\"}]}\n", f);
        fclose(f);
        snprintf(args, sizeof args, "deliver '%s'", file);
        ck_assert_int_eq(harness_ctl(&h, args, &text, &err), 1);
        ck_assert_msg(strstr(err, "InvalidParams") && strstr(err, "value[0]"), "%s", err);
        free(text);
        free(err);
        /* Not JSON, or no file: usage. */
        f = fopen(file, "we");
        fputs("{\"value\":[", f);
        fclose(f);
        ck_assert_int_eq(harness_ctl(&h, args, &text, &err), 2);
        free(text);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "deliver /nonexistent/body.json", &text, &err), 2);
        ck_assert_ptr_nonnull(strstr(err, "/nonexistent/body.json"));
        free(text);
        free(err);
        ck_assert_int_eq(harness_ctl(&h, "get x --wait", &text, &err), 2);
        free(text);
        free(err);

        free(gid);
        free(id);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* ---- evidence of what a cancel cancelled ------------------------------------------- */

/* A notification about a prompt or recording (not one of ours) on call_url; subcode < 0 and
 * reason NULL are left out. */
static char *prompt_entry(const char *call_url, const char *op_id, const char *type, const char *status, int subcode,
                          const char *reason) {
        char *s = NULL, ri[128] = "", cr[96] = "";
        if (subcode >= 0)
                snprintf(ri, sizeof ri, ",\"resultInfo\":{\"code\":400,\"subcode\":%d,\"message\":\"Action failed, the "
                                        "operation was cancelled.\"}", subcode);
        if (reason)
                snprintf(cr, sizeof cr, ",\"completionReason\":\"%s\"", reason);
        ck_assert_int_ge(asprintf(&s,
                                  "{\"@odata.type\":\"#microsoft.graph.commsNotification\",\"changeType\":\"deleted\","
                                  "\"resourceUrl\":\"/communications/calls/%s/operations/%s\",\"resourceData\":{"
                                  "\"@odata.type\":\"#microsoft.graph.%s\",\"id\":\"%s\",\"clientContext\":\"%s\","
                                  "\"status\":\"%s\"%s%s}}",
                                  call_url, op_id, type, op_id, call_url, status, ri, cr),
                         0);
        return s;
}

static int n_cancelled(json_object *r) {
        json_object *a = jpath(r, "result.operation.cancelledOperations");
        return a ? (int) json_object_array_length(a) : 0;
}

START_TEST(test_evidence) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        json_object *a = cancel_ok(&h, fd, CALL_ID, "ev-a", "completed"), *other = cancel_ok(&h, fd, CALL_ID2, "ev-o", "completed");
        json_object *before = get_op(&h, fd, jstr(a, "id"));

        /* Graph reports a queued prompt of the call cancelled: recorded on the cancel, whose
         * status and result stay as they were. */
        deliver_expect(&h, fd,
                       body_of(true, prompt_entry(CALL_ID_UPPER, "1a2b3c4d-0000-4000-8000-000000000001", "playPromptOperation",
                                                  "failed", 8508, "operationCanceled"),
                               NULL),
                       1, 0);
        json_object *r = get_op(&h, fd, jstr(a, "id"));
        ck_assert_int_eq(n_cancelled(r), 1);
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.0.graphOperationId"),
                         "1a2b3c4d-0000-4000-8000-000000000001");
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.0.type"), "playPromptOperation");
        ck_assert_ptr_nonnull(jstr(r, "result.operation.cancelledOperations.0.at"));
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        ck_assert_str_eq(jstr(r, "result.operation.resultInfo.message"), jstr(before, "result.operation.resultInfo.message"));
        ck_assert_int_eq(jint(r, "result.operation.resultInfo.subcode"), jint(before, "result.operation.resultInfo.subcode"));
        json_object_put(r);
        r = get_op(&h, fd, jstr(other, "id"));
        ck_assert_int_eq(n_cancelled(r), 0);
        ck_assert_ptr_null(jpath(r, "result.operation.cancelledOperations"));
        json_object_put(r);

        /* A newer cancel on the call takes the next evidence; the same notification twice is
         * one entry; completionReason alone is evidence too (a recording). */
        json_object *b = cancel_ok(&h, fd, CALL_ID, "ev-b", "completed");
        char *p2 = prompt_entry(CALL_ID_UPPER, "1a2b3c4d-0000-4000-8000-000000000002", "playPromptOperation", "failed", 8508, NULL);
        deliver_expect(&h, fd, body_of(false, strdup(p2), NULL), 1, 0);
        deliver_expect(&h, fd, body_of(false, p2, NULL), 1, 0);
        deliver_expect(&h, fd,
                       body_of(false, prompt_entry(CALL_ID_UPPER, "1a2b3c4d-0000-4000-8000-000000000003", "recordOperation",
                                                   "failed", -1, "operationCanceled"),
                               NULL),
                       1, 0);
        r = get_op(&h, fd, jstr(b, "id"));
        ck_assert_int_eq(n_cancelled(r), 2);
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.1.type"), "recordOperation");
        json_object_put(r);
        r = get_op(&h, fd, jstr(a, "id"));
        ck_assert_int_eq(n_cancelled(r), 1);
        json_object_put(r);

        /* Not evidence: ignored as before. A prompt that completed, one that failed otherwise,
         * and evidence on a call that has no cancel. */
        deliver_expect(&h, fd,
                       body_of(false, prompt_entry(CALL_ID_UPPER, "1a2b3c4d-0000-4000-8000-000000000004", "playPromptOperation",
                                                   "completed", 0, NULL),
                               prompt_entry(CALL_ID_UPPER, "1a2b3c4d-0000-4000-8000-000000000005", "playPromptOperation",
                                            "failed", 500, "mediaFailure"),
                               prompt_entry("ffffffff0000400080000000000000aa", "1a2b3c4d-0000-4000-8000-000000000006",
                                            "playPromptOperation", "failed", 8508, "operationCanceled"),
                               NULL),
                       0, 3);
        r = get_op(&h, fd, jstr(b, "id"));
        ck_assert_int_eq(n_cancelled(r), 2);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);

        /* mediacancelctl get shows it. */
        char args[128], *text = NULL, *err = NULL;
        snprintf(args, sizeof args, "get %s", jstr(b, "id"));
        ck_assert_int_eq(harness_ctl(&h, args, &text, &err), 0);
        ck_assert_msg(strstr(text, "Cancelled: playPromptOperation 1a2b3c4d-0000-4000-8000-000000000002 at "), "%s", text);
        ck_assert_msg(strstr(text, "Cancelled: recordOperation 1a2b3c4d-0000-4000-8000-000000000003"), "%s", text);
        free(text);
        free(err);

        json_object_put(before);
        json_object_put(a);
        json_object_put(b);
        json_object_put(other);
        harness_stop(&h);
}
END_TEST

/* At most MaxCancelledOperations= (64) per cancel; journaled, and back after SIGKILL. */
START_TEST(test_evidence_cap_and_crash) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        json_object *a = cancel_ok(&h, fd, CALL_ID, "cap-a", "completed");
        char *id = strdup(jstr(a, "id"));

        size_t size = 0;
        char *body = NULL;
        FILE *f = open_memstream(&body, &size);
        fputs("{\"value\":[", f);
        for (int i = 0; i < 70; i++) {
                char gid[64];
                snprintf(gid, sizeof gid, "2b3c4d5e-0000-4000-8000-%012d", i);
                char *e = prompt_entry(CALL_ID_UPPER, gid, "playPromptOperation", "failed", 8508, "operationCanceled");
                fprintf(f, "%s%s", i ? "," : "", e);
                free(e);
        }
        fputs("]}", f);
        fclose(f);
        /* Every one is about this cancel (matched); 64 are kept. */
        deliver_expect(&h, fd, body, 70, 0);
        json_object *r = get_op(&h, fd, id);
        ck_assert_int_eq(n_cancelled(r), 64);
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.0.graphOperationId"), "2b3c4d5e-0000-4000-8000-000000000000");
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.63.graphOperationId"), "2b3c4d5e-0000-4000-8000-000000000063");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        char *at0 = strdup(jstr(r, "result.operation.cancelledOperations.0.at"));
        json_object_put(r);

        /* A crash: nothing flushed at exit, and the journal still has them. */
        usleep(300000); /* the change record's sync is at most 100 ms behind; a reply waited for it already */
        harness_kill_daemon(&h);
        close(fd);
        harness_start_daemon(&h);
        fd = harness_connect(&h);
        r = get_op(&h, fd, id);
        ck_assert_int_eq(n_cancelled(r), 64);
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.63.graphOperationId"), "2b3c4d5e-0000-4000-8000-000000000063");
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.0.type"), "playPromptOperation");
        ck_assert_str_eq(jstr(r, "result.operation.cancelledOperations.0.at"), at0);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);

        free(at0);
        free(id);
        json_object_put(a);
        harness_stop(&h);
}
END_TEST

/* A watcher of a cancel that is still running hears of the evidence, status unchanged. */
START_TEST(test_evidence_watch) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Operations]\nCompletionTimeoutSec=300\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), w = harness_connect(&h);
        json_object *op = cancel_ok(&h, fd, CALL_ID, "evw-1", "running");
        const char *id = jstr(op, "id");

        json_object_put(watch(&h, w, id, "running"));
        deliver_expect(&h, fd,
                       body_of(false, prompt_entry(CALL_ID_UPPER, "3c4d5e6f-0000-4000-8000-000000000001", "playPromptOperation",
                                                   "failed", 8508, "operationCanceled"),
                               NULL),
                       1, 0);
        json_object *e = next_event(w, 10000);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "params.operation.id"), id);
        ck_assert_str_eq(jstr(e, "params.operation.status"), "running");
        ck_assert_str_eq(jstr(e, "params.operation.cancelledOperations.0.graphOperationId"),
                         "3c4d5e6f-0000-4000-8000-000000000001");
        json_object_put(e);
        json_object_put(op);
        harness_stop(&h);
}
END_TEST

/* One test case per test, so that CK_RUN_CASE=test_watch runs just that one. */
#define ADD(s, t)                                        \
        do {                                             \
                TCase *tc = tcase_create(#t);            \
                tcase_set_timeout(tc, 120);              \
                tcase_add_test(tc, t);                   \
                suite_add_tcase(s, tc);                  \
        } while (0)

static Suite *suite(void) {
        Suite *s = suite_create("tracking");

        ADD(s, test_notify_matching);
        ADD(s, test_notify_before_answer);
        ADD(s, test_notify_malformed);
        ADD(s, test_context_per_caller);
        ADD(s, test_context_notification_ambiguous);
        ADD(s, test_watch);
        ADD(s, test_wait_completed);
        ADD(s, test_polling);
        ADD(s, test_completion_timeout_then_notification);
        ADD(s, test_restart_keeps_deadline);
        ADD(s, test_crash_recovery);
        ADD(s, test_answer_record_synced_lazily);
        ADD(s, test_torn_tail);
        ADD(s, test_corrupt_middle);
        ADD(s, test_bad_state_directory);
        ADD(s, test_unsafe_state_directory);
        ADD(s, test_compaction);
        ADD(s, test_retention_max_operations);
        ADD(s, test_retention_all_pending);
        ADD(s, test_dedupe);
        ADD(s, test_ctl_tracking);
        ADD(s, test_evidence);
        ADD(s, test_evidence_cap_and_crash);
        ADD(s, test_evidence_watch);
        return s;
}

int main(void) {
        return harness_main(suite());
}
