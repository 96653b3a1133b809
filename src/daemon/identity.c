/* SPDX-License-Identifier: MIT */
/*
 * identity.c — see identity.h. Facts come from the identity platform's documentation of the
 * client-credentials grant: expires_in may be a number or a string (both are in the wild),
 * error_description starts with the AADSTS code, error_codes carries it as a number. The
 * managed identity endpoints answer in the same shape, with numbers as strings and expires_on.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "graph.h"
#include "identity.h"
#include "json-read.h"
#include "validate.h"

/* expires_in and refresh_in: a number, or a string holding one (both forms are in the wild). */
static int parse_seconds_text(const char *s, uint64_t *ret) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        if (!isfinite(d) || d <= 0 || d > 366.0 * 86400)
                return -ERANGE;
        *ret = (uint64_t) (d * 1e6);
        return 0;
}

/* The identity platform puts "AADSTS7000215: text\r\nTrace ID: …" in error_description; keep the
 * first line for humans and the AADSTS number for machines. */
static int split_description(const char *d, char **ret_aadsts, char **ret_first_line) {
        size_t n = strcspn(d, "\r\n");
        *ret_first_line = strndup(d, n);
        if (!*ret_first_line)
                return -ENOMEM;
        if (strncmp(d, "AADSTS", 6) == 0) {
                size_t k = 6;
                while (d[k] >= '0' && d[k] <= '9')
                        k++;
                if (k > 6 && !(*ret_aadsts = strndup(d, k)))
                        return -ENOMEM;
        }
        return 0;
}

/* What a token answer holds, pointing into the caller's copy of the body (decoded in place). A
 * member that is there twice counts as its last occurrence, as with json-c. */
typedef struct TokenFields {
        const char *access_token, *token_type, *error, *error_description;
        int expires_in_r; /* -ENOENT absent, -EINVAL unreadable, 0 read */
        uint64_t expires_in;
        int refresh_in_r;
        uint64_t refresh_in;
        int expires_on_r; /* managed identity answers: Unix seconds; -ENOENT absent */
        uint64_t expires_on;
        bool has_error_code;
        int error_code; /* the first of error_codes */
} TokenFields;

/* A number or a string holding one, as seconds. */
static int seconds_member(JsonReader *c, int *ret_r, uint64_t *ret) {
        const char *start, *v;
        char num[64];
        int r;

        json_skip_ws(c);
        *ret_r = -EINVAL;
        if (c->p < c->end && *c->p == '"') {
                if ((r = json_read_string(c, true, &v)) < 0)
                        return r;
                *ret_r = parse_seconds_text(v, ret);
                return 0;
        }
        if (c->p >= c->end || (*c->p != '-' && (*c->p < '0' || *c->p > '9')))
                return json_skip_value(c, 1);
        start = c->p;
        if ((r = json_skip_value(c, 1)) < 0)
                return r;
        if ((size_t) (c->p - start) < sizeof num) {
                memcpy(num, start, (size_t) (c->p - start));
                num[c->p - start] = '\0';
                *ret_r = parse_seconds_text(num, ret);
        }
        return 0;
}

/* expires_on of the managed identity endpoints: Unix seconds as a string ("1700003600") or a
 * number; only whole seconds between 1 and 10^11. */
static int unix_time_member(JsonReader *c, int *ret_r, uint64_t *ret) {
        const char *v;
        char num[32];
        int r;

        json_skip_ws(c);
        *ret_r = -EINVAL;
        if (c->p < c->end && *c->p == '"') {
                if ((r = json_read_string(c, true, &v)) < 0)
                        return r;
        } else {
                const char *start = c->p;
                if ((r = json_skip_value(c, 1)) < 0)
                        return r;
                if ((size_t) (c->p - start) >= sizeof num)
                        return 0;
                memcpy(num, start, (size_t) (c->p - start));
                num[c->p - start] = '\0';
                v = num;
        }
        uint64_t t = 0;
        size_t n = strlen(v);
        if (n == 0 || n > 11 || strspn(v, "0123456789") != n)
                return 0;
        for (size_t i = 0; i < n; i++)
                t = t * 10 + (uint64_t) (v[i] - '0');
        if (t == 0)
                return 0;
        *ret = t;
        *ret_r = 0;
        return 0;
}

/* error_codes: [7000215, …]; only the first counts. */
static int error_codes_member(JsonReader *c, TokenFields *f) {
        int r;

        json_skip_ws(c);
        if (c->p >= c->end || *c->p != '[')
                return json_skip_value(c, 1);
        c->p++;
        f->has_error_code = false;
        if (json_take(c, ']'))
                return 0;
        for (bool first = true;; first = false) {
                json_skip_ws(c);
                if (first && c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
                        if ((r = json_read_number_as_int(c, &f->error_code)) < 0)
                                return r;
                        f->has_error_code = true;
                } else if ((r = json_skip_value(c, 2)) < 0)
                        return r;
                if (json_take(c, ']'))
                        return 0;
                if (!json_take(c, ','))
                        return -EBADMSG;
        }
}

