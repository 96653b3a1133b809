/* SPDX-License-Identifier: MIT */
/*
 * check_systemd.c — mediacanceld as systemd sees it, without systemd as PID 1: the real daemon
 * from the build tree, started directly or through systemd-socket-activate, with the test
 * standing in for the service manager and for journald. The test binds its own NOTIFY_SOCKET
 * (sd_notify: READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1) and its own journal socket
 * (MEDIACANCEL_JOURNAL_SOCKET, with JOURNAL_STREAM naming the daemon's stderr) and reads what
 * arrives there; it sends the signals systemctl would (SIGHUP for reload, SIGTERM for stop).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
#define UNKNOWN_CALL "unknown-call-1"
#define NOBODY 65534

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under $MEDIACANCEL_DAEMON_WRAPPER (valgrind, scripts/valgrind.sh) the daemon is many times
 * slower: waits stretch, and the timing of pings and status lines is not checked. */
static int slowdown(void) {
        const char *w = getenv("MEDIACANCEL_DAEMON_WRAPPER");
        return w && *w ? 20 : 1;
}

static const char *builddir(void) {
        const char *d = getenv("MEDIACANCEL_BUILDDIR");
        return d ?: ".";
}

static bool have_socket_activate(void) {
        return system("command -v systemd-socket-activate >/dev/null 2>&1") == 0;
}

/* A bound AF_UNIX datagram socket in the test directory: the service manager's notify socket
 * or journald's native socket, as far as the daemon can tell. */
static int dgram_bind(const Harness *h, const char *name, char path[static 108]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 4 * 1024 * 1024;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_lt(snprintf(path, 108, "%s/%s", h->dir, name), 108);
        strcpy(sa.sun_path, path);
        ck_assert_msg(bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0, "bind %s: %s", path, strerror(errno));
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        return fd;
}

/* One datagram into buf (NUL-terminated after len bytes); -1 after timeout_ms without one. */
static ssize_t dgram_read(int fd, char *buf, size_t size, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (poll(&p, 1, timeout_ms) <= 0)
                return -1;
        ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        return n;
}

/* ---- sd_notify ---------------------------------------------------------------------- */

/* Every assignment the daemon sent, in arrival order, each with the index of its datagram. */
typedef struct Notify {
        int fd;
        char path[108];
        char *lines[4096];
        int datagram[4096];
        int64_t at_ms[4096];
        size_t n;
        int n_datagrams;
} Notify;

static void notify_open(Notify *nt, const Harness *h) {
        memset(nt, 0, sizeof *nt);
        nt->fd = dgram_bind(h, "notify.sock", nt->path);
}

static void notify_close(Notify *nt) {
        for (size_t i = 0; i < nt->n; i++)
                free(nt->lines[i]);
        close(nt->fd);
}

/* Reads what arrives within timeout_ms (returns early once `until` was seen, if given). */
static void notify_pump(Notify *nt, int timeout_ms, const char *until) {
        int64_t end = now_ms() + timeout_ms;
        char buf[8192];

        for (int64_t left; (left = end - now_ms()) > 0;) {
                if (dgram_read(nt->fd, buf, sizeof buf, (int) left) < 0)
                        return;
                bool stop = false;
                for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        ck_assert_uint_lt(nt->n, 4096);
                        nt->lines[nt->n] = strdup(l);
                        nt->datagram[nt->n] = nt->n_datagrams;
                        nt->at_ms[nt->n] = now_ms();
                        nt->n++;
                        if (until && strcmp(l, until) == 0)
                                stop = true;
                }
                nt->n_datagrams++;
                if (stop)
                        return;
        }
}

/* Index of the first line equal to (or, with prefix, starting with) s at or after from; -1. */
static ssize_t notify_find(const Notify *nt, size_t from, const char *s, bool prefix) {
        for (size_t i = from; i < nt->n; i++)
                if (prefix ? strncmp(nt->lines[i], s, strlen(s)) == 0 : strcmp(nt->lines[i], s) == 0)
                        return (ssize_t) i;
        return -1;
}

static unsigned notify_count(const Notify *nt, size_t from, const char *s) {
        unsigned k = 0;
        for (size_t i = from; i < nt->n; i++)
                k += strcmp(nt->lines[i], s) == 0;
        return k;
}

static char *notify_dump(const Notify *nt) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);
        for (size_t i = 0; i < nt->n; i++)
                fprintf(f, "  [%d] %s\n", nt->datagram[i], nt->lines[i]);
        fclose(f);
        return buf;
}

/* Waits up to timeout_ms for s at or after from; fails the test with what came instead. */
static size_t notify_expect(Notify *nt, size_t from, const char *s, int timeout_ms) {
        ssize_t i = notify_find(nt, from, s, false);
        if (i < 0) {
                notify_pump(nt, timeout_ms * slowdown(), s);
                i = notify_find(nt, from, s, false);
        }
        ck_assert_msg(i >= 0, "no %s from the daemon; it sent:\n%s", s, notify_dump(nt));
        return (size_t) i;
}

static const char *const *env_list(char **buf, size_t n, ...) {
        va_list ap;
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                buf[i] = va_arg(ap, char *);
        va_end(ap);
        buf[n] = NULL;
        return (const char *const *) buf;
}

