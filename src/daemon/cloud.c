/* SPDX-License-Identifier: MIT */
/*
 * cloud.c — see cloud.h. One row per cloud; the values and where they come from:
 *
 * - Hosts and Graph roots: Microsoft Graph "National cloud deployments"
 *   (learn.microsoft.com/graph/deployments; microsoftgraph/microsoft-graph-docs-contrib
 *   concepts/deployments.md). M365 GCC (moderate) uses the Global endpoints; GCC High is
 *   "USGovernment" (L4), DoD is "USGovernmentDoD" (L5). The login hosts agree with MSAL's and
 *   azure-identity's authority constants (AZURE_US_GOVERNMENT, AZURE_CHINA, AZURE_PUBLIC).
 * - Scope: "Any permission scope value (including the .default scope) that contains the
 *   Microsoft Graph domain must use the domain of the Microsoft Graph service root endpoint for
 *   the national cloud" (concepts/sdks/national-clouds.md), so the scope is the Graph root
 *   followed by "/.default". Tokens of one cloud are not accepted in another.
 * - API availability: the call-cancelmediaprocessing pages list v1.0 in Global, US Gov L4 and
 *   US Gov L5, not in China; the beta endpoint exists in Global only.
 * - Notification issuers and keys: the Teams calling docs (call-notifications.md) say each
 *   notification carries a token signed by Skype, verified with
 *   https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration; the Graph Communications
 *   samples accept the issuers https://api.botframework.com and https://graph.microsoft.com.
 *   Neither is documented for the national clouds, so they have no default there.
 */
#include <stddef.h>

#include "cloud.h"
#include "macro.h"

static const char *const global_notification_issuers[] = { "https://api.botframework.com",
                                                           "https://graph.microsoft.com", NULL };

static const CloudInfo clouds[] = {
        {
                .name = "Global",
                .login_endpoint = "https://login.microsoftonline.com",
                .graph_root = "https://graph.microsoft.com",
                .has_beta = true,
                .notification_issuers = global_notification_issuers,
                .openid_configuration_url = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration",
        },
        {
                .name = "USGovernment",
                .login_endpoint = "https://login.microsoftonline.us",
                .graph_root = "https://graph.microsoft.us",
        },
        {
                .name = "USGovernmentDoD",
                .login_endpoint = "https://login.microsoftonline.us",
                .graph_root = "https://dod-graph.microsoft.us",
        },
        {
                .name = "China",
                .login_endpoint = "https://login.chinacloudapi.cn",
                .graph_root = "https://microsoftgraph.chinacloudapi.cn",
                .warning = "Cloud=China: Microsoft does not document the cloud communications API "
                           "(cancelMediaProcessing) in the China cloud operated by 21Vianet; cancels may fail there.",
        },
};

const CloudInfo *cloud_at(size_t i) {
        return i < ELEMENTSOF(clouds) ? clouds + i : NULL;
}

const CloudInfo *cloud_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(clouds); i++)
                if (streq(clouds[i].name, name))
                        return clouds + i;
        return NULL;
}
