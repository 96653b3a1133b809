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

typedef struct Harness {
        char dir[256];
        char socket_path[100]; /* fits sockaddr_un */
        char config_path[320];
        char secret_path[320];
        char daemon_log[320];
        int port;
        pid_t standin_pid;
        pid_t daemon_pid;
        int next_id;
} Harness;

typedef struct HarnessOptions {
        const char *standin_args; /* extra stand-in arguments, space separated */
        const char *config_extra; /* INI text appended to the daemon's config */
        const char *daemon_secret; /* secret the daemon presents; default: the right one */
        bool no_daemon;
} HarnessOptions;

/* Creates the CA once per test program (call from main before running suites). */
void harness_global_init(void);
void harness_global_cleanup(void);

void harness_start(Harness *h, const HarnessOptions *o);
void harness_start_daemon(Harness *h);
/* SIGTERM and wait; returns the daemon's exit status (or -1). */
int harness_stop_daemon(Harness *h);
void harness_stop(Harness *h);

int harness_connect(Harness *h);
void harness_send(int fd, const char *line);
/* One line as JSON; NULL on EOF or after timeout_ms. */
json_object *harness_read(int fd, int timeout_ms);
/* Sends a request with a fresh numeric id and returns the reply with that id. */
json_object *harness_call(Harness *h, int fd, const char *method, const char *params_json);

json_object *standin_get(Harness *h, const char *path);
json_object *standin_post(Harness *h, const char *path, const char *body);
int standin_stat(Harness *h, const char *counter);

/* Runs mediacancelctl with args against the daemon's socket; returns its exit status. */
int harness_ctl(Harness *h, const char *args, char **ret_stdout, char **ret_stderr);

/* Convenience accessors: "result.operation.status" style paths. */
json_object *jpath(json_object *j, const char *path);
const char *jstr(json_object *j, const char *path);
int64_t jint(json_object *j, const char *path);

char *read_file_text(const char *path);
