/* SPDX-License-Identifier: MIT */
/*
 * graph.c — see graph.h. Facts come from the Graph documentation: the cancel answer is 200
 * with a body in v1.0, 202 with Location in the 2019 beta, and 204 is accepted defensively;
 * the operation id is the body's "id", else Location's last segment.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "graph.h"
#include "json-read.h"
#include "json-text.h"
#include "validate.h"
#include "json-util.h"

GraphOpStatus graph_op_status_from_string(const char *s) {
        if (!s)
                return GRAPH_OP_NONE;
        if (strcaseeq(s, "notStarted"))
                return GRAPH_OP_NOT_STARTED;
        if (strcaseeq(s, "running"))
                return GRAPH_OP_RUNNING;
        if (strcaseeq(s, "completed"))
                return GRAPH_OP_COMPLETED;
        if (strcaseeq(s, "failed"))
                return GRAPH_OP_FAILED;
        return GRAPH_OP_NONE;
}

bool graph_config_supports_all(const Config *c) {
        return streq(c->api_version, "beta") && !streq(c->calls_path, "/communications/calls");
}

char *url_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *r = malloc(strlen(s) * 3 + 1), *o = r;

        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
                        /* "." and ".." alone would be dot-segments: escape dots in those. */
                        *o++ = (char) *p;
                } else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = '\0';
        if (streq(r, ".") || streq(r, "..")) {
                free(r);
                return strdup(s[1] ? "%2E%2E" : "%2E");
        }
        return r;
}

static int calls_base(const Config *c, char **ret) {
        _cleanup_free_ char *app = NULL;
        const char *marker = strstr(c->calls_path, "{appId}");
        char *r;

        if (marker) {
                app = url_escape(c->client_id);
                if (!app)
                        return -ENOMEM;
                if (asprintf(&r, "%s/%s%.*s%s%s", c->graph_endpoint, c->api_version,
                             (int) (marker - c->calls_path), c->calls_path, app,
                             marker + strlen("{appId}")) < 0)
                        return -ENOMEM;
        } else if (asprintf(&r, "%s/%s%s", c->graph_endpoint, c->api_version, c->calls_path) < 0)
                return -ENOMEM;
        *ret = r;
        return 0;
}

int graph_cancel_url(const Config *c, const char *call_id, char **ret) {
        _cleanup_free_ char *base = NULL, *id = NULL;
        int r;

        if (!call_id_is_valid(call_id))
                return -EINVAL;
        r = calls_base(c, &base);
        if (r < 0)
                return r;
        id = url_escape(call_id);
        if (!id)
                return -ENOMEM;
        return asprintf(ret, "%s/%s/cancelMediaProcessing", base, id) < 0 ? -ENOMEM : 0;
}

int graph_operation_url(const Config *c, const char *call_id, const char *op_id, char **ret) {
        _cleanup_free_ char *base = NULL, *id = NULL, *op = NULL;
        int r;

        if (!call_id_is_valid(call_id) || isempty(op_id))
                return -EINVAL;
        r = calls_base(c, &base);
        if (r < 0)
                return r;
        id = url_escape(call_id);
        op = url_escape(op_id);
        if (!id || !op)
                return -ENOMEM;
        return asprintf(ret, "%s/%s/operations/%s", base, id, op) < 0 ? -ENOMEM : 0;
}

int graph_cancel_body(const char *client_context, int all, char **ret) {
        Buffer b = {};
        bool first = true;
        int r = json_write_literal(&b, "{");

        if (r >= 0 && client_context) {
                r = json_write_literal(&b, "\"clientContext\":");
                if (r >= 0)
                        r = json_write_string(&b, client_context);
                first = false;
        }
        if (r >= 0 && all >= 0) {
                if (!first)
                        r = json_write_literal(&b, ",");
                if (r >= 0)
                        r = all ? json_write_literal(&b, "\"all\":true") : json_write_literal(&b, "\"all\":false");
        }
        if (r >= 0)
                r = json_write_literal(&b, "}");
        if (r < 0) {
                buffer_done(&b);
                return -ENOMEM;
        }
        *ret = b.data;
        return 0;
}

