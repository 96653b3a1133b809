/* SPDX-License-Identifier: MIT */
/*
 * methods.h — the socket protocol's methods and the tracking of operations, as the hooks the
 * manager calls (manager.h): dispatching a request to its handler, journaling and announcing
 * each change of an operation, and picking up operations restored from the journal.
 */
#pragma once

#include "manager.h"

extern const ManagerHooks methods_hooks;
