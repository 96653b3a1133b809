/* SPDX-License-Identifier: MIT */
/*
 * harness.h — starts the real pieces for integration tests: a throwaway CA, the Graph/login
 * stand-in over TLS on loopback, and mediacanceld from the build tree with a config pointing
 * at it; then talks to the daemon over its real socket and to the stand-in's control API.
 * Children get PR_SET_PDEATHSIG so a failed test never leaves them running.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

/* The identity the stand-in knows and the daemon is configured with. */
#define HARNESS_TENANT "contoso-tenant"
#define HARNESS_CLIENT_ID "11111111-2222-3333-4444-555555555555"

typedef struct Harness {
        char dir[256];
        char socket_path[100]; /* fits sockaddr_un */
        char config_path[320];
        char secret_path[320];
        char daemon_log[320];
        char cert_path[320]; /* with a certificate: the one the stand-in registers */
        char key_path[320];  /* the key the daemon signs with */
        int port;
        int mi_port; /* with HarnessOptions.mi_endpoint: the stand-in's managed identity port */
        pid_t standin_pid;
        pid_t daemon_pid;
        int next_id;
        char standin_args[512]; /* kept for harness_restart_standin() */
        /* How harness_start_daemon() runs the daemon; set them after harness_start() with
         * .no_daemon (which clears them), before harness_start_daemon(). */
        const char *const *daemon_env; /* NULL-terminated "NAME=VALUE" added to its environment;
                                        * the value "$$" becomes the daemon's own pid */
        const char *daemon_launcher;   /* words run before its command line, space separated, e.g.
                                        * "systemd-socket-activate -l PATH -E NOTIFY_SOCKET" */
        bool daemon_no_wait;           /* return once it is spawned: the test waits for it */
} Harness;

typedef enum HarnessCertificate {
        HARNESS_CERTIFICATE_NONE,      /* the client secret, as before */
        HARNESS_CERTIFICATE_GOOD,      /* CertificateFile= and PrivateKeyFile=, a matching pair */
        HARNESS_CERTIFICATE_COMBINED,  /* key and certificate in one PEM, no PrivateKeyFile= */
        HARNESS_CERTIFICATE_WRONG_KEY, /* PrivateKeyFile= holds the key of another certificate */
        HARNESS_CERTIFICATE_EXPIRED,   /* a matching pair, but the validity ended in 2020 */
} HarnessCertificate;

typedef struct HarnessOptions {
        const char *standin_args; /* extra stand-in arguments, space separated */
        const char *config_extra; /* INI text appended to the daemon's config */
        const char *daemon_secret; /* secret the daemon presents; default: the right one */
        /* Certificate credentials instead: an RSA certificate and key are made with openssl in
         * the test directory, the stand-in gets --client-certificate and the daemon
         * CertificateFile=/PrivateKeyFile= (no ClientSecretFile=). */
        HarnessCertificate certificate;
        mode_t credential_mode; /* mode of the daemon's secret or key file; 0: 0600 */
        /* Instead of ClientSecretFile=: these [Identity] lines, where @DIR@ becomes the test
         * directory, @MI@ the stand-in's managed identity endpoint, http://127.0.0.1:PORT, and
         * @MIPORT@ that PORT alone. */
        const char *identity;
        bool mi_endpoint; /* the stand-in also serves the managed identity endpoint */
        bool no_daemon;
} HarnessOptions;

/* Creates the CA once per test program (call from main before running suites). */
void harness_global_init(void);
void harness_global_cleanup(void);

/* The whole main() of an integration test program: CA, run the suite, clean up; returns the
 * exit status. */
struct Suite;
int harness_main(struct Suite *s);

void harness_start(Harness *h, const HarnessOptions *o);
void harness_start_daemon(Harness *h);
/* SIGTERM and wait; returns the daemon's exit status (or -1). */
int harness_stop_daemon(Harness *h);
/* SIGKILL the daemon and reap it: a crash, nothing flushed. harness_start_daemon() then
 * starts it again on the same config, state directory and socket. */
void harness_kill_daemon(Harness *h);
/* The daemon's journal (StateDirectory= as harness_start() configures it). */
void harness_journal_path(const Harness *h, char *buf, size_t size);
/* Also fails the test when the daemon exited with HARNESS_TOOL_ERROR_EXIT: the exit code
 * scripts/valgrind.sh gives valgrind (--error-exitcode=99, daemon run through
 * $MEDIACANCEL_DAEMON_WRAPPER) and scripts/test.sh gives the sanitizers (exitcode=99). */
void harness_stop(Harness *h);
#define HARNESS_TOOL_ERROR_EXIT 99
/* 1 normally; larger when the daemon runs under $MEDIACANCEL_DAEMON_WRAPPER (valgrind is
 * 20-50 times slower): a factor for tests that wait for the daemon within a fixed time. */
int harness_slowdown(void);

/* SIGKILL the stand-in and reap it; all its state (tokens, operations, counters) is lost. */
void harness_kill_standin(Harness *h);
/* Starts the stand-in again, on the same port and with the same arguments (killing it first
 * if it still runs). */
void harness_restart_standin(Harness *h);

int harness_connect(Harness *h);
/* A connection made by a child that became uid/gid with these supplementary groups: the
 * daemon sees that identity (SO_PEERCRED, SO_PEERGROUPS) while the test, root, talks over it.
 * ret_pid, if not NULL, gets the child's pid (the peer pid the daemon logs). */
int harness_connect_as(Harness *h, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, pid_t *ret_pid);
void harness_send(int fd, const char *line);
/* One line as JSON; NULL on EOF or after timeout_ms. */
json_object *harness_read(int fd, int timeout_ms);
/* Sends a request with a fresh numeric id and returns the reply with that id. */
json_object *harness_call(Harness *h, int fd, const char *method, const char *params_json);

json_object *standin_get(Harness *h, const char *path);
json_object *standin_post(Harness *h, const char *path, const char *body);
int standin_stat(Harness *h, const char *counter);
/* "Bearer <JWT>" from the stand-in's notification signer: variant "good" or one of the bad
 * ones (docs/standin.md); tenant NULL for the stand-in's own. */
char *harness_notification_token(Harness *h, const char *variant, const char *tenant);
/* body (a JSON object's text) with "authorization" set to a token of that variant. */
char *harness_signed_body(Harness *h, const char *body, const char *variant);

/* Runs mediacancelctl with args against the daemon's socket; returns its exit status. */
int harness_ctl(Harness *h, const char *args, char **ret_stdout, char **ret_stderr);

/* Convenience accessors: "result.operation.status" style paths. */
json_object *jpath(json_object *j, const char *path);
const char *jstr(json_object *j, const char *path);
int64_t jint(json_object *j, const char *path);

char *read_file_text(const char *path);
