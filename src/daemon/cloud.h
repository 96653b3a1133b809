/* SPDX-License-Identifier: MIT */
/*
 * cloud.h — the Microsoft clouds the daemon can sign in to and call ([Identity] Cloud=): for
 * each, the identity platform's host, the Graph root, and what its Graph offers. The one table
 * of these facts (cloud.c, with its sources); config.c derives LoginEndpoint=, [Graph]
 * Endpoint= and the token scope from it. Pure data, no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct CloudInfo {
        const char *name;           /* the value of Cloud= */
        const char *login_endpoint; /* https://…, no trailing slash */
        const char *graph_root;     /* https://…, no trailing slash; the scope is "{graph_root}/.default" */
        bool has_beta;              /* Graph's beta API exists there */
        /* Set when Microsoft does not document cancelMediaProcessing in this cloud: logged once at
         * start and shown by status. */
        const char *warning;
        /* Who signs the notifications Graph sends the bot, and where its keys are published
         * ([Notifications] Issuers= and OpenIdConfigurationUrl= by default). NULL where Microsoft
         * documents neither: then both keys must be set, or Authentication=peer. */
        const char *const *notification_issuers;
        const char *openid_configuration_url;
} CloudInfo;

/* The i-th cloud of the table, NULL past its end: for listing the allowed values. */
const CloudInfo *cloud_at(size_t i);

/* The cloud of that name (exactly as the table spells it), or NULL. */
const CloudInfo *cloud_find(const char *name);
