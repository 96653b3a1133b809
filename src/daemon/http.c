/* SPDX-License-Identifier: MIT */
/*
 * http.c — see http.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"

/* curl's smallest upload buffer (CURLOPT_UPLOAD_BUFFERSIZE): request bodies here are tiny. */
#define HTTP_UPLOAD_BUFFER_SIZE 16384L

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;

        /* A hostile or broken server must not make us buffer without bound. */
        if (r->body.size + len > HTTP_MAX_RESPONSE_BYTES)
                return 0;
        if (buffer_append(&r->body, p, len) < 0)
                return 0;
        /* p is curl's receive buffer, which a pooled handle keeps from one transfer to the next:
         * without this a token answer stayed there, whole, until a later answer overwrote it.
         * curl is done with these bytes once they are delivered. */
        explicit_bzero(p, len);
        return len;
}

/* OpenSSL keeps each record it decrypted in its read buffer until the next one overwrites it:
 * a token answer stayed there whole for as long as the connection lived. From 3.0 it can wipe
 * the plaintext as soon as it is handed over (SSL_OP_CLEANSE_PLAINTEXT). curl creates the
 * SSL_CTX of each connection and shows it here. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userdata) {
        (void) easy;
        (void) userdata;
        SSL_CTX_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
        return CURLE_OK;
}

/* Whether curl's TLS backend is the OpenSSL 3 this daemon links: only then is what curl hands
 * on_ssl_ctx() an OpenSSL SSL_CTX. */
static bool tls_backend_is_openssl3(void) {
        static int cached = -1;

        if (cached < 0) {
                const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
                cached = v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL/3.", 10) == 0;
        }
        return cached;
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
                r->www_authenticate = mfree(r->www_authenticate);
                return len;
        }
        if (header_value(p, len, "www-authenticate", &r->www_authenticate) < 0 ||
            header_value(p, len, "location", &r->location) < 0 ||
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

/* The header lines of one (content type, bearer) pair, shared by every request that uses the
 * pair. curl reads a header list and never changes it, so a request links its own
 * client-request-id node in front of the shared list instead of copying it. */
struct HttpHeaders {
        unsigned n_ref;
        char *content_type; /* NULL: none */
        char *bearer;       /* NULL: none; wiped */
        struct curl_slist *list;
};

/* The most recently used pairs: a token request and Graph requests with the current token. */
static HttpHeaders *headers_cache[2];

static HttpHeaders *headers_unref(HttpHeaders *h) {
        if (!h || --h->n_ref > 0)
                return NULL;
        slist_erase_free(h->list);
        free(h->content_type);
        erase_and_free(h->bearer);
        free(h);
        return NULL;
}

static int headers_build(const char *content_type, const char *bearer, HttpHeaders **ret) {
        HttpHeaders *h = calloc(1, sizeof *h);
        char hdr[256];

        if (!h)
                return -ENOMEM;
        h->n_ref = 1;
        if ((content_type && !(h->content_type = strdup(content_type))) || (bearer && !(h->bearer = strdup(bearer))))
                goto oom;
        if (!(h->list = curl_slist_append(NULL, "Accept: application/json")))
                goto oom;
        /* curl would send "Expect: 100-continue" for larger bodies and wait a round trip. */
        if (!curl_slist_append(h->list, "Expect:"))
                goto oom;
        if (content_type) {
                snprintf(hdr, sizeof hdr, "Content-Type: %s", content_type);
                if (!curl_slist_append(h->list, hdr))
                        goto oom;
        }
        if (bearer) {
                _cleanup_erase_ char *auth = NULL;
                if (asprintf(&auth, "Authorization: Bearer %s", bearer) < 0) {
                        auth = NULL;
                        goto oom;
                }
                if (!curl_slist_append(h->list, auth))
                        goto oom;
        }
        *ret = h;
        return 0;
oom:
        headers_unref(h);
        return -ENOMEM;
}

static int headers_get(const char *content_type, const char *bearer, HttpHeaders **ret) {
        HttpHeaders *h;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(headers_cache); i++) {
                h = headers_cache[i];
                if (h && streq_ptr(h->content_type, content_type) && streq_ptr(h->bearer, bearer)) {
                        h->n_ref++;
                        *ret = h;
                        return 0;
                }
        }
        r = headers_build(content_type, bearer, &h);
        if (r < 0)
                return r;
        /* One slot for requests with a bearer (Graph), one for those without (login), so a token
         * fetch never pushes out the Graph headers. */
        size_t slot = bearer ? 0 : 1;
        headers_unref(headers_cache[slot]);
        headers_cache[slot] = h;
        h->n_ref++;
        *ret = h;
        return 0;
}

void http_headers_cache_clear(void) {
        for (size_t i = 0; i < ELEMENTSOF(headers_cache); i++)
                headers_cache[i] = headers_unref(headers_cache[i]);
}

bool http_address_is_local(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET) {
                uint32_t a = ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr);
                return (a >> 24) == 127 || (a >> 16) == 0xa9fe; /* 127.0.0.0/8, 169.254.0.0/16 */
        }
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
                if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a))
                        return true;
                if (IN6_IS_ADDR_V4MAPPED(a)) {
                        const uint8_t *b = a->s6_addr + 12;
                        return b[0] == 127 || (b[0] == 169 && b[1] == 254);
                }
        }
        return false;
}

