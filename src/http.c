/* SPDX-License-Identifier: MIT */
/*
 * http.c — see http.h.
 */
#include <errno.h>
#include <stdio.h>

#include "http.h"
#include "log.h"

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;

        /* A hostile or broken server must not make us buffer without bound. */
        if (r->body.size + len > HTTP_MAX_RESPONSE_BYTES)
                return 0;
        if (buffer_append(&r->body, p, len) < 0)
                return 0;
        return len;
}

static int header_value(const char *line, size_t len, const char *name, char **ret) {
        size_t n = strlen(name);

        if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
                return 0;
        const char *v = line + n + 1, *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
        free(*ret);
        *ret = strndup(v, (size_t) (end - v));
        return *ret ? 1 : -ENOMEM;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;

        /* A new status line starts a new response (after 100 Continue): forget the old headers. */
        if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
                r->location = mfree(r->location);
                r->request_id = mfree(r->request_id);
                r->retry_after = mfree(r->retry_after);
                return len;
        }
        if (header_value(p, len, "location", &r->location) < 0 ||
            header_value(p, len, "request-id", &r->request_id) < 0 ||
            header_value(p, len, "retry-after", &r->retry_after) < 0)
                return 0;
        return len;
}

static void slist_erase_free(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

int http_request_new(const char *url, const char *post, const char *content_type, const char *bearer,
                     const char *client_request_id, const HttpOptions *o, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *r = NULL;
        struct curl_slist *l;
        char hdr[256];

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->body.secret = true; /* token answers carry the access token */
        r->easy = curl_easy_init();
        if (!r->easy)
                return -ENOMEM;

        l = curl_slist_append(NULL, "Accept: application/json");
        if (!l)
                return -ENOMEM;
        r->headers = l;
        /* curl would send "Expect: 100-continue" for larger bodies and wait a round trip. */
        if (!curl_slist_append(r->headers, "Expect:"))
                return -ENOMEM;
        if (post && content_type) {
                snprintf(hdr, sizeof hdr, "Content-Type: %s", content_type);
                if (!curl_slist_append(r->headers, hdr))
                        return -ENOMEM;
        }
        if (client_request_id) {
                snprintf(hdr, sizeof hdr, "client-request-id: %s", client_request_id);
                if (!curl_slist_append(r->headers, hdr))
                        return -ENOMEM;
        }
        if (bearer) {
                _cleanup_erase_ char *auth = NULL;
                if (asprintf(&auth, "Authorization: Bearer %s", bearer) < 0)
                        return -ENOMEM;
                if (!curl_slist_append(r->headers, auth))
                        return -ENOMEM;
        }
        if (post) {
                r->post = strdup(post);
                if (!r->post)
                        return -ENOMEM;
        }

        CURL *e = r->easy;
        CURLcode c = CURLE_OK;
#define SET(opt, val) \
        if (c == CURLE_OK) \
        c = curl_easy_setopt(e, opt, val)
        SET(CURLOPT_URL, url);
        SET(CURLOPT_PROTOCOLS_STR, "https");
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        SET(CURLOPT_PIPEWAIT, 1L);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_USERAGENT, "mediacanceld/" PACKAGE_VERSION);
        SET(CURLOPT_HTTPHEADER, r->headers);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, r);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, r);
        SET(CURLOPT_ERRORBUFFER, r->errbuf);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long) (o->connect_timeout_usec / 1000));
        SET(CURLOPT_TIMEOUT_MS, (long) (o->timeout_usec / 1000));
        if (o->stall_timeout_usec > 0) {
                /* A peer that went silent without a reset (a dead path, a hung server) is found
                 * by this sooner than by the attempt timeout; curl counts whole seconds. */
                SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
                SET(CURLOPT_LOW_SPEED_TIME, (long) MAX((o->stall_timeout_usec + 999999) / 1000000, UINT64_C(1)));
        }
        if (o->ca_file)
                SET(CURLOPT_CAINFO, o->ca_file);
        if (post) {
                SET(CURLOPT_POSTFIELDS, r->post);
                SET(CURLOPT_POSTFIELDSIZE, (long) strlen(r->post));
        }
#undef SET
        if (c != CURLE_OK)
                return -EINVAL;

        *ret = TAKE_PTR(r);
        return 0;
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        HttpRequest *r = userdata;

        (void) g;
        r->running = false;
        r->result = result;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
        r->done(r, r->userdata);
}

int http_request_start(CurlGlue *g, HttpRequest *r, http_done_t done, void *userdata) {
        int rr;

        r->done = done;
        r->userdata = userdata;
        r->glue = g;
        rr = curl_glue_add(g, r->easy, on_done, r);
        if (rr < 0)
                return rr;
        r->running = true;
        return 0;
}

HttpRequest *http_request_free(HttpRequest *r) {
        if (!r)
                return NULL;
        if (r->running)
                curl_glue_remove(r->glue, r->easy);
        if (r->easy)
                curl_easy_cleanup(r->easy);
        slist_erase_free(r->headers);
        erase_and_free(r->post);
        if (r->body.data)
                explicit_bzero(r->body.data, r->body.size);
        buffer_done(&r->body);
        free(r->location);
        free(r->request_id);
        free(r->retry_after);
        free(r);
        return NULL;
}

bool http_request_sent(HttpRequest *r) {
        curl_off_t t = 0;
        long size = 0;

        /* curl stamps the pre-transfer time when the connection is ready and it starts on the
         * request, and counts the request bytes it wrote; while both are zero nothing of this
         * request is on any connection. Unknown counts as sent: withdrawing a request Graph may
         * have seen could make it act twice. */
        if (!r->running || curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &t) != CURLE_OK ||
            curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &size) != CURLE_OK)
                return true;
        return t > 0 || size > 0;
}

bool http_result_is_unreachable(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return true;
        default:
                return false;
        }
}
