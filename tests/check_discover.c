/* SPDX-License-Identifier: MIT */
/*
 * check_discover.c — rpc.discover against the code it describes: the OpenRPC document made
 * from the dispatch table (methods.c, method-specs.c) lists exactly the methods the daemon
 * dispatches, exactly the parameters their rows admit (a parameter without a row is refused,
 * each row's parameter is known to the check), every error class with its code, the
 * operation.changed event and the protocol version; and a real daemon serves that document
 * and refuses and accepts parameters as it says.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json-util.h"
#include "methods.h"
#include "openrpc.h"
#include "operation.h"
#include "protocol.h"
#include "rpc-method.h"

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member %s in %s", key, json_object_to_json_string(o));
        return v;
}

static json_object *doc_method(json_object *doc, const char *name) {
        json_object *list = member(doc, "methods");

        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *m = json_object_array_get_idx(list, i);
                if (streq(json_object_get_string(member(m, "name")), name))
                        return m;
        }
        return NULL;
}

/* A value of another type than t. */
static json_object *wrong_value(RpcParamType t) {
        return t == RPC_PARAM_STRING ? json_object_new_int(5) : json_object_new_string("x");
}

/* The params of a method's first example, as an object. */
static json_object *example_params(json_object *m) {
        json_object *examples = member(m, "examples"), *o = json_object_new_object();

        ck_assert_uint_ge(json_object_array_length(examples), 1);
        json_object *params = member(json_object_array_get_idx(examples, 0), "params");
        for (size_t i = 0; i < json_object_array_length(params); i++) {
                json_object *p = json_object_array_get_idx(params, i);
                json_object_object_add(o, json_object_get_string(member(p, "name")), json_object_get(member(p, "value")));
        }
        return o;
}

/* Why value does not have the members schema says it has, or NULL: an object has its schema's
 * required members and, with additionalProperties false, no others; each member with a schema
 * and each element of an array likewise; under oneOf, one alternative fits. What ajv checks in
 * full (tests/node), here for the members alone, so that the suite holds the schemas to the
 * daemon's answers without Node.js. */
static const char *shape_error(json_object *schema, json_object *value) {
        static char why[256];
        json_object *x = NULL, *props = NULL, *more = NULL;

        if (json_object_object_get_ex(schema, "oneOf", &x)) {
                for (size_t i = 0; i < json_object_array_length(x); i++)
                        if (!shape_error(json_object_array_get_idx(x, i), value))
                                return NULL;
                snprintf(why, sizeof why, "no alternative of oneOf fits %s", json_object_to_json_string(value));
                return why;
        }
        if (json_object_object_get_ex(schema, "type", &x) && json_object_is_type(x, json_type_string) &&
            streq(json_object_get_string(x), "null"))
                return value ? "not null" : NULL;
        if (json_object_is_type(value, json_type_object)) {
                (void) json_object_object_get_ex(schema, "properties", &props);
                (void) json_object_object_get_ex(schema, "additionalProperties", &more);
                if (json_object_object_get_ex(schema, "required", &x))
                        for (size_t i = 0; i < json_object_array_length(x); i++) {
                                const char *name = json_object_get_string(json_object_array_get_idx(x, i));
                                if (!json_object_object_get_ex(value, name, NULL)) {
                                        snprintf(why, sizeof why, "member %s is missing", name);
                                        return why;
                                }
                        }
                json_object_object_foreach(value, key, v) {
                        json_object *ps = NULL;
                        if (props && json_object_object_get_ex(props, key, &ps)) {
                                const char *e = shape_error(ps, v);
                                if (e)
                                        return e;
                        } else if (more && !json_object_get_boolean(more)) {
                                snprintf(why, sizeof why, "member %s is not in the schema", key);
                                return why;
                        }
                }
        } else if (json_object_is_type(value, json_type_array) && json_object_object_get_ex(schema, "items", &x))
                for (size_t i = 0; i < json_object_array_length(value); i++) {
                        const char *e = shape_error(x, json_object_array_get_idx(value, i));
                        if (e)
                                return e;
                }
        return NULL;
}

/* Whether the method's errors in the document list this code. */
static bool documents_error(json_object *m, int code) {
        json_object *list = member(m, "errors");

        for (size_t i = 0; i < json_object_array_length(list); i++)
                if (json_object_get_int(member(json_object_array_get_idx(list, i), "code")) == code)
                        return true;
        return false;
}

