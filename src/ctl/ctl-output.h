/* SPDX-License-Identifier: MIT */
/*
 * ctl-output.h — how mediacancelctl shows a reply: --json or text for people, daemon errors on
 * stderr, the lines of watch, and reading the members of the daemon's JSON for display.
 */
#pragma once

#include <json-c/json.h>

#include "ctl-args.h"

/* The text of a member, or NULL if it is absent or null. Non-strings come back as their JSON
 * text, so a daemon that sends a number where we expect a string still shows up readably. */
const char *member(json_object *o, const char *key);
/* A member that is an object, or NULL. */
json_object *member_object(json_object *o, const char *key);

/* The result of a's command on stdout. -EBADMSG: not the shape this client knows (the caller
 * suggests --json); -ENOMEM. */
int print_result(const Arguments *a, json_object *result);

/* One line on stderr: "mediacancelctl: CLASS: message (details)". */
void print_daemon_error(json_object *error);

/* watch: "Operation ID (call …, context …)" before the first state (nothing with --json), then
 * one line per state of the operation: its holder (the result, or an event's params) with
 * --json, else "TIME  STATUS  RESULT  ERROR". */
void print_watch_header(const Arguments *a, const char *id, json_object *op);
void print_watch_line(const Arguments *a, json_object *holder, json_object *op);

/* Flushes stdout and reports a write error (but for EPIPE: the reader is gone): -EIO. */
int flush_stdout(void);
