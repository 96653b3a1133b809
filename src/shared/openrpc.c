/* SPDX-License-Identifier: MIT */
/*
 * openrpc.c — see openrpc.h. Builds the document as a json-c tree; the rows' schemas and
 * examples are JSON text, parsed here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "json-util.h"
#include "openrpc.h"
#include "protocol.h"

/* A schema from a row: {"type": …, <row's keywords>}. */
static json_object *param_schema(const RpcParamSpec *p) {
        _cleanup_free_ char *text = NULL;

        if (asprintf(&text, "{\"type\":\"%s\"%s%s}", rpc_param_type_name(p->type), p->schema ? "," : "",
                     p->schema ?: "") < 0)
                return NULL;
        return json_tokener_parse(text);
}

/* The Content Descriptor of a parameter. */
static json_object *param_descriptor(const RpcParamSpec *p) {
        _cleanup_json_ json_object *d = json_object_new_object();

        if (json_member_add(d, "name", json_object_new_string(p->name)) < 0 ||
            json_member_add(d, "description", json_object_new_string(p->description ?: "")) < 0 ||
            json_member_add(d, "required", json_object_new_boolean(p->required)) < 0 ||
            json_member_add(d, "schema", param_schema(p)) < 0)
                return NULL;
        return TAKE_PTR(d);
}

static json_object *params_array(const RpcParamSpec *params, size_t n) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_element_append(a, param_descriptor(&params[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* An OpenRPC Error Object for a class: its code, its name as the message, and the data every
 * error of the class carries. */
static json_object *error_object(ErrorClass c) {
        _cleanup_json_ json_object *e = json_object_new_object(), *data = json_object_new_object();

        if (json_member_add(data, "class", json_object_new_string(protocol_errors[c].name)) < 0 ||
            json_member_add(e, "code", json_object_new_int(protocol_errors[c].code)) < 0 ||
            json_member_add(e, "message", json_object_new_string(protocol_errors[c].name)) < 0 ||
            json_member_add(e, "data", TAKE_PTR(data)) < 0)
                return NULL;
        return TAKE_PTR(e);
}

static json_object *method_object(const RpcMethodSpec *m) {
        _cleanup_json_ json_object *o = json_object_new_object(), *result = json_object_new_object(),
                                   *errors = json_object_new_array();

        if (!errors || json_member_add(result, "name", json_object_new_string(m->result_name ?: "result")) < 0 ||
            json_member_add(result, "schema", json_tokener_parse(m->result_schema ?: "{\"type\":\"object\"}")) < 0)
                return NULL;
        for (int c = 0; c < _ERROR_CLASS_MAX; c++)
                if ((m->errors & RPC_ERROR_BIT(c)) && json_element_append(errors, error_object((ErrorClass) c)) < 0)
                        return NULL;
        if (json_member_add(o, "name", json_object_new_string(m->name)) < 0 ||
            json_member_add(o, "summary", json_object_new_string(m->summary ?: "")) < 0 ||
            json_member_add(o, "description", json_object_new_string(m->description ?: "")) < 0 ||
            json_member_add(o, "paramStructure", json_object_new_string("by-name")) < 0 ||
            json_member_add(o, "params", params_array(m->params, m->n_params)) < 0 ||
            json_member_add(o, "result", TAKE_PTR(result)) < 0 ||
            json_member_add(o, "errors", TAKE_PTR(errors)) < 0 ||
            json_member_add(o, "examples", json_tokener_parse(m->examples ?: "[]")) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *event_object(const RpcEventSpec *e) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (json_member_add(o, "name", json_object_new_string(e->name)) < 0 ||
            json_member_add(o, "description", json_object_new_string(e->description ?: "")) < 0 ||
            json_member_add(o, "paramStructure", json_object_new_string("by-name")) < 0 ||
            json_member_add(o, "params", params_array(e->params, e->n_params)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

json_object *openrpc_document(const RpcMethodSpec *const *methods, size_t n_methods, const RpcEventSpec *events,
                              size_t n_events, const char *socket_path) {
        _cleanup_json_ json_object *doc = json_object_new_object(), *info = json_object_new_object(),
                                   *list = json_object_new_array(), *components = json_object_new_object(),
                                   *errors = json_object_new_object(), *event_list = json_object_new_array();
        char version[16];

        if (!list || !event_list)
                return NULL;
        (void) snprintf(version, sizeof version, "%d", PROTOCOL_VERSION);
        if (json_member_add(info, "title", json_object_new_string("mediacanceld socket protocol")) < 0 ||
            json_member_add(info, "version", json_object_new_string(version)) < 0 ||
            json_member_add(info, "description",
                            json_object_new_string("JSON-RPC 2.0 over a Unix stream socket, one JSON text per line "
                                                   "(docs/protocol.md). info.version is the protocol version, as "
                                                   "status reports it in protocolVersion.")) < 0)
                return NULL;

        for (size_t i = 0; i < n_methods; i++)
                if (json_element_append(list, method_object(methods[i])) < 0)
                        return NULL;
        for (int c = 0; c < _ERROR_CLASS_MAX; c++)
                if (json_member_add(errors, protocol_errors[c].name, error_object((ErrorClass) c)) < 0)
                        return NULL;
        for (size_t i = 0; i < n_events; i++)
                if (json_element_append(event_list, event_object(&events[i])) < 0)
                        return NULL;

        if (json_member_add(components, "errors", TAKE_PTR(errors)) < 0 ||
            json_member_add(doc, "openrpc", json_object_new_string(OPENRPC_VERSION)) < 0 ||
            json_member_add(doc, "info", TAKE_PTR(info)) < 0)
                return NULL;
        if (socket_path) {
                _cleanup_json_ json_object *servers = json_object_new_array(), *server = json_object_new_object();
                _cleanup_free_ char *url = NULL;

                if (!servers || asprintf(&url, "unix://%s", socket_path) < 0 ||
                    json_member_add(server, "name", json_object_new_string("mediacanceld")) < 0 ||
                    json_member_add(server, "url", json_object_new_string(url)) < 0 ||
                    json_element_append(servers, TAKE_PTR(server)) < 0 ||
                    json_member_add(doc, "servers", TAKE_PTR(servers)) < 0)
                        return NULL;
        }
        if (json_member_add(doc, "methods", TAKE_PTR(list)) < 0 ||
            json_member_add(doc, "components", TAKE_PTR(components)) < 0 ||
            json_member_add(doc, "x-protocol-version", json_object_new_int(PROTOCOL_VERSION)) < 0 ||
            json_member_add(doc, "x-daemon-version", json_object_new_string(PACKAGE_VERSION)) < 0 ||
            json_member_add(doc, "x-events", TAKE_PTR(event_list)) < 0)
                return NULL;
        return TAKE_PTR(doc);
}
