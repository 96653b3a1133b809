/* SPDX-License-Identifier: MIT */
/*
 * errors.c — Error objects, and the lookups over protocol.h's table of error classes.
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

static Error *error_newv(ErrorClass class, json_object *data, const char *fmt, va_list ap) {
        Error *e = calloc(1, sizeof *e);

        if (!e || vasprintf(&e->message, fmt, ap) < 0) {
                free(e);
                json_object_put(data);
                return NULL;
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

Error *error_invalid_param(const char *param, const char *fmt, ...) {
        json_object *data = json_object_new_object();
        va_list ap;

        json_object_object_add(data, "param", json_object_new_string(param));
        va_start(ap, fmt);
        Error *e = error_newv(ERROR_INVALID_PARAMS, data, fmt, ap);
        va_end(ap);
        return e;
}

Error *error_limit(const char *limit, const char *fmt, ...) {
        json_object *data = json_object_new_object();
        va_list ap;

        json_object_object_add(data, "limit", json_object_new_string(limit));
        va_start(ap, fmt);
        Error *e = error_newv(ERROR_LIMIT_EXCEEDED, data, fmt, ap);
        va_end(ap);
        return e;
}

Error *error_copy(const Error *e) {
        json_object *data = NULL;

        if (!e)
                return NULL;
        if (e->data && json_object_deep_copy(e->data, &data, NULL) < 0)
                return NULL;
        return error_new(e->class, data, "%s", e->message);
}

Error *error_free(Error *e) {
        if (!e)
                return NULL;
        free(e->message);
        json_object_put(e->data);
        free(e);
        return NULL;
}

static void copy_members(json_object *to, json_object *from) {
        if (!from)
                return;
        json_object_object_foreach(from, k, v)
                json_object_object_add(to, k, json_object_get(v));
}

json_object *error_to_rpc_json(const Error *e) {
        json_object *j = json_object_new_object(), *data = json_object_new_object();

        json_object_object_add(j, "code", json_object_new_int(error_class_code(e->class)));
        json_object_object_add(j, "message", json_object_new_string(e->message));
        json_object_object_add(data, "class", json_object_new_string(error_class_name(e->class)));
        copy_members(data, e->data);
        json_object_object_add(j, "data", data);
        return j;
}

json_object *error_to_operation_json(const Error *e) {
        json_object *j = json_object_new_object();

        json_object_object_add(j, "class", json_object_new_string(error_class_name(e->class)));
        json_object_object_add(j, "message", json_object_new_string(e->message));
        copy_members(j, e->data);
        return j;
}

int error_write_operation_json(const Error *e, Buffer *b) {
        _cleanup_json_ json_object *j = error_to_operation_json(e);
        const char *s;
        size_t n;

        if (!j)
                return -ENOMEM;
        s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
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
        json_object_object_foreach(j, k, val)
                if (!streq(k, "class") && !streq(k, "message"))
                        json_object_object_add(data, k, json_object_get(val));
        const char *msg = json_object_object_get_ex(j, "message", &v) ? json_object_get_string(v) : "";
        return error_new(class, data, "%s", msg);
}
