/* SPDX-License-Identifier: MIT */
/*
 * check_faults.c — the resilience promises under injected faults: the real mediacanceld, the
 * Graph/login stand-in with a fault plan (docs/standin.md), real TLS on loopback. Each test
 * asserts what the callers got, what the stand-in received (counts, and arrival times measured
 * against Retry-After windows, deadlines and limits rather than raw speed), and that every
 * cancel the daemon accepted got exactly one answer that operation.get agrees with.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ---- */

static double wall(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
        struct timespec ts = { (time_t) s, (long) ((s - floor(s)) * 1e9) };
        nanosleep(&ts, NULL);
}

static void set_faults(Harness *h, const char *fmt, ...) {
        va_list ap;
        char *body;

        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&body, fmt, ap), 0);
        va_end(ap);
        json_object *r = standin_post(h, "/_standin/faults", body);
        ck_assert_msg(jpath(r, "rules") != NULL, "fault plan refused: %s", json_object_to_json_string(r));
        json_object_put(r);
        free(body);
}

/* The stand-in records a request just after answering it, so the daemon may have passed an
 * answer on before its record exists. Waits until the counters of non-control requests have
 * not moved for 200 ms (the daemon is idle by then). */
static void settle(Harness *h) {
        int64_t last = -1;

        for (int tries = 0; tries < 100; tries++) {
                json_object *st = standin_get(h, "/_standin/stats");
                int64_t n = jint(st, "tokenRequests") + jint(st, "cancelRequests") + jint(st, "operationGets");
                json_object_put(st);
                if (n == last)
                        return;
                last = n;
                sleep_s(0.2);
        }
}

static json_object *daemon_status(Harness *h) {
        int fd = harness_connect(h);
        json_object *r = harness_call(h, fd, "status", NULL);
        close(fd);
        ck_assert_msg(jpath(r, "result") != NULL, "status failed: %s", json_object_to_json_string(r));
        return r;
}

/* Whether the stand-in request entry e is a cancel for the given call id. */
static bool is_cancel_for(json_object *e, const char *call_id) {
        const char *path = jstr(e, "path");
        char needle[128];

        if (!path || !jstr(e, "kind") || strcmp(jstr(e, "kind"), "cancel") != 0)
                return false;
        snprintf(needle, sizeof needle, "/%s/cancelMediaProcessing", call_id);
        return strstr(path, needle) != NULL;
}

