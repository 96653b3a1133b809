/* SPDX-License-Identifier: MIT */
/*
 * errors.c — Error objects, including the one static "Out of memory." Error that stands in for
 * any Error that could not be allocated (the error model: errors.h), and the lookups over
 * protocol.h's table of error classes.
 */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"
#include "json-util.h"

int error_class_code(ErrorClass c) {
        if (c < 0 || c >= _ERROR_CLASS_MAX)
                return protocol_errors[ERROR_INTERNAL].code;
        return protocol_errors[c].code;
}

const char *error_class_name(ErrorClass c) {
        if (c < 0 || c >= _ERROR_CLASS_MAX)
                return protocol_errors[ERROR_INTERNAL].name;
        return protocol_errors[c].name;
}

ErrorClass error_class_from_name(const char *name) {
        for (int i = 0; i < _ERROR_CLASS_MAX; i++)
                if (name && streq(name, protocol_errors[i].name))
                        return (ErrorClass) i;
        return _ERROR_CLASS_INVALID;
}

/* Never written: error_free() and error_data_set() leave it alone. Not const only because
 * Error * is what every caller handles. */
static Error error_out_of_memory = {
        .class = ERROR_INTERNAL,
        .message = (char *) "Out of memory.",
};

Error *error_oom(void) {
        return &error_out_of_memory;
}

bool error_is_oom(const Error *e) {
        return e == &error_out_of_memory;
}

static Error *error_newv(ErrorClass class, json_object *data, const char *fmt, va_list ap) {
        Error *e = calloc(1, sizeof *e);

        if (!e || vasprintf(&e->message, fmt, ap) < 0) {
                free(e);
                json_object_put(data);
                return error_oom();
        }
        e->class = class;
        e->data = data;
        return e;
}

Error *error_new(ErrorClass class, json_object *data, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        Error *e = error_newv(class, data, fmt, ap);
        va_end(ap);
        return e;
}

/* An Error whose data holds one string member: without that member it would not be the error
 * the caller means (a LimitExceeded that names no limit), so running out of memory for it is
 * an "Out of memory." of its own. */
static Error *error_with_member(ErrorClass class, const char *key, const char *value, const char *fmt, va_list ap) {
        json_object *data = json_object_new_object();

        if (json_member_add_string(data, key, value) < 0) {
                json_object_put(data);
                return error_oom();
        }
        return error_newv(class, data, fmt, ap);
}

Error *error_invalid_param(const char *param, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        Error *e = error_with_member(ERROR_INVALID_PARAMS, "param", param, fmt, ap);
        va_end(ap);
        return e;
}

Error *error_limit(const char *limit, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        Error *e = error_with_member(ERROR_LIMIT_EXCEEDED, "limit", limit, fmt, ap);
        va_end(ap);
        return e;
}

Error *error_copy(const Error *e) {
        json_object *data = NULL;

        if (!e)
                return NULL;
        if (error_is_oom(e))
                return error_oom();
        if (e->data && json_object_deep_copy(e->data, &data, NULL) < 0)
                return error_oom();
        return error_new(e->class, data, "%s", e->message);
}

Error *error_free(Error *e) {
        if (!e || error_is_oom(e))
                return NULL;
        free(e->message);
        json_object_put(e->data);
        free(e);
        return NULL;
}

int error_data_set(Error *e, const char *key, json_object *value) {
        if (error_is_oom(e)) {
                json_object_put(value);
                return -ENOMEM;
        }
        if (!e->data) {
                e->data = json_object_new_object();
                if (!e->data) {
                        json_object_put(value);
                        return -ENOMEM;
                }
        }
        if (!value)
                return json_member_add_null(e->data, key);
        return json_member_add(e->data, key, value);
}

static int copy_members(json_object *to, json_object *from) {
        if (!from)
                return 0;
        json_object_object_foreach(from, k, v) {
                /* A member that is null is null on purpose, and json_object_get(NULL) is NULL. */
                int r = v ? json_member_add(to, k, json_object_get(v)) : json_member_add_null(to, k);
                if (r < 0)
                        return r;
        }
        return 0;
}

json_object *error_to_rpc_json(const Error *e) {
        _cleanup_json_ json_object *j = json_object_new_object();
        json_object *data = json_object_new_object();

        if (json_member_add(data, "class", json_object_new_string(error_class_name(e->class))) < 0 ||
            copy_members(data, e->data) < 0) {
                json_object_put(data);
                return NULL;
        }
        if (json_member_add(j, "code", json_object_new_int(error_class_code(e->class))) < 0 ||
            json_member_add(j, "message", json_object_new_string(e->message)) < 0 || json_member_add(j, "data", data) < 0)
                return NULL;
        return TAKE_PTR(j);
}

json_object *error_to_operation_json(const Error *e) {
        _cleanup_json_ json_object *j = json_object_new_object();

        if (json_member_add(j, "class", json_object_new_string(error_class_name(e->class))) < 0 ||
            json_member_add(j, "message", json_object_new_string(e->message)) < 0 || copy_members(j, e->data) < 0)
                return NULL;
        return TAKE_PTR(j);
}

int error_write_operation_json(const Error *e, Buffer *b) {
        _cleanup_json_ json_object *j = error_to_operation_json(e);
        const char *s;
        size_t n;

        if (!j)
                return -ENOMEM;
        s = json_to_text(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s)
                return -ENOMEM;
        return buffer_append(b, s, n);
}

Error *error_from_operation_json(json_object *j) {
        json_object *v, *data;
        ErrorClass class;

        if (!json_object_is_type(j, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(j, "class", &v))
                return NULL;
        class = error_class_from_name(json_object_get_string(v));
        if (class < 0)
                return NULL;
        data = json_object_new_object();
        if (!data)
                return error_oom();
        json_object_object_foreach(j, k, val)
                if (!streq(k, "class") && !streq(k, "message") &&
                    (val ? json_member_add(data, k, json_object_get(val)) : json_member_add_null(data, k)) < 0) {
                        json_object_put(data);
                        return error_oom();
                }
        const char *msg = json_object_object_get_ex(j, "message", &v) ? json_object_get_string(v) : "";
        return error_new(class, data, "%s", msg);
}
