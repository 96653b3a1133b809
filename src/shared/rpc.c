/* SPDX-License-Identifier: MIT */
/*
 * rpc.c — JSON-RPC 2.0 request validation and reply building (see rpc.h). The rules follow
 * the spec: "jsonrpc" must be exactly "2.0", "method" a string, "params" an object or array
 * when present, "id" a string, number or null when present. A missing id makes a
 * notification; an invalid entry in a batch is answered with its own error and the others
 * still run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-check.h"
#include "json-text.h"
#include "json-util.h"
#include "rpc.h"
#include "rpc-scan.h"
#include "validate.h"

static Error *item_validate(json_object *o, RpcItem *item) {
        json_object *v;

        item->has_id = false;
        item->id = NULL;

        if (!json_object_is_type(o, json_type_object)) {
                item->has_id = true; /* an invalid request is always answered */
                return error_new(ERROR_INVALID_REQUEST, NULL, "A request must be a JSON object.");
        }

        /* Take the id first, so that even an invalid request is answered with its id. */
        if (json_object_object_get_ex(o, "id", &v)) {
                enum json_type t = json_object_get_type(v);
                if (t == json_type_string || t == json_type_int || t == json_type_double ||
                    t == json_type_null) {
                        item->has_id = true;
                        item->id = v; /* NULL json object for null: json-c stores NULL */
                } else {
                        item->has_id = true;
                        item->id = NULL;
                        return error_new(ERROR_INVALID_REQUEST, NULL,
                                         "\"id\" must be a string, a number or null.");
                }
        }

        if (!json_object_object_get_ex(o, "jsonrpc", &v) || !json_object_is_type(v, json_type_string) ||
            !streq(json_object_get_string(v), "2.0")) {
                item->has_id = true; /* an invalid request is always answered */
                return error_new(ERROR_INVALID_REQUEST, NULL, "\"jsonrpc\" must be \"2.0\".");
        }

        if (!json_object_object_get_ex(o, "method", &v) || !json_object_is_type(v, json_type_string)) {
                item->has_id = true;
                return error_new(ERROR_INVALID_REQUEST, NULL, "\"method\" must be a string.");
        }
        item->method = json_object_get_string(v);

        if (json_object_object_get_ex(o, "params", &v) && v) {
                if (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array)) {
                        item->has_id = true;
                        item->method = NULL;
                        return error_new(ERROR_INVALID_REQUEST, NULL,
                                         "\"params\" must be an object or an array.");
                }
                item->params = v;
        }

        json_object_object_foreach(o, key, _val) {
                (void) _val;
                if (!streq(key, "jsonrpc") && !streq(key, "id") && !streq(key, "method") &&
                    !streq(key, "params")) {
                        item->has_id = true;
                        item->method = NULL;
                        return error_new(ERROR_INVALID_REQUEST, NULL, "Unknown member \"%s\" in request.", key);
                }
        }
        return NULL;
}

/* What json-c's tree cannot tell (rpc-scan.h), applied to one request. An id whose text is a
 * string holding U+0000 or a lone surrogate cannot be echoed as sent: InvalidRequest with a
 * null id. Such a string in "jsonrpc", "method" or a member name is InvalidRequest, in params
 * InvalidParams naming the member; both answered with the request's id. */
#define UNUSABLE_ESCAPE "\\u0000 or a UTF-16 surrogate escape without its partner"

