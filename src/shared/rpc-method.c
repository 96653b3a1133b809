/* SPDX-License-Identifier: MIT */
/*
 * rpc-method.c — see rpc-method.h: the generic parameter check every method's request goes
 * through, driven by the method's rows.
 */
#include "rpc-method.h"
#include "util.h"

static const char *const type_names[_RPC_PARAM_TYPE_MAX] = {
        [RPC_PARAM_STRING] = "string", [RPC_PARAM_BOOLEAN] = "boolean", [RPC_PARAM_INTEGER] = "integer",
        [RPC_PARAM_ARRAY] = "array",   [RPC_PARAM_OBJECT] = "object",
};

/* How the messages say it: "must be a string", "must be an integer". */
static const char *const type_phrases[_RPC_PARAM_TYPE_MAX] = {
        [RPC_PARAM_STRING] = "a string", [RPC_PARAM_BOOLEAN] = "a boolean", [RPC_PARAM_INTEGER] = "an integer",
        [RPC_PARAM_ARRAY] = "an array",  [RPC_PARAM_OBJECT] = "an object",
};

const char *rpc_param_type_name(RpcParamType t) {
        return t >= 0 && t < _RPC_PARAM_TYPE_MAX ? type_names[t] : NULL;
}

const RpcParamSpec *rpc_method_param(const RpcMethodSpec *m, const char *name) {
        for (size_t i = 0; i < m->n_params; i++)
                if (streq(m->params[i].name, name))
                        return &m->params[i];
        return NULL;
}

static bool has_type(json_object *v, RpcParamType t) {
        switch (t) {
        case RPC_PARAM_STRING:
                return json_object_is_type(v, json_type_string);
        case RPC_PARAM_BOOLEAN:
                return json_object_is_type(v, json_type_boolean);
        case RPC_PARAM_INTEGER:
                /* 1.0 or 1e2 is a number, not an integer, as everywhere in this protocol. */
                return json_object_is_type(v, json_type_int);
        case RPC_PARAM_ARRAY:
                return json_object_is_type(v, json_type_array);
        case RPC_PARAM_OBJECT:
                return json_object_is_type(v, json_type_object);
        default:
                return false;
        }
}

Error *rpc_params_check(json_object *params, const RpcMethodSpec *m) {
        if (params && !json_object_is_type(params, json_type_object))
                return error_invalid_param("params", "Parameters must be given by name (an object).");

        if (params) {
                json_object_object_foreach(params, key, _val) {
                        (void) _val;
                        if (!rpc_method_param(m, key))
                                return error_invalid_param(key, "Unknown parameter \"%s\".", key);
                }
        }

        for (size_t i = 0; i < m->n_params; i++) {
                const RpcParamSpec *p = &m->params[i];
                json_object *v = NULL;

                if (!params || !json_object_object_get_ex(params, p->name, &v) || !v) {
                        if (p->required)
                                return error_invalid_param(p->name, "Missing parameter \"%s\".", p->name);
                        continue;
                }
                if (!has_type(v, p->type))
                        return error_invalid_param(p->name, "Parameter \"%s\" must be %s.", p->name,
                                                   type_phrases[p->type]);
        }
        return NULL;
}