START_TEST(test_document_header) {
        _cleanup_json_ json_object *doc = methods_discover_document("/run/x.sock");

        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(json_object_get_string(member(doc, "openrpc")), OPENRPC_VERSION);
        char v[16];
        snprintf(v, sizeof v, "%d", PROTOCOL_VERSION);
        ck_assert_str_eq(json_object_get_string(member(member(doc, "info"), "version")), v);
        ck_assert_int_eq(json_object_get_int(member(doc, "x-protocol-version")), PROTOCOL_VERSION);
        ck_assert_str_eq(json_object_get_string(member(doc, "x-daemon-version")), PACKAGE_VERSION);
        ck_assert_str_eq(json_object_get_string(member(json_object_array_get_idx(member(doc, "servers"), 0), "url")),
                         "unix:///run/x.sock");
        /* Without a path: no servers. */
        _cleanup_json_ json_object *bare = methods_discover_document(NULL);
        ck_assert_ptr_nonnull(bare);
        ck_assert(!json_object_object_get_ex(bare, "servers", NULL));
}
END_TEST

START_TEST(test_methods_both_ways) {
        _cleanup_json_ json_object *doc = methods_discover_document(NULL);
        json_object *list = member(doc, "methods");
        static const char *const names[] = { METHOD_CANCEL,         METHOD_OPERATION_GET,         METHOD_OPERATION_LIST,
                                             METHOD_OPERATION_WATCH, METHOD_NOTIFICATIONS_DELIVER, METHOD_STATUS,
                                             METHOD_RPC_DISCOVER };

        /* Every method dispatched is in the document, in the table's order, and nothing else. */
        ck_assert_uint_eq(json_object_array_length(list), methods_count());
        for (size_t i = 0; i < methods_count(); i++)
                ck_assert_str_eq(json_object_get_string(member(json_object_array_get_idx(list, i), "name")),
                                 methods_spec(i)->name);
        ck_assert_ptr_null(methods_spec(methods_count()));
        /* Every method name protocol.h declares is dispatched. */
        ck_assert_uint_eq(ELEMENTSOF(names), methods_count());
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                ck_assert_msg(doc_method(doc, names[i]), "%s is not in the document", names[i]);
}
END_TEST

START_TEST(test_params_both_ways) {
        _cleanup_json_ json_object *doc = methods_discover_document(NULL);

        for (size_t i = 0; i < methods_count(); i++) {
                const RpcMethodSpec *spec = methods_spec(i);
                json_object *m = doc_method(doc, spec->name);
                json_object *params = member(m, "params");

                ck_assert_str_eq(json_object_get_string(member(m, "paramStructure")), "by-name");
                /* The document's params are the rows, with their type and whether required. */
                ck_assert_uint_eq(json_object_array_length(params), spec->n_params);
                for (size_t k = 0; k < spec->n_params; k++) {
                        json_object *p = json_object_array_get_idx(params, k);
                        const RpcParamSpec *row = &spec->params[k];
                        ck_assert_str_eq(json_object_get_string(member(p, "name")), row->name);
                        ck_assert_int_eq(json_object_get_boolean(member(p, "required")), row->required);
                        ck_assert_str_eq(json_object_get_string(member(member(p, "schema"), "type")),
                                         rpc_param_type_name(row->type));
                        ck_assert_ptr_eq(rpc_method_param(spec, row->name), row);
                }

                /* The check knows every row: its example's params pass, each row with a value of
                 * another type is refused naming it, and a name without a row is refused. */
                _cleanup_json_ json_object *good = example_params(m);
                Error *e = rpc_params_check(good, spec);
                ck_assert_msg(!e, "%s: example refused: %s", spec->name, e ? e->message : "");
                json_object_object_foreach(good, name, _v) {
                        (void) _v;
                        ck_assert_msg(rpc_method_param(spec, name), "%s: example param %s has no row", spec->name, name);
                }
                for (size_t k = 0; k < spec->n_params; k++) {
                        _cleanup_json_ json_object *bad = example_params(m);
                        json_object_object_add(bad, spec->params[k].name, wrong_value(spec->params[k].type));
                        _cleanup_(error_freep) Error *err = rpc_params_check(bad, spec);
                        ck_assert_ptr_nonnull(err);
                        ck_assert_int_eq(err->class, ERROR_INVALID_PARAMS);
                        ck_assert_str_eq(json_object_get_string(member(err->data, "param")), spec->params[k].name);
                }
                _cleanup_json_ json_object *unknown = example_params(m);
                json_object_object_add(unknown, "notAParameter", json_object_new_int(1));
                _cleanup_(error_freep) Error *err = rpc_params_check(unknown, spec);
                ck_assert_ptr_nonnull(err);
                ck_assert_str_eq(json_object_get_string(member(err->data, "param")), "notAParameter");
        }
}
END_TEST