static char *envf(const char *fmt, ...) _printf_(1, 2);
static char *envf(const char *fmt, ...) {
        char *s;
        va_list ap;
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
        va_end(ap);
        return s;
}

static void append_config(const Harness *h, const char *text) {
        FILE *f = fopen(h->config_path, "ae");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static bool log_contains(const Harness *h, const char *s) {
        char *l = read_file_text(h->daemon_log);
        bool r = strstr(l, s) != NULL;
        free(l);
        return r;
}

static void wait_log(const Harness *h, const char *s, int timeout_ms) {
        for (int waited = 0; waited < timeout_ms * slowdown(); waited += 20) {
                if (log_contains(h, s))
                        return;
                sleep_ms(20);
        }
        char *l = read_file_text(h->daemon_log);
        ck_abort_msg("the daemon did not log \"%s\"; its log:\n%s", s, l);
}

/* READY=1 once serving, then STATUS=; WATCHDOG=1 at about half of WATCHDOG_USEC; a second
 * STATUS= 5 s later; RELOADING=1 then READY=1 around SIGHUP; STOPPING=1 at SIGTERM. */
START_TEST(test_notify_sequence) {
        Harness h;
        Notify nt;
        char *env[4];
        HarnessOptions o = { .no_daemon = true };

        harness_start(&h, &o);
        notify_open(&nt, &h);
        h.daemon_env = env_list(env, 2, envf("NOTIFY_SOCKET=%s", nt.path), envf("WATCHDOG_USEC=400000"));
        harness_start_daemon(&h);

        size_t ready = notify_expect(&nt, 0, "READY=1", 10000);
        /* Nothing before readiness: no STATUS=, no ping, no STOPPING=1. */
        ck_assert_msg(ready == 0, "READY=1 is not the first message:\n%s", notify_dump(&nt));
        notify_pump(&nt, 6500 * slowdown(), NULL);
        ssize_t status = notify_find(&nt, ready + 1, "STATUS=", true);
        ck_assert_msg(status > (ssize_t) ready, "no STATUS= after READY=1:\n%s", notify_dump(&nt));
        ck_assert_msg(strstr(nt.lines[status], "Token ") && strstr(nt.lines[status], "clients"), "STATUS=%s",
                      nt.lines[status]);
        /* The periodic status line, about 5 s after the first. */
        ssize_t status2 = notify_find(&nt, (size_t) status + 1, "STATUS=", true);
        ck_assert_msg(status2 > status, "only one STATUS= in 6.5 s:\n%s", notify_dump(&nt));
        if (slowdown() == 1)
                ck_assert_int_ge(nt.at_ms[status2] - nt.at_ms[status], 4500);

        /* Pings: sd-event sends one every half to three quarters of the period, so several in
         * the first 2 s, and never a gap as long as the period itself. */
        unsigned early = 0, pings = 0;
        int64_t last = -1;
        for (size_t i = 0; i < nt.n; i++)
                if (strcmp(nt.lines[i], "WATCHDOG=1") == 0) {
                        pings++;
                        early += nt.at_ms[i] - nt.at_ms[ready] <= 2000;
                        if (last >= 0 && slowdown() == 1)
                                ck_assert_int_lt(nt.at_ms[i] - last, 400);
                        last = nt.at_ms[i];
                }
        ck_assert_msg(early >= (slowdown() == 1 ? 5u : 1u),
                      "%u WATCHDOG=1 within 2 s of READY=1 with WATCHDOG_USEC=400000:\n%s", early, notify_dump(&nt));
        ck_assert_uint_ge(pings, slowdown() == 1 ? 15 : 2);

        /* Reload. */
        size_t mark = nt.n;
        kill(h.daemon_pid, SIGHUP);
        size_t reloading = notify_expect(&nt, mark, "RELOADING=1", 5000);
        size_t ready2 = notify_expect(&nt, reloading, "READY=1", 5000);
        ck_assert_int_gt(ready2, reloading);
        ssize_t mono = notify_find(&nt, mark, "MONOTONIC_USEC=", true);
        ck_assert_msg(mono >= 0 && nt.datagram[mono] == nt.datagram[reloading],
                      "RELOADING=1 without MONOTONIC_USEC= in its message:\n%s", notify_dump(&nt));
        wait_log(&h, "Configuration reloaded.", 5000);

        /* Stop. */
        mark = nt.n;
        kill(h.daemon_pid, SIGTERM);
        size_t stopping = notify_expect(&nt, mark, "STOPPING=1", 5000);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        notify_pump(&nt, 100, NULL);
        ck_assert_msg(notify_find(&nt, stopping, "READY=1", false) < 0, "READY=1 after STOPPING=1:\n%s",
                      notify_dump(&nt));
        ck_assert_int_gt(stopping, ready2);

        notify_close(&nt);
        for (size_t i = 0; env[i]; i++)
                free(env[i]);
        harness_stop(&h);
}
END_TEST

/* WATCHDOG_PID= as systemd sets it: the daemon's own pid pings, another pid's watchdog is not
 * the daemon's business. */
START_TEST(test_watchdog_pid) {
        for (int own = 1; own >= 0; own--) {
                Harness h;
                Notify nt;
                char *env[4];
                HarnessOptions o = { .no_daemon = true };

                harness_start(&h, &o);
                notify_open(&nt, &h);
                h.daemon_env = env_list(env, 3, envf("NOTIFY_SOCKET=%s", nt.path), envf("WATCHDOG_USEC=200000"),
                                        own ? envf("WATCHDOG_PID=$$") : envf("WATCHDOG_PID=%d", (int) getpid()));
                harness_start_daemon(&h);
                notify_expect(&nt, 0, "READY=1", 10000);
                notify_pump(&nt, 1000, NULL);
                unsigned pings = notify_count(&nt, 0, "WATCHDOG=1");
                if (own)
                        ck_assert_msg(pings >= (slowdown() == 1 ? 5u : 1u), "%u pings in 1 s with WATCHDOG_USEC=200000",
                                      pings);
                else
                        ck_assert_msg(pings == 0, "%u pings for another process's watchdog", pings);
                ck_assert_int_eq(harness_stop_daemon(&h), 0);
                notify_close(&nt);
                for (size_t i = 0; env[i]; i++)
                        free(env[i]);
                harness_stop(&h);
        }
}
END_TEST

/* A SIGHUP that arrives while the daemon drains cancels at shutdown reloads nothing and never
 * tells the service manager READY=1 again. */
START_TEST(test_reload_during_shutdown) {
        Harness h;
        Notify nt;
        char *env[2];
        HarnessOptions o = { .no_daemon = true, .standin_args = "--latency-ms 1500" };

        harness_start(&h, &o);
        notify_open(&nt, &h);
        h.daemon_env = env_list(env, 1, envf("NOTIFY_SOCKET=%s", nt.path));
        harness_start_daemon(&h);
        notify_expect(&nt, 0, "READY=1", 10000);

        int fd = harness_connect(&h), probe = harness_connect(&h);
        harness_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}");
        /* SIGTERM while the cancel is on the wire (the stand-in takes 1.5 s to answer). */
        for (int i = 0;; i++) {
                json_object *st = harness_call(&h, probe, "status", NULL);
                int64_t in_flight = jint(st, "result.graph.inFlight");
                json_object_put(st);
                if (in_flight == 1)
                        break;
                ck_assert_msg(i < 500, "the cancel never went on the wire");
                sleep_ms(2);
        }
        close(probe);
        size_t mark = nt.n;
        kill(h.daemon_pid, SIGTERM);
        size_t stopping = notify_expect(&nt, mark, "STOPPING=1", 5000);
        kill(h.daemon_pid, SIGHUP);
        json_object *r = harness_read(fd, 10000 * slowdown());
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        notify_pump(&nt, 100, NULL);
        ck_assert_msg(notify_find(&nt, stopping, "READY=1", false) < 0 &&
                              notify_find(&nt, stopping, "RELOADING=1", false) < 0,
                      "reload while stopping:\n%s", notify_dump(&nt));
        ck_assert(!log_contains(&h, "Configuration reloaded."));
        close(fd);
        notify_close(&nt);
        free(env[0]);
        harness_stop(&h);
}
END_TEST

