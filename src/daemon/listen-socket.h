/* SPDX-License-Identifier: MIT */
/*
 * listen-socket.h — the daemon's listening Unix socket: the one systemd passes
 * (mediacanceld.socket), or one it binds itself, replacing a stale socket file but never a
 * live one or anything that is not a socket, created with its final mode (0660) from the
 * start. Both log their errors, which stop the daemon at start-up.
 */
#pragma once

/* 1 with *ret_fd the socket systemd passed (made non-blocking) and *ret_path the path it
 * listens on (NULL when it cannot be read); 0 when systemd passed none; negative errno when
 * it passed something else. */
int listen_socket_from_systemd(int *ret_fd, char **ret_path);

/* Binds and listens on path (creating its parent directory, mode 0755, if missing). */
int listen_socket_bind(const char *path, int *ret_fd);