START_TEST(test_errors_and_events) {
        _cleanup_json_ json_object *doc = methods_discover_document(NULL);
        json_object *errors = member(member(doc, "components"), "errors");

        /* Every class of protocol.h with its code, and nothing else. */
        ck_assert_int_eq(json_object_object_length(errors), _ERROR_CLASS_MAX);
        for (int c = 0; c < _ERROR_CLASS_MAX; c++) {
                json_object *e = member(errors, protocol_errors[c].name);
                ck_assert_int_eq(json_object_get_int(member(e, "code")), protocol_errors[c].code);
                ck_assert_str_eq(json_object_get_string(member(member(e, "data"), "class")), protocol_errors[c].name);
        }
        /* Each method's errors are classes with their codes. */
        for (size_t i = 0; i < methods_count(); i++) {
                json_object *list = member(doc_method(doc, methods_spec(i)->name), "errors");
                ck_assert_uint_ge(json_object_array_length(list), 3);
                for (size_t k = 0; k < json_object_array_length(list); k++) {
                        json_object *e = json_object_array_get_idx(list, k);
                        ErrorClass c = protocol_error_from_code(json_object_get_int(member(e, "code")));
                        ck_assert_int_ge(c, 0);
                        ck_assert_str_eq(json_object_get_string(member(e, "message")), protocol_errors[c].name);
                }
        }
        json_object *events = member(doc, "x-events");
        ck_assert_uint_eq(json_object_array_length(events), 1);
        json_object *ev = json_object_array_get_idx(events, 0);
        ck_assert_str_eq(json_object_get_string(member(ev, "name")), EVENT_OPERATION_CHANGED);
        json_object *p = json_object_array_get_idx(member(ev, "params"), 0);
        ck_assert_str_eq(json_object_get_string(member(p, "name")), "operation");
        json_object *props = member(member(p, "schema"), "properties");
        ck_assert_ptr_nonnull(member(props, "clientContext"));

        /* The status values and error classes the schemas list are the code's. */
        json_object *statuses = member(member(props, "status"), "enum");
        json_object *classes = member(member(member(member(props, "error"), "properties"), "class"), "enum");
        json_object *counts = member(member(member(member(doc_method(doc, METHOD_STATUS), "result"), "schema"),
                                            "properties"),
                                     "operations");
        ck_assert_uint_eq(json_object_array_length(statuses), _OPERATION_STATUS_MAX);
        for (int i = 0; i < _OPERATION_STATUS_MAX; i++) {
                const char *name = operation_status_to_string((OperationStatus) i);
                ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(statuses, i)), name);
                ck_assert_ptr_nonnull(member(member(counts, "properties"), name));
        }
        ck_assert_uint_eq(json_object_array_length(classes), _ERROR_CLASS_MAX);
        for (int c = 0; c < _ERROR_CLASS_MAX; c++)
                ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(classes, c)), protocol_errors[c].name);
}
END_TEST

/* The tenant of the cancel example with tenantId (method-specs.c), which the daemon must allow
 * and the stand-in know for the example to be answered with a result. */
#define EXAMPLE_OTHER_TENANT "fabrikam.onmicrosoft.com"

/* The daemon serves the document built here, and refuses and accepts as it says. It runs with
 * the default [Notifications] Authentication=jwt: the notifications.deliver example is sent
 * with a token the stand-in signed in place of the example's authorization. */
