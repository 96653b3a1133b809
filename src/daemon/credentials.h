/* SPDX-License-Identifier: MIT */
/*
 * credentials.h — finding the application's one client credential (see credentials.c).
 */
#pragma once

#include <stdbool.h>


/* The names of the systemd credentials (LoadCredential=, SetCredential=…) that stand in for
 * ClientSecretFile=, CertificateFile= and PrivateKeyFile= when none is set. */
#define CREDENTIAL_CLIENT_SECRET "client-secret"
#define CREDENTIAL_CLIENT_CERTIFICATE "client-certificate"
#define CREDENTIAL_CLIENT_KEY "client-key"

/* The keys of the configuration that name the credential's files, each with where it was set
 * ("FILE:LINE", for messages): the members of Config they point at. credentials_resolve()
 * replaces what they point to, and never sees the rest of the configuration. */
typedef struct CredentialFiles {
        char **client_secret_file, **client_secret_file_origin;
        char **certificate_file, **certificate_file_origin;
        char **private_key_file, **private_key_file_origin;
        char **client_assertion_file, **client_assertion_file_origin;
        /* Read only: */
        const char *managed_identity, *managed_identity_origin;
        bool managed_identity_source_set; /* ManagedIdentitySource= is not "auto" */
        const char *managed_identity_endpoint;
} CredentialFiles;

/* The credential part of config_finalize(): refuses two credentials at once (naming the keys),
 * a key without its certificate, ManagedIdentityEndpoint= or ManagedIdentitySource= without
 * ManagedIdentity=, and a federated credential next to a systemd credential, fills in the paths from $CREDENTIALS_DIRECTORY when the configuration names
 * none, defaults PrivateKeyFile= to CertificateFile=, and checks that the files are readable.
 * source names the configuration in messages that are about no particular line. */
int credentials_resolve(const CredentialFiles *c, const char *source, char **ret_error);