static json_object *parse_json_object(const char *body, size_t len) {
        json_tokener *tok;
        json_object *j;

        /* json-c keeps invalid UTF-8 in strings as it is, and it would go on to clients in
         * replies (JSON, so UTF-8 only) and into the journal: such a body is unreadable. */
        if (!body || len == 0 || len > INT32_MAX || !utf8_is_valid(body, len, NULL))
                return NULL;
        /* One tokener for every answer, reset each time: a new one costs two allocations and
         * a 64-level stack per answer. Event loop thread only, like every caller. */
        static json_tokener *reused = NULL;
        if (!reused && !(reused = json_tokener_new_ex(64)))
                return NULL;
        tok = reused;
        json_tokener_reset(tok);
        j = json_tokener_parse_ex(tok, body, (int) len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(j);
                j = NULL;
        }
        json_tokener_reset(tok);
        if (j && !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return NULL;
        }
        return j;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int parse_retry_after(const char *s, uint64_t now, uint64_t *ret_usec) {
        const double max_sec = (double) (GRAPH_RETRY_AFTER_MAX_USEC / USEC_PER_SEC);
        char *end;
        double d;
        struct tm tm = {};

        if (isempty(s))
                return -EINVAL;
        while (*s == ' ')
                s++;
        if (*s >= '0' && *s <= '9') {
                errno = 0;
                d = strtod(s, &end);
                while (*end == ' ')
                        end++;
                /* ERANGE is an overflow (then d is HUGE_VAL, capped below) or an underflow
                 * (then d is about 0): both are numbers all the same. */
                if ((errno != 0 && errno != ERANGE) || *end != '\0' || d < 0)
                        return -EINVAL;
                /* Rounded half up; d is small and not negative, and this keeps libm out of the
                 * daemon (one library fewer to load and map). */
                *ret_usec = d >= max_sec ? GRAPH_RETRY_AFTER_MAX_USEC : (uint64_t) (d * 1e6 + 0.5);
                return 0;
        }
        /* HTTP-date, IMF-fixdate form: "Sun, 06 Nov 1994 08:49:37 GMT". */
        end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!end || *end != '\0')
                return -EINVAL;
        time_t t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        /* A date before 1970 is a negative time_t, which as a uint64_t was a wait of half a
         * million years; like any date in the past, it means now. */
        if (t <= 0) {
                *ret_usec = 0;
                return 0;
        }
        /* Compared in seconds first: strptime() takes years far enough ahead for the product
         * in µs to overflow. */
        if ((uint64_t) t > now / USEC_PER_SEC + GRAPH_RETRY_AFTER_MAX_USEC / USEC_PER_SEC) {
                *ret_usec = GRAPH_RETRY_AFTER_MAX_USEC;
                return 0;
        }
        uint64_t at = (uint64_t) t * USEC_PER_SEC;
        *ret_usec = at > now ? MIN(at - now, GRAPH_RETRY_AFTER_MAX_USEC) : 0;
        return 0;
}

/* Text from Graph is kept and shown to clients, so it holds no control characters
 * (docs/security.md, "Text from outside"): an id or a code with one is not one Graph gives out
 * and is dropped as if absent; free text keeps its words, with the controls replaced. */
static const char *id_or_null(const char *s) {
        return text_has_control(s) ? NULL : s;
}

