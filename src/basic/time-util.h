/* SPDX-License-Identifier: MIT */
/*
 * time-util.h — time spans in microseconds: the unit constants every layer counts in, the
 * parser for spans as people write them ("1h 30min", "250ms", "1.5") and the printer that
 * shows a span in the unit they would have written.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)

/* Parses one or more "NUMBER[.FRACTION][ ]UNIT" components, added together; a component
 * without a unit is in default_unit (microseconds per unit, > 0). Units: us, ms, s, min, h, d
 * and their long forms. Returns 0 and the value in microseconds, or -EINVAL / -ERANGE. */
int parse_timespan(const char *s, uint64_t default_unit, uint64_t *ret_usec);

/* Parses a time span: "30" (seconds), "1.5", "250ms", "30s", "2min", "1h", "500us".
 * Returns 0 and the value in microseconds, or -EINVAL / -ERANGE. */
int parse_timespan_sec(const char *s, uint64_t *ret_usec);

/* Prints usec in the largest of d, h, min, s, ms and us that divides it ("90min"), or "0". */
void format_timespan(char *buf, size_t size, uint64_t usec);