START_TEST(test_daemon_serves_document) {
        Harness h;
        HarnessOptions o = { .standin_args = "--tenant " EXAMPLE_OTHER_TENANT,
                             .config_extra = "[Identity]\nAllowedTenants=" EXAMPLE_OTHER_TENANT "\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object *r = harness_call(&h, fd, METHOD_RPC_DISCOVER, NULL);
        _cleanup_json_ json_object *mine = methods_discover_document(h.socket_path);
        ck_assert_ptr_nonnull(mine);
        ck_assert_msg(json_object_equal(jpath(r, "result"), mine), "%s", json_object_to_json_string(r));
        json_object_put(r);

        /* mediacancelctl discover prints the same document, with or without --json. */
        for (int json = 0; json <= 1; json++) {
                char *out = NULL, *err = NULL;
                ck_assert_int_eq(harness_ctl(&h, json ? "--json discover" : "discover", &out, &err), 0);
                json_object *printed = json_tokener_parse(out);
                ck_assert_msg(printed && json_object_equal(printed, mine), "%s", out);
                ck_assert_str_eq(err, "");
                json_object_put(printed);
                free(out);
                free(err);
        }

        /* rpc.discover takes no params. */
        r = harness_call(&h, fd, METHOD_RPC_DISCOVER, "{\"x\":1}");
        ck_assert_int_eq(jint(r, "error.code"), -32602);
        ck_assert_str_eq(jstr(r, "error.data.param"), "x");
        json_object_put(r);

        for (size_t i = 0; i < methods_count(); i++) {
                const RpcMethodSpec *spec = methods_spec(i);
                json_object *m = doc_method(mine, spec->name);

                /* A name without a row. */
                _cleanup_json_ json_object *unknown = example_params(m);
                json_object_object_add(unknown, "notAParameter", json_object_new_int(1));
                r = harness_call(&h, fd, spec->name, json_object_to_json_string(unknown));
                ck_assert_msg(jint(r, "error.code") == -32602, "%s: %s", spec->name, json_object_to_json_string(r));
                ck_assert_str_eq(jstr(r, "error.data.param"), "notAParameter");
                json_object_put(r);

                /* Each row, with a value of another type. */
                for (size_t k = 0; k < spec->n_params; k++) {
                        _cleanup_json_ json_object *bad = example_params(m);
                        json_object_object_add(bad, spec->params[k].name, wrong_value(spec->params[k].type));
                        r = harness_call(&h, fd, spec->name, json_object_to_json_string(bad));
                        ck_assert_msg(jint(r, "error.code") == -32602, "%s: %s", spec->name, json_object_to_json_string(r));
                        ck_assert_str_eq(jstr(r, "error.data.param"), spec->params[k].name);
                        json_object_put(r);
                }
        }
        /* Nothing of that reached Graph. */
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);

        /* Every method's examples are answered with a result that has the members of the
         * result schema (tests/node checks it in full), and so does the example's own result;
         * an operationId is the one the first cancel example made, an authorization a token
         * the stand-in signed. */
        char *operation_id = NULL;
        for (size_t i = 0; i < methods_count(); i++) {
                const char *name = methods_spec(i)->name;
                json_object *m = doc_method(mine, name);
                json_object *schema = member(member(m, "result"), "schema");
                json_object *examples = member(m, "examples");
                for (size_t k = 0; k < json_object_array_length(examples); k++) {
                        json_object *ex = json_object_array_get_idx(examples, k);
                        json_object *ps = member(ex, "params");
                        _cleanup_json_ json_object *params = json_object_new_object();
                        const char *e;
                        for (size_t j = 0; j < json_object_array_length(ps); j++) {
                                json_object *p = json_object_array_get_idx(ps, j);
                                const char *pname = json_object_get_string(member(p, "name"));
                                json_object *v;
                                if (streq(pname, "operationId") && operation_id)
                                        v = json_object_new_string(operation_id);
                                else if (streq(pname, "authorization")) {
                                        char *token = harness_notification_token(&h, "good", NULL);
                                        v = json_object_new_string(token);
                                        free(token);
                                } else
                                        v = json_object_get(member(p, "value"));
                                json_object_object_add(params, pname, v);
                        }
                        e = shape_error(schema, member(member(ex, "result"), "value"));
                        ck_assert_msg(!e, "%s example %zu: its result: %s", name, k, e);
                        r = harness_call(&h, fd, name, json_object_to_json_string(params));
                        ck_assert_msg(jpath(r, "result"), "%s: %s", name, json_object_to_json_string(r));
                        e = shape_error(schema, jpath(r, "result"));
                        ck_assert_msg(!e, "%s example %zu: the answer: %s: %s", name, k, e, json_object_to_json_string(r));
                        if (!operation_id && jpath(r, "result.operation.id"))
                                operation_id = strdup(jstr(r, "result.operation.id"));
                        json_object_put(r);
                }
        }
        ck_assert_ptr_nonnull(operation_id);
        free(operation_id);

        /* The error classes these methods answer with are in their errors: a tenant not
         * allowed, an unsigned delivery. */
        r = harness_call(&h, fd, METHOD_CANCEL,
                         "{\"callId\":\"57dab8b1-894c-409a-b240-bd8beae78896\",\"tenantId\":\"northwind.example\"}");
        ck_assert_int_eq(jint(r, "error.code"), protocol_errors[ERROR_TENANT_NOT_ALLOWED].code);
        ck_assert(documents_error(doc_method(mine, METHOD_CANCEL), (int) jint(r, "error.code")));
        json_object_put(r);
        r = harness_call(&h, fd, METHOD_NOTIFICATIONS_DELIVER, "{\"value\":[]}");
        ck_assert_int_eq(jint(r, "error.code"), protocol_errors[ERROR_NOTIFICATION_REFUSED].code);
        ck_assert(documents_error(doc_method(mine, METHOD_NOTIFICATIONS_DELIVER), (int) jint(r, "error.code")));
        json_object_put(r);
        close(fd);
        harness_stop(&h);
}
END_TEST

static Suite *discover_suite(void) {
        Suite *s = suite_create("discover");
        TCase *tc = tcase_create("document");
        tcase_add_test(tc, test_document_header);
        tcase_add_test(tc, test_methods_both_ways);
        tcase_add_test(tc, test_params_both_ways);
        tcase_add_test(tc, test_errors_and_events);
        suite_add_tcase(s, tc);

        tc = tcase_create("daemon");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_daemon_serves_document);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return harness_main(discover_suite());
}