static size_t array_len(json_object *a) {
        return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static json_object *array_at(json_object *a, size_t i) {
        return json_object_array_get_idx(a, i);
}

static double jdouble(json_object *j, const char *path) {
        json_object *v = jpath(j, path);
        return v ? json_object_get_double(v) : NAN;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Arrival times (sorted) of stand-in requests of one kind, optionally only one status. */
static size_t arrivals(json_object *stats, const char *kind, int status, double **ret) {
        json_object *reqs = jpath(stats, "requests");
        double *t = calloc(array_len(reqs) + 1, sizeof *t);
        size_t n = 0;

        for (size_t i = 0; i < array_len(reqs); i++) {
                json_object *e = array_at(reqs, i);
                if (strcmp(jstr(e, "kind") ?: "", kind) != 0)
                        continue;
                if (status >= 0 && jint(e, "status") != status)
                        continue;
                t[n++] = jdouble(e, "t");
        }
        qsort(t, n, sizeof *t, cmp_double);
        *ret = t;
        return n;
}

/* The most arrivals within any window of `width` seconds. */
static size_t max_in_window(const double *t, size_t n, double width) {
        size_t best = 0;

        for (size_t i = 0, j = 0; i < n; i++) {
                while (t[i] - t[j] >= width)
                        j++;
                if (i - j + 1 > best)
                        best = i - j + 1;
        }
        return best;
}

/* ---- a load of cancels over a few connections, each answer kept with its times ---- */

typedef struct Outcome {
        double sent, replied; /* wall clock; replied 0 until the answer is in */
        json_object *reply;
        int replies;          /* must end up exactly 1 */
} Outcome;

typedef struct Load {
        Harness *h;
        int fds[16];
        int n_fds;
        int n, sent, replied;
        char prefix[32];
        Outcome *out;
} Load;

static void load_init(Load *l, Harness *h, int n_fds, int n, const char *prefix) {
        memset(l, 0, sizeof *l);
        l->h = h;
        l->n_fds = n_fds;
        l->n = n;
        snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
        l->out = calloc((size_t) n, sizeof *l->out);
        for (int i = 0; i < n_fds; i++)
                l->fds[i] = harness_connect(h);
}

static void load_done(Load *l) {
        for (int i = 0; i < l->n; i++)
                json_object_put(l->out[i].reply);
        for (int i = 0; i < l->n_fds; i++)
                close(l->fds[i]);
        free(l->out);
}

static void load_call_id(const Load *l, int i, char *buf, size_t size) {
        snprintf(buf, size, "%s-%d", l->prefix, i);
}

static void load_send_next(Load *l) {
        char line[256], call[64];
        int i = l->sent++;

        ck_assert_int_lt(i, l->n);
        load_call_id(l, i, call, sizeof call);
        snprintf(line, sizeof line,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"%s\",\"clientContext\":\"ctx-%s\"}}",
                 i, call, call);
        l->out[i].sent = wall();
        harness_send(l->fds[i % l->n_fds], line);
}

/* Reads whatever answers arrive within timeout_ms. */
static void load_pump(Load *l, int timeout_ms) {
        struct pollfd p[16];

        for (int i = 0; i < l->n_fds; i++)
                p[i] = (struct pollfd) { .fd = l->fds[i], .events = POLLIN };
        if (poll(p, (nfds_t) l->n_fds, timeout_ms) <= 0)
                return;
        for (int i = 0; i < l->n_fds; i++) {
                json_object *j;

                if (!(p[i].revents & (POLLIN | POLLHUP)))
                        continue;
                while ((j = harness_read(l->fds[i], 0))) {
                        json_object *id = jpath(j, "id");
                        if (!id || !json_object_is_type(id, json_type_int)) {
                                json_object_put(j); /* a notification */
                                continue;
                        }
                        int k = json_object_get_int(id);
                        ck_assert_msg(k >= 0 && k < l->sent, "answer to a cancel never sent: %d", k);
                        Outcome *o = &l->out[k];
                        o->replies++;
                        ck_assert_msg(o->replies == 1, "cancel %d answered twice", k);
                        o->reply = j;
                        o->replied = wall();
                        l->replied++;
                }
        }
}

/* Sends every remaining cancel at once and waits up to timeout_s for all answers. */
static void load_finish(Load *l, double timeout_s) {
        double end;

        while (l->sent < l->n) {
                load_send_next(l);
                if (l->sent % 64 == 0)
                        load_pump(l, 0);
        }
        end = wall() + timeout_s;
        while (l->replied < l->n && wall() < end)
                load_pump(l, 100);
        ck_assert_msg(l->replied == l->n, "%d of %d cancels were never answered", l->n - l->replied, l->n);
}

static const char *outcome_status(const Outcome *o) {
        return jstr(o->reply, "result.operation.status");
}

static const char *outcome_class(const Outcome *o) {
        return jstr(o->reply, "error.data.class");
}

static bool outcome_completed(const Outcome *o) {
        const char *s = outcome_status(o);
        return s && strcmp(s, "completed") == 0;
}

/* Nothing acknowledged is lost: each answer's operation is stored with the same outcome. */
static void load_check_records(Load *l) {
        int fd = harness_connect(l->h);

        for (int i = 0; i < l->n; i++) {
                const Outcome *o = &l->out[i];
                const char *id = jstr(o->reply, "result.operation.id") ?: jstr(o->reply, "error.data.operationId");
                char params[128];

                if (!id)
                        continue; /* refused before an operation was recorded (LimitExceeded) */
                snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", id);
                json_object *r = harness_call(l->h, fd, "operation.get", params);
                const char *st = jstr(r, "result.operation.status");
                ck_assert_msg(st != NULL, "operation %s of cancel %d is gone: %s", id, i, json_object_to_json_string(r));
                if (outcome_status(o))
                        ck_assert_str_eq(st, outcome_status(o));
                else {
                        ck_assert_str_eq(st, "failed");
                        ck_assert_str_eq(jstr(r, "result.operation.error.class"), outcome_class(o));
                }
                json_object_put(r);
        }
        close(fd);
}

/* ---- login (token endpoint) faults ---- */

/* The login service answers 503 (Retry-After: 2) for 20 s from the daemon's start. Cancels
 * wait for a token within their deadline: those whose deadline passes first get
 * TokenUnavailable, those whose deadline outlasts the outage succeed once a token comes. The
 * daemon keeps asking at a modest pace that honours Retry-After. */
START_TEST(test_login_outage) {
        const double outage = 20, deadline = 18;
        Harness h;
        HarnessOptions o = { .no_daemon = true, .config_extra = "[Graph]\nRequestTimeoutSec=18\n" };
        Load l;

        harness_start(&h, &o);
        double t0 = wall(), until = t0 + outage;
        set_faults(&h, "{\"rules\":[{\"kind\":\"token\",\"status\":503,\"retryAfter\":\"2\",\"untilT\":%.3f}]}", until);
        harness_start_daemon(&h);

        load_init(&l, &h, 2, 48, "lo");
        bool status_checked = false;
        while (l.sent < l.n) {
                double next = t0 + 0.5 * (l.sent + 1);
                while (wall() < next)
                        load_pump(&l, 20);
                load_send_next(&l);
                if (!status_checked && wall() > t0 + 5) {
                        json_object *st = daemon_status(&h);
                        const char *state = jstr(st, "result.token.state");
                        /* "refreshing" for the moment a retry is on the wire. */
                        ck_assert_msg(strcmp(state, "failed") == 0 || strcmp(state, "refreshing") == 0, "%s", state);
                        ck_assert_str_eq(jstr(st, "result.token.lastError.error"), "temporarily_unavailable");
                        ck_assert_str_eq(jstr(st, "result.token.lastError.aadsts"), "AADSTS90033");
                        json_object_put(st);
                        status_checked = true;
                }
        }
        load_finish(&l, deadline + 30);

        settle(&h);
        json_object *stats = standin_get(&h, "/_standin/stats");
        double *tok_ok, *tok_all, *cancels;
        size_t n_ok = arrivals(stats, "token", 200, &tok_ok);
        size_t n_tok = arrivals(stats, "token", -1, &tok_all);
        size_t n_cancels = arrivals(stats, "cancel", -1, &cancels);
        ck_assert_int_ge(n_ok, 1);
        double t_ok = tok_ok[0];
        ck_assert_msg(t_ok >= until - 0.05, "a token was issued during the outage");
        /* Backoff is capped at 15 s: the login service coming back is noticed in time for
         * cancels that still have most of their deadline. */
        char times[1024] = "";
        for (size_t i = 0; i < n_tok && strlen(times) < sizeof times - 16; i++)
                snprintf(times + strlen(times), sizeof times - strlen(times), " %.2f", tok_all[i] - t0);
        ck_assert_msg(t_ok <= until + 15 + 1, "token came %.1fs after the outage; token requests at%s", t_ok - until, times);

        /* No storm: Retry-After (2 s) spaces the retries, and 48 waiting cancels add none. */
        size_t during = 0;
        for (size_t i = 0; i < n_tok; i++)
                if (tok_all[i] < until)
                        during++;
        ck_assert_msg(during >= 2 && during <= 11, "%zu token requests during the 20 s outage", during);
        ck_assert_int_le(n_tok, 13);
        ck_assert_msg(standin_stat(&h, "tokenRetryAfterViolations") == 0, "token requests too early; at%s", times);

        /* No cancel reached Graph without a token. */
        ck_assert_int_ge(n_cancels, 1);
        ck_assert_msg(cancels[0] >= t_ok, "a cancel reached Graph before any token was issued");

        int failed = 0, completed_meanwhile = 0;
        for (int i = 0; i < l.n; i++) {
                Outcome *c = &l.out[i];
                double dl = c->sent + deadline;

                ck_assert_msg(c->replied - c->sent <= deadline + 2, "cancel %d answered after %.1fs", i,
                              c->replied - c->sent);
                if (outcome_completed(c)) {
                        ck_assert_msg(dl > t_ok, "cancel %d completed although its deadline passed before any token", i);
                        if (c->sent < until)
                                completed_meanwhile++;
                        continue;
                }
                const char *cls = outcome_class(c);
                /* TokenUnavailable, or Timeout for one that got the token with too little of its
                 * deadline left for Graph to answer. */
                bool no_token = cls && strcmp(cls, "TokenUnavailable") == 0;
                bool late = cls && strcmp(cls, "Timeout") == 0 && dl >= t_ok - 0.5;
                ck_assert_msg(no_token || late, "cancel %d: %s", i, json_object_to_json_string(c->reply));
                if (no_token) {
                        ck_assert_int_eq(jint(c->reply, "error.code"), -32002);
                        ck_assert_ptr_nonnull(jstr(c->reply, "error.data.reason"));
                }
                /* It failed only because its deadline came before the token did. */
                ck_assert_msg(dl < t_ok + 1.0, "cancel %d failed although its deadline was %.1fs after the token", i,
                              dl - t_ok);
                ck_assert_msg(c->replied >= dl - 0.5, "cancel %d gave up %.1fs before its deadline", i, dl - c->replied);
                failed++;
        }
        /* Deadline 18 s < outage 20 s: the first cancels cannot succeed; the token comes at most
         * 15 s after the outage, within the deadline of those made in its last seconds. */
        ck_assert_int_ge(failed, 2);
        ck_assert_int_ge(completed_meanwhile, 1);
        load_check_records(&l);

        json_object *st = daemon_status(&h);
        ck_assert_str_eq(jstr(st, "result.token.state"), "valid");
        json_object_put(st);
        free(tok_ok);
        free(tok_all);
        free(cancels);
        json_object_put(stats);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* A failed renewal does not stop the daemon: the current token stays in use while it is
 * valid, and the renewal is retried until the login service answers again. */
START_TEST(test_renewal_failure_keeps_token) {
        Harness h;
        HarnessOptions o = { .standin_args = "--token-lifetime 8" };
        Load l;

        harness_start(&h, &o);
        double t0 = wall();
        /* Renewal is due after about 4 s (half of an 8 s lifetime); the login fails until 6.5 s. */
        set_faults(&h, "{\"rules\":[{\"kind\":\"token\",\"status\":503,\"retryAfter\":\"1\",\"untilT\":%.3f}]}", t0 + 6.5);
        load_init(&l, &h, 1, 45, "rn");
        while (l.sent < l.n) {
                double next = t0 + 0.2 * (l.sent + 1);
                while (wall() < next)
                        load_pump(&l, 20);
                load_send_next(&l);
        }
        load_finish(&l, 40);
        for (int i = 0; i < l.n; i++)
                ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i, json_object_to_json_string(l.out[i].reply));

        /* The renewal succeeds once the login service is back (under valgrind perhaps only
         * after the last cancel). */
        settle(&h);
        json_object *stats = NULL;
        double *fails, *oks, *cancels;
        size_t n_ok = 0;
        for (int tries = 0; tries < 300 && n_ok < 2; tries++) {
                if (stats) {
                        free(oks);
                        json_object_put(stats);
                        sleep_s(0.1);
                }
                stats = standin_get(&h, "/_standin/stats");
                n_ok = arrivals(stats, "token", 200, &oks);
        }
        size_t n_fail = arrivals(stats, "token", 503, &fails);
        size_t n_cancel = arrivals(stats, "cancel", 200, &cancels);
        ck_assert_int_ge(n_fail, 1);
        ck_assert_int_ge(n_ok, 2); /* the first token and the renewal after the outage */
        size_t with_old = 0;
        for (size_t i = 0; i < n_cancel; i++)
                if (cancels[i] > fails[0] && cancels[i] < oks[1])
                        with_old++;
        ck_assert_msg(with_old >= 3, "only %zu cancels succeeded while renewals failed", with_old);
        double *tok;
        size_t n_tok = arrivals(stats, "token", -1, &tok);
        char times[512] = "";
        for (size_t i = 0; i < n_tok && strlen(times) < sizeof times - 16; i++)
                snprintf(times + strlen(times), sizeof times - strlen(times), " %.3f", tok[i] - t0);
        ck_assert_msg(standin_stat(&h, "tokenRetryAfterViolations") == 0, "token requests too early; at%s", times);
        free(tok);
        ck_assert_int_eq(standin_stat(&h, "unauthorized"), 0);
        free(fails);
        free(oks);
        free(cancels);
        json_object_put(stats);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

static int count_lines_with(const char *text, const char *needle) {
        int n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

/* invalid_client is final: cancels fail at once with the AADSTS code, the login service is not
 * asked again, the log says it once; fixing the credential and reloading recovers. */
START_TEST(test_permanent_token_error) {
        Harness h;
        HarnessOptions o = { .daemon_secret = "not-the-secret" };
        Load l;

        harness_start(&h, &o);
        load_init(&l, &h, 1, 20, "pe");
        double t0 = wall();
        while (l.sent < l.n) {
                double next = t0 + 0.15 * (l.sent + 1);
                while (wall() < next)
                        load_pump(&l, 20);
                load_send_next(&l);
        }
        load_finish(&l, 30);
        for (int i = 0; i < l.n; i++) {
                Outcome *c = &l.out[i];
                ck_assert_int_eq(jint(c->reply, "error.code"), -32002);
                ck_assert_str_eq(jstr(c->reply, "error.data.reason"), "invalid_client");
                ck_assert_str_eq(jstr(c->reply, "error.data.aadsts"), "AADSTS7000215");
                /* At once, not at the 30 s deadline. */
                ck_assert_msg(c->replied - c->sent < 10, "cancel %d waited %.1fs", i, c->replied - c->sent);
        }
        load_check_records(&l);
        settle(&h);
        ck_assert_int_le(standin_stat(&h, "tokenRequests"), 2);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);

        json_object *st = daemon_status(&h);
        ck_assert_str_eq(jstr(st, "result.token.state"), "failed");
        ck_assert_str_eq(jstr(st, "result.token.lastError.error"), "invalid_client");
        ck_assert_str_eq(jstr(st, "result.token.lastError.aadsts"), "AADSTS7000215");
        json_object_put(st);

        char *log = read_file_text(h.daemon_log);
        ck_assert_msg(count_lines_with(log, "Token request for tenant " HARNESS_TENANT " failed") == 1,
                      "the failure was logged %d times",
                      count_lines_with(log, "Token request for tenant " HARNESS_TENANT " failed"));
        free(log);

        /* The app registration gets this secret; without a reload the daemon does not notice
         * (it waits minutes before asking again). */
        json_object_put(standin_post(&h, "/_standin/config", "{\"clientSecret\":\"not-the-secret\"}"));
        sleep_s(2);
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"pe-before-reload\"}");
        ck_assert_int_eq(jint(r, "error.code"), -32002);
        json_object_put(r);
        int before = standin_stat(&h, "tokenRequests");

        kill(h.daemon_pid, SIGHUP);
        for (int i = 0; i < 200; i++) {
                json_object *s = daemon_status(&h);
                bool valid = strcmp(jstr(s, "result.token.state") ?: "", "valid") == 0;
                json_object_put(s);
                if (valid)
                        break;
                sleep_s(0.05);
        }
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"pe-after-reload\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        settle(&h);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), before + 1);
        log = read_file_text(h.daemon_log);
        ck_assert_ptr_nonnull(strstr(log, "Token request for tenant " HARNESS_TENANT " succeeded again"));
        free(log);
        close(fd);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* ---- Graph faults ---- */

/* Checks, per cancel of the load, that the stand-in saw between 1 and max_attempts requests
 * for it, that exactly one was answered 200 and that it was the last; returns how many
 * requests were not answered 200. */
static int check_attempts_per_cancel(Load *l, json_object *stats, int max_attempts) {
        json_object *reqs = jpath(stats, "requests");
        int faulted = 0;

        for (int i = 0; i < l->n; i++) {
                char call[64];
                int n = 0, ok = 0, last_status = -1;
                double last_t = -1;

                load_call_id(l, i, call, sizeof call);
                /* The list is in the order the stand-in finished requests; "last" means the
                 * last to arrive. */
                for (size_t k = 0; k < array_len(reqs); k++) {
                        json_object *e = array_at(reqs, k);
                        int status = (int) jint(e, "status");
                        if (!is_cancel_for(e, call))
                                continue;
                        n++;
                        if (jdouble(e, "t") > last_t) {
                                last_t = jdouble(e, "t");
                                last_status = status;
                        }
                        if (status == 200)
                                ok++;
                        else
                                faulted++;
                }
                ck_assert_msg(n >= 1 && n <= max_attempts, "%s: %d attempts", call, n);
                ck_assert_msg(ok == 1 && last_status == 200, "%s: %d successes, last status %d", call, ok, last_status);
        }
        return faulted;
}

/* 30 % of Graph's answers are 503: every cancel still completes, each within MaxAttempts. */
START_TEST(test_graph_503_storm) {
        Harness h;
        HarnessOptions o = { .standin_args = "--seed 7",
                             .config_extra = "[Graph]\nMaxAttempts=12\nRetryBaseMs=10\nRetryMaxMs=100\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":503,\"probability\":0.3}]}");
        load_init(&l, &h, 4, 200, "s503");
        load_finish(&l, 60);
        for (int i = 0; i < l.n; i++)
                ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i, json_object_to_json_string(l.out[i].reply));

        settle(&h);

        json_object *stats = standin_get(&h, "/_standin/stats");
        int faulted = check_attempts_per_cancel(&l, stats, 12);
        ck_assert_msg(faulted >= 20, "only %d faulted answers: the fault plan did not bite", faulted);
        ck_assert_int_eq(jint(stats, "cancelRequests"), l.n + faulted);
        json_object_put(stats);

        json_object *st = daemon_status(&h);
        ck_assert_int_eq(jint(st, "result.graph.attempts"), l.n + faulted);
        ck_assert_int_eq(jint(st, "result.operations.completed"), l.n);
        json_object_put(st);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* Connections reset before the answer: retried like any transport failure. */
START_TEST(test_connection_reset) {
        Harness h;
        HarnessOptions o = { .standin_args = "--seed 11",
                             .config_extra = "[Graph]\nMaxAttempts=12\nRetryBaseMs=10\nRetryMaxMs=100\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"action\":\"reset\",\"probability\":0.3}]}");
        load_init(&l, &h, 2, 100, "rst");
        load_finish(&l, 60);
        for (int i = 0; i < l.n; i++)
                ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i, json_object_to_json_string(l.out[i].reply));
        settle(&h);
        json_object *stats = standin_get(&h, "/_standin/stats");
        int faulted = check_attempts_per_cancel(&l, stats, 12);
        ck_assert_msg(faulted >= 10, "only %d resets", faulted);
        json_object *reqs = jpath(stats, "requests");
        for (size_t k = 0; k < array_len(reqs); k++) {
                json_object *e = array_at(reqs, k);
                if (strcmp(jstr(e, "kind") ?: "", "cancel") == 0)
                        ck_assert(jint(e, "status") == 0 || jint(e, "status") == 200);
        }
        json_object_put(stats);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

static void wait_for_hold(Harness *h) {
        for (int i = 0; i < 400; i++) {
                json_object *st = daemon_status(h);
                int64_t hold = jint(st, "result.graph.holdMs");
                json_object_put(st);
                if (hold > 0)
                        return;
                sleep_s(0.01);
        }
        ck_abort_msg("the daemon never reported a throttling hold");
}

/* A 429 storm: the next three cancels Graph sees get 429 with Retry-After: 1.5. The whole
 * daemon holds while Graph says to wait; after each hold one request probes alone, so the three
 * 429s are a Retry-After apart and nothing reaches Graph inside a window. Graph takes 200 ms to
 * answer, so without the probe the 8 requests released at the end of the first hold would all
 * be on their way before the next 429 came back, and it and the third would come together. */
START_TEST(test_429_storm) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 200", .config_extra = "[Graph]\nMaxInFlight=8\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,\"retryAfter\":\"1.5\",\"count\":3}]}");
        load_init(&l, &h, 3, 30, "th");
        load_send_next(&l);
        wait_for_hold(&h);
        load_finish(&l, 40);

        settle(&h);

        json_object *stats = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(stats, "retryAfterViolations"), 0);
        double *t429, *t200;
        size_t n429 = arrivals(stats, "cancel", 429, &t429);
        size_t n200 = arrivals(stats, "cancel", 200, &t200);
        ck_assert_int_eq(n429, 3);
        for (size_t i = 1; i < n429; i++)
                ck_assert_msg(t429[i] - t429[i - 1] >= 1.5 - 0.05, "429s %.3fs apart", t429[i] - t429[i - 1]);
        ck_assert_int_eq(n200, (size_t) l.n);
        ck_assert_msg(t200[0] >= t429[n429 - 1] + 1.5 - 0.05, "a cancel went before the last Retry-After ran out");
        for (int i = 0; i < l.n; i++)
                ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i, json_object_to_json_string(l.out[i].reply));
        free(t429);
        free(t200);
        json_object_put(stats);

        json_object *st = daemon_status(&h);
        ck_assert_int_eq(jint(st, "result.graph.holdMs"), 0);
        json_object_put(st);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* Graph throttles for longer than the deadline: the cancel that got the 429 hears Throttled at
 * once (waiting cannot help), those queued behind the hold at their deadline; nothing is sent
 * while Graph said to wait. */
