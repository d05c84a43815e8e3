/* SPDX-License-Identifier: MIT */
#pragma once

/* libgeerpc never prints. It logs through one module: to the journal (with
 * structured fields) when stderr is connected to it, otherwise to stderr as
 * "<N>message" lines. Levels are syslog's (LOG_ERR .. LOG_DEBUG); the
 * default is LOG_INFO, and $GEERPC_LOG_LEVEL is read by the tools. */

#ifdef __cplusplus
extern "C" {
#endif

void geerpc_log_set_level(int level);
int geerpc_log_get_level(void);
/* "err", "warning", "notice", "info", "debug" (or "0".."7") -> level, or
 * -EINVAL. */
int geerpc_log_level_from_string(const char *s);

#ifdef __cplusplus
}
#endif
