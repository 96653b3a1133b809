/* SPDX-License-Identifier: MIT */
/*
 * tenant-tokens.c — see tenant-tokens.h. A multi-tenant app needs a token per tenant (Graph
 * refuses another tenant's with 7504), and the Microsoft libraries keep one cache entry per
 * tenant and leave the bound to the app (MSAL.NET: "If your app serves many tenants, configure
 * an eviction policy"). Here the bound is MaxTenants=, the eviction TenantIdleSec=, and the
 * allow-list AllowedTenants= (as azure-identity's additionally_allowed_tenants), so a local
 * caller cannot make the daemon sign in to tenants nobody meant it to.
 *
 * Each tenant's TokenManager has its own fetch, timers, backoff and waiters, so one tenant's
 * failing login never holds up another's token.
 */
#include <errno.h>
#include <stdlib.h>

#include "client-credential.h"
#include "json-util.h"
#include "log.h"
#include "tenant-tokens.h"
#include "util.h"

/* How often idle tenants are looked for: often enough that TenantIdleSec= holds to a fraction
 * of itself, never more often than needed. */
#define SWEEP_MAX_USEC (60 * USEC_PER_SEC)
#define SWEEP_MIN_USEC (100 * USEC_PER_MSEC)

typedef struct TenantEntry {
        char *tenant; /* normalised; the key of by_name */
        TokenManager *manager;
        uint64_t last_used; /* CLOCK_MONOTONIC */
        struct TenantEntry *prev, *next;
} TenantEntry;

struct TenantTokens {
        sd_event *event;
        CurlGlue *glue;
        const Config *config;
        ClientCredential *credential; /* NULL until tenant_tokens_start() */
        bool started;

        struct lh_table *by_name;
        TenantEntry *head, *tail; /* creation order */
        TenantEntry *home;        /* TenantId='s, never dropped */
        unsigned n;
        sd_event_source *sweep;
};

