/* SPDX-License-Identifier: MIT */
/*
 * ctl-args.h — what the user asked mediacancelctl for: the global options, the command with
 * its one argument and its own options, and the request params they make (for deliver, the
 * body read from its FILE).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "ctl.h"

typedef enum Command {
        COMMAND_CANCEL,
        COMMAND_GET,
        COMMAND_LIST,
        COMMAND_STATUS,
        COMMAND_WATCH,
        COMMAND_DELIVER,
        COMMAND_DISCOVER,
} Command;

typedef struct Arguments {
        const char *socket_path;
        bool json;
        usec_t timeout; /* USEC_INFINITY: wait forever */
        bool have_timeout;
        Command command;
        const char *argument;
        const char *context;
        bool all;
        const char *call;
        const char *tenant; /* --tenant: cancel's and list's tenantId */
        const char *status;
        bool have_limit;
        int64_t limit;
        bool wait;
        json_object *body; /* deliver: the notification body read from FILE */
        const char *authorization;      /* deliver: the Authorization header value, or… */
        const char *authorization_file; /* …the file that holds it (read_authorization()) */
} Arguments;

/* Fills a from the environment and the command line. Returns 1 to go on, 0 when --help or
 * --version already did the job, -EINVAL on usage errors (after printing a one-line hint),
 * -ENOMEM (after saying so). */
int parse_argv(int argc, char *argv[], Arguments *a);

/* The protocol method a command calls. */
const char *command_method(Command command);

/* The params of the request for a's command, or NULL for a command that sends none. */
int build_params(const Arguments *a, json_object **ret);

/* Reads a notification body for deliver: all of FILE, or of stdin for "-", as one JSON value.
 * Says what went wrong itself; -ENOMEM, or another negative errno for a usage error. */
int read_body(const char *path, json_object **ret);

/* The Authorization header value in path: its first line, without the line end, at most
 * 64 KiB. The result must be freed with erase_and_free(). Says what went wrong itself (never
 * quoting the content); -ENOMEM, or another negative errno for a usage error. */
int read_authorization(const char *path, char **ret);