static int item_apply_facts(json_object *o, RpcItem *item, const RpcRequestFacts *f) {
        if (!f->is_object)
                return 0;
        if (f->id_unusable) {
                error_free(item->error);
                item->error = error_new(ERROR_INVALID_REQUEST, NULL, "\"id\" holds " UNUSABLE_ESCAPE ".");
                item->id = NULL;
                item->has_id = true;
                item->method = NULL;
                return 0;
        }
        /* The digits as sent: json-c reads "-0" as 0 and clamps integers beyond 64 bits.
         * A double keeps and prints the text it was read from. */
        if (f->id_number.p && item->id && json_object_is_type(item->id, json_type_int)) {
                char printed[24];
                int64_t v = json_object_get_int64(item->id);

                if (v == INT64_MAX)
                        (void) snprintf(printed, sizeof printed, "%" PRIu64, json_object_get_uint64(item->id));
                else
                        (void) snprintf(printed, sizeof printed, "%" PRId64, v);
                if (strlen(printed) != f->id_number.n || memcmp(printed, f->id_number.p, f->id_number.n) != 0) {
                        _cleanup_free_ char *text = strndup(f->id_number.p, f->id_number.n);
                        if (!text)
                                return -ENOMEM;
                        json_object *id = json_object_new_double_s(strtod(text, NULL), text);
                        if (!id)
                                return -ENOMEM;
                        /* Replaces the existing member, which allocates nothing. */
                        if (json_object_object_add(o, "id", id) < 0) {
                                json_object_put(id);
                                return -ENOMEM;
                        }
                        item->id = id;
                }
        }
        if (f->bad_member.p) {
                error_free(item->error);
                item->error = error_new(ERROR_INVALID_REQUEST, NULL, "Member \"%.*s\" holds " UNUSABLE_ESCAPE ".",
                                        (int) f->bad_member.n, f->bad_member.p);
                if (!f->has_id)
                        item->id = NULL;
                item->has_id = true;
                item->method = NULL;
                return 0;
        }
        /* A request invalid in another way keeps that answer. A notification with such a
         * parameter is not run, and, like any notification, not answered. */
        if (!item->error && (f->bad_param.p || f->params_unusable)) {
                if (f->bad_param.p) {
                        _cleanup_free_ char *name = strndup(f->bad_param.p, f->bad_param.n);
                        item->error = name ? error_invalid_param(name, "Parameter \"%s\" holds " UNUSABLE_ESCAPE ".", name)
                                           : error_oom();
                } else
                        item->error = error_invalid_param("params", "\"params\" holds " UNUSABLE_ESCAPE ".");
                item->method = NULL;
        }
        return 0;
}

/* json-c reads "-0" as 0 and clamps to the int64 (uint64) range: only such an id may need
 * its text. */
static bool item_id_may_differ(const RpcItem *item) {
        if (!item->id || !json_object_is_type(item->id, json_type_int))
                return false;
        int64_t v = json_object_get_int64(item->id);
        return v == 0 || v == INT64_MAX || v == INT64_MIN;
}

/* Runs the second scan (rpc-scan.h) only for a line that needs it: one with an unusable
 * escape, or an id json-c may have changed. */
