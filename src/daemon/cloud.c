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
 */
#include <stddef.h>

#include "cloud.h"
#include "macro.h"

static const CloudInfo clouds[] = {
        {
                .name = "Global",
                .login_endpoint = "https://login.microsoftonline.com",
                .graph_root = "https://graph.microsoft.com",
                .has_beta = true,
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
