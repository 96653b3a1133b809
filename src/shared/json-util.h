/* SPDX-License-Identifier: MIT */
/*
 * json-util.h — what every user of json-c trees shares: the cleanup attribute for a
 * json_object reference. Here and not in basic/macro.h, which depends on libc alone.
 */
#pragma once

#include <json-c/json.h>

#include "macro.h"

static inline void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)