START_TEST(test_throttled_until_deadline) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Graph]\nRequestTimeoutSec=3\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,\"retryAfter\":\"10\"}]}");
        load_init(&l, &h, 1, 6, "td");
        load_send_next(&l);
        wait_for_hold(&h);
        load_finish(&l, 20);

        Outcome *first = &l.out[0];
        ck_assert_int_eq(jint(first->reply, "error.code"), -32003);
        ck_assert_str_eq(jstr(first->reply, "error.data.class"), "Throttled");
        int64_t ra = jint(first->reply, "error.data.retryAfterMs");
        ck_assert_msg(ra >= 9000 && ra <= 10000, "retryAfterMs %lld", (long long) ra);
        ck_assert_ptr_nonnull(jstr(first->reply, "error.data.requestId"));
        ck_assert_msg(first->replied - first->sent < 2.5, "the throttled cancel waited for nothing");
        for (int i = 1; i < l.n; i++) {
                Outcome *c = &l.out[i];
                ck_assert_msg(jint(c->reply, "error.code") == -32003, "cancel %d: %s", i, json_object_to_json_string(c->reply));
                ra = jint(c->reply, "error.data.retryAfterMs");
                ck_assert_msg(ra > 0 && ra <= 10000, "retryAfterMs %lld", (long long) ra);
                /* At the deadline: not before, and never a hang. */
                ck_assert_msg(c->replied - c->sent >= 3 - 0.1 && c->replied - c->sent <= 3 + 2, "cancel %d after %.2fs", i,
                              c->replied - c->sent);
        }
        settle(&h);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        ck_assert_int_eq(standin_stat(&h, "retryAfterViolations"), 0);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* MaxQueued= bounds what waits behind a throttling hold too, although slots are free: exactly
 * MaxQueued cancels wait, the others are refused at once. */