static int token_member(JsonReader *c, const char *key, void *userdata) {
        TokenFields *f = userdata;
        const char **field;

        if (streq(key, "expires_in"))
                return seconds_member(c, &f->expires_in_r, &f->expires_in);
        if (streq(key, "refresh_in"))
                return seconds_member(c, &f->refresh_in_r, &f->refresh_in);
        if (streq(key, "expires_on"))
                return unix_time_member(c, &f->expires_on_r, &f->expires_on);
        if (streq(key, "error_codes"))
                return error_codes_member(c, f);
        if (streq(key, "access_token"))
                field = &f->access_token;
        else if (streq(key, "token_type"))
                field = &f->token_type;
        else if (streq(key, "error"))
                field = &f->error;
        else if (streq(key, "error_description"))
                field = &f->error_description;
        else
                return json_skip_value(c, 1);
        return json_read_string_member(c, field);
}

/* The answer is read in place in a copy of its own, which is wiped before it is freed, so that
 * the access token leaves with exactly one copy (the TokenAnswer's). json-c would have left
 * copies behind: in its tokener's buffer, reused and never cleared, and in the smaller buffers
 * that one outgrew on the way to a whole token. */
static int token_fields_parse(char *copy, size_t len, TokenFields *ret) {
        TokenFields f = { .expires_in_r = -ENOENT, .refresh_in_r = -ENOENT, .expires_on_r = -ENOENT };
        JsonReader c;
        int r;

        if (!utf8_is_valid(copy, len, NULL))
                return -EBADMSG;
        json_reader_init(&c, copy, len, 64);
        json_skip_ws(&c);
        if (c.p >= c.end || *c.p != '{')
                return -EBADMSG;
        r = json_read_object(&c, token_member, &f);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

static int answer_parse(long status, const char *body, size_t len, uint64_t now_sec, TokenAnswer *ret) {
        TokenAnswer a = {};
        TokenFields f = {};
        char *copy = NULL;
        bool parsed = false;

        if (body && len > 0) {
                copy = malloc(len);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, body, len);
                parsed = token_fields_parse(copy, len, &f) >= 0;
        }

        if (status == 200 && parsed && !isempty(f.access_token)) {
                if (f.token_type && !strcaseeq(f.token_type, "Bearer"))
                        goto malformed;
                /* A managed identity endpoint may say only when the token expires. */
                if (f.expires_in_r < 0 && now_sec > 0 && f.expires_on_r == 0 && f.expires_on > now_sec &&
                    f.expires_on - now_sec <= 366 * 86400) {
                        f.expires_in = (f.expires_on - now_sec) * 1000000;
                        f.expires_in_r = 0;
                }
                if (f.expires_in_r < 0)
                        goto malformed;
                a.expires_in_usec = f.expires_in;
                a.refresh_in_usec = f.refresh_in_r >= 0 ? f.refresh_in : 0;
                a.access_token = strdup(f.access_token);
                if (!a.access_token)
                        goto oom;
                goto done;
        }

        if (parsed && f.error && !text_has_control(f.error)) {
                if (!(a.error = strdup(f.error)))
                        goto oom;
                if (f.error_description && (split_description(f.error_description, &a.aadsts, &a.description) < 0 ||
                                            text_replace_controls(&a.description) < 0))
                        goto oom;
                if (!a.aadsts && f.has_error_code && asprintf(&a.aadsts, "AADSTS%d", f.error_code) < 0) {
                        a.aadsts = NULL;
                        goto oom;
                }
                /* Only the platform's own transient answers and server errors are worth retrying
                 * without someone fixing the configuration. */
                a.permanent = !(streq(f.error, "temporarily_unavailable") || status >= 500 || status == 429);
                goto done;
        }

malformed:
        if (!(a.error = strdup(status == 200 ? "malformed_response" : "http_error")))
                goto oom;
        if (asprintf(&a.description, "token endpoint answered HTTP %ld without a usable body", status) < 0) {
                a.description = NULL;
                goto oom;
        }
        a.permanent = false;
done:
        if (copy)
                explicit_bzero(copy, len);
        free(copy);
        *ret = a;
        return 0;

oom:
        if (copy)
                explicit_bzero(copy, len);
        free(copy);
        token_answer_done(&a);
        return -ENOMEM;
}

int token_answer_parse(long status, const char *body, size_t len, TokenAnswer *ret) {
        return answer_parse(status, body, len, 0, ret);
}

int managed_identity_answer_parse(long status, const char *body, size_t len, uint64_t now_sec, TokenAnswer *ret) {
        return answer_parse(status, body, len, now_sec, ret);
}