static int graph_error_from_body(long status, const char *request_id, json_object *body,
                                 Error **ret) {
        json_object *err = NULL, *data;
        const char *code = NULL, *rid = request_id;
        _cleanup_free_ char *message = NULL;

        if (body && json_object_object_get_ex(body, "error", &err) &&
            json_object_is_type(err, json_type_object)) {
                json_object *inner;
                const char *m;

                code = id_or_null(get_string(err, "code"));
                if ((m = get_string(err, "message")) && (!(message = strdup(m)) || text_replace_controls(&message) < 0))
                        return -ENOMEM;
                if (!rid && (json_object_object_get_ex(err, "innerError", &inner) ||
                             json_object_object_get_ex(err, "innererror", &inner)))
                        rid = id_or_null(get_string(inner, "request-id"));
        }
        data = json_object_new_object();
        if (!data)
                return -ENOMEM;
        if (json_member_add(data, "httpStatus", json_object_new_int((int) status)) < 0 ||
            json_member_add_string(data, "graphCode", code) < 0 || json_member_add_string(data, "requestId", rid) < 0) {
                json_object_put(data);
                return -ENOMEM;
        }
        *ret = error_new(ERROR_GRAPH, data, "Graph answered %ld%s%s%s%s", status,
                         code ? " " : "", strempty(code), message ? ": " : "", strempty(message));
        return error_is_oom(*ret) ? -ENOMEM : 0;
}

/* The body of a 2xx answer — an operation: {"id", "status", "clientContext",
 * "completionReason", "resultInfo": {"code", "subcode", "message"}, …} — read with json-read.h
 * instead of a json-c tree: this runs once per cancel. Members are taken as json-c would give
 * them (strings only if they are strings, the last of duplicates, numbers as ints), and
 * anything after the object is ignored, as json-c does. */
/* A string member, or NULL for any other type (which is skipped). */
static int result_info_member(JsonReader *c, const char *key, void *userdata) {
        GraphAnswer *a = userdata;
        const char *v;
        int r;

        if (streq(key, "code") || streq(key, "subcode")) {
                int *field = streq(key, "code") ? &a->result_code : &a->result_subcode;
                json_skip_ws(c);
                if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
                        return json_read_number_as_int(c, field);
                *field = 0;
                return json_skip_value(c, 2);
        }
        if (streq(key, "message")) {
                if ((r = json_read_string_member(c, &v)) < 0)
                        return r;
                return free_and_strdup(&a->result_message, v);
        }
        return json_skip_value(c, 2);
}

static int operation_member(JsonReader *c, const char *key, void *userdata) {
        GraphAnswer *a = userdata;
        char **field = NULL;
        const char *v;
        int r;

        if (streq(key, "resultInfo")) {
                json_skip_ws(c);
                a->has_result_info = false;
                a->result_code = a->result_subcode = 0;
                a->result_message = mfree(a->result_message);
                if (c->p >= c->end || *c->p != '{')
                        return json_skip_value(c, 1);
                a->has_result_info = true;
                a->result_code = a->result_subcode = 0;
                a->result_message = mfree(a->result_message);
                return json_read_object(c, result_info_member, a);
        }
        if (streq(key, "status")) {
                if ((r = json_read_string_member(c, &v)) < 0)
                        return r;
                a->status = graph_op_status_from_string(v);
                return 0;
        }
        if (streq(key, "id"))
                field = &a->operation_id;
        else if (streq(key, "clientContext"))
                field = &a->client_context;
        else if (streq(key, "completionReason"))
                field = &a->completion_reason;
        else
                return json_skip_value(c, 1);
        if ((r = json_read_string_member(c, &v)) < 0)
                return r;
        if (field == &a->operation_id && v && strlen(v) > GRAPH_OPERATION_ID_MAX)
                return 0; /* not an id Graph gives: as if there were none */
        return free_and_strdup(field, v);
}

static int success_body_parse(const char *body, size_t len, GraphAnswer *a) {
        _cleanup_free_ char *copy = NULL;
        JsonReader c;
        int r;

        /* Invalid UTF-8 must not reach replies or the journal (see parse_json_object()). */
        if (!body || len == 0 || !utf8_is_valid(body, len, NULL))
                return -EBADMSG;
        copy = malloc(len);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, body, len);
        json_reader_init(&c, copy, len, 64);
        json_skip_ws(&c);
        if (c.p >= c.end || *c.p != '{')
                return -EBADMSG;
        a->status = graph_op_status_from_string(NULL);
        r = json_read_object(&c, operation_member, a);
        if (r < 0) {
                a->operation_id = mfree(a->operation_id);
                a->client_context = mfree(a->client_context);
                a->completion_reason = mfree(a->completion_reason);
                a->result_message = mfree(a->result_message);
                a->has_result_info = false;
                a->result_code = a->result_subcode = 0;
                a->status = graph_op_status_from_string(NULL);
        }
        return r;
}

