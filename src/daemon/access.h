/* SPDX-License-Identifier: MIT */
/*
 * access.h — who may do what on the socket. The peer's uid, primary gid and supplementary
 * groups (SO_PEERCRED, SO_PEERGROUPS) against the [Access] lists; root and the daemon's own
 * user are always allowed everything. Pure, so the rules are tested without sockets.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef enum AccessRole {
        ACCESS_CLIENT = 1 << 0, /* cancel, operation.*, status */
        ACCESS_NOTIFY = 1 << 1, /* notifications.deliver */
        ACCESS_ADMIN = 1 << 2,  /* sees every caller's operations */
} AccessRole;

typedef struct Peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary */
        size_t n_groups;
} Peer;

/* The roles the peer holds under c; self_uid is the daemon's effective uid. An admin is also
 * a client. */
unsigned access_roles(const Config *c, const Peer *peer, uid_t self_uid);

/* Reads SO_PEERCRED and SO_PEERGROUPS of a connected socket. */
int peer_from_socket(int fd, Peer *ret);
void peer_done(Peer *p);
