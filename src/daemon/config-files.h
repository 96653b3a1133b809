/* SPDX-License-Identifier: MIT */
/*
 * config-files.h — reading the configuration from the file system (see config-files.c).
 */
#pragma once

#include "config.h"

/* Reads one file and applies it. A missing file returns -ENOENT with *ret_error set. */
int config_load_file(Config *c, const char *path, char **ret_error);

/* Defaults, then PATH, then PATH.d/x.conf in lexical order, then config_finalize(). */
int config_load(const char *path, Config **ret, char **ret_error);