int graph_answer_parse(long status, const char *location, const char *request_id,
                       const char *retry_after, const char *body, size_t body_len, uint64_t now,
                       GraphAnswer *ret) {
        _cleanup_json_ json_object *j = NULL;
        GraphAnswer a = { .http_status = status };
        int r;

        /* Header values are bytes; only text may reach replies (see parse_json_object()), and
         * no controls (see id_or_null()). */
        if (request_id && (!utf8_is_valid(request_id, strlen(request_id), NULL) || text_has_control(request_id)))
                request_id = NULL;
        if (location && (!utf8_is_valid(location, strlen(location), NULL) || text_has_control(location)))
                location = NULL;
        if (request_id && !(a.request_id = strdup(request_id)))
                goto oom;
        if (retry_after)
                (void) parse_retry_after(retry_after, now, &a.retry_after_usec);

        if (status < 200 || status > 299) {
                j = parse_json_object(body, body_len);
                r = graph_error_from_body(status, request_id, j, &a.error);
                if (r < 0)
                        goto oom;
                *ret = a;
                return 0;
        }

        r = success_body_parse(body, body_len, &a);
        if (r >= 0) {
                /* See id_or_null(). */
                char **ids[] = { &a.operation_id, &a.client_context, &a.completion_reason };
                for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                        if (text_has_control(*ids[i]))
                                *ids[i] = mfree(*ids[i]);
                if (text_replace_controls(&a.result_message) < 0)
                        goto oom;
        }
        if (r == -ENOMEM)
                goto oom;
        if (r < 0 && body_len > 0 && status != 204) {
                /* A 2xx with a body we cannot read is not success we can vouch for. */
                json_object *data = json_object_new_object();
                if (json_member_add(data, "httpStatus", json_object_new_int((int) status)) < 0 ||
                    json_member_add_null(data, "graphCode") < 0 || json_member_add_string(data, "requestId", request_id) < 0) {
                        json_object_put(data);
                        goto oom;
                }
                a.error = error_new(ERROR_GRAPH, data, "Graph answered %ld with a body that is not a JSON object", status);
                if (error_is_oom(a.error))
                        goto oom;
                *ret = a;
                return 0;
        }

        if (!a.operation_id && !isempty(location)) {
                /* The last segment of the path: a query or fragment may hold '/' too. */
                size_t path_len = strcspn(location, "?#");
                const char *slash = memrchr(location, '/', path_len);
                const char *seg = slash ? slash + 1 : location;
                size_t n = path_len - (size_t) (seg - location);
                if (n > 0 && n <= GRAPH_OPERATION_ID_MAX && !(a.operation_id = strndup(seg, n)))
                        goto oom;
        }
        *ret = a;
        return 0;

oom:
        graph_answer_done(&a);
        return -ENOMEM;
}

void graph_answer_done(GraphAnswer *a) {
        free(a->operation_id);
        free(a->result_message);
        free(a->client_context);
        free(a->completion_reason);
        free(a->request_id);
        error_free(a->error);
        *a = (GraphAnswer) {};
}

bool graph_status_is_retryable(long s) {
        return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

uint64_t backoff_delay_usec(unsigned attempt, uint64_t base, uint64_t max, uint64_t rnd) {
        uint64_t cap = base;

        /* Saturate at max instead of doubling past 2^64 (which wrapped to 0). */
        for (unsigned i = 0; i < attempt && cap > 0 && cap < max; i++)
                cap = cap > max / 2 ? max : cap * 2;
        cap = MIN(cap, max);
        if (cap == 0)
                return 0;
        if (cap == UINT64_MAX) /* cap + 1 would be 0 */
                return rnd;
        return rnd % (cap + 1);
}