static uint64_t mono_now(TenantTokens *tt) {
        uint64_t now;
        if (sd_event_now(tt->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

bool tenant_allowed(const Config *c, const char *tenant) {
        if (!tenant || !c->tenant_id)
                return false;
        if (strcasecmp(tenant, c->tenant_id) == 0 || c->allow_any_tenant)
                return true;
        for (size_t i = 0; i < c->n_allowed_tenants; i++)
                if (strcasecmp(c->allowed_tenants[i], tenant) == 0)
                        return true;
        return false;
}

static void entry_free(TenantTokens *tt, TenantEntry *e) {
        if (e->prev)
                e->prev->next = e->next;
        else
                tt->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                tt->tail = e->prev;
        (void) lh_table_delete(tt->by_name, e->tenant);
        tt->n--;
        if (tt->home == e)
                tt->home = NULL;
        token_manager_free(e->manager); /* wipes the token */
        free(e->tenant);
        free(e);
}

static TenantEntry *entry_find(TenantTokens *tt, const char *tenant) {
        void *v = NULL;

        if (!tenant || !lh_table_lookup_ex(tt->by_name, tenant, &v))
                return NULL;
        return v;
}

/* Drops the tenants that may go: unused for TenantIdleSec= or no longer allowed, nobody
 * waiting for their token, no fetch in flight (its answer would have nowhere to go), and not
 * TenantId='s. Returns how many went. */
static unsigned sweep_idle(TenantTokens *tt, uint64_t now) {
        unsigned dropped = 0;
        TenantEntry *next;

        for (TenantEntry *e = tt->head; e; e = next) {
                next = e->next;
                if (e == tt->home || token_manager_busy(e->manager))
                        continue;
                uint64_t unused = now > e->last_used ? now - e->last_used : 0;
                if (unused < tt->config->tenant_idle_usec && tenant_allowed(tt->config, e->tenant))
                        continue;
                log_debug("Dropping the token of tenant %s: unused for %.1fs.", e->tenant, (double) unused / 1e6);
                entry_free(tt, e);
                dropped++;
        }
        return dropped;
}

static uint64_t sweep_interval(const Config *c) {
        return MAX(MIN(c->tenant_idle_usec / 4, SWEEP_MAX_USEC), SWEEP_MIN_USEC);
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
        TenantTokens *tt = userdata;

        (void) sweep_idle(tt, mono_now(tt));
        (void) sd_event_source_set_time(s, usec + sweep_interval(tt->config));
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static int entry_new(TenantTokens *tt, const char *tenant, TenantEntry **ret) {
        _cleanup_free_ TenantEntry *e = calloc(1, sizeof *e);
        int r;

        if (!e)
                return -ENOMEM;
        e->tenant = tenant_name_normalize(tenant);
        if (!e->tenant)
                return -ENOMEM;
        r = token_manager_new(tt->event, tt->glue, tt->config, tt->credential, e->tenant, &e->manager);
        if (r < 0) {
                free(e->tenant);
                return r;
        }
        if (lh_table_insert(tt->by_name, e->tenant, e) < 0) {
                token_manager_free(e->manager);
                free(e->tenant);
                return -ENOMEM;
        }
        e->last_used = mono_now(tt);
        e->prev = tt->tail;
        if (tt->tail)
                tt->tail->next = e;
        else
                tt->head = e;
        tt->tail = e;
        tt->n++;
        /* Asked for at once: the cancel that named it is about to wait for it. */
        if (tt->started)
                token_manager_start(e->manager);
        *ret = TAKE_PTR(e);
        return 0;
}

/* TenantId='s entry, created when missing (at start and after a reload that changed it). */
static int home_update(TenantTokens *tt) {
        _cleanup_free_ char *name = tenant_name_normalize(tt->config->tenant_id);
        TenantEntry *e;

        if (!name)
                return -ENOMEM;
        e = entry_find(tt, name);
        if (!e) {
                int r = entry_new(tt, name, &e);
                if (r < 0)
                        return r;
        }
        tt->home = e;
        return 0;
}

int tenant_tokens_new(sd_event *event, CurlGlue *glue, const Config *config, TenantTokens **ret) {
        _cleanup_(tenant_tokens_freep) TenantTokens *tt = calloc(1, sizeof *tt);
        int r;

        if (!tt)
                return -ENOMEM;
        tt->event = sd_event_ref(event);
        tt->glue = glue;
        tt->config = config;
        tt->by_name = lh_kchar_table_new(64, NULL);
        if (!tt->by_name)
                return -ENOMEM;
        r = home_update(tt);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(event, &tt->sweep, CLOCK_MONOTONIC, sweep_interval(config), SWEEP_MIN_USEC / 2,
                                       on_sweep, tt);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(tt->sweep, "tenant-idle");
        (void) sd_event_source_set_enabled(tt->sweep, SD_EVENT_ON);
        *ret = TAKE_PTR(tt);
        return 0;
}

TenantTokens *tenant_tokens_free(TenantTokens *tt) {
        if (!tt)
                return NULL;
        while (tt->head)
                entry_free(tt, tt->head);
        if (tt->by_name)
                lh_table_free(tt->by_name);
        sd_event_source_disable_unref(tt->sweep);
        client_credential_free(tt->credential);
        sd_event_unref(tt->event);
        free(tt);
        return NULL;
}

int tenant_tokens_start(TenantTokens *tt) {
        int r = client_credential_load(tt->config, &tt->credential);

        if (r < 0)
                return r;
        tt->started = true;
        for (TenantEntry *e = tt->head; e; e = e->next) {
                token_manager_set_config(e->manager, tt->config, tt->credential, false);
                token_manager_start(e->manager);
        }
        return 0;
}

int tenant_tokens_set_config(TenantTokens *tt, const Config *config) {
        _cleanup_(client_credential_freep) ClientCredential *credential = NULL;
        const Config *old = tt->config;
        bool identity_changed = !streq(old->client_id, config->client_id) ||
                                !streq(old->login_endpoint, config->login_endpoint) ||
                                !streq(old->scope, config->scope) || client_credential_config_changed(old, config);
        int r = client_credential_load(config, &credential);

        if (r < 0)
                return r;
        /* The old credential goes only once nobody borrows it. */
        ClientCredential *previous = tt->credential;
        tt->credential = TAKE_PTR(credential);
        tt->config = config;
        for (TenantEntry *e = tt->head; e; e = e->next)
                token_manager_set_config(e->manager, config, tt->credential, identity_changed);
        client_credential_free(previous);
        r = home_update(tt);
        if (r < 0)
                log_oom(); /* the old home stays; the new one is made on first use */
        (void) sd_event_source_set_time_relative(tt->sweep, sweep_interval(config));
        return 0;
}

Error *tenant_tokens_get(TenantTokens *tt, const char *tenant, TokenManager **ret) {
        TenantEntry *e = entry_find(tt, tenant);
        uint64_t now = mono_now(tt);
        int r;

        if (!e) {
                /* Full: idle ones make room first, so the limit counts tenants in use. */
                if (tt->n >= tt->config->max_tenants && sweep_idle(tt, now) == 0 && tt->n >= tt->config->max_tenants)
                        return error_limit("MaxTenants",
                                           "MaxTenants=%u tenants' tokens are held and none has been unused for "
                                           "TenantIdleSec=; tenant %s cannot be served now.",
                                           tt->config->max_tenants, tenant);
                r = entry_new(tt, tenant, &e);
                if (r < 0)
                        return error_new(ERROR_INTERNAL, NULL, "Cannot set up the token of tenant %s: %s", tenant,
                                         strerror(-r));
        }
        e->last_used = now;
        *ret = e->manager;
        return NULL;
}

TokenManager *tenant_tokens_find(TenantTokens *tt, const char *tenant) {
        TenantEntry *e = entry_find(tt, tenant);
        return e ? e->manager : NULL;
}

TokenManager *tenant_tokens_home(TenantTokens *tt) {
        return tt->home ? tt->home->manager : NULL;
}

unsigned tenant_tokens_count(TenantTokens *tt) {
        return tt->n;
}

json_object *tenant_tokens_status_json(TenantTokens *tt) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        if (tt->home && json_element_append(a, token_manager_status_json(tt->home->manager)) < 0)
                return NULL;
        for (TenantEntry *e = tt->head; e; e = e->next)
                if (e != tt->home && json_element_append(a, token_manager_status_json(e->manager)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}
