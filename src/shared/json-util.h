/* SPDX-License-Identifier: MIT */
/*
 * json-util.h — what every user of json-c trees shares: the cleanup attribute for a
 * json_object reference, and adding members without the ways json-c has to crash or leak.
 * Here and not in basic/macro.h, which depends on libc alone.
 */
#pragma once

#include <errno.h>
#include <json-c/json.h>

#include "macro.h"

static inline void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* json_object_object_add() for building trees when memory may run out. json-c asserts (and
 * aborts the daemon) when obj is NULL, stores a NULL value as JSON null, and leaks value when
 * it cannot allocate the member. Here a NULL obj or value is the failed constructor it comes
 * from: value is always consumed, and the result is 0 or -ENOMEM. So a builder can chain
 * json_member_add() calls with || and stop at the first failure. */
static inline int json_member_add(json_object *obj, const char *key, json_object *value) {
        if (!obj || !value || json_object_object_add(obj, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* A member that is JSON null on purpose. */
static inline int json_member_add_null(json_object *obj, const char *key) {
        if (!obj || json_object_object_add(obj, key, NULL) < 0)
                return -ENOMEM;
        return 0;
}

/* A string member, or null when s is NULL. */
static inline int json_member_add_string(json_object *obj, const char *key, const char *s) {
        return s ? json_member_add(obj, key, json_object_new_string(s)) : json_member_add_null(obj, key);
}

/* json_object_array_add() likewise: value consumed, a NULL array or value is -ENOMEM. */
static inline int json_element_append(json_object *array, json_object *value) {
        if (!array || !value || json_object_array_add(array, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* json_object_to_json_string_length(), or NULL when json-c ran out of memory on the way:
 * json-c 0.16 ignores a failed append to its print buffer and returns the text cut short,
 * which would go out as a broken line. A failed malloc() leaves errno at ENOMEM. */
static inline const char *json_to_text(json_object *j, int flags, size_t *ret_len) {
        int saved = errno;
        const char *s;

        errno = 0;
        s = json_object_to_json_string_length(j, flags, ret_len);
        if (errno == ENOMEM)
                s = NULL;
        else
                errno = saved;
        return s;
}
