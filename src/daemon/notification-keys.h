/* SPDX-License-Identifier: MIT */
/*
 * notification-keys.h — the key set that notification tokens are checked against, kept
 * fresh: the OpenID document at OpenIdConfigurationUrl= names a jwks_uri, and the JWKS there
 * is the key set (notification-token.h parses it). Both are fetched through the daemon's own
 * HTTPS client on the event loop (http.h: same CAFile=, proxy and timeouts as every request),
 * never blocking it; again every KeysRefreshSec=, and once when a token names a kid the set
 * lacks (at most every UnknownKeyRefreshSec=). While fetches fail the last good set stays in
 * use for KeysMaxAgeSec=. Whoever needs keys that are not there yet (a delivery before the
 * first set) waits for the end of the next fetch.
 */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "event-curl.h"
#include "notification-token.h"

typedef struct NotificationKeys NotificationKeys;
typedef struct KeysWaiter KeysWaiter;
/* Called once, when the fetch under way (or the next one) has ended, well or badly. */
typedef void (*keys_waiter_t)(void *userdata);

int notification_keys_new(sd_event *event, CurlGlue *glue, const Config *config, NotificationKeys **ret);
/* Answers nobody: waiters are dropped without being called (their owners go first). */
NotificationKeys *notification_keys_free(NotificationKeys *k);
DEFINE_CLEANUP_FUNC(NotificationKeys *, notification_keys_free);
/* config must outlive its use, like the other objects' (manager_reload()). */
void notification_keys_set_config(NotificationKeys *k, const Config *config);

/* Starts the first fetch (a no-op once started). */
void notification_keys_start(NotificationKeys *k);

/* The key set in force: NULL before the first good fetch, and once the last good one is
 * older than KeysMaxAgeSec=. */
const KeySet *notification_keys_current(NotificationKeys *k);

/* A token named a kid that the current set lacks: fetch again now, unless that was done less
 * than UnknownKeyRefreshSec= ago. Returns whether a fetch is now under way that the caller can
 * wait for. */
bool notification_keys_refresh_for_unknown_kid(NotificationKeys *k);

/* Waits for the end of the fetch under way, or of the next one. -ENOMEM. */
int notification_keys_wait(NotificationKeys *k, keys_waiter_t cb, void *userdata, KeysWaiter **ret);
/* Stops waiting without being called. Accepts NULL. */
void keys_waiter_cancel(KeysWaiter *w);

/* {"count", "ageSec" (null before the first), "fetchedAt", "lastError" (null when the last
 * fetch was good), "fetching"}, or NULL on OOM. */
json_object *notification_keys_status_json(NotificationKeys *k);
