/* SPDX-License-Identifier: MIT */
/*
 * deliver.h — the method notifications.deliver: what the bot forwards of Graph's
 * notifications, believed only when Graph signed it ([Notifications] Authentication=jwt: the
 * bearer token in "authorization", checked against the key set of notification-keys.h) or,
 * with Authentication=peer, because the peer holds the notify role. A delivery that comes
 * before there is a key set waits for one, up to KeysWaitSec=; a refused one changes nothing.
 * Applying the entries to the operations they are about is here too.
 */
#pragma once

#include "manager.h"
#include "server.h"

void method_notifications_deliver(Manager *m, Call *call);

/* Answers every delivery still waiting for keys with an error (shutdown). */
void deliver_abort_all(Manager *m);
