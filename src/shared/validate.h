/* SPDX-License-Identifier: MIT */
/*
 * validate.h — the rules for values that callers send and that end up in a Graph URL or body.
 * They run before anything is queued, so a rejected value never reaches Graph. Also the rule
 * for text that comes from outside (Graph, the identity platform, a forwarded notification)
 * before it is kept: no control characters (docs/security.md, "Text from outside").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CALL_ID_MAX 128
#define CLIENT_CONTEXT_MAX 256
/* Graph's operation ids are GUIDs; what an answer or a notification calls one is kept (and
 * journaled, and put in URLs, escaped) only up to this many bytes, like a call id. */
#define GRAPH_OPERATION_ID_MAX 128

/* 1–128 characters of [A-Za-z0-9-]: the shape of Graph call ids. Everything else ("../x",
 * "%2e", "a/b", "?", "#", spaces, non-ASCII) is refused. */
bool call_id_is_valid(const char *s);

/* A tenant as TenantId=, AllowedTenants= and cancel's tenantId take it: 1–64 characters of
 * [A-Za-z0-9.-], a GUID or a domain name such as contoso.onmicrosoft.com. It goes into the token
 * URL's path unescaped, which this alphabet makes safe. */
#define TENANT_ID_MAX 64
bool tenant_id_is_valid(const char *s);

/* The 8-4-4-4-12 hexadecimal form of a GUID (either case), as tenant and client IDs and Graph's
 * tid are written. NULL is not one. */
bool guid_is_valid(const char *s);

/* Valid UTF-8, no control characters, 1–256 characters (code points). Returns 0 or a negative
 * errno: -EILSEQ bad UTF-8, -EINVAL control character or empty, -E2BIG too long. */
int client_context_check(const char *s);

/* Whether s is a well-formed UTF-8 string of n bytes; counts code points into *ret_chars. */
bool utf8_is_valid(const char *s, size_t n, size_t *ret_chars);

/* Whether s (NUL-terminated, NULL: false) holds a control character: C0 (U+0000-U+001F), DEL, or
 * C1 (U+0080-U+009F). C1 matters as much as C0: U+009B is a one-character CSI to a terminal
 * that reads UTF-8, U+009D an OSC. */
bool text_has_control(const char *s);

/* Replaces the control characters in *s (free text: a message, a description) but tab and LF:
 * CR by a space, every other one by U+FFFD, so that the reader still sees that something was
 * there. Tab and LF only lay text out (replies escape them, log.c keeps a multi-line message one
 * entry, mediacancelctl flattens it); CR could make a terminal overwrite a line. *s is replaced
 * by a new string only when it held a control; NULL stays NULL. 0, or -ENOMEM with *s
 * unchanged. */
int text_replace_controls(char **s);
