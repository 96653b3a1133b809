/* SPDX-License-Identifier: MIT */
/*
 * ctl.h — what every part of mediacancelctl shares: its name in messages, its exit statuses
 * (docs/mediacancelctl.md, "Exit status"), the microseconds its timeouts are counted in, and
 * the two ways out of memory shows up (a message, a json-c member that could not be added).
 */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "macro.h"

#define PROGRAM_NAME "mediacancelctl"

/* 0 is EXIT_SUCCESS; EXIT_FAILURE (1) also stands for output that could not be written. */
#define EXIT_DAEMON_ERROR 1
#define EXIT_USAGE 2
#define EXIT_COMMUNICATION 3

typedef uint64_t usec_t;
#define USEC_INFINITY UINT64_MAX
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

static inline int log_oom(void) {
        fputs(PROGRAM_NAME ": out of memory\n", stderr);
        return -ENOMEM;
}

/* Adds v (which may be NULL: a failed json_object_new_*()) to o, consuming it; -ENOMEM. */
static inline int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}
