/* SPDX-License-Identifier: MIT */
/*
 * assertion-file.c — see assertion-file.h. Reading a small file on the event loop is as fast
 * as reading the client secret, which the daemon has always done there.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assertion-file.h"
#include "base64url.h"
#include "credential-file.h"
#include "string-util.h"
#include "time-util.h"
#include "util.h"

struct AssertionFile {
        char *path;
        char *jwt; /* wiped on free; NULL when nothing usable is held */
        int64_t exp;
        uint64_t read_at; /* monotonic µs */
        /* What the file was when jwt was read from it. */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
};

int assertion_file_new(const char *path, AssertionFile **ret) {
        AssertionFile *f = calloc(1, sizeof *f);

        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        if (!f->path) {
                free(f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

static void forget(AssertionFile *f) {
        f->jwt = erase_and_free(f->jwt);
        f->exp = 0;
}

AssertionFile *assertion_file_free(AssertionFile *f) {
        if (!f)
                return NULL;
        forget(f);
        free(f->path);
        free(f);
        return NULL;
}

static int json_object_part(const char *s, size_t n, json_object **ret) {
        _cleanup_free_ uint8_t *raw = NULL;
        size_t len;
        int r = base64url_decode(s, n, &raw, &len);

        if (r == -EINVAL)
                return -EBADMSG;
        if (r < 0)
                return r;
        const char *text = (const char *) raw;
        if (len == 0 || memchr(text, '\0', len))
                return -EBADMSG;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *j = json_tokener_parse_ex(tok, text, (int) len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                        json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!j || !complete || !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int jwt_peek_exp(const char *s, int64_t *ret_exp, const char **ret_why) {
        const char *dot1 = strchr(s, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        json_object *header = NULL, *payload = NULL, *exp;
        int r;

        if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot1 == s || dot2 == dot1 + 1 || dot2[1] == '\0') {
                *ret_why = "it is not a JWT (three base64url parts separated by dots)";
                return -EBADMSG;
        }
        for (const char *p = dot2 + 1; *p; p++)
                if (!base64url_char_valid(*p)) {
                        *ret_why = "it is not a JWT (the signature is not base64url)";
                        return -EBADMSG;
                }
        r = json_object_part(s, (size_t) (dot1 - s), &header);
        if (r == -ENOMEM)
                return r;
        json_object_put(header);
        if (r < 0) {
                *ret_why = "it is not a JWT (the header is not a base64url JSON object)";
                return r;
        }
        r = json_object_part(dot1 + 1, (size_t) (dot2 - dot1 - 1), &payload);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_why = "it is not a JWT (the payload is not a base64url JSON object)";
                return r;
        }
        if (!json_object_object_get_ex(payload, "exp", &exp) ||
            !(json_object_is_type(exp, json_type_int) || json_object_is_type(exp, json_type_double)) ||
            json_object_get_double(exp) <= 0) {
                json_object_put(payload);
                *ret_why = "its payload has no numeric exp claim";
                return -EBADMSG;
        }
        *ret_exp = json_object_get_int64(exp);
        json_object_put(payload);
        return 0;
}

/* Whether what is held is still the file's content, by the file's identity and the clock. */
static bool held_copy_current(AssertionFile *f, uint64_t monotonic_now, uint64_t realtime_now) {
        struct stat st;

        if (!f->jwt)
                return false;
        if (monotonic_now >= f->read_at + CLIENT_ASSERTION_REREAD_USEC)
                return false;
        if (f->exp <= (int64_t) (realtime_now / USEC_PER_SEC) + CLIENT_ASSERTION_EXPIRY_MARGIN_SEC)
                return false;
        if (stat(f->path, &st) < 0)
                return false; /* gone: say so from the read, not from a copy */
        return st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size &&
               st.st_mtim.tv_sec == f->mtime.tv_sec && st.st_mtim.tv_nsec == f->mtime.tv_nsec;
}

int assertion_file_get(AssertionFile *f, uint64_t monotonic_now, uint64_t realtime_now, const char **ret,
                       char **ret_message) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_erase_ char *jwt = NULL;
        const char *why = NULL;
        struct stat st;
        int64_t exp = 0;
        int r;

        if (held_copy_current(f, monotonic_now, realtime_now)) {
                *ret = f->jwt;
                return 0;
        }
        forget(f);

        r = credential_file_open(f->path, "client assertion (ClientAssertionFile=)", CHECKED_FILE_ROTATED, &fd,
                                 ret_message);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                *ret_message = strprintf("%s: cannot read the client assertion: %s", f->path, strerror(-r));
                return *ret_message ? r : -ENOMEM;
        }
        r = read_secret_fd(fd, CLIENT_ASSERTION_MAX_BYTES, &jwt);
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                *ret_message = strprintf("%s: the client assertion file is larger than %d bytes; it is not a "
                                         "token.", f->path, CLIENT_ASSERTION_MAX_BYTES);
        else if (r == -EBADMSG)
                *ret_message = strprintf("%s: the client assertion file is empty (or not text); the token "
                                         "issuer has not written it yet, or has stopped.", f->path);
        else if (r < 0)
                *ret_message = strprintf("%s: cannot read the client assertion: %s", f->path, strerror(-r));
        if (r < 0)
                return *ret_message ? r : -ENOMEM;

        /* Projected tokens are written without a trailing newline, but an operator's echo adds
         * one; read_secret_fd() took it off. Anything else around the token is not a JWT. */
        r = jwt_peek_exp(jwt, &exp, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_message = strprintf("%s: the client assertion file holds no usable token: %s.", f->path, why);
                return *ret_message ? r : -ENOMEM;
        }
        if (exp <= (int64_t) (realtime_now / USEC_PER_SEC) + CLIENT_ASSERTION_EXPIRY_MARGIN_SEC) {
                char buf[32];
                format_rfc3339_ms((uint64_t) MAX(exp, (int64_t) 0) * USEC_PER_SEC, buf);
                *ret_message = strprintf("%s: the client assertion expires at %s (its exp claim), "
                                         "which has passed or is less than %d s away; the token issuer "
                                         "has not rotated it.", f->path, buf, CLIENT_ASSERTION_EXPIRY_MARGIN_SEC);
                return *ret_message ? -ESTALE : -ENOMEM;
        }

        f->jwt = TAKE_PTR(jwt);
        f->exp = exp;
        f->read_at = monotonic_now;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
        *ret = f->jwt;
        return 0;
}