static int message_apply_text(const char *line, size_t len, RpcMessage *m) {
        bool need = rpc_text_has_unusable_escape(line, len);

        for (size_t i = 0; !need && i < m->n_items; i++)
                need = item_id_may_differ(&m->items[i]);
        if (!need)
                return 0;

        _cleanup_free_ RpcRequestFacts *facts = calloc(m->n_items, sizeof *facts);
        if (!facts)
                return -ENOMEM;
        rpc_scan_requests(line, len, facts, m->n_items);
        for (size_t i = 0; i < m->n_items; i++) {
                json_object *o = m->is_batch ? json_object_array_get_idx(m->root, i) : m->root;
                int r = item_apply_facts(o, &m->items[i], &facts[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int rpc_line_check_shape(const char *line, size_t len, int max_depth, size_t max_batch_items, size_t max_values,
                         const char **ret_limit) {
        JsonShape shape;

        /* Not JSON at all is a ParseError, whatever its size says. */
        if (!json_text_check(line, len, (unsigned) MAX(max_depth, 1), &shape))
                return -EBADMSG;
        if (shape.top_elements > max_batch_items) {
                *ret_limit = "MaxBatchItems";
                return -E2BIG;
        }
        if (shape.values > max_values) {
                *ret_limit = "MaxValuesPerLine";
                return -E2BIG;
        }
        return 0;
}

static bool only_whitespace(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                        return false;
        return true;
}

/* One tokener, reset for each line: json_tokener_new() allocates its state and a parse stack
 * every time, and lines are parsed one at a time. Kept per depth limit. */
static json_tokener *tokener_get(int depth) {
        static json_tokener *cached;
        static int cached_depth;

        if (cached && cached_depth == depth) {
                json_tokener_reset(cached);
                return cached;
        }
        json_tokener *tok = json_tokener_new_ex(depth);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        if (cached)
                json_tokener_free(cached);
        cached = tok;
        cached_depth = depth;
        return tok;
}

/* rpc_message_parse() for a line whose grammar was checked already. */
static int message_parse_checked(const char *line, size_t len, int max_depth, RpcMessage **ret) {
        json_tokener *tok;
        json_object *root;

        if (memchr(line, '\0', len))
                return -EBADMSG;
        /* json-c's own UTF-8 check lets overlong forms, surrogates and values past U+10FFFF
         * through; use the same rules as every other caller value. */
        if (!utf8_is_valid(line, len, NULL))
                return -EBADMSG;

        tok = tokener_get(max_depth > 0 ? max_depth : RPC_MAX_DEPTH_DEFAULT);
        if (!tok)
                return -ENOMEM;
        errno = 0;
        root = json_tokener_parse_ex(tok, line, (int) len);
        int parse_errno = errno;
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);

        /* A bare number at the end of input is "continue" to the tokener: it may go on. A line
         * is complete by definition, so parse again with an appended space to finish it. */
        if (!root && jerr == json_tokener_continue) {
                _cleanup_free_ char *copy = malloc(len + 2);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, line, len);
                copy[len] = ' ';
                copy[len + 1] = '\0';
                json_tokener_reset(tok);
                errno = 0;
                root = json_tokener_parse_ex(tok, copy, (int) len + 1);
                if (errno == ENOMEM)
                        parse_errno = ENOMEM;
                jerr = json_tokener_get_error(tok);
                used = MIN(json_tokener_get_parse_end(tok), len);
        }
        /* json-c ran out of memory. The line may be fine, and ParseError would blame the
         * caller; worse, json-c 0.16 does not always notice: a member whose key it could not
         * copy is left out of the object, and a request without its "id" would pass for a
         * notification, run, and never be answered. 0.16 has no error code for it (0.17's
         * json_tokener_error_memory), but a failed malloc() leaves errno at ENOMEM, and nothing
         * else in the tokener does: then the tree is not trusted, whatever json-c says. */
        if (parse_errno == ENOMEM) {
                json_object_put(root);
                return -ENOMEM;
        }
        /* A NULL root with success is the JSON value null: valid JSON, an invalid request. */
        if (jerr != json_tokener_success) {
                json_object_put(root);
                return -EBADMSG;
        }
        if (!only_whitespace(line + used, len - used)) {
                json_object_put(root);
                return -EBADMSG;
        }

        bool batch = json_object_is_type(root, json_type_array);
        size_t n = batch ? json_object_array_length(root) : 1;
        RpcMessage *m = calloc(1, sizeof(RpcMessage) + MAX(n, (size_t) 1) * sizeof(RpcItem));
        if (!m) {
                json_object_put(root);
                return -ENOMEM;
        }
        m->root = root;
        m->is_batch = batch && n > 0;

        if (batch && n == 0) {
                m->n_items = 1;
                m->items[0].has_id = true;
                m->items[0].error = error_new(ERROR_INVALID_REQUEST, NULL, "An empty batch is not a request.");
        } else if (batch) {
                m->n_items = n;
                for (size_t i = 0; i < n; i++)
                        m->items[i].error = item_validate(json_object_array_get_idx(root, i), &m->items[i]);
        } else {
                m->n_items = 1;
                m->items[0].error = item_validate(root, &m->items[0]);
        }

        int r = message_apply_text(line, len, m);
        if (r < 0) {
                rpc_message_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

int rpc_message_parse(const char *line, size_t len, int max_depth, RpcMessage **ret) {
        /* Exactly RFC 8259: json-c would take "-01", "1.", ".5", 'single quotes' and raw
         * control characters in strings. */
        if (!json_text_is_valid(line, len, (unsigned) (max_depth > 0 ? max_depth : RPC_MAX_DEPTH_DEFAULT)))
                return -EBADMSG;
        return message_parse_checked(line, len, max_depth, ret);
}

int rpc_message_parse_limited(const char *line, size_t len, int max_depth, size_t max_batch_items,
                              size_t max_values, const char **ret_limit, RpcMessage **ret) {
        /* One pass checks the grammar and counts; json-c then parses only a line it may. */
        int r = rpc_line_check_shape(line, len, max_depth > 0 ? max_depth : RPC_MAX_DEPTH_DEFAULT, max_batch_items,
                                     max_values, ret_limit);
        if (r < 0)
                return r;
        return message_parse_checked(line, len, max_depth, ret);
}

RpcMessage *rpc_message_free(RpcMessage *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_items; i++)
                error_free(m->items[i].error);
        json_object_put(m->root);
        free(m);
        return NULL;
}

/* The builders below return NULL when memory runs out, having consumed what they were given
 * (json-util.h): the caller then answers with a line it does not have to build. */
static json_object *reply_new(json_object *id) {
        _cleanup_json_ json_object *j = json_object_new_object();

        if (json_member_add(j, "jsonrpc", json_object_new_string("2.0")) < 0)
                return NULL;
        /* A NULL id is the null id, not a failure. */
        if (id ? json_member_add(j, "id", json_object_get(id)) < 0 : json_member_add_null(j, "id") < 0)
                return NULL;
        return TAKE_PTR(j);
}

json_object *rpc_reply_result(json_object *id, json_object *result) {
        _cleanup_json_ json_object *j = reply_new(id);

        if (json_member_add(j, "result", result ?: json_object_new_object()) < 0)
                return NULL;
        return TAKE_PTR(j);
}

json_object *rpc_reply_error(json_object *id, const Error *e) {
        _cleanup_json_ json_object *j = reply_new(id);

        if (json_member_add(j, "error", error_to_rpc_json(e)) < 0)
                return NULL;
        return TAKE_PTR(j);
}

json_object *rpc_notification(const char *method, json_object *params) {
        _cleanup_json_ json_object *j = json_object_new_object();

        if (json_member_add(j, "jsonrpc", json_object_new_string("2.0")) < 0 ||
            json_member_add(j, "method", json_object_new_string(method)) < 0) {
                json_object_put(params);
                return NULL;
        }
        if (json_member_add(j, "params", params ?: json_object_new_object()) < 0)
                return NULL;
        return TAKE_PTR(j);
}

int rpc_serialize_append(json_object *j, Buffer *b) {
        size_t n;
        const char *s = json_to_text(
                j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        int r;

        if (!s)
                return -ENOMEM;
        r = buffer_append(b, s, n);
        if (r >= 0)
                r = buffer_append(b, "\n", 1);
        return r;
}

int rpc_write_result_text(Buffer *b, json_object *id, json_object *result) {
        size_t len, before = b->size;
        const char *text = json_text_peek(result, &len);
        int r;

        if (!text || !id || (!json_object_is_type(id, json_type_string) && !json_object_is_type(id, json_type_int)))
                return -EOPNOTSUPP;
        /* json-c keeps integers beyond int64 as uint64 and prints them so; leave those to it. */
        if (json_object_is_type(id, json_type_int) &&
            (json_object_get_int64(id) == INT64_MAX || json_object_get_int64(id) == INT64_MIN))
                return -EOPNOTSUPP;
        r = json_write_literal(b, "{\"jsonrpc\":\"2.0\",\"id\":");
        if (r >= 0)
                r = json_object_is_type(id, json_type_string) ? json_write_string(b, json_object_get_string(id))
                                                               : json_write_int(b, json_object_get_int64(id));
        if (r >= 0)
                r = json_write_literal(b, ",\"result\":");
        if (r >= 0)
                r = buffer_append(b, text, len);
        if (r >= 0)
                r = json_write_literal(b, "}\n");
        if (r < 0) {
                b->size = before;
                if (b->data)
                        b->data[before] = '\0';
        }
        return r;
}

int rpc_serialize(json_object *j, char **ret, size_t *ret_len) {
        size_t n;
        const char *s = json_to_text(
                j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        char *out;

        if (!s)
                return -ENOMEM;
        out = malloc(n + 2);
        if (!out)
                return -ENOMEM;
        memcpy(out, s, n);
        out[n] = '\n';
        out[n + 1] = '\0';
        *ret = out;
        *ret_len = n + 1;
        return 0;
}

Error *rpc_param_string(json_object *params, const char *name, bool required, const char **ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || !v) {
                if (required)
                        return error_invalid_param(name, "Missing parameter \"%s\".", name);
                *ret = NULL;
                return NULL;
        }
        if (!json_object_is_type(v, json_type_string))
                return error_invalid_param(name, "Parameter \"%s\" must be a string.", name);
        *ret = json_object_get_string(v);
        return NULL;
}

Error *rpc_param_bool(json_object *params, const char *name, int *ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || !v) {
                *ret = -1;
                return NULL;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return error_invalid_param(name, "Parameter \"%s\" must be a boolean.", name);
        *ret = json_object_get_boolean(v);
        return NULL;
}

Error *rpc_param_uint(json_object *params, const char *name, unsigned min, unsigned max,
                      unsigned def, unsigned *ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || !v) {
                *ret = def;
                return NULL;
        }
        if (!json_object_is_type(v, json_type_int))
                return error_invalid_param(name, "Parameter \"%s\" must be an integer.", name);
        int64_t x = json_object_get_int64(v);
        if (x < (int64_t) min || x > (int64_t) max)
                return error_invalid_param(name, "Parameter \"%s\" must be between %u and %u.", name, min, max);
        *ret = (unsigned) x;
        return NULL;
}