/* ---- socket activation ---------------------------------------------------------------- */

static void wait_for_path(const char *path, struct stat *st) {
        for (int i = 0; i < 400; i++) {
                if (stat(path, st) == 0)
                        return;
                sleep_ms(25);
        }
        ck_abort_msg("%s did not appear", path);
}

static void proc_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        char *t = read_file_text(path);
        snprintf(buf, size, "%s", t);
        buf[strcspn(buf, "\n")] = '\0';
        free(t);
}

/* systemd-socket-activate -l PATH mediacanceld …: the listener exists before the daemon; a
 * client that connects first is served once the daemon is up; the daemon uses the passed fd
 * and never creates, replaces or removes the socket file. listen_path may differ from the
 * configured Path=, which the daemon then never touches. */
static void socket_activation(bool other_path) {
        Harness h;
        Notify nt;
        char *env[2], launcher[512], listen_path[108], comm[64];
        struct stat before, after;
        HarnessOptions o = { .no_daemon = true };

        if (!have_socket_activate()) {
                fprintf(stderr, "SKIP: systemd-socket-activate is not installed\n");
                return;
        }
        harness_start(&h, &o);
        notify_open(&nt, &h);
        if (other_path)
                ck_assert_int_lt(snprintf(listen_path, sizeof listen_path, "%s/activated.sock", h.dir), 100);
        else
                ck_assert_int_lt(snprintf(listen_path, sizeof listen_path, "%s", h.socket_path), 100);
        /* It passes on only the environment it is told to: the sanitizers' options too. */
        snprintf(launcher, sizeof launcher,
                 "systemd-socket-activate -l %s -E NOTIFY_SOCKET -E ASAN_OPTIONS -E UBSAN_OPTIONS -E LSAN_OPTIONS",
                 listen_path);
        h.daemon_launcher = launcher;
        h.daemon_env = env_list(env, 1, envf("NOTIFY_SOCKET=%s", nt.path));
        h.daemon_no_wait = true;
        harness_start_daemon(&h);

        wait_for_path(listen_path, &before); /* systemd-socket-activate is listening */
        ck_assert(S_ISSOCK(before.st_mode));
        proc_comm(h.daemon_pid, comm, sizeof comm);
        ck_assert_msg(strncmp(comm, "systemd-socket", 14) == 0, "already exec'd: %s", comm);
        ck_assert_int_eq(nt.n, 0);

        /* Connect and ask before the daemon runs: the request waits in the socket. */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int early = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, listen_path);
        ck_assert_int_eq(connect(early, (struct sockaddr *) &sa, sizeof sa), 0);
        harness_send(early, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}");

        notify_expect(&nt, 0, "READY=1", 15000);
        proc_comm(h.daemon_pid, comm, sizeof comm);
        if (slowdown() == 1) /* not under valgrind */
                ck_assert_str_eq(comm, "mediacanceld");
        json_object *r = harness_read(early, 10000 * slowdown());
        ck_assert_msg(r != NULL, "no reply to the request sent before the daemon started");
        ck_assert_int_eq(jint(r, "id"), 1);
        ck_assert_int_eq(jint(r, "result.protocolVersion"), 2);
        json_object_put(r);

        /* And after: over the same path, with the client too. */
        ck_assert_int_lt(snprintf(h.socket_path, sizeof h.socket_path, "%s", listen_path), (int) sizeof h.socket_path);
        int late = harness_connect(&h);
        r = harness_call(&h, late, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        r = harness_call(&h, early, "status", NULL);
        ck_assert_int_eq(jint(r, "result.connections"), 2);
        json_object_put(r);
        char *out = NULL;
        ck_assert_int_eq(harness_ctl(&h, "status", &out, NULL), 0);
        free(out);

        /* The passed socket, untouched. */
        ck_assert_int_eq(stat(listen_path, &after), 0);
        ck_assert_uint_eq(after.st_ino, before.st_ino);
        ck_assert_uint_eq(after.st_mode, before.st_mode);
        ck_assert(after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec == before.st_ctim.tv_nsec);
        ck_assert(log_contains(&h, "Using the socket passed by systemd."));
        char line[256];
        snprintf(line, sizeof line, "listening on %s;", listen_path);
        ck_assert_msg(log_contains(&h, line), "the start-up line does not name %s", listen_path);
        if (other_path) {
                struct stat st;
                ck_assert_msg(stat(h.config_path, &st) == 0, "config gone");
                char configured[128];
                ck_assert_int_lt(snprintf(configured, sizeof configured, "%s/d.sock", h.dir), (int) sizeof configured);
                ck_assert_msg(stat(configured, &st) < 0 && errno == ENOENT, "the daemon created Path= %s",
                              configured);
        }

        close(late);
        close(early);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        /* Removing the socket is the socket unit's job (RemoveOnStop=), not the daemon's. */
        ck_assert_int_eq(stat(listen_path, &after), 0);
        ck_assert_uint_eq(after.st_ino, before.st_ino);
        notify_close(&nt);
        free(env[0]);
        harness_stop(&h);
}

