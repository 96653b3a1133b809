/* SPDX-License-Identifier: MIT */
/*
 * mediacancelctl.c — the command-line client of mediacanceld: main() runs the command the
 * arguments name (ctl-args.c) as one call to the daemon (ctl-connection.c), shows the reply
 * (ctl-output.c) and turns it into the exit status.
 *
 * `watch` (and `cancel --wait`) keep the connection open past the reply: watch prints each
 * operation.changed event for its operation until the operation is settled.
 *
 * Exit status: 0 success, 1 the daemon answered with an error (or output could not be
 * written; for watch and cancel --wait also: the operation ended failed or unknown), 2 usage
 * error, 3 no usable conversation with the daemon (connect failed, the connection dropped,
 * timeout, reply not understood).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include <json-c/json.h>

#include "ctl-args.h"
#include "ctl-connection.h"
#include "ctl-output.h"
#include "json-util.h"
#include "protocol.h"

/* The exit status for a reply: the daemon's verdict, or what went wrong showing it. */
static int handle_reply(const Arguments *a, json_object *reply) {
        json_object *error, *result;
        int r;

        if (json_object_object_get_ex(reply, "error", &error) && !json_object_is_type(error, json_type_null)) {
                print_daemon_error(error);
                return EXIT_DAEMON_ERROR;
        }

        if (!json_object_object_get_ex(reply, "result", &result)) {
                fprintf(stderr, PROGRAM_NAME ": malformed reply from %s\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }

        r = print_result(a, result);
        if (r == -EBADMSG) {
                fprintf(stderr, PROGRAM_NAME ": unexpected result from %s; try --json\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }
        if (r < 0) {
                (void) log_oom();
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* "completed" → 0, "failed"/"unknown" → 1, anything else (still pending) → -1. */
static int settled_exit_status(json_object *op) {
        const char *status = member(op, "status");

        if (!status)
                return -1;
        if (streq(status, "completed"))
                return EXIT_SUCCESS;
        if (streq(status, "failed") || streq(status, "unknown"))
                return EXIT_DAEMON_ERROR;
        return -1;
}

/* watch: the reply's operation, then each operation.changed event for it, one line each,
 * until it is settled. Returns the exit status. */
static int watch(const Arguments *a, json_object *result, Connection *c) {
        _cleanup_json_ json_object *current = NULL; /* the event whose operation op is */
        json_object *holder = result, *op = member_object(result, "operation");
        _cleanup_free_ char *id = NULL;
        int r;

        if (!op || !member(op, "id")) {
                fprintf(stderr, PROGRAM_NAME ": unexpected result from %s; try --json\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }
        id = strdup(member(op, "id"));
        if (!id) {
                (void) log_oom();
                return EXIT_FAILURE;
        }
        print_watch_header(a, id, op);
        for (;;) {
                json_object *event = NULL, *params = NULL, *next = NULL;

                print_watch_line(a, holder, op);
                /* Each change as it happens, also when stdout is a pipe. */
                if (flush_stdout() < 0)
                        return EXIT_FAILURE;
                r = settled_exit_status(op);
                if (r >= 0)
                        return r;

                /* The next operation.changed about this operation; other lines are skipped. */
                while (!next) {
                        json_object_put(event);
                        event = NULL;
                        r = connection_read_event(c, "the next change", &event);
                        if (r < 0)
                                return EXIT_COMMUNICATION;
                        if (event && streq_ptr(member(event, "method"), EVENT_OPERATION_CHANGED) &&
                            (params = member_object(event, "params")) &&
                            streq_ptr(member(member_object(params, "operation"), "id"), id))
                                next = member_object(params, "operation");
                }
                json_object_put(current);
                current = event;
                holder = params;
                op = next;
        }
}

int main(int argc, char *argv[]) {
        _cleanup_json_ json_object *params = NULL, *reply = NULL, *body = NULL;
        _cleanup_(erase_and_freep) char *authorization = NULL;
        _cleanup_(connection_done) Connection c = CONNECTION_NULL;
        Arguments a;
        bool stream;
        int r, ret;

        r = parse_argv(argc, argv, &a);
        if (r == -ENOMEM)
                return EXIT_FAILURE;
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return flush_stdout() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* MSG_NOSIGNAL covers the socket; this covers stdout, whose errors we report. */
        (void) signal(SIGPIPE, SIG_IGN);

        if (a.command == COMMAND_DELIVER) {
                r = read_body(a.argument, &body);
                if (r < 0)
                        return r == -ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
                a.body = body;
                if (a.authorization_file) {
                        r = read_authorization(a.authorization_file, &authorization);
                        if (r < 0)
                                return r == -ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
                        a.authorization = authorization;
                }
        }

        r = build_params(&a, &params);
        if (r < 0) {
                (void) log_oom();
                return EXIT_FAILURE;
        }

        stream = a.command == COMMAND_WATCH;
        r = connection_call(&c, a.socket_path, a.timeout, command_method(a.command), params, stream, &reply);
        if (r < 0)
                return r == -ENOMEM ? EXIT_FAILURE : EXIT_COMMUNICATION;

        if (stream) {
                json_object *result;

                if (json_object_object_get_ex(reply, "result", &result) && !json_object_is_type(result, json_type_null))
                        ret = watch(&a, result, &c);
                else
                        ret = handle_reply(&a, reply);
        } else {
                ret = handle_reply(&a, reply);
                /* cancel --wait: the reply is the outcome, and the exit status says which. */
                if (ret == EXIT_SUCCESS && a.command == COMMAND_CANCEL && a.wait) {
                        json_object *result;

                        if (json_object_object_get_ex(reply, "result", &result) &&
                            settled_exit_status(member_object(result, "operation")) == EXIT_DAEMON_ERROR)
                                ret = EXIT_DAEMON_ERROR;
                }
        }
        if (flush_stdout() < 0 && ret == EXIT_SUCCESS)
                ret = EXIT_FAILURE;
        return ret;
}
