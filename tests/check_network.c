/* SPDX-License-Identifier: MIT */
/*
 * check_network.c — what the daemon's environment and its own heap must not give away, tested
 * on the real mediacanceld with the TLS stand-in: libcurl's environment variables (a proxy from
 * https_proxy= and friends, TLS key logging from SSLKEYLOGFILE=) are ignored, [Graph] Proxy=
 * routes every request through the configured proxy, and after a token fetch the access token
 * the stand-in issued is in the daemon's memory exactly once (the live copy), read from
 * /proc/PID/mem (the tests run as root, which may read a non-dumpable process's memory).
 * Tokens are never printed: a failure names their length and the copies' addresses only.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"
#include "macro.h"



#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* ---- the loopback proxy (tests/connect-proxy.py) ---- */

typedef struct Proxy {
        pid_t pid;
        int port;
        char log[320];
} Proxy;

/* Starts the recording CONNECT proxy; with upstream_port > 0 every tunnel goes to
 * 127.0.0.1:upstream_port whatever the request names, otherwise it only records and closes. */
static void proxy_start(Proxy *p, const Harness *h, const char *name, int upstream_port) {
        char port_file[320], script[512], upstream[16], out[320];
        const char *src = getenv("MEDIACANCEL_SRCDIR") ?: "..";

        snprintf(port_file, sizeof port_file, "%s/%s.port", h->dir, name);
        snprintf(p->log, sizeof p->log, "%s/%s.log", h->dir, name);
        snprintf(out, sizeof out, "%s/%s.out", h->dir, name);
        snprintf(script, sizeof script, "%s/tests/connect-proxy.py", src);
        snprintf(upstream, sizeof upstream, "%d", upstream_port);
        p->pid = fork();
        ck_assert_int_ge(p->pid, 0);
        if (p->pid == 0) {
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execlp("python3", "python3", script, "--port-file", port_file, "--log", p->log, "--upstream-port",
                       upstream, (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 200; i++) {
                char *s = read_file_text(port_file);
                p->port = atoi(s);
                free(s);
                if (p->port > 0)
                        return;
                sleep_ms(25);
        }
        ck_abort_msg("the proxy did not start");
}

static void proxy_stop(Proxy *p) {
        int status;

        if (p->pid > 0) {
                kill(p->pid, SIGTERM);
                (void) waitpid(p->pid, &status, 0);
                p->pid = 0;
        }
}

/* One line per connection the proxy accepted: "CONNECT host:port" or what else came. */
static int proxy_lines(const Proxy *p, const char *prefix) {
        char *text = read_file_text(p->log);
        int n = 0;

        for (char *line = text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (!prefix || strncmp(line, prefix, strlen(prefix)) == 0)
                        n++;
                line = nl ? nl + 1 : NULL;
        }
        free(text);
        return n;
}

static void cancel_ok(Harness *h, const char *call_id) {
        char params[128];
        int fd = harness_connect(h);

        snprintf(params, sizeof params, "{\"callId\":\"%s\"}", call_id);
        json_object *r = harness_call(h, fd, "cancel", params);
        ck_assert_msg(jstr(r, "result.operation.status") && strcmp(jstr(r, "result.operation.status"), "completed") == 0,
                      "cancel failed: %s", json_object_to_json_string(r));
        json_object_put(r);
        close(fd);
}

/* A port on loopback where nothing listens: bound (so nobody else gets it) but not listening,
 * so a connection to it is refused at once. */
static int dead_port(int *ret_fd) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret_fd = fd;
        return ntohs(sa.sin_port);
}

/* ---- the daemon's environment ---- */

/* Everything libcurl (7.88, OpenSSL) reads from the environment to route or log a transfer
 * points at the recording proxy and a key log file. The daemon must use neither: the cancel
 * goes straight to the stand-in, the proxy hears nothing, no key is logged. */
START_TEST(test_environment_ignored) {
        Harness h;
        Proxy p = {};
        char keylog[320], proxy_url[64];
        char env_keylog[400], env_proxy[10][100];
        const char *env[12];
        static const char *const names[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
                                             "all_proxy",   "ALL_PROXY",   "no_proxy",   "NO_PROXY" };

        harness_start(&h, &(HarnessOptions) { .no_daemon = true });
        proxy_start(&p, &h, "env-proxy", 0);
        snprintf(keylog, sizeof keylog, "%s/keylog.txt", h.dir);
        snprintf(proxy_url, sizeof proxy_url, "http://127.0.0.1:%d", p.port);
        snprintf(env_keylog, sizeof env_keylog, "SSLKEYLOGFILE=%s", keylog);
        size_t n = 0;
        env[n++] = env_keylog;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                /* no_proxy= names nothing the daemon talks to: it must not matter either way. */
                snprintf(env_proxy[i], sizeof env_proxy[i], "%s=%s", names[i],
                         strstr(names[i], "no_") || strstr(names[i], "NO_") ? "example.invalid" : proxy_url);
                env[n++] = env_proxy[i];
        }
        env[n] = NULL;
        h.daemon_env = env;
        harness_start_daemon(&h);

        cancel_ok(&h, CALL_ID);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        ck_assert_msg(proxy_lines(&p, NULL) == 0, "the proxy from the environment saw %d connections",
                      proxy_lines(&p, NULL));

        struct stat st;
        ck_assert_msg(stat(keylog, &st) < 0 || st.st_size == 0, "SSLKEYLOGFILE got %jd bytes of TLS secrets",
                      (intmax_t) st.st_size);
        char *log = read_file_text(h.daemon_log);
        ck_assert_msg(strstr(log, "SSLKEYLOGFILE"), "the daemon did not say that it ignores SSLKEYLOGFILE");
        free(log);

        harness_stop(&h);
        proxy_stop(&p);
}
END_TEST