START_TEST(test_socket_activation) {
        socket_activation(false);
}
END_TEST

START_TEST(test_socket_activation_other_path) {
        socket_activation(true);
}
END_TEST

/* ---- binding the socket itself -------------------------------------------------------- */

/* Runs a second mediacanceld in the foreground; returns its exit status, *ret_log its output. */
static int run_second_daemon(const Harness *h, const char *config, char **ret_log) {
        char cmd[2048], log[320];

        snprintf(log, sizeof log, "%s/second.log", h->dir);
        snprintf(cmd, sizeof cmd, "timeout 20 '%s/mediacanceld' --config '%s' >'%s' 2>&1", builddir(), config, log);
        int status = system(cmd);
        *ret_log = read_file_text(log);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_live_daemon_refused) {
        Harness h;
        harness_start(&h, NULL);
        struct stat before, after;
        ck_assert_int_eq(stat(h.socket_path, &before), 0);

        /* Same socket, its own state directory: the socket is what stops it. */
        char config2[400];
        snprintf(config2, sizeof config2, "%s/second.conf", h.dir);
        char *text = read_file_text(h.config_path), *out = NULL;
        FILE *f = fopen(config2, "we");
        fprintf(f, "%s\n[Operations]\nStateDirectory=%s/state2\n", text, h.dir);
        fclose(f);
        free(text);
        int rc = run_second_daemon(&h, config2, &out);
        ck_assert_msg(rc == 1, "second daemon: exit %d, %s", rc, out);
        char want[256];
        snprintf(want, sizeof want, "Another daemon is already listening on %s.", h.socket_path);
        ck_assert_msg(strstr(out, want), "no clear message: %s", out);
        free(out);

        /* Same configuration: the journal lock stops it first; either way it says why. */
        rc = run_second_daemon(&h, h.config_path, &out);
        ck_assert_msg(rc == 1, "second daemon: exit %d, %s", rc, out);
        ck_assert_msg(strstr(out, "in use by another mediacanceld"), "no clear message: %s", out);
        free(out);

        /* The first one never noticed. */
        ck_assert_int_eq(stat(h.socket_path, &after), 0);
        ck_assert_uint_eq(after.st_ino, before.st_ino);
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(r, "result.protocolVersion"), 2);
        json_object_put(r);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_stop(&h);
}
END_TEST

