/* SPDX-License-Identifier: MIT */
/*
 * tenant-tokens.h — the tokens of every tenant the daemon calls Graph for: which tenants a
 * cancel may name ([Identity] AllowedTenants=), one TokenManager per tenant created on first
 * use, at most MaxTenants= of them, and those unused for TenantIdleSec= dropped (never one
 * that requests wait for or that is fetching, never TenantId='s own). It owns the credential
 * that every tenant's token requests borrow, so a reload replaces it in one place. The one
 * answer to "which token manager serves tenant X".
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "errors.h"
#include "event-curl.h"
#include "token.h"

typedef struct TenantTokens TenantTokens;

/* Creates the manager of TenantId= (no fetch yet). */
int tenant_tokens_new(sd_event *event, CurlGlue *glue, const Config *config, TenantTokens **ret);
TenantTokens *tenant_tokens_free(TenantTokens *tt);
DEFINE_CLEANUP_FUNC(TenantTokens *, tenant_tokens_free);

/* Reads the credential and starts the first fetch of every tenant created so far (TenantId=,
 * and those of operations restored from the journal). Fails only if the credential cannot be
 * read. */
int tenant_tokens_start(TenantTokens *tt);

/* After a reload: reads the new credential (on failure nothing changes and the error is
 * returned), then points every tenant at it and at config. */
int tenant_tokens_set_config(TenantTokens *tt, const Config *config);

/* Whether a cancel may name tenant (normalised: tenant_name_normalize()): TenantId=, a tenant
 * of AllowedTenants=, or any with AllowedTenants=*. */
bool tenant_allowed(const Config *c, const char *tenant);

/* The token manager of tenant (normalised), created if needed, and marked used now. NULL
 * with LimitExceeded (data.limit "MaxTenants") when MaxTenants= tenants are held and none
 * can be dropped, or an InternalError on OOM. */
Error *tenant_tokens_get(TenantTokens *tt, const char *tenant, TokenManager **ret);
/* The same without creating one or marking it used; NULL when the tenant has none. */
TokenManager *tenant_tokens_find(TenantTokens *tt, const char *tenant);
/* TenantId='s. */
TokenManager *tenant_tokens_home(TenantTokens *tt);

unsigned tenant_tokens_count(TenantTokens *tt);

/* [{tenantId, state, expiresAt, fetches, lastError}, …], TenantId= first; NULL on OOM. */
json_object *tenant_tokens_status_json(TenantTokens *tt);