/* Proxy= sends every request through the proxy, login and Graph alike: the endpoints name a
 * port where nothing listens, and only the proxy knows where the stand-in is. */
START_TEST(test_proxy_configured) {
        Harness h;
        Proxy p = {};
        char extra[512];
        int dead_fd, dead;

        harness_start(&h, &(HarnessOptions) { .no_daemon = true });
        proxy_start(&p, &h, "proxy", h.port);
        dead = dead_port(&dead_fd);
        snprintf(extra, sizeof extra,
                 "[Identity]\nLoginEndpoint=https://127.0.0.1:%d\n"
                 "[Graph]\nEndpoint=https://127.0.0.1:%d\nProxy=http://127.0.0.1:%d\n"
                 "[Notifications]\nOpenIdConfigurationUrl=https://127.0.0.1:%d/v1/.well-known/OpenIdConfiguration\n",
                 dead, dead, p.port, dead);
        FILE *f = fopen(h.config_path, "ae");
        ck_assert_ptr_nonnull(f);
        fputs(extra, f);
        fclose(f);
        harness_start_daemon(&h);

        cancel_ok(&h, CALL_ID);
        ck_assert_int_eq(standin_stat(&h, "tokenRequests"), 1);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        /* The notification signing keys come the same way. */
        for (int i = 0; i < 500 && standin_stat(&h, "keysRequests") < 1; i++)
                usleep(10000);
        ck_assert_int_eq(standin_stat(&h, "openidRequests"), 1);
        ck_assert_int_eq(standin_stat(&h, "keysRequests"), 1);
        char want[64];
        snprintf(want, sizeof want, "CONNECT 127.0.0.1:%d", dead);
        ck_assert_int_ge(proxy_lines(&p, want), 1);
        ck_assert_int_eq(proxy_lines(&p, NULL), proxy_lines(&p, want));

        harness_stop(&h);
        proxy_stop(&p);
        close(dead_fd);
}
END_TEST

/* ---- copies of the token in the daemon's memory ---- */

/* Counts the occurrences of needle in the writable mappings of pid (heap, anonymous memory,
 * stacks, libraries' data). Mappings above 1 GiB are skipped: the sanitizers' shadow memory is
 * terabytes of mostly untouched reservation, and no buffer of the daemon's is that large. */
static int count_in_memory(pid_t pid, const char *needle) {
        char path[64], line[512];
        size_t n = strlen(needle), count = 0;

        snprintf(path, sizeof path, "/proc/%d/maps", (int) pid);
        FILE *maps = fopen(path, "re");
        ck_assert_ptr_nonnull(maps);
        snprintf(path, sizeof path, "/proc/%d/mem", (int) pid);
        int mem = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(mem >= 0, "cannot open %s: %s", path, strerror(errno));

        while (fgets(line, sizeof line, maps)) {
                uintptr_t lo, hi;
                char perms[8];
                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &lo, &hi, perms) != 3 || perms[1] != 'w' ||
                    strstr(line, "[vvar]") || hi - lo > (UINT64_C(1) << 30))
                        continue;
                size_t size = hi - lo;
                char *buf = malloc(size);
                ck_assert_ptr_nonnull(buf);
                ssize_t got = pread(mem, buf, size, (off_t) lo);
                for (ssize_t i = 0; got > 0 && i + (ssize_t) n <= got; i++)
                        if (buf[i] == needle[0] && memcmp(buf + i, needle, n) == 0) {
                                fprintf(stderr, "check_network: a copy of the %zu-byte token at %#" PRIxPTR " in %s",
                                        n, lo + (uintptr_t) i, line);
                                count++;
                        }
                free(buf);
        }
        close(mem);
        fclose(maps);
        return (int) count;
}

/* The first token the stand-in issued, once the daemon holds it. */
static char *wait_token(Harness *h) {
        for (int i = 0; i < 400 * harness_slowdown(); i++) {
                int fd = harness_connect(h);
                json_object *r = harness_call(h, fd, "status", NULL);
                bool valid = jstr(r, "result.token.state") && strcmp(jstr(r, "result.token.state"), "valid") == 0;
                json_object_put(r);
                close(fd);
                if (valid) {
                        json_object *stats = standin_get(h, "/_standin/stats");
                        json_object *issued = jpath(stats, "tokensIssued");
                        ck_assert_int_eq(json_object_array_length(issued), 1);
                        char *t = strdup(json_object_get_string(json_object_array_get_idx(issued, 0)));
                        json_object_put(stats);
                        return t;
                }
                sleep_ms(25);
        }
        ck_abort_msg("the daemon got no token");
}

/* A token answer passes through OpenSSL's record buffer, curl's receive buffer, the daemon's
 * body buffer and its JSON parser: after the fetch only the token manager's copy is left. */
START_TEST(test_token_copies_after_fetch) {
        Harness h;

        harness_start(&h, NULL);
        char *token = wait_token(&h);
        ck_assert_int_eq(count_in_memory(h.daemon_pid, token), 1);
        free(token);
        harness_stop(&h);
}
END_TEST

static Suite *network_suite(void) {
        Suite *s = suite_create("network");
        TCase *tc = tcase_create("daemon");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_environment_ignored);
        tcase_add_test(tc, test_proxy_configured);
        tcase_add_test(tc, test_token_copies_after_fetch);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(network_suite());
}