START_TEST(test_queue_bound_during_hold) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Graph]\nMaxQueued=5\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,\"retryAfter\":\"3\",\"count\":1}]}");
        load_init(&l, &h, 1, 11, "qh");
        load_send_next(&l);
        wait_for_hold(&h);
        load_finish(&l, 30);
        int refused = 0, completed = 0;
        for (int i = 0; i < l.n; i++) {
                Outcome *c = &l.out[i];
                if (outcome_completed(c)) {
                        completed++;
                        continue;
                }
                ck_assert_msg(jint(c->reply, "error.code") == -32006, "cancel %d: %s", i, json_object_to_json_string(c->reply));
                ck_assert_str_eq(jstr(c->reply, "error.data.limit"), "MaxQueued");
                ck_assert_msg(c->replied - c->sent < 2, "refused only after %.1fs", c->replied - c->sent);
                refused++;
        }
        ck_assert_int_eq(completed, 1 + 5);
        ck_assert_int_eq(refused, 5);
        ck_assert_int_eq(standin_stat(&h, "retryAfterViolations"), 0);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* Retry-After as an HTTP-date is honoured to the second. */
START_TEST(test_retry_after_http_date) {
        Harness h;
        char date[64];
        time_t when = time(NULL) + 3;
        struct tm tm;

        harness_start(&h, NULL);
        gmtime_r(&when, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,\"retryAfter\":\"%s\",\"count\":1}]}", date);
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"date-1\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);

        settle(&h);

        json_object *stats = standin_get(&h, "/_standin/stats");
        double *t;
        size_t n = arrivals(stats, "cancel", -1, &t);
        ck_assert_int_eq(n, 2);
        ck_assert_msg(t[1] >= (double) when - 0.05, "retried %.2fs before the date", (double) when - t[1]);
        ck_assert_int_eq(jint(stats, "retryAfterViolations"), 0);
        free(t);
        json_object_put(stats);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* A Retry-After date far ahead holds the daemon for GRAPH_RETRY_AFTER_MAX_USEC (180 s) at
 * most, and one before 1970 not at all: both held every cancel until a restart before (the
 * year 9999 for 2.9 million days, 1900 through a negative time_t for 584,000 years). */
START_TEST(test_retry_after_http_date_capped) {
        Harness h;

        harness_start(&h, &(HarnessOptions) { .config_extra = "[Graph]\nRequestTimeoutSec=3s\n" });
        int fd = harness_connect(&h);

        /* 1900: a date in the past, so the retry follows after the usual backoff. */
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,"
                       "\"retryAfter\":\"Mon, 01 Jan 1900 00:00:00 GMT\",\"count\":1}]}");
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"date-1900\"}");
        ck_assert_msg(jstr(r, "result.operation.status") && strcmp(jstr(r, "result.operation.status"), "completed") == 0,
                      "cancel after a 1900 Retry-After: %s", json_object_to_json_string(r));
        json_object_put(r);
        r = daemon_status(&h);
        ck_assert_int_eq(jint(r, "result.graph.holdMs"), 0);
        json_object_put(r);

        /* 9999: a hold of at most 180 s, reported as such to the caller and in status. */
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"status\":429,"
                       "\"retryAfter\":\"Fri, 31 Dec 9999 23:59:59 GMT\",\"count\":1}]}");
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"date-9999\"}");
        ck_assert_str_eq(jstr(r, "error.data.class"), "Throttled");
        int64_t after = jint(r, "error.data.retryAfterMs");
        ck_assert_msg(after > 170000 && after <= 180000, "retryAfterMs %" PRId64, after);
        json_object_put(r);
        r = daemon_status(&h);
        int64_t hold = jint(r, "result.graph.holdMs");
        ck_assert_msg(hold > 170000 && hold <= 180000, "holdMs %" PRId64, hold);
        json_object_put(r);
        /* 429 and its retry for 1900; the one 429 for 9999, whose hold outlasts the deadline. */
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* Waits until the stand-in has recorded n cancels for call (a stalled one is recorded only
 * when its stall ends) and returns their arrival times. */