START_TEST(test_stale_socket_replaced) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat stale, now;

        harness_start(&h, &o);
        /* What a crashed daemon leaves behind: a socket file nobody listens on. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, h.socket_path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        close(fd);
        ck_assert_int_eq(stat(h.socket_path, &stale), 0);

        harness_start_daemon(&h);
        ck_assert_int_eq(stat(h.socket_path, &now), 0);
        ck_assert(S_ISSOCK(now.st_mode));
        /* A new file (the inode number may well be reused on tmpfs). */
        ck_assert(now.st_ctim.tv_sec != stale.st_ctim.tv_sec || now.st_ctim.tv_nsec != stale.st_ctim.tv_nsec);
        /* Created with its final mode, whatever our umask. */
        ck_assert_uint_eq(now.st_mode & 07777, 0660);
        fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(r, "result.protocolVersion"), 2);
        json_object_put(r);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        /* The daemon made this one, so it removes it. */
        ck_assert_int_lt(stat(h.socket_path, &now), 0);

        /* A path that is not a socket is never replaced. */
        int file = open(h.socket_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(file, 0);
        close(file);
        char *out = NULL;
        int rc = run_second_daemon(&h, h.config_path, &out);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
        ck_assert_msg(strstr(out, "exists and is not a socket"), "%s", out);
        free(out);
        ck_assert_int_eq(stat(h.socket_path, &now), 0);
        ck_assert(S_ISREG(now.st_mode));
        harness_stop(&h);
}
END_TEST

/* ---- reload ------------------------------------------------------------------------------ */

static void reload(Harness *h, Notify *nt) {
        size_t mark = nt->n;
        kill(h->daemon_pid, SIGHUP);
        size_t i = notify_expect(nt, mark, "RELOADING=1", 5000);
        notify_expect(nt, i, "READY=1", 5000);
}

static void send_wait_cancel(int fd, int id) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                 "\",\"wait\":\"completed\"}}",
                 id);
        harness_send(fd, line);
}

static void expect_in_flight_limit(Harness *h, int fd, unsigned limit) {
        char want[128];
        json_object *r = harness_call(h, fd, "status", NULL);
        ck_assert_msg(jstr(r, "error.data.class") && strcmp(jstr(r, "error.data.class"), "LimitExceeded") == 0,
                      "not refused: %s", json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.limit"), "MaxInFlightPerConnection");
        snprintf(want, sizeof want, "More than %u unanswered", limit);
        ck_assert_msg(strstr(jstr(r, "error.message"), want), "%s", jstr(r, "error.message"));
        json_object_put(r);
}

/* A new limit applies to a connection that stays open, with its unanswered requests and the
 * operations in the table; a broken file is refused and the running configuration stays. */
START_TEST(test_reload_keeps_connections) {
        Harness h;
        Notify nt;
        char *env[2], params[128];
        HarnessOptions o = { .no_daemon = true,
                             .standin_args = "--cancel-status running",
                             .config_extra = "[Socket]\nMaxInFlightPerConnection=2\n"
                                             "[Operations]\nCompletionTimeoutSec=300s\n" };

        harness_start(&h, &o);
        notify_open(&nt, &h);
        h.daemon_env = env_list(env, 1, envf("NOTIFY_SOCKET=%s", nt.path));
        harness_start_daemon(&h);
        notify_expect(&nt, 0, "READY=1", 10000);

        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"before\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", jstr(r, "result.operation.id"));
        json_object_put(r);

        /* Two cancels that answer only once settled (never, here) fill the connection. */
        send_wait_cancel(fd, 1001);
        send_wait_cancel(fd, 1002);
        expect_in_flight_limit(&h, fd, 2);

        append_config(&h, "[Socket]\nMaxInFlightPerConnection=4\n");
        reload(&h, &nt);
        wait_log(&h, "Configuration reloaded.", 5000);

        /* Same connection: room for two more now, and the operation is still there. */
        r = harness_call(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "running");
        ck_assert_str_eq(jstr(r, "result.operation.clientContext"), "before");
        json_object_put(r);
        send_wait_cancel(fd, 1003);
        send_wait_cancel(fd, 1004);
        expect_in_flight_limit(&h, fd, 4);

        /* A syntax error: refused, said so, and the limit of 4 stays. */
        append_config(&h, "[Socket\nMaxInFlightPerConnection=1\n");
        reload(&h, &nt);
        wait_log(&h, "Reload refused, keeping the running configuration: ", 5000);
        char *log = read_file_text(h.daemon_log);
        const char *refused = strstr(log, "Reload refused");
        ck_assert_msg(strstr(refused, "mediacanceld.conf:"), "the error does not name the file: %s", refused);
        free(log);
        expect_in_flight_limit(&h, fd, 4);

        /* None of the waiting cancels was answered or dropped; other clients are served. */
        ck_assert_ptr_null(harness_read(fd, 200));
        char *out = NULL;
        ck_assert_int_eq(harness_ctl(&h, "--json list", &out, NULL), 0);
        json_object *list = json_tokener_parse(out);
        ck_assert_int_eq(json_object_array_length(jpath(list, "operations")), 5);
        json_object_put(list);
        free(out);
        r = standin_get(&h, "/_standin/stats");
        ck_assert_int_eq(jint(r, "cancelRequests"), 5);
        json_object_put(r);

        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        notify_close(&nt);
        free(env[0]);
        harness_stop(&h);
}
END_TEST

