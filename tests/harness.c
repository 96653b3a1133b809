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
#include <grp.h>
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
#define TENANT HARNESS_TENANT
#define CLIENT_ID HARNESS_CLIENT_ID

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
        ck_assert_int_eq(fchmod(fd, mode), 0); /* exactly mode, whatever the umask */
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

int harness_main(Suite *s) {
        harness_global_init();
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_global_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void harness_global_cleanup(void) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ca_dir);
        (void) !system(cmd);
}

static pid_t spawn(char *const argv[], const char *log_path, const char *const *env) {
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
                for (size_t i = 0; env && env[i]; i++) {
                        const char *eq = strchr(env[i], '=');
                        if (!eq)
                                continue;
                        char *name = strndup(env[i], (size_t) (eq - env[i]));
                        char self[32];
                        snprintf(self, sizeof self, "%d", (int) getpid());
                        (void) setenv(name, strcmp(eq + 1, "$$") == 0 ? self : eq + 1, 1);
                        free(name);
                }
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
        if (h->cert_path[0]) {
                argv[n++] = (char *) "--client-certificate";
                argv[n++] = h->cert_path;
        }
        if (h->mi_port >= 0) {
                static char mi_port_file[320];
                snprintf(mi_port_file, sizeof mi_port_file, "%s/mi-port", h->dir);
                argv[n++] = (char *) "--mi-port-file";
                argv[n++] = mi_port_file;
                argv[n++] = (char *) "--mi-scratch-dir";
                argv[n++] = h->dir;
        }
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

        h->standin_pid = spawn(argv, log, NULL);
        free(extra_copy);

        for (int i = 0; i < 200; i++) {
                char *p = read_file_text(port_file);
                int port = atoi(p);
                free(p);
                if (port > 0) {
                        h->port = port;
                        if (h->mi_port >= 0) {
                                char mp[320];
                                snprintf(mp, sizeof mp, "%s/mi-port", h->dir);
                                p = read_file_text(mp);
                                h->mi_port = atoi(p);
                                free(p);
                                ck_assert_int_gt(h->mi_port, 0);
                        }
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

/* MEDIACANCEL_DAEMON_WRAPPER="valgrind --error-exitcode=99 …" runs the daemon under a tool;
 * its words go before the daemon's command line. */
static const char *daemon_wrapper(void) {
        const char *w = getenv("MEDIACANCEL_DAEMON_WRAPPER");
        return w && *w ? w : NULL;
}

/* How much longer than usual the daemon may take to start and stop under such a tool. */
static int daemon_slowdown(void) {
        return daemon_wrapper() ? 20 : 1;
}

int harness_slowdown(void) {
        return daemon_slowdown();
}

void harness_start_daemon(Harness *h) {
        char bin[512];
        char *argv[64];
        char *wrapper = daemon_wrapper() ? strdup(daemon_wrapper()) : NULL;
        char *launcher = h->daemon_launcher ? strdup(h->daemon_launcher) : NULL;
        int n = 0;

        for (char *tok = launcher ? strtok(launcher, " ") : NULL; tok && n < 25; tok = strtok(NULL, " "))
                argv[n++] = tok;
        for (char *tok = wrapper ? strtok(wrapper, " ") : NULL; tok && n < 50; tok = strtok(NULL, " "))
                argv[n++] = tok;
        argv[n++] = bin;
        argv[n++] = (char *) "--config";
        argv[n++] = h->config_path;
        argv[n++] = (char *) "--log-level";
        argv[n++] = (char *) "debug";
        argv[n] = NULL;

        snprintf(bin, sizeof bin, "%s/mediacanceld", builddir());
        h->daemon_pid = spawn(argv, h->daemon_log, h->daemon_env);
        free(wrapper);
        free(launcher);
        if (h->daemon_no_wait)
                return;
        for (int i = 0; i < 200 * daemon_slowdown(); i++) {
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

static void run_openssl(Harness *h, const char *cmd) {
        char full[4096], log[320];

        snprintf(log, sizeof log, "%s/openssl.log", h->dir);
        snprintf(full, sizeof full, "cd '%s' && { %s; } >>'%s' 2>&1", h->dir, cmd, log);
        if (system(full) != 0) {
                char *l = read_file_text(log);
                ck_abort_msg("openssl failed: %s\n%s", cmd, l);
        }
}

/* The app's certificate credential, made fresh per test: RSA 2048 as the identity platform
 * requires. OpenSSL 3.0's req -x509 cannot backdate a certificate, but "openssl ca -selfsign"
 * takes explicit -startdate/-enddate, so the expired one really is expired. */
static void make_client_certificate(Harness *h, HarnessCertificate kind, mode_t key_mode) {
        snprintf(h->cert_path, sizeof h->cert_path, "%s/client.pem", h->dir);
        snprintf(h->key_path, sizeof h->key_path, "%s/client.key", h->dir);

        if (kind == HARNESS_CERTIFICATE_EXPIRED) {
                char cnf[320];

                snprintf(cnf, sizeof cnf, "%s/ca.cnf", h->dir);
                write_file(cnf,
                           "[ca]\ndefault_ca = x\n[x]\ndatabase = ./index.txt\nnew_certs_dir = ./issued\n"
                           "serial = ./serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                           "[p]\ncommonName = supplied\n",
                           0644);
                run_openssl(h, "mkdir issued && : >index.txt && echo 01 >serial && "
                               "openssl req -new -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
                               "-subj /CN=mediacancel-test-expired && "
                               "openssl ca -batch -config ca.cnf -selfsign -keyfile client.key -in client.csr "
                               "-out client.pem -startdate 20200101000000Z -enddate 20200102000000Z -notext");
        } else
                run_openssl(h, "openssl req -x509 -newkey rsa:2048 -nodes -sha256 -keyout client.key "
                               "-out client.pem -subj /CN=mediacancel-test -days 30");

        if (kind == HARNESS_CERTIFICATE_WRONG_KEY) {
                run_openssl(h, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key");
                snprintf(h->key_path, sizeof h->key_path, "%s/other.key", h->dir);
        } else if (kind == HARNESS_CERTIFICATE_COMBINED) {
                /* Key first: the daemon must find each block by its type, not its position. */
                run_openssl(h, "cat client.key client.pem >client-combined.pem");
                snprintf(h->key_path, sizeof h->key_path, "%s/client-combined.pem", h->dir);
        }
        ck_assert_int_eq(chmod(h->key_path, key_mode), 0);
}

void harness_start(Harness *h, const HarnessOptions *o) {
        HarnessOptions none = {};
        char config[4096], identity[700];

        if (!o)
                o = &none;
        memset(h, 0, sizeof *h);
        h->next_id = 1;
        snprintf(h->standin_args, sizeof h->standin_args, "%s", o->standin_args ?: "");
        snprintf(h->dir, sizeof h->dir, "/tmp/mediacancel-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(h->dir));
        ck_assert_int_lt(strlen(h->dir) + 8, sizeof h->socket_path);
        strcpy(h->socket_path, h->dir);
        strcat(h->socket_path, "/d.sock");
        snprintf(h->config_path, sizeof h->config_path, "%s/mediacanceld.conf", h->dir);
        snprintf(h->secret_path, sizeof h->secret_path, "%s/client-secret", h->dir);
        snprintf(h->daemon_log, sizeof h->daemon_log, "%s/daemon.log", h->dir);

        h->mi_port = o->mi_endpoint ? 0 : -1;
        if (o->certificate != HARNESS_CERTIFICATE_NONE)
                make_client_certificate(h, o->certificate, o->credential_mode ?: 0600);
        start_standin(h, o->standin_args);

        write_file(h->secret_path, o->daemon_secret ?: SECRET, o->credential_mode ?: 0600);
        if (o->certificate == HARNESS_CERTIFICATE_COMBINED)
                snprintf(identity, sizeof identity, "CertificateFile=%s", h->key_path);
        else if (o->certificate != HARNESS_CERTIFICATE_NONE)
                snprintf(identity, sizeof identity, "CertificateFile=%s\nPrivateKeyFile=%s", h->cert_path,
                         h->key_path);
        else if (o->identity) {
                /* @DIR@ and @MI@ expanded, the rest copied. */
                size_t k = 0;
                for (const char *p = o->identity; *p && k + 1 < sizeof identity;) {
                        char mi[64];
                        const char *rep = NULL;
                        if (strncmp(p, "@DIR@", 5) == 0)
                                rep = h->dir;
                        else if (strncmp(p, "@MI@", 4) == 0) {
                                snprintf(mi, sizeof mi, "http://127.0.0.1:%d", h->mi_port);
                                rep = mi;
                        } else if (strncmp(p, "@MIPORT@", 8) == 0) {
                                snprintf(mi, sizeof mi, "%d", h->mi_port);
                                rep = mi;
                        }
                        if (rep) {
                                k += (size_t) snprintf(identity + k, sizeof identity - k, "%s", rep);
                                p += p[1] == 'D' ? 5 : p[3] == '@' ? 4 : 8;
                        } else
                                identity[k++] = *p++;
                }
                ck_assert_int_lt(k, sizeof identity - 1);
                identity[k] = '\0';
        } else
                snprintf(identity, sizeof identity, "ClientSecretFile=%s", h->secret_path);
        snprintf(config, sizeof config,
                 "[Identity]\nTenantId=%s\nClientId=%s\n%s\nLoginEndpoint=https://127.0.0.1:%d\n"
                 "[Graph]\nEndpoint=https://127.0.0.1:%d\nCAFile=%s/ca.pem\n"
                 "[Notifications]\nOpenIdConfigurationUrl=https://127.0.0.1:%d/v1/.well-known/OpenIdConfiguration\n"
                 "[Socket]\nPath=%s\n[Operations]\nStateDirectory=%s/state\n%s",
                 TENANT, CLIENT_ID, identity, h->port, h->port, ca_dir, h->port, h->socket_path, h->dir,
                 o->config_extra ?: "");
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

void harness_kill_standin(Harness *h) {
        int status;

        if (h->standin_pid <= 0)
                return;
        /* SIGKILL: a crash, not a shutdown; connections die with the process. */
        kill(h->standin_pid, SIGKILL);
        (void) waitpid(h->standin_pid, &status, 0);
        h->standin_pid = 0;
}

void harness_restart_standin(Harness *h) {
        harness_kill_standin(h);
        /* h->port is set, so the new one binds the same port (SO_REUSEADDR): the daemon
         * reconnects to the same address, as after a server restart. */
        start_standin(h, h->standin_args[0] ? h->standin_args : NULL);
}

int harness_stop_daemon(Harness *h) {
        int r = -1;

        if (h->daemon_pid > 0) {
                kill(h->daemon_pid, SIGTERM);
                r = wait_exit(h->daemon_pid, 10000 * daemon_slowdown());
                h->daemon_pid = 0;
        }
        return r;
}

void harness_kill_daemon(Harness *h) {
        int status;

        if (h->daemon_pid <= 0)
                return;
        kill(h->daemon_pid, SIGKILL);
        (void) waitpid(h->daemon_pid, &status, 0);
        h->daemon_pid = 0;
}

void harness_journal_path(const Harness *h, char *buf, size_t size) {
        snprintf(buf, size, "%s/state/operations.journal", h->dir);
}

void harness_stop(Harness *h) {
        char cmd[512];

        /* Under valgrind or the sanitizers every test doubles as a memory check of the daemon
         * it ran; the daemon itself never exits 99. */
        if (harness_stop_daemon(h) == HARNESS_TOOL_ERROR_EXIT) {
                char *l = read_file_text(h->daemon_log);
                ck_abort_msg("%s reported errors in the daemon:\n%s", daemon_wrapper() ?: "a sanitizer", l);
        }
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

/* A connection made by a child that became uid/gid with the given supplementary groups. The
 * kernel records the connecting process's credentials (SO_PEERCRED, SO_PEERGROUPS) on the
 * socket, so the parent, root, can then talk over it as that user. */
int harness_connect_as(Harness *h, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, pid_t *ret_pid) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int status;

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", h->socket_path);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(n_groups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                        _exit(10);
                if (getuid() != uid || geteuid() != uid || getegid() != gid)
                        _exit(11);
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        _exit(12);
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client as uid %u failed: %d", (unsigned) uid,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        if (ret_pid)
                *ret_pid = pid;
        return fd;
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
                        char *line = strndup(rbuf[fd], len);
                        ck_assert_ptr_nonnull(line);
                        json_object *j = json_tokener_parse(line);
                        memmove(rbuf[fd], nl + 1, rlen[fd] - len - 1);
                        rlen[fd] -= len + 1;
                        ck_assert_msg(j != NULL, "the daemon sent a line that is not JSON: %s", line);
                        free(line);
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

char *harness_notification_token(Harness *h, const char *variant, const char *tenant) {
        char body[256];
        json_object *j;
        char *t;

        if (tenant)
                snprintf(body, sizeof body, "{\"variant\":\"%s\",\"tenant\":\"%s\"}", variant, tenant);
        else
                snprintf(body, sizeof body, "{\"variant\":\"%s\"}", variant);
        j = standin_post(h, "/_standin/notification-token", body);
        ck_assert_msg(jstr(j, "authorization") != NULL, "stand-in notification-token %s: %s", variant,
                      json_object_to_json_string(j));
        t = strdup(jstr(j, "authorization"));
        json_object_put(j);
        return t;
}

char *harness_signed_body(Harness *h, const char *body, const char *variant) {
        const char *p = body + strspn(body, " \t");
        char *auth, *t = NULL;

        if (*p != '{')
                return strdup(body); /* not an object: nothing to add it to */
        auth = harness_notification_token(h, variant, NULL);
        p++;
        p += strspn(p, " \t");
        ck_assert_int_ge(asprintf(&t, "{\"authorization\":\"%s\"%s%s", auth, *p == '}' ? "" : ",", p), 0);
        free(auth);
        return t;
}

int standin_stat(Harness *h, const char *counter) {
        json_object *j = standin_get(h, "/_standin/stats");
        int v = (int) jint(j, counter);
        json_object_put(j);
        return v;
}

int harness_ctl(Harness *h, const char *args, char **ret_stdout, char **ret_stderr) {
        char cmd[8192], out[320], err[320];
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