static void wait_cancel_arrivals(Harness *h, const char *call, int n, double *ret) {
        for (int tries = 0; tries < 500; tries++) {
                json_object *stats = standin_get(h, "/_standin/stats");
                json_object *reqs = jpath(stats, "requests");
                int k = 0;
                for (size_t i = 0; i < array_len(reqs) && k < n; i++)
                        if (is_cancel_for(array_at(reqs, i), call))
                                ret[k++] = jdouble(array_at(reqs, i), "t");
                json_object_put(stats);
                if (k == n) {
                        qsort(ret, (size_t) n, sizeof *ret, cmp_double);
                        return;
                }
                sleep_s(0.05);
        }
        ck_abort_msg("the stand-in did not record %d cancels for %s", n, call);
}

/* One cancel whose first answer stalls stall_ms: the daemon must abandon that attempt at least
 * a second after it began (both cases set the limit under test to 1 s), say why in its log
 * (curl's words, expect_log), and complete through a second attempt. Had the first attempt not
 * been abandoned, it would have succeeded after the stall and there would be no second one. */
static void check_stalled_cancel_retried(const char *config_extra, int stall_ms, const char *call,
                                         const char *expect_log) {
        Harness h;
        HarnessOptions o = { .config_extra = config_extra };
        char params[128];
        double t[2];

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"cancel\",\"action\":\"stall\",\"stallMs\":%d,\"count\":1}]}",
                   stall_ms);
        int fd = harness_connect(&h);
        snprintf(params, sizeof params, "{\"callId\":\"%s\"}", call);
        json_object *r = harness_call(&h, fd, "cancel", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        wait_cancel_arrivals(&h, call, 2, t);
        ck_assert_msg(t[1] - t[0] >= 1.0 - 0.05, "abandoned after %.2fs, before the 1 s limit", t[1] - t[0]);
        char *log = read_file_text(h.daemon_log);
        ck_assert_msg(strstr(log, expect_log), "no \"%s\" in the daemon's log", expect_log);
        free(log);
        close(fd);
        harness_stop(&h);
}