/* plain_local_only: the one place where the address is known for certain is the socket curl is
 * about to connect, after any resolving; anything else gets no socket. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        HttpRequest *r = clientp;

        if (purpose != CURLSOCKTYPE_IPCXN || !http_address_is_local(&a->addr)) {
                char host[INET6_ADDRSTRLEN] = "?";
                if (a->family == AF_INET)
                        (void) inet_ntop(AF_INET, &((struct sockaddr_in *) &a->addr)->sin_addr, host, sizeof host);
                else if (a->family == AF_INET6)
                        (void) inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &a->addr)->sin6_addr, host, sizeof host);
                snprintf(r->refused_address, sizeof r->refused_address, "%s", host);
                return CURL_SOCKET_BAD;
        }
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int http_request_new(const char *url, const char *post, const char *content_type, const char *bearer,
                     const char *client_request_id, const HttpOptions *o, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *r = NULL;
        struct curl_slist *headers;
        int k;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->body.secret = true; /* token answers carry the access token */
        r->easy = curl_glue_easy_get();
        if (!r->easy)
                return -ENOMEM;

        k = headers_get(post ? content_type : NULL, bearer, &r->headers);
        if (k < 0)
                return k;
        headers = r->headers->list;
        if (client_request_id) {
                snprintf(r->request_id_line, sizeof r->request_id_line, "client-request-id: %s", client_request_id);
                r->request_id_node = (struct curl_slist) { .data = r->request_id_line, .next = headers };
                headers = &r->request_id_node;
        }
        for (size_t i = 0; o->extra_headers && o->extra_headers[i]; i++) {
                if (i >= HTTP_EXTRA_HEADERS_MAX)
                        return -E2BIG;
                r->extra_lines[i] = strdup(o->extra_headers[i]);
                if (!r->extra_lines[i])
                        return -ENOMEM;
                r->extra_nodes[i] = (struct curl_slist) { .data = r->extra_lines[i], .next = headers };
                headers = &r->extra_nodes[i];
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
        SET(CURLOPT_PROTOCOLS_STR, o->plain_local_only ? "http" : "https");
        if (o->plain_local_only) {
                SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
                SET(CURLOPT_OPENSOCKETDATA, r);
        }
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        SET(CURLOPT_PIPEWAIT, 1L);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_USERAGENT, "mediacanceld/" PACKAGE_VERSION);
        SET(CURLOPT_HTTPHEADER, headers);
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
        /* Only where the answer is a credential: wiping every record costs about 12 % of the
         * instructions of a cancel, and Graph's answers hold no secret. Login and Graph are
         * different hosts, so their connections are never shared (a test that points both at
         * one server may see a token request reuse a Graph connection, unwiped). The option is
         * set either way because a pooled handle keeps it from its last request. */
        SET(CURLOPT_SSL_CTX_FUNCTION, o->answer_is_secret && tls_backend_is_openssl3() ? on_ssl_ctx : NULL);
        /* libcurl takes a proxy from https_proxy=, all_proxy= and friends (and exceptions from
         * no_proxy=) unless these are set: "" means none. A daemon holding credentials goes
         * where its configuration says, not where its environment does. For https:// targets
         * curl tunnels with CONNECT, so TLS to login and Graph stays end to end; an https://
         * proxy is verified like an endpoint. */
        SET(CURLOPT_PROXY, o->plain_local_only ? "" : o->proxy ?: "");
        SET(CURLOPT_NOPROXY, o->plain_local_only ? "" : o->no_proxy ?: "");
        if (o->proxy && !o->plain_local_only) {
                SET(CURLOPT_HTTPPROXYTUNNEL, 1L);
                SET(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
                SET(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
                if (o->ca_file)
                        SET(CURLOPT_PROXY_CAINFO, o->ca_file);
        }
        if (post) {
                SET(CURLOPT_POSTFIELDS, r->post);
                SET(CURLOPT_POSTFIELDSIZE, (long) strlen(r->post));
        }
        /* curl stages what it sends in an upload buffer of its own, 64 KiB by default, for every
         * request in flight: 16 MiB with 256 of them, for bodies of a few dozen bytes. 16 KiB
         * is curl's minimum. Set on every request, GETs too: curl_easy_reset() on a pooled
         * handle puts the size back to 64 KiB but keeps the buffer it allocated, and curl then
         * sizes its copies by the setting; setting it again frees the buffer so the two agree. */
        SET(CURLOPT_UPLOAD_BUFFERSIZE, HTTP_UPLOAD_BUFFER_SIZE);
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
        curl_glue_easy_put(r->easy);
        headers_unref(r->headers);
        erase_and_free(r->post);
        if (r->body.data)
                explicit_bzero(r->body.data, r->body.size);
        buffer_done(&r->body);
        free(r->location);
        free(r->request_id);
        free(r->retry_after);
        free(r->www_authenticate);
        for (size_t i = 0; i < HTTP_EXTRA_HEADERS_MAX; i++)
                erase_and_free(r->extra_lines[i]);
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
