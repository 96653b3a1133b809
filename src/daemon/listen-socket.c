/* SPDX-License-Identifier: MIT */
/*
 * listen-socket.c — see listen-socket.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "listen-socket.h"
#include "log.h"
#include "util.h"

int listen_socket_from_systemd(int *ret_fd, char **ret_path) {
        int n = sd_listen_fds(true);

        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
        if (n > 1)
                return log_error_errno(EINVAL, "systemd passed %d sockets; expected one.", n);
        if (n == 0)
                return 0;

        int fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                return log_error_errno(EINVAL, "The socket systemd passed is not a listening Unix stream socket.");
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        log_debug("Using the socket passed by systemd.");

        /* Report the path the socket unit really listens on (ListenStream= may differ from
         * Path=), not the configured one. */
        _cleanup_free_ char *path = NULL;
        struct sockaddr_un sa = {};
        socklen_t len = sizeof sa;
        if (getsockname(fd, (struct sockaddr *) &sa, &len) == 0 && len > offsetof(struct sockaddr_un, sun_path) &&
            sa.sun_path[0] == '/') {
                path = strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
                if (!path)
                        return log_oom();
        }
        *ret_fd = fd;
        *ret_path = TAKE_PTR(path);
        return 1;
}

/* A socket file is stale when nobody accepts on it; a live one means another daemon runs. */
static int remove_stale_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0)
                return -EADDRINUSE;
        /* Only "nobody listens" (ECONNREFUSED) makes it stale. Anything else, say EACCES for a
         * daemon started as the wrong user, says nothing about the process behind it. */
        if (errno != ECONNREFUSED && errno != ENOENT)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int listen_socket_bind(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "Socket path %s is too long.", path);
        strcpy(sa.sun_path, path);

        /* The parent directory (e.g. /run/mediacancel) may not exist outside systemd. */
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return log_oom();
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", dir);
        }

        r = remove_stale_socket(path);
        if (r == -EADDRINUSE)
                return log_error_errno(r, "Another daemon is already listening on %s.", path);
        if (r == -EEXIST)
                return log_error_errno(r, "%s exists and is not a socket; refusing to replace it.", path);
        if (r < 0)
                return log_error_errno(r, "Cannot tell whether another daemon listens on %s, so not replacing it: %m",
                                       path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket() failed: %m");
        /* Create the file with its final mode: no window where others could connect. */
        mode_t old = umask(0117);
        r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Cannot bind %s: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "listen() on %s failed: %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
