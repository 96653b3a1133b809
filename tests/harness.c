/* SPDX-License-Identifier: MIT */
/*
 * harness.c — see harness.h.
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SECRET "test-Secret~with+special/chars=&"
#define TENANT "contoso-tenant"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"

static char ca_dir[256];

static const char *builddir(void) {
        const char *d = getenv("MEDIACANCEL_BUILDDIR");
        return d ?: ".";
}

static const char *srcdir(void) {
        const char *d = getenv("MEDIACANCEL_SRCDIR");
        return d ?: "..";
}

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
        size_t n = strlen(text);
        ck_assert_int_eq(write(fd, text, n), (ssize_t) n);
        close(fd);
}

char *read_file_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;

        if (!f)
                return strdup("");
        FILE *m = open_memstream(&buf, &n);
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                fwrite(chunk, 1, k, m);
        fclose(f);
        fclose(m);
        return buf;
}

void harness_global_init(void) {
        char cmd[1024];

        snprintf(ca_dir, sizeof ca_dir, "/tmp/mediacancel-ca-XXXXXX");
        if (!mkdtemp(ca_dir)) {
                perror("mkdtemp");
                exit(EXIT_FAILURE);
        }
        snprintf(cmd, sizeof cmd, "bash '%s/tests/make-test-ca.sh' '%s' >/dev/null", srcdir(), ca_dir);
        if (system(cmd) != 0) {
                fprintf(stderr, "cannot create the test CA\n");
                exit(EXIT_FAILURE);
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

void harness_global_cleanup(void) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ca_dir);
        (void) !system(cmd);
}

static pid_t spawn(char *const argv[], const char *log_path) {
        pid_t parent = getpid();
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, STDIN_FILENO);
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void start_standin(Harness *h, const char *extra) {
        char port_file[320], log[320], cert[320], key[320], script[512], secret_file[320];
        char *argv[64];
        int n = 0;
        char *extra_copy = extra ? strdup(extra) : NULL;

        snprintf(port_file, sizeof port_file, "%s/standin.port", h->dir);
        snprintf(log, sizeof log, "%s/standin.log", h->dir);
        snprintf(cert, sizeof cert, "%s/server.pem", ca_dir);
        snprintf(key, sizeof key, "%s/server.key", ca_dir);
        snprintf(script, sizeof script, "%s/tests/graph-standin.py", srcdir());
        snprintf(secret_file, sizeof secret_file, "%s/standin-secret", h->dir);
        write_file(secret_file, SECRET, 0600);
        unlink(port_file);

        argv[n++] = (char *) "python3";
        argv[n++] = script;
        argv[n++] = (char *) "--cert";
        argv[n++] = cert;
        argv[n++] = (char *) "--key";
        argv[n++] = key;
        argv[n++] = (char *) "--tenant";
        argv[n++] = (char *) TENANT;
        argv[n++] = (char *) "--client-id";
        argv[n++] = (char *) CLIENT_ID;
        argv[n++] = (char *) "--client-secret-file";
        argv[n++] = secret_file;
        argv[n++] = (char *) "--port-file";
        argv[n++] = port_file;
        if (h->port > 0) {
                static char port[16];
                snprintf(port, sizeof port, "%d", h->port);
                argv[n++] = (char *) "--port";
                argv[n++] = port;
        }
        for (char *tok = extra_copy ? strtok(extra_copy, " ") : NULL; tok && n < 60; tok = strtok(NULL, " "))
                argv[n++] = tok;
        argv[n] = NULL;

        h->standin_pid = spawn(argv, log);
        free(extra_copy);

        for (int i = 0; i < 200; i++) {
                char *p = read_file_text(port_file);
                int port = atoi(p);
                free(p);
                if (port > 0) {
                        h->port = port;
                        return;
                }
                int status;
                if (waitpid(h->standin_pid, &status, WNOHANG) == h->standin_pid) {
                        char *l = read_file_text(log);
                        ck_abort_msg("the stand-in exited: %s", l);
                }
                sleep_ms(50);
        }
        ck_abort_msg("the stand-in did not start");
}

static bool socket_ready(const char path[static 100]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        ok = connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
        close(fd);
        return ok;
}

void harness_start_daemon(Harness *h) {
        char bin[512];
        char *argv[] = { bin, (char *) "--config", h->config_path, (char *) "--log-level", (char *) "debug", NULL };

        snprintf(bin, sizeof bin, "%s/mediacanceld", builddir());
        h->daemon_pid = spawn(argv, h->daemon_log);
        for (int i = 0; i < 200; i++) {
                if (socket_ready(h->socket_path))
                        return;
                int status;
                if (waitpid(h->daemon_pid, &status, WNOHANG) == h->daemon_pid) {
                        h->daemon_pid = 0;
                        char *l = read_file_text(h->daemon_log);
                        ck_abort_msg("the daemon exited: %s", l);
                }
                sleep_ms(25);
        }
        ck_abort_msg("the daemon did not start listening");
}

void harness_start(Harness *h, const HarnessOptions *o) {
        HarnessOptions none = {};
        char config[4096];

        if (!o)
                o = &none;
        memset(h, 0, sizeof *h);
        h->next_id = 1;
        snprintf(h->dir, sizeof h->dir, "/tmp/mediacancel-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(h->dir));
        ck_assert_int_lt(strlen(h->dir) + 8, sizeof h->socket_path);
        strcpy(h->socket_path, h->dir);
        strcat(h->socket_path, "/d.sock");
        snprintf(h->config_path, sizeof h->config_path, "%s/mediacanceld.conf", h->dir);
        snprintf(h->secret_path, sizeof h->secret_path, "%s/client-secret", h->dir);
        snprintf(h->daemon_log, sizeof h->daemon_log, "%s/daemon.log", h->dir);

        start_standin(h, o->standin_args);

        write_file(h->secret_path, o->daemon_secret ?: SECRET, 0600);
        snprintf(config, sizeof config,
                 "[Identity]\nTenantId=%s\nClientId=%s\nClientSecretFile=%s\nLoginEndpoint=https://127.0.0.1:%d\n"
                 "[Graph]\nEndpoint=https://127.0.0.1:%d\nCAFile=%s/ca.pem\n"
                 "[Socket]\nPath=%s\n%s",
                 TENANT, CLIENT_ID, h->secret_path, h->port, h->port, ca_dir, h->socket_path, o->config_extra ?: "");
        write_file(h->config_path, config, 0644);

        if (!o->no_daemon)
                harness_start_daemon(h);
}

static int wait_exit(pid_t pid, int timeout_ms) {
        int status;

        for (int waited = 0; waited < timeout_ms; waited += 10) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                sleep_ms(10);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

int harness_stop_daemon(Harness *h) {
        int r = -1;

        if (h->daemon_pid > 0) {
                kill(h->daemon_pid, SIGTERM);
                r = wait_exit(h->daemon_pid, 10000);
                h->daemon_pid = 0;
        }
        return r;
}

void harness_stop(Harness *h) {
        char cmd[512];

        (void) harness_stop_daemon(h);
        if (h->standin_pid > 0) {
                kill(h->standin_pid, SIGTERM);
                (void) wait_exit(h->standin_pid, 5000);
                h->standin_pid = 0;
        }
        if (!getenv("MEDIACANCEL_KEEP_TEST_DIRS")) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
                (void) !system(cmd);
        }
}

int harness_connect(Harness *h) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", h->socket_path);
        ck_assert_msg(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0, "connect: %s", strerror(errno));
        return fd;
}

void harness_send(int fd, const char *line) {
        size_t n = strlen(line), done = 0;
        char *buf = malloc(n + 2);

        /* One buffer with its newline, so a daemon that closes after reading it (over-long
         * line) does not fail a second send. */
        memcpy(buf, line, n);
        if (n == 0 || line[n - 1] != '\n')
                buf[n++] = '\n';
        while (done < n) {
                ssize_t k = send(fd, buf + done, n - done, MSG_NOSIGNAL);
                ck_assert_msg(k > 0, "send: %s", strerror(errno));
                done += (size_t) k;
        }
        free(buf);
}

