/* SPDX-License-Identifier: MIT */
/*
 * http.h — one HTTPS request on the shared curl multi handle: the options every request to
 * login or Graph must carry (TLS verification on, https only, timeouts, HTTP/2, the proxy or none
 * whatever the environment says), capture of the
 * status, the headers the daemon cares about and a size-capped body. Request bodies and
 * Authorization headers may hold secrets and are wiped when they are freed. Nothing is set up
 * twice: easy handles come from the glue's pool, and the header lines that are the same for
 * every request with one token are built once and shared.
 *
 * One exception to https only: the managed identity endpoints (IMDS, the Azure Arc agent) speak
 * plain HTTP, on this host or at the link-local metadata address. HttpOptions.plain_local_only
 * allows http:// for such a request and nothing else, and refuses, when curl is about to
 * connect, every address that is neither loopback nor link-local, whatever the URL's host name
 * resolved to.
 */
#pragma once

#include <curl/curl.h>
#include <stdint.h>

#include "event-curl.h"
#include "util.h"

#define HTTP_MAX_RESPONSE_BYTES (1024 * 1024)
/* Lines of HttpOptions.extra_headers a request may carry. */
#define HTTP_EXTRA_HEADERS_MAX 2

typedef struct HttpOptions {
        const char *ca_file;           /* extra trust anchor, NULL for the system store only */
        const char *proxy;             /* Proxy=; NULL: none, and the environment is not asked */
        const char *no_proxy;          /* NoProxy=; NULL: none, and the environment is not asked */
        uint64_t connect_timeout_usec; /* TCP + TLS handshake */
        uint64_t timeout_usec;         /* the whole attempt */
        uint64_t stall_timeout_usec;   /* abort when under 1 byte/s for this long; 0: never */
        bool answer_is_secret;         /* the answer carries a credential (a token): TLS records
                                        * of a connection this request opens are wiped once read */
        bool plain_local_only;         /* http:// only, no proxy, and only to a loopback or
                                        * link-local address (127.0.0.0/8, ::1, 169.254.0.0/16,
                                        * fe80::/10); https:// is refused */
        const char *const *extra_headers; /* NULL-terminated header lines ("Metadata: true"), at
                                           * most HTTP_EXTRA_HEADERS_MAX; copied, wiped on free */
} HttpOptions;

typedef struct HttpRequest HttpRequest;
typedef void (*http_done_t)(HttpRequest *r, void *userdata);
typedef struct HttpHeaders HttpHeaders;

struct HttpRequest {
        CURL *easy; /* from the glue's pool, and back to it */
        CurlGlue *glue;
        HttpHeaders *headers;              /* shared: Accept, Expect, Content-Type, Authorization */
        struct curl_slist request_id_node; /* ours: client-request-id, in front of the shared ones */
        char request_id_line[64];
        struct curl_slist extra_nodes[HTTP_EXTRA_HEADERS_MAX]; /* ours too, in front */
        char *extra_lines[HTTP_EXTRA_HEADERS_MAX];             /* wiped on free */
        char *post; /* wiped on free */

        /* Results, valid in the done callback: */
        CURLcode result;
        long status;
        Buffer body;
        char *location;
        char *request_id;
        char *retry_after;
        char *www_authenticate;
        char errbuf[CURL_ERROR_SIZE];
        /* plain_local_only: the address curl was refused, "" when none. */
        char refused_address[64];

        http_done_t done;
        void *userdata;
        bool running;
};

/* post == NULL makes a GET. bearer may be NULL. content_type applies to a POST. */
int http_request_new(const char *url, const char *post, const char *content_type, const char *bearer,
                     const char *client_request_id, const HttpOptions *o, HttpRequest **ret);
int http_request_start(CurlGlue *g, HttpRequest *r, http_done_t done, void *userdata);
HttpRequest *http_request_free(HttpRequest *r);
DEFINE_CLEANUP_FUNC(HttpRequest *, http_request_free);

/* Whether any of the request may have left for the server: false while curl is still
 * resolving, connecting or handshaking, so the request can be withdrawn unseen. */
bool http_request_sent(HttpRequest *r);

/* Drops the header lists kept for the next request (they hold the bearer token). */
void http_headers_cache_clear(void);

/* Whether sa is loopback or link-local (IPv4, IPv6, or IPv4 mapped into IPv6). */
struct sockaddr;
bool http_address_is_local(const struct sockaddr *sa);

/* Whether the transfer failed below HTTP: DNS, connect, TLS. */
bool http_result_is_unreachable(CURLcode c);
