/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading whole files and streams with a bound. */

#include "basic/macro.h"

/* Reads fd to its end, at most max bytes (-EFBIG past them). *ret is
 * malloc'd and NUL-terminated; *ret_len does not count the NUL. Retries
 * on EINTR. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len);