/* A connection of uid `nobody`, made by a child that gives up root before connect(): the
 * daemon reads SO_PEERCRED at connect time, so the fd stays nobody's in our hands. */
static int connect_as_nobody(const Harness *h, pid_t *ret_pid) {
        int sp[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
        /* Let nobody reach the socket: the test directory is root's 0700. */
        ck_assert_int_eq(chmod(h->dir, 0711), 0);
        ck_assert_int_eq(chmod(h->socket_path, 0666), 0);

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                    setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(1);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                strcpy(sa.sun_path, h->socket_path);
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        _exit(2);
                char c = 'x';
                struct iovec iov = { &c, 1 };
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } u = {};
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                                     .msg_controllen = sizeof u.buf };
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof fd);
                _exit(sendmsg(sp[1], &mh, 0) == 1 ? 0 : 3);
        }
        close(sp[1]);
        char c;
        struct iovec iov = { &c, 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        ssize_t n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(n == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %d", WEXITSTATUS(status));
        close(sp[0]);
        int fd;
        memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof fd);
        *ret_pid = pid;
        return fd;
}

/* The daemon closes fd within 5 s, without sending anything more. */
static void expect_closed(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char c;
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
}

START_TEST(test_reload_access) {
        Harness h;
        Notify nt;
        char *env[2];
        pid_t pid;
        HarnessOptions o = { .no_daemon = true };

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: test_reload_access needs root to connect as another user\n");
                return;
        }
        harness_start(&h, &o);
        notify_open(&nt, &h);
        h.daemon_env = env_list(env, 1, envf("NOTIFY_SOCKET=%s", nt.path));
        harness_start_daemon(&h);
        notify_expect(&nt, 0, "READY=1", 10000);

        /* Without a role: refused, and the connection is closed after that answer. */
        int fd = connect_as_nobody(&h, &pid);
        json_object *r = harness_call(&h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "error.data.class"), "PermissionDenied");
        json_object_put(r);
        expect_closed(fd);
        close(fd);

        append_config(&h, "[Access]\nAllowUsers=65534\n");
        reload(&h, &nt);
        wait_log(&h, "Configuration reloaded.", 5000);
        fd = connect_as_nobody(&h, &pid);
        r = harness_call(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(r, "result.protocolVersion"), 2);
        json_object_put(r);
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);

        /* Taken away again: the next request on the open connection is refused and, the peer
         * holding no role any more, the connection is closed after it. */
        append_config(&h, "[Access]\nAllowUsers=\n");
        reload(&h, &nt);
        r = harness_call(&h, fd, "status", NULL);
        ck_assert_str_eq(jstr(r, "error.data.class"), "PermissionDenied");
        json_object_put(r);
        expect_closed(fd);

        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        notify_close(&nt);
        free(env[0]);
        harness_stop(&h);
}
END_TEST

/* ---- journal ------------------------------------------------------------------------------ */

/* Parses one native-protocol datagram: "KEY=value\n", or "KEY\n" + 64-bit little-endian length +
 * value bytes + "\n" for values that may hold anything. NULL if it is malformed. */
static json_object *journal_parse(const char *buf, size_t n) {
        json_object *j = json_object_new_object();
        size_t i = 0;

        while (i < n) {
                size_t k = i;
                while (k < n && buf[k] != '=' && buf[k] != '\n')
                        k++;
                if (k == n || k == i)
                        goto bad;
                char *key = strndup(buf + i, k - i);
                for (char *c = key; *c; c++)
                        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) {
                                free(key);
                                goto bad;
                        }
                if (buf[k] == '=') {
                        const char *nl = memchr(buf + k + 1, '\n', n - k - 1);
                        if (!nl) {
                                free(key);
                                goto bad;
                        }
                        json_object_object_add(j, key, json_object_new_string_len(buf + k + 1, (int) (nl - buf - k - 1)));
                        i = (size_t) (nl - buf) + 1;
                } else {
                        uint64_t len = 0;
                        if (n - k - 1 < 8) {
                                free(key);
                                goto bad;
                        }
                        for (int b = 0; b < 8; b++)
                                len |= (uint64_t) (unsigned char) buf[k + 1 + b] << (8 * b);
                        size_t v = k + 9;
                        if (len > n - v || n - v - len < 1 || buf[v + len] != '\n') {
                                free(key);
                                goto bad;
                        }
                        json_object_object_add(j, key, json_object_new_string_len(buf + v, (int) len));
                        json_object_object_add(j, "_BINARY", json_object_new_string(key));
                        i = v + len + 1;
                }
                free(key);
        }
        return j;
