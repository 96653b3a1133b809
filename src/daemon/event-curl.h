/* SPDX-License-Identifier: MIT */
/*
 * event-curl.h — one libcurl multi handle driven by sd-event: curl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION); sd-event tells
 * curl when a socket is ready. Nothing blocks and there is no thread per request; the multi
 * handle's connection cache gives keep-alive and HTTP/2 multiplexing for free.
 */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct CurlGlue CurlGlue;

/* Called once per finished transfer, after it was removed from the multi handle. */
typedef void (*curl_glue_done_t)(CurlGlue *g, CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *event, CurlGlue **ret);
CurlGlue *curl_glue_free(CurlGlue *g);
DEFINE_CLEANUP_FUNC(CurlGlue *, curl_glue_free);

/* Starts a transfer. The easy handle stays the caller's; CURLOPT_PRIVATE is used by the glue. */
int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata);

/* Aborts a transfer without calling its done callback. */
void curl_glue_remove(CurlGlue *g, CURL *easy);

unsigned curl_glue_running(CurlGlue *g);

/* Easy handles for reuse, shared by every glue and emptied when the last glue is freed:
 * curl_glue_easy_get() hands out a handle with every option at its default (a pooled one when
 * there is one), curl_glue_easy_put() takes back one that is in no multi handle. A reused
 * handle keeps curl's buffers and skips curl_easy_init()/curl_easy_cleanup(). */
CURL *curl_glue_easy_get(void);
void curl_glue_easy_put(CURL *easy);
