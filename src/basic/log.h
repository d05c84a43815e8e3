/* SPDX-License-Identifier: MIT */
#pragma once

/* The one log module (docs/ARCHITECTURE.md, "Conventions"). The library, the daemons and the
 * tools all log through it; nothing else prints.
 *
 * When stderr is connected to the journal ($JOURNAL_STREAM names stderr's
 * device and inode) messages go to journald natively, with structured fields;
 * otherwise each message is one line on stderr with a "<N>" priority prefix,
 * which journald and systemd's console logging both understand. */

#include <syslog.h>

#include "basic/macro.h"

/* One structured field; arrays of them end with { NULL, NULL }. */
typedef struct LogField {
        const char *key;   /* e.g. "GEERPC_SERVER" */
        const char *value; /* shown verbatim; NULL: the field is left out */
} LogField;

#define LOG_FIELDS(...) ((const LogField[]) { __VA_ARGS__, { NULL, NULL } })

/* MESSAGE_ID values: one per event kind, stable across releases so that
 * `journalctl MESSAGE_ID=...` finds every instance. */
#define LOG_MESSAGE_ID_REGISTERED "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f01"
#define LOG_MESSAGE_ID_EXPIRED "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f02"
#define LOG_MESSAGE_ID_DEREGISTERED "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f03"
#define LOG_MESSAGE_ID_REJECTED "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f04"
#define LOG_MESSAGE_ID_SERVING "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f05"
#define LOG_MESSAGE_ID_HEARTBEAT_FAILED "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f06"
#define LOG_MESSAGE_ID_OVERRIDE "5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f07"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Reads $GEERPC_LOG_LEVEL (a name such as "debug" or a number 0-7). */
void log_parse_environment(void);
/* "emerg".."debug" or "0".."7" -> level; -EINVAL otherwise. */
int log_level_from_string(const char *s);
/* Forget the cached journal detection (after stderr was redirected). */
void log_reopen(void);

/* Returns -abs(error) (or 0 when error is 0), so that callers can write
 * `return log_error_errno(r, "...: %m");`. errno is set to error while
 * formatting, so that %m names it. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const LogField *fields, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...)                                                      \
        ({                                                                                     \
                int _l_ = (level), _e_ = (error);                                              \
                (log_get_max_level() >= _l_)                                                   \
                        ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__) \
                        : -abs(_e_);                                                           \
        })
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* A message with structured fields: log_struct(LOG_INFO, 0,
 *     LOG_FIELDS({ "GEERPC_SERVER", addr }), "registered %s", addr); */
#define log_struct(level, error, fields, ...)                                                        \
        ({                                                                                           \
                int _l_ = (level), _e_ = (error);                                                    \
                (log_get_max_level() >= _l_)                                                         \
                        ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, fields, __VA_ARGS__) \
                        : -abs(_e_);                                                                 \
        })