/* An answer that stalls past AttemptTimeoutSec= is abandoned and retried. */
START_TEST(test_stall_attempt_timeout) {
        check_stalled_cancel_retried("[Graph]\nAttemptTimeoutSec=1\nStallTimeoutSec=60\n", 4000, "stall-1",
                                     "Operation timed out");
}
END_TEST

/* A silent connection is dropped by the low-speed limit (StallTimeoutSec=) long before a
 * generous AttemptTimeoutSec=. curl averages the speed over about 5 s, and the request's own
 * bytes count: silence is noticed 5-6 s plus StallTimeoutSec= after the request went out, well
 * before the 15 s stall ends. */
START_TEST(test_stall_low_speed) {
        check_stalled_cancel_retried("[Graph]\nAttemptTimeoutSec=60\nStallTimeoutSec=1\n", 15000, "slow-1",
                                     "Operation too slow");
}
END_TEST

/* The stand-in dies (SIGKILL) in the middle of a steady stream and comes back 1.5 s later on
 * the same port, forgetting every token it issued. Cancels ride through on retries (connection
 * refused, then one token refresh after the 401); none is lost or answered twice, and none is
 * reported completed unless Graph answered it. */
START_TEST(test_standin_restart) {
        char log_path[128], args[200];
        Harness h;
        HarnessOptions o = { .config_extra = "[Graph]\nMaxAttempts=10\nRetryBaseMs=100\nRetryMaxMs=1000\n"
                                             "[Socket]\nMaxInFlightPerConnection=1024\n" };
        Load l;

        snprintf(log_path, sizeof log_path, "/tmp/mediacancel-faults-%d.jsonl", (int) getpid());
        unlink(log_path);
        snprintf(args, sizeof args, "--log %s", log_path);
        o.standin_args = args;
        harness_start(&h, &o);
        load_init(&l, &h, 2, 240, "rs");
        double t0 = wall(), killed = 0, restarted = 0;
        while (l.sent < l.n) {
                double next = t0 + 0.025 * (l.sent + 1);
                while (wall() < next)
                        load_pump(&l, 5);
                load_send_next(&l);
                if (!killed && wall() > t0 + 2) {
                        harness_kill_standin(&h);
                        killed = wall();
                }
                if (killed && !restarted && wall() > killed + 1.5) {
                        harness_restart_standin(&h);
                        restarted = wall();
                }
        }
        load_finish(&l, 60);
        ck_assert(killed > 0 && restarted > 0);

        /* What Graph acknowledged, from the request log both stand-ins appended to. A request
         * is logged just after its answer is written: the daemon may have passed the answer on
         * before the stand-in's thread wrote the line, so give the last lines a moment. */
        char *text = NULL;
        for (int tries = 0; tries < 50; tries++) {
                bool all_logged = true;

                free(text);
                text = read_file_text(log_path);
                for (int i = 0; i < l.n && all_logged; i++) {
                        char call[64], needle[128];
                        load_call_id(&l, i, call, sizeof call);
                        snprintf(needle, sizeof needle, "/%s/cancelMediaProcessing\", \"status\": 200,", call);
                        if (outcome_completed(&l.out[i]) && !strstr(text, needle))
                                all_logged = false;
                }
                if (all_logged)
                        break;
                sleep_s(0.1);
        }
        int completed = 0;
        for (int i = 0; i < l.n; i++) {
                Outcome *c = &l.out[i];
                char call[64], needle[128];
                bool acked = false;

                load_call_id(&l, i, call, sizeof call);
                snprintf(needle, sizeof needle, "/%s/cancelMediaProcessing\", \"status\": 200,", call);
                acked = strstr(text, needle) != NULL;
                ck_assert_msg(c->replied - c->sent <= 30 + 2, "cancel %d took %.1fs", i, c->replied - c->sent);
                if (outcome_completed(c)) {
                        ck_assert_msg(acked, "cancel %d reported completed, but Graph never answered it 200", i);
                        completed++;
                        continue;
                }
                const char *cls = outcome_class(c);
                ck_assert_msg(cls && (strcmp(cls, "GraphUnreachable") == 0 || strcmp(cls, "Timeout") == 0),
                              "cancel %d: %s", i, json_object_to_json_string(c->reply));
                ck_assert_msg(!acked, "cancel %d failed, but Graph had answered it 200", i);
                /* Only cancels whose attempts fell into the outage may fail. */
                ck_assert_msg(c->sent < restarted, "cancel %d, sent after the restart, failed", i);
                ck_assert_msg(c->replied > killed, "cancel %d failed before the kill", i);
        }
        free(text);
        /* Everything sent before the kill and after the restart made it. */
        for (int i = 0; i < l.n; i++)
                if (l.out[i].replied < killed || l.out[i].sent > restarted + 0.5)
                        ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i,
                                      json_object_to_json_string(l.out[i].reply));
        ck_assert_int_ge(completed, l.n * 3 / 4);

        /* The new stand-in knows none of the old tokens: one refresh, not one per cancel. */
        settle(&h);
        int tokens = standin_stat(&h, "tokenRequests");
        ck_assert_msg(tokens >= 1 && tokens <= 3, "%d token requests after the restart", tokens);
        load_check_records(&l);
        json_object *st = daemon_status(&h);
        ck_assert_int_eq(jint(st, "result.operations.completed"), completed);
        ck_assert_int_eq(jint(st, "result.operations.failed"), l.n - completed);
        json_object_put(st);
        load_done(&l);
        harness_stop(&h);
        unlink(log_path);
}
END_TEST

