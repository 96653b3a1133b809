/* SPDX-License-Identifier: MIT */
/*
 * config.h — the daemon's configuration: a systemd-style INI file plus drop-ins, parsed into
 * one plain struct. Parsing is pure (text in, struct or "FILE:LINE: message" out) so that unit
 * tests and the fuzzer can drive it without touching the file system. Reading the files is in
 * config-files.h; the time spans of the struct count in time-util.h's units.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cloud.h"
#include "macro.h"
#include "protocol.h"
#include "time-util.h"

#define CONFIG_DEFAULT_PATH "/etc/mediacancel/mediacanceld.conf"
#define CONFIG_DEFAULT_SOCKET_PATH PROTOCOL_DEFAULT_SOCKET_PATH
#define CONFIG_DEFAULT_STATE_DIRECTORY "/var/lib/mediacancel"

/* A list of numeric user or group ids, resolved from names when the file is read. */
typedef struct IdList {
        uint32_t *ids;
        size_t n;
} IdList;

bool id_list_contains(const IdList *l, uint32_t id);

/* A tenant name as TenantId= and AllowedTenants= take it, and as the tenant maps key it: lower
 * case (tenants are compared case-insensitively). NULL on OOM. */
char *tenant_name_normalize(const char *name);

typedef struct Config {
        /* The main file config_load() read (or the first file config_load_file() read), for the
         * messages of config_finalize() that are about the whole configuration, not one line. */
        char *source;

        /* [Identity] */
        char *tenant_id;
        char *client_id;
        char *client_secret_file;
        char *client_secret_file_origin; /* "FILE:LINE" where it was set, for error messages */
        /* Certificate credentials, instead of the secret: PEM files. config_finalize() sets
         * private_key_file to certificate_file when the key is not in a file of its own. */
        char *certificate_file;
        char *certificate_file_origin;
        char *private_key_file;
        char *private_key_file_origin;
        /* Federated credentials, instead of either: a JWT in a file that someone else rotates
         * (ClientAssertionFile=), or a managed identity's token for the token exchange
         * audience ("system" or a user-assigned identity's client ID), from
         * managed_identity_endpoint (NULL: the default for managed_identity_source). */
        char *client_assertion_file;
        char *client_assertion_file_origin;
        char *managed_identity;
        char *managed_identity_origin;
        char *managed_identity_source;   /* "auto", "imds", "arc" */
        char *managed_identity_endpoint; /* http://…/metadata/identity/oauth2/token, no query */
        /* Cloud=: the row of cloud.c's table, which gives the defaults of login_endpoint,
         * graph_endpoint and scope (config_finalize() fills them in when unset). */
        char *cloud;
        const CloudInfo *cloud_info; /* set by config_finalize() */
        char *login_endpoint;        /* https://…, no trailing slash; where token requests go */
        char *scope;                 /* the token's scope: Scope=, else "{cloud's Graph root}/.default" */
        /* AllowedTenants=: the tenants a cancel may name besides tenant_id, lower case; "*"
         * sets allow_any_tenant. Empty: only tenant_id. */
        char **allowed_tenants;
        size_t n_allowed_tenants;
        bool allow_any_tenant;
        uint64_t tenant_idle_usec; /* TenantIdleSec=: drop a tenant's token unused this long */
        unsigned max_tenants;      /* MaxTenants=: tenants whose tokens are held at once */

        /* [Graph] */
        char *graph_endpoint; /* https://…, no trailing slash; where Graph requests go (not the scope) */
        char *api_version;    /* "v1.0" or "beta" */
        char *calls_path;     /* "/communications/calls", "/app/calls", "/applications/{appId}/calls" */
        char *ca_file;
        char *proxy;    /* NULL: none, whatever the environment says; else https://…, or http:// on loopback */
        char *no_proxy; /* hosts reached directly despite proxy, as CURLOPT_NOPROXY; NULL: none */
        uint64_t request_timeout_usec;
        uint64_t connect_timeout_usec;
        uint64_t attempt_timeout_usec;
        unsigned max_attempts;
        uint64_t retry_base_usec;
        uint64_t retry_max_usec;
        unsigned max_in_flight;
        unsigned max_queued;
        unsigned max_requests_per_second; /* 0: no rate limit */
        uint64_t stall_timeout_usec;      /* abort an attempt that receives nothing for this long */

        /* [Socket] */
        char *socket_path;
        size_t max_request_bytes;
        unsigned max_batch_items;   /* entries of one batch (a line that is an array) */
        unsigned max_values_per_line; /* array elements and object members of one line, all depths */
        unsigned max_connections;
        unsigned max_connections_per_user;
        unsigned max_in_flight_per_connection;
        uint64_t idle_timeout_usec;
        size_t max_output_bytes;

        /* [Operations] */
        uint64_t completion_timeout_usec;
        uint64_t retention_usec;
        unsigned max_operations;
        char *state_directory; /* resolved by config_finalize(): $STATE_DIRECTORY, else CONFIG_DEFAULT_STATE_DIRECTORY */
        uint64_t poll_interval_usec; /* 0: no polling */
        uint64_t journal_sync_delay_usec; /* a busy journal's pause between syncs; 0: none */
        unsigned max_cancelled_operations; /* evidence entries kept per cancel; 0: none kept */

        /* [Access]: who may do what, besides root and the daemon's own user. */
        IdList allow_users, allow_groups;   /* cancel, operation.*, status */
        IdList notify_users, notify_groups; /* notifications.deliver */
        IdList admin_users, admin_groups;   /* every caller's operations */
        unsigned max_pending_per_user;

        /* [Notifications]: which forwarded notifications are believed (notification-keys.h). */
        char *notification_authentication; /* "jwt" or "peer" */
        char **notification_issuers;       /* Issuers=, NULL-terminated; NULL: the cloud's default */
        char *openid_configuration_url;
        uint64_t keys_refresh_usec;        /* KeysRefreshSec= */
        uint64_t unknown_key_refresh_usec; /* UnknownKeyRefreshSec=: least gap of refreshes for a new kid */
        uint64_t keys_max_age_usec;        /* KeysMaxAgeSec=: last good keys used this long while fetches fail */
        uint64_t keys_wait_usec;           /* KeysWaitSec=: how long a delivery waits for a first key set */
        uint64_t clock_skew_usec;          /* ClockSkewSec= */
} Config;

/* Whether notifications.deliver needs Graph's signed token (Authentication=jwt). */
bool config_notifications_need_token(const Config *c);
/* The issuers a notification token may have: Issuers=, or the default of the cloud. */
const char *const *config_notification_issuers(const Config *c);

/* A Config holding every default. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_CLEANUP_FUNC(Config *, config_free);

/* Applies the INI text to c, overriding what is already set. On a bad line returns -EINVAL and
 * sets *ret_error to "FILENAME:LINE: message" naming the key. */
int config_parse_text(Config *c, const char *filename, const char *text, size_t len, char **ret_error);

/* Cross-key checks once every file is read: required keys present, the cloud's defaults for
 * the endpoints and the scope, endpoints https, known ApiVersion (beta only in Global) and
 * CallsPath form, exactly one credential (ClientSecretFile, or CertificateFile
 * with PrivateKeyFile), resolved from $CREDENTIALS_DIRECTORY when neither is set, and its
 * files readable. */
int config_finalize(Config *c, char **ret_error);
