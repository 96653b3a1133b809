/* SPDX-License-Identifier: MIT */
/*
 * fuzz-notification-token.c — libFuzzer harness for the notification token verifier and the
 * key set parser (src/daemon/notification-token.c). The input is an optional JWKS document,
 * a newline, then an Authorization header value ("Bearer eyJ…"); without a newline it is the
 * header alone. When the document parses it is the key set; otherwise a fixed key set of one
 * RSA-2048 key (kid "fuzz-key", the public half of the key that signed the seed corpus in
 * fuzz/corpus/notification-token/; the private half is not kept) is used, so mutations of a
 * good token reach the claim checks.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - key_set_parse() returns 0 with 1..NOTIFICATION_JWKS_MAX_KEYS keys, or -EINVAL with a
 *     reason, or -ENOMEM;
 *   - the verifier returns a TokenReason or -ENOMEM, the same one twice for the same input;
 *   - TOKEN_OK comes with a non-empty tid that the policy allows, and never for a token of
 *     more than NOTIFICATION_TOKEN_MAX_BYTES or an alg other than RS256.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "notification-token.h"

static const char fixed_jwks[] =
        "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"fuzz-key\",\"n\":\"zw30TfyjAsxOu3n5u"
        "2MGNyS3_FJHq6Xy31bTikwpVjTXZtUqQ3KYT9SmKzOipYVsL37NM6HHmPCkIHRq4rwHvTb-aNGrufPTHzOObmi17uu"
        "TjppNMFC8SN_JBBzU8JN1dC7G5cNn83uTNmsvZZIAdXNZWCAIngyhy2jJfW6mH4rc4Z8DSyU5aM7vDcn46mpZ4EOfi"
        "2n9RrncE3BaK52VQtD3Vf9Be7pnHH0wgpbAX5KHk8qOqPdmR9TEmzSYmx2neSncJUqaeNERVZubVYlafhaLH4_rJL2"
        "zW12K-58gbvz0j6VhH6icsUGecTDuIUY2mNhnMOCNLxRj9AtIR863BQ\",\"e\":\"AQAB\"}]}";

static KeySet *fixed_keys;

static bool tenant_allowed(const char *tid, void *userdata) {
        (void) userdata;
        return strcmp(tid, "contoso-tenant") == 0;
}

static const char *const issuers[] = { "https://api.botframework.com", "https://graph.microsoft.com", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const TokenPolicy policy = {
                .issuers = issuers,
                .audience = "11111111-2222-3333-4444-555555555555",
                .now = 1900000100,
                .clock_skew = 300,
                .tenant_allowed = tenant_allowed,
        };
        KeySet *parsed = NULL;
        const KeySet *keys;
        const char *token = NULL;
        size_t len = 0;
        char *tid = NULL, *why = NULL;
        int r;

        if (!fixed_keys && key_set_parse(fixed_jwks, strlen(fixed_jwks), &fixed_keys, NULL) < 0)
                abort();

        /* A copy of exactly the input's size, NUL-terminated, so ASan sees any read past it. */
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        char *nl = memchr(text, '\n', size);
        const char *header = text;
        if (nl) {
                *nl = '\0';
                r = key_set_parse(text, (size_t) (nl - text), &parsed, &why);
                fuzz_assert(r == 0 || r == -EINVAL || r == -ENOMEM);
                if (r == 0)
                        fuzz_assert(key_set_count(parsed) >= 1 && key_set_count(parsed) <= NOTIFICATION_JWKS_MAX_KEYS);
                if (r == -EINVAL)
                        fuzz_assert(why != NULL);
                free(why);
                header = nl + 1;
        }
        keys = parsed ?: fixed_keys;

        TokenReason h = notification_token_from_header(header, &token, &len);
        if (h == TOKEN_OK) {
                r = notification_token_verify(token, len, keys, &policy, &tid);
                fuzz_assert(r == -ENOMEM || (r >= 0 && r < _TOKEN_REASON_MAX && r != TOKEN_KEYS_UNAVAILABLE));
                int again = notification_token_verify(token, len, keys, &policy, NULL);
                fuzz_assert(again == r || r == -ENOMEM || again == -ENOMEM);
                if (r == TOKEN_OK) {
                        fuzz_assert(tid && *tid && tenant_allowed(tid, NULL));
                        fuzz_assert(len <= NOTIFICATION_TOKEN_MAX_BYTES);
                } else
                        fuzz_assert(tid == NULL);
        } else
                fuzz_assert(h == TOKEN_MISSING || h == TOKEN_MALFORMED);
        free(tid);
        key_set_free(parsed);
        free(text);
        return 0;
}