/* A Graph host that does not resolve: GraphUnreachable after the retries, within the
 * deadline, and nothing reaches the stand-in (".invalid" never resolves, RFC 6761). */
START_TEST(test_unresolvable_graph) {
        Harness h;
        HarnessOptions o = { .no_daemon = true,
                             .config_extra = "[Graph]\nEndpoint=https://does-not-exist.invalid\nMaxAttempts=3\n"
                                             "RetryBaseMs=10\nRetryMaxMs=50\nRequestTimeoutSec=10\n" };

        /* The scope stays the cloud's whatever Endpoint= says, so the token is had as usual. */
        harness_start(&h, &o);
        harness_start_daemon(&h);
        int fd = harness_connect(&h);
        double t0 = wall();
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"nowhere-1\"}");
        ck_assert_msg(jint(r, "error.code") == -32008, "%s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "GraphUnreachable");
        ck_assert_int_eq(jint(r, "error.data.curlCode"), 6); /* CURLE_COULDNT_RESOLVE_HOST */
        ck_assert_msg(wall() - t0 < 10, "GraphUnreachable only at the deadline");
        json_object_put(r);
        settle(&h);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        json_object *st = daemon_status(&h);
        ck_assert_int_eq(jint(st, "result.graph.attempts"), 3);
        ck_assert_int_eq(jint(st, "result.operations.failed"), 1);
        json_object_put(st);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* ---- admission ---- */

/* A burst of 20,000 cancels against MaxInFlight=10 and MaxQueued=50 while no token can be had:
 * exactly 50 wait for the token, holding no slot (a tenant whose login is down keeps no other
 * tenant's cancels off the wire), every other one is refused at once with LimitExceeded naming
 * MaxQueued. When the token comes, the 50 complete with never more than 10 on the wire. */
START_TEST(test_admission_edges) {
        const int in_flight = 10, queued = 50, burst = 20000;
        Harness h;
        HarnessOptions o = { .no_daemon = true,
                             .standin_args = "--latency-ms 300",
                             .config_extra = "[Graph]\nMaxInFlight=10\nMaxQueued=50\nRequestTimeoutSec=600\n"
                                             "[Socket]\nMaxInFlightPerConnection=65536\n" };
        Load l;

        harness_start(&h, &o);
        set_faults(&h, "{\"rules\":[{\"kind\":\"token\",\"status\":503}]}");
        harness_start_daemon(&h);
        load_init(&l, &h, 8, burst, "adm");

        /* Send while reading, so neither side's buffers fill up. */
        int refused = 0;
        double end = wall() + 120;
        while ((l.sent < l.n || l.replied < l.n - queued) && wall() < end) {
                for (int k = 0; k < 200 && l.sent < l.n; k++)
                        load_send_next(&l);
                load_pump(&l, l.sent < l.n ? 0 : 100);
        }
        for (int i = 0; i < l.n; i++) {
                Outcome *c = &l.out[i];
                if (!c->reply)
                        continue;
                ck_assert_msg(jint(c->reply, "error.code") == -32006, "cancel %d: %s", i, json_object_to_json_string(c->reply));
                ck_assert_str_eq(jstr(c->reply, "error.data.class"), "LimitExceeded");
                ck_assert_str_eq(jstr(c->reply, "error.data.limit"), "MaxQueued");
                refused++;
        }
        ck_assert_int_eq(refused, burst - queued);

        json_object *st = daemon_status(&h);
        ck_assert_int_eq(jint(st, "result.graph.inFlight"), 0);
        ck_assert_int_eq(jint(st, "result.graph.queued"), queued);
        ck_assert_int_eq(jint(st, "result.graph.waitingForToken"), queued);
        ck_assert_int_eq(jint(st, "result.operations.total"), queued);
        json_object_put(st);

        /* Still at the edge: one more is refused, nothing was sent to Graph. */
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"adm-extra\"}");
        ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxQueued");
        json_object_put(r);
        close(fd);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);

        /* The login service recovers; a reload asks again at once. */
        set_faults(&h, "{\"rules\":[]}");
        kill(h.daemon_pid, SIGHUP);
        end = wall() + 120;
        while (l.replied < l.n && wall() < end)
                load_pump(&l, 100);
        ck_assert_int_eq(l.replied, l.n);
        int completed = 0;
        for (int i = 0; i < l.n; i++)
                if (outcome_completed(&l.out[i]))
                        completed++;
        ck_assert_int_eq(completed, queued);

        settle(&h);

        json_object *stats = standin_get(&h, "/_standin/stats");
        double *t;
        size_t n = arrivals(stats, "cancel", -1, &t);
        ck_assert_int_eq(n, (size_t) queued);
        /* Each answer takes at least 300 ms, so requests arriving within 250 ms of each other
         * were all on the wire together. */
        size_t peak = max_in_window(t, n, 0.25);
        ck_assert_msg(peak <= (size_t) in_flight, "%zu cancels on the wire at once", peak);
        free(t);
        json_object_put(stats);
        load_check_records(&l);
        load_done(&l);
        harness_stop(&h);
}
END_TEST