void token_answer_done(TokenAnswer *a) {
        erase_and_free(a->access_token);
        free(a->error);
        free(a->aadsts);
        free(a->description);
        *a = (TokenAnswer) {};
}

uint64_t token_renewal_delay_usec(uint64_t expires_in, uint64_t refresh_in, uint64_t rnd) {
        const uint64_t five_min = 300 * UINT64_C(1000000), ten_min = 600 * UINT64_C(1000000);
        uint64_t at;

        if (refresh_in > 0 && refresh_in < expires_in)
                at = refresh_in;
        else if (expires_in < ten_min)
                at = expires_in / 2;
        else
                at = expires_in - five_min;

        uint64_t jitter_span = at / 20;
        if (jitter_span > 0)
                at -= rnd % (jitter_span + 1);
        return at;
}

static int form_append(Buffer *b, const char *key, const char *value) {
        _cleanup_free_ char *v = url_escape(value);
        int r;

        if (!v)
                return -ENOMEM;
        if (b->size > 0 && (r = buffer_append(b, "&", 1)) < 0)
                return r;
        if ((r = buffer_append(b, key, strlen(key))) < 0 || (r = buffer_append(b, "=", 1)) < 0 ||
            (r = buffer_append(b, v, strlen(v))) < 0) {
                explicit_bzero(v, strlen(v));
                return r;
        }
        explicit_bzero(v, strlen(v));
        return 0;
}

/* The client-credentials form with the credential as its last members but grant_type: the
 * secret, or an assertion with its type. */
static int client_credentials_body(const char *client_id, const char *scope, const char *assertion_type,
                                   const char *credential_key, const char *credential, char **ret) {
        Buffer b = { .secret = true };
        int r;

        /* client_id is optional next to an assertion (its iss says the same) but the platform
         * documents it, and sending it gives a clearer error for an unknown app. */
        if ((r = form_append(&b, "client_id", client_id)) < 0 || (r = form_append(&b, "scope", scope)) < 0 ||
            (assertion_type && (r = form_append(&b, "client_assertion_type", assertion_type)) < 0) ||
            (r = form_append(&b, credential_key, credential)) < 0 ||
            (r = form_append(&b, "grant_type", "client_credentials")) < 0) {
                if (b.data)
                        explicit_bzero(b.data, b.allocated);
                buffer_done(&b);
                return r;
        }
        *ret = b.data;
        return 0;
}

int token_request_body(const char *client_id, const char *client_secret, const char *scope, char **ret) {
        return client_credentials_body(client_id, scope, NULL, "client_secret", client_secret, ret);
}

int token_request_body_assertion(const char *client_id, const char *client_assertion, const char *scope,
                                 char **ret) {
        return client_credentials_body(client_id, scope, TOKEN_CLIENT_ASSERTION_TYPE, "client_assertion",
                                       client_assertion, ret);
}

/* AADSTS65001: the application has no consent in the tenant; AADSTS7000229: the application
 * has no service principal there (never consented or provisioned); AADSTS700016: the
 * application was not found in the tenant's directory; AADSTS500011: a resource principal
 * missing in the tenant; AADSTS650051/650052: consent failed because a service principal or
 * a subscription is missing. Each is fixed only by that tenant's administrator. */
bool aadsts_means_not_consented(const char *aadsts) {
        static const char *const codes[] = { "AADSTS65001", "AADSTS7000229", "AADSTS700016",
                                             "AADSTS500011", "AADSTS650051", "AADSTS650052" };

        if (!aadsts)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                if (streq(aadsts, codes[i]))
                        return true;
        return false;
}

/* Graph's 7504, "Insufficient enterprise tenant permissions, you cannot access this data":
 * the token's tenant has not consented to the calling permissions, or the call lives in
 * another tenant than the token's. Graph puts the number in the error code, or only in the
 * message; both are looked at. */
bool graph_code_means_not_consented(long http_status, const char *graph_code, const char *message) {
        if (http_status != 403)
                return false;
        return streq_ptr(graph_code, "7504") || (message && strstr(message, "7504"));
}

char *admin_consent_url(const char *login, const char *tenant, const char *client_id) {
        char *s = NULL;

        if (asprintf(&s, "%s/%s/adminconsent?client_id=%s", login, tenant, client_id) < 0)
                return NULL;
        return s;
}

char *tenant_consent_advice(const char *login, const char *tenant, const char *client_id) {
        _cleanup_free_ char *url = admin_consent_url(login, tenant, client_id);
        char *s = NULL;

        if (!url || asprintf(&s,
                             "the application is not consented in tenant %s: an administrator of tenant %s must "
                             "grant it admin consent for the calling permissions (Calls.Initiate.All, "
                             "Calls.AccessMedia.All) at %s",
                             tenant, tenant, url) < 0)
                return NULL;
        return s;
}