bad:
        json_object_put(j);
        return NULL;
}

/* The next entry with key=value and key2=value2 (when given; any entry when key is NULL)
 * within timeout_ms; NULL if none. */
static json_object *journal_wait2(int fd, const char *key, const char *value, const char *key2, const char *value2,
                                  int timeout_ms) {
        int64_t end = now_ms() + (int64_t) timeout_ms * (key ? slowdown() : 1);
        static char buf[65536];

        for (int64_t left; (left = end - now_ms()) > 0;) {
                ssize_t n = dgram_read(fd, buf, sizeof buf, (int) left);
                if (n < 0)
                        return NULL;
                json_object *j = journal_parse(buf, (size_t) n);
                ck_assert_msg(j != NULL, "malformed journal datagram: %.*s", (int) n, buf);
                if ((!key || (jstr(j, key) && strcmp(jstr(j, key), value) == 0)) &&
                    (!key2 || (jstr(j, key2) && strcmp(jstr(j, key2), value2) == 0)))
                        return j;
                json_object_put(j);
        }
        return NULL;
}

static json_object *journal_wait(int fd, const char *key, const char *value, int timeout_ms) {
        return journal_wait2(fd, key, value, NULL, NULL, timeout_ms);
}

static const char *field(json_object *j, const char *key) {
        const char *v = jstr(j, key);
        ck_assert_msg(v != NULL, "no %s= in %s", key, json_object_to_json_string(j));
        return v;
}

/* Starts the daemon with stderr on daemon.log and MEDIACANCEL_JOURNAL_SOCKET on our socket;
 * journal_stream: "match" (JOURNAL_STREAM names daemon.log), "none", or a literal value. */
static int start_with_journal(Harness *h, const char *journal_stream, char **env) {
        char jpath[108];
        struct stat st;
        size_t n = 0;

        int jfd = dgram_bind(h, "journal.sock", jpath);
        int lf = open(h->daemon_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ck_assert_int_ge(lf, 0);
        ck_assert_int_eq(fstat(lf, &st), 0);
        close(lf);
        env[n++] = envf("MEDIACANCEL_JOURNAL_SOCKET=%s", jpath);
        if (strcmp(journal_stream, "match") == 0)
                env[n++] = envf("JOURNAL_STREAM=%llu:%llu", (unsigned long long) st.st_dev,
                                (unsigned long long) st.st_ino);
        else if (strcmp(journal_stream, "none") != 0)
                env[n++] = envf("JOURNAL_STREAM=%s", journal_stream);
        env[n] = NULL;
        h->daemon_env = (const char *const *) env;
        harness_start_daemon(h);
        return jfd;
}

START_TEST(test_journal_fields) {
        Harness h;
        char *env[4];
        HarnessOptions o = { .no_daemon = true };

        harness_start(&h, &o);
        int jfd = start_with_journal(&h, "match", env);

        json_object *e = journal_wait(jfd, "MESSAGE_ID", MESSAGE_ID_STARTED, 10000);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(field(e, "SYSLOG_IDENTIFIER"), "mediacanceld");
        ck_assert_str_eq(field(e, "PRIORITY"), "6");
        ck_assert_ptr_nonnull(strstr(field(e, "MESSAGE"), "listening on"));
        json_object_put(e);

        /* An unknown call: Graph answers 404, the operation fails, CANCEL_FAILED with the ids
         * an operator needs to find it on both sides. */
        int fd = harness_connect(&h);
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" UNKNOWN_CALL "\"}");
        ck_assert_int_eq(jint(r, "error.data.httpStatus"), 404);
        e = journal_wait(jfd, "MESSAGE_ID", MESSAGE_ID_CANCEL_FAILED, 5000);
        ck_assert_msg(e != NULL, "no CANCEL_FAILED entry");
        ck_assert_str_eq(field(e, "OPERATION_ID"), jstr(r, "error.data.operationId"));
        ck_assert_str_eq(field(e, "CALL_ID"), UNKNOWN_CALL);
        ck_assert_str_eq(field(e, "TENANT_ID"), HARNESS_TENANT);
        ck_assert_str_eq(field(e, "GRAPH_REQUEST_ID"), jstr(r, "error.data.requestId"));
        char uid[32];
        snprintf(uid, sizeof uid, "%u", (unsigned) geteuid());
        ck_assert_str_eq(field(e, "PEER_UID"), uid);
        char self[32];
        snprintf(self, sizeof self, "%d", (int) getpid());
        ck_assert_str_eq(field(e, "PEER_PID"), self);
        ck_assert_ptr_nonnull(strstr(field(e, "MESSAGE"), "Cancel for call " UNKNOWN_CALL " failed"));
        ck_assert_ptr_null(jstr(e, "_BINARY"));
        json_object_put(e);
        json_object_put(r);

        /* A message with a newline (Graph's error text) goes in the binary-safe form. */
        json_object_put(standin_post(&h, "/_standin/faults",
                                     "{\"rules\":[{\"kind\":\"cancel\",\"status\":400,\"count\":1,\"body\":"
                                     "{\"error\":{\"code\":\"BadRequest\",\"message\":\"first line\\nsecond line\"}}}]}"));
        r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        ck_assert_int_eq(jint(r, "error.data.httpStatus"), 400);
        e = journal_wait2(jfd, "MESSAGE_ID", MESSAGE_ID_CANCEL_FAILED, "OPERATION_ID", jstr(r, "error.data.operationId"),
                          5000);
        ck_assert_msg(e != NULL, "no CANCEL_FAILED entry for the 400");
        ck_assert_str_eq(field(e, "_BINARY"), "MESSAGE");
        ck_assert_ptr_nonnull(strstr(field(e, "MESSAGE"), "first line\nsecond line"));
        json_object_put(e);
        json_object_put(r);

        if (geteuid() == 0) {
                pid_t pid;
                char spid[32];
                int nfd = connect_as_nobody(&h, &pid);
                r = harness_call(&h, nfd, "status", NULL);
                ck_assert_str_eq(jstr(r, "error.data.class"), "PermissionDenied");
                json_object_put(r);
                e = journal_wait(jfd, "MESSAGE_ID", MESSAGE_ID_PERMISSION_DENIED, 5000);
                ck_assert_msg(e != NULL, "no PERMISSION_DENIED entry");
                ck_assert_str_eq(field(e, "PEER_UID"), "65534");
                snprintf(spid, sizeof spid, "%d", (int) pid);
                ck_assert_str_eq(field(e, "PEER_PID"), spid);
                ck_assert_str_eq(field(e, "PRIORITY"), "4");
                json_object_put(e);
                close(nfd);
        }

        /* All of it went to the journal, none to stderr. */
        char *log = read_file_text(h.daemon_log);
        ck_assert_msg(!strstr(log, "Cancel for call") && !strstr(log, "listening on"), "on stderr too:\n%s", log);
        free(log);

        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        close(jfd);
        for (size_t i = 0; env[i]; i++)
                free(env[i]);
        harness_stop(&h);
}
END_TEST