/* MaxRequestsPerSecond=20 as a token bucket: bursts of at most one second's allowance, and
 * never faster than 20/s over any longer window. */
START_TEST(test_rate_limit) {
        const double rate = 20;
        Harness h;
        HarnessOptions o = { .config_extra = "[Graph]\nMaxRequestsPerSecond=20\n" };
        Load l;

        harness_start(&h, &o);
        load_init(&l, &h, 2, 80, "rate");
        load_finish(&l, 60);
        for (int i = 0; i < l.n; i++)
                ck_assert_msg(outcome_completed(&l.out[i]), "cancel %d: %s", i, json_object_to_json_string(l.out[i].reply));
        settle(&h);
        json_object *stats = standin_get(&h, "/_standin/stats");
        double *t;
        size_t n = arrivals(stats, "cancel", -1, &t);
        ck_assert_int_eq(n, (size_t) l.n);
        /* Arrival times are send times plus a delay that varies (TLS handshakes in the
         * stand-in's threads); jitter bounds that variation generously. */
        const double jitter = 0.5, windows[] = { 0.5, 1.0, 2.0 };
        for (size_t w = 0; w < 3; w++) {
                size_t peak = max_in_window(t, n, windows[w]);
                ck_assert_msg(peak <= (size_t) (rate + rate * (windows[w] + jitter) + 1), "%zu cancels within %.1fs", peak,
                              windows[w]);
        }
        /* 80 cancels, 20 at once, the other 60 at 20/s: sent over at least 2.95 s. Without the
         * limit they all arrive within well under a second. */
        ck_assert_msg(t[n - 1] - t[0] >= (l.n - rate - 1) / rate - jitter, "80 cancels in %.2fs", t[n - 1] - t[0]);
        free(t);
        json_object_put(stats);
        harness_stop(&h);
        load_done(&l);
}
END_TEST

/* One test case per test, so that CK_RUN_CASE=name runs just one. */
static void add(Suite *s, const char *name, const TTest *test, double timeout) {
        TCase *tc = tcase_create(name);

        tcase_set_timeout(tc, timeout);
        tcase_add_test(tc, test);
        suite_add_tcase(s, tc);
}

static Suite *suite(void) {
        Suite *s = suite_create("faults");

        /* The login outage alone runs for about 40 s; under valgrind everything is slower. */
        add(s, "login_outage", test_login_outage, 180);
        add(s, "renewal_failure_keeps_token", test_renewal_failure_keeps_token, 120);
        add(s, "permanent_token_error", test_permanent_token_error, 120);
        add(s, "graph_503_storm", test_graph_503_storm, 120);
        add(s, "connection_reset", test_connection_reset, 120);
        add(s, "429_storm", test_429_storm, 120);
        add(s, "throttled_until_deadline", test_throttled_until_deadline, 120);
        add(s, "queue_bound_during_hold", test_queue_bound_during_hold, 120);
        add(s, "retry_after_http_date", test_retry_after_http_date, 120);
        add(s, "retry_after_http_date_capped", test_retry_after_http_date_capped, 60);
        add(s, "stall_attempt_timeout", test_stall_attempt_timeout, 120);
        add(s, "stall_low_speed", test_stall_low_speed, 120);
        add(s, "standin_restart", test_standin_restart, 120);
        add(s, "unresolvable_graph", test_unresolvable_graph, 120);
        add(s, "admission_edges", test_admission_edges, 300);
        add(s, "rate_limit", test_rate_limit, 120);
        return s;
}

int main(void) {
        harness_global_init();
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_global_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