/* Per-fd read buffers so that lines split across reads survive between calls. */
#define MAX_FDS 1024
static char *rbuf[MAX_FDS];
static size_t rlen[MAX_FDS];

json_object *harness_read(int fd, int timeout_ms) {
        ck_assert_int_lt(fd, MAX_FDS);
        for (;;) {
                char *nl = rbuf[fd] ? memchr(rbuf[fd], '\n', rlen[fd]) : NULL;
                if (nl) {
                        size_t len = (size_t) (nl - rbuf[fd]);
                        json_object *j = json_tokener_parse(strndupa(rbuf[fd], len));
                        memmove(rbuf[fd], nl + 1, rlen[fd] - len - 1);
                        rlen[fd] -= len + 1;
                        ck_assert_msg(j != NULL, "the daemon sent a line that is not JSON");
                        return j;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, timeout_ms) <= 0)
                        return NULL;
                char chunk[65536];
                ssize_t k = recv(fd, chunk, sizeof chunk, 0);
                if (k <= 0) {
                        free(rbuf[fd]);
                        rbuf[fd] = NULL;
                        rlen[fd] = 0;
                        return NULL;
                }
                rbuf[fd] = realloc(rbuf[fd], rlen[fd] + (size_t) k + 1);
                memcpy(rbuf[fd] + rlen[fd], chunk, (size_t) k);
                rlen[fd] += (size_t) k;
        }
}

