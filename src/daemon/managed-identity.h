/* SPDX-License-Identifier: MIT */
/*
 * managed-identity.h — ManagedIdentity=: the host's managed identity (system-assigned, or a
 * user-assigned one by its client ID) as the app's federated credential. Its token for the
 * exchange audience (api://AzureADTokenExchange) is fetched from the Azure Instance Metadata
 * Service or from the Azure Arc agent, asynchronously, held until shortly before it expires
 * (wiped then, never logged), and sent as the client_assertion of the app's token requests.
 *
 * Which endpoint (docs/configuration.md, ManagedIdentitySource=): "imds" or "arc" as
 * configured; "auto" picks Arc when the Arc agent is installed (MANAGED_IDENTITY_ARC_AGENT
 * exists) or the environment names the Arc endpoints (IDENTITY_ENDPOINT and IMDS_ENDPOINT, which
 * the agent sets for the host), IMDS otherwise. The address is ManagedIdentityEndpoint= or the
 * source's default, never one taken from the environment.
 *
 * Arc answers the first request with 401 and WWW-Authenticate: Basic realm=PATH, PATH naming a
 * key file the agent just wrote. It is read only when it is a regular file directly in
 * MANAGED_IDENTITY_ARC_TOKENS_DIR, not a symlink, ending in ".key", of at most
 * MANAGED_IDENTITY_ARC_KEY_MAX_BYTES, and is sent back once as Authorization: Basic KEY.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "credential-problem.h"
#include "event-curl.h"
#include "macro.h"

#define MANAGED_IDENTITY_RESOURCE "api://AzureADTokenExchange"
#define MANAGED_IDENTITY_IMDS_URL "http://169.254.169.254/metadata/identity/oauth2/token"
#define MANAGED_IDENTITY_IMDS_API_VERSION "2018-02-01"
#define MANAGED_IDENTITY_ARC_URL "http://localhost:40342/metadata/identity/oauth2/token"
#define MANAGED_IDENTITY_ARC_API_VERSION "2020-06-01"
#define MANAGED_IDENTITY_ARC_AGENT "/var/opt/azcmagent/bin/himds"
#define MANAGED_IDENTITY_ARC_TOKENS_DIR "/var/opt/azcmagent/tokens"
#define MANAGED_IDENTITY_ARC_KEY_MAX_BYTES 4096
/* The token is used until this long before its expiry (or a tenth of its life when shorter). */
#define MANAGED_IDENTITY_EXPIRY_MARGIN_USEC (5 * 60 * USEC_PER_SEC)
#define MANAGED_IDENTITY_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef enum ManagedIdentitySource {
        MANAGED_IDENTITY_IMDS,
        MANAGED_IDENTITY_ARC,
} ManagedIdentitySource;

typedef struct ManagedIdentity ManagedIdentity;

int managed_identity_new(const Config *c, ManagedIdentity **ret);
ManagedIdentity *managed_identity_free(ManagedIdentity *m);
DEFINE_CLEANUP_FUNC(ManagedIdentity *, managed_identity_free);

/* The source the rule above picks for c. */
ManagedIdentitySource managed_identity_source(const Config *c);
const char *managed_identity_url(const ManagedIdentity *m);
ManagedIdentitySource managed_identity_get_source(const ManagedIdentity *m);

/* The token held, when it is usable now; NULL otherwise. */
const char *managed_identity_peek(ManagedIdentity *m);

/* Fetches a token (one fetch however many wait) and calls cb from the event loop. */
int managed_identity_wait(ManagedIdentity *m, sd_event *event, CurlGlue *glue, credential_ready_t cb,
                          void *userdata, CredentialWaiter **ret);