/* Without JOURNAL_STREAM, or with one that is not our stderr (inherited from a parent whose
 * output went to the journal), entries are "<N>message" lines on stderr and nothing reaches the
 * journal socket. A message with a newline stays one entry per line, each with its priority. */
START_TEST(test_journal_stream_not_ours) {
        const char *modes[] = { "none", "1:1", "garbage" };

        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                Harness h;
                char *env[4];
                HarnessOptions o = { .no_daemon = true };

                harness_start(&h, &o);
                int jfd = start_with_journal(&h, modes[m], env);
                int fd = harness_connect(&h);
                json_object_put(standin_post(&h, "/_standin/faults",
                                             "{\"rules\":[{\"kind\":\"cancel\",\"status\":400,\"count\":1,\"body\":"
                                             "{\"error\":{\"code\":\"BadRequest\",\"message\":\"one\\n<0>two\"}}}]}"));
                json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
                ck_assert_int_eq(jint(r, "error.data.httpStatus"), 400);
                json_object_put(r);
                r = harness_call(&h, fd, "cancel", "{\"callId\":\"" UNKNOWN_CALL "\"}");
                ck_assert_int_eq(jint(r, "error.data.httpStatus"), 404);
                json_object_put(r);
                wait_log(&h, "Cancel for call " UNKNOWN_CALL " failed", 5000);

                char *log = read_file_text(h.daemon_log);
                ck_assert_msg(strstr(log, "<6>mediacanceld ") && strstr(log, "listening on"), "%s: %s", modes[m], log);
                ck_assert_msg(strstr(log, "\n<6>Cancel for call " UNKNOWN_CALL " failed: GraphError"), "%s", log);
                /* Graph's second line cannot pose as an entry of its own with another priority. */
                ck_assert_msg(strstr(log, "BadRequest: one\n<6><0>two\n"), "multi-line message: %s", log);
                for (const char *l = log; *l; l = strchr(l, '\n') + 1) {
                        ck_assert_msg(l[0] == '<' || strncmp(l, "Listening on", 12) == 0, "line without priority: %.60s", l);
                        if (!strchr(l, '\n'))
                                break;
                }
                free(log);
                ck_assert_ptr_null(journal_wait(jfd, NULL, NULL, 300));

                close(fd);
                ck_assert_int_eq(harness_stop_daemon(&h), 0);
                close(jfd);
                for (size_t i = 0; env[i]; i++)
                        free(env[i]);
                harness_stop(&h);
        }
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("systemd");
        TCase *tc = tcase_create("systemd");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_notify_sequence);
        tcase_add_test(tc, test_watchdog_pid);
        tcase_add_test(tc, test_reload_during_shutdown);
        tcase_add_test(tc, test_socket_activation);
        tcase_add_test(tc, test_socket_activation_other_path);
        tcase_add_test(tc, test_live_daemon_refused);
        tcase_add_test(tc, test_stale_socket_replaced);
        tcase_add_test(tc, test_reload_keeps_connections);
        tcase_add_test(tc, test_reload_access);
        tcase_add_test(tc, test_journal_fields);
        tcase_add_test(tc, test_journal_stream_not_ours);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(suite());
}