json_object *harness_call(Harness *h, int fd, const char *method, const char *params_json) {
        char *line;
        int id = h->next_id++;

        ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id, method,
                                  params_json ? ",\"params\":" : "", params_json ?: ""),
                         0);
        harness_send(fd, line);
        free(line);
        for (;;) {
                json_object *j = harness_read(fd, 60000);
                ck_assert_msg(j != NULL, "no reply to %s", method);
                json_object *v;
                if (json_object_object_get_ex(j, "id", &v) && v && json_object_get_int(v) == id)
                        return j;
                json_object_put(j);
        }
}

static size_t collect(char *p, size_t size, size_t n, void *userdata) {
        FILE *f = userdata;
        return fwrite(p, size, n, f);
}

static json_object *standin_request(Harness *h, const char *path, const char *body) {
        char url[512], cafile[320];
        char *buf = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&buf, &n);
        CURL *c = curl_easy_init();

        snprintf(url, sizeof url, "https://127.0.0.1:%d%s", h->port, path);
        snprintf(cafile, sizeof cafile, "%s/ca.pem", ca_dir);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        fclose(m);
        ck_assert_msg(rc == CURLE_OK, "stand-in control %s: %s", path, curl_easy_strerror(rc));
        json_object *j = json_tokener_parse(buf);
        free(buf);
        ck_assert_ptr_nonnull(j);
        return j;
}

json_object *standin_get(Harness *h, const char *path) {
        return standin_request(h, path, NULL);
}

json_object *standin_post(Harness *h, const char *path, const char *body) {
        return standin_request(h, path, body);
}

int standin_stat(Harness *h, const char *counter) {
        json_object *j = standin_get(h, "/_standin/stats");
        int v = (int) jint(j, counter);
        json_object_put(j);
        return v;
}

int harness_ctl(Harness *h, const char *args, char **ret_stdout, char **ret_stderr) {
        char cmd[2048], out[320], err[320];
        int status;

        snprintf(out, sizeof out, "%s/ctl.out", h->dir);
        snprintf(err, sizeof err, "%s/ctl.err", h->dir);
        snprintf(cmd, sizeof cmd, "'%s/mediacancelctl' --socket '%s' %s >'%s' 2>'%s'", builddir(), h->socket_path,
                 args, out, err);
        status = system(cmd);
        if (ret_stdout)
                *ret_stdout = read_file_text(out);
        if (ret_stderr)
                *ret_stderr = read_file_text(err);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

json_object *jpath(json_object *j, const char *path) {
        char *copy = strdup(path), *save = NULL;

        for (char *k = strtok_r(copy, ".", &save); k && j; k = strtok_r(NULL, ".", &save)) {
                json_object *v = NULL;
                if (json_object_is_type(j, json_type_array))
                        v = json_object_array_get_idx(j, (size_t) atoi(k));
                else if (!json_object_object_get_ex(j, k, &v))
                        v = NULL;
                j = v;
        }
        free(copy);
        return j;
}

const char *jstr(json_object *j, const char *path) {
        json_object *v = jpath(j, path);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t jint(json_object *j, const char *path) {
        json_object *v = jpath(j, path);
        return v ? json_object_get_int64(v) : INT64_MIN;
}
