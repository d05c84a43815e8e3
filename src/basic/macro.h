/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers shared by every file: cleanup attributes, ownership
 * transfer, and time arithmetic. Modelled on systemd's macro.h. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _public_ __attribute__((visibility("default")))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _sentinel_ __attribute__((sentinel))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Whether x (evaluated once) equals one of the values that follow. */
#define IN_SET(x, first, ...)                                                 \
        ({                                                                    \
                const typeof(first) _in_set_x_ = (x);                         \
                const typeof(first) _in_set_v_[] = { first, __VA_ARGS__ };    \
                bool _in_set_found_ = false;                                  \
                for (size_t _in_set_i_ = 0; _in_set_i_ < ELEMENTSOF(_in_set_v_); _in_set_i_++) \
                        if (_in_set_v_[_in_set_i_] == _in_set_x_) {           \
                                _in_set_found_ = true;                        \
                                break;                                        \
                        }                                                     \
                _in_set_found_;                                               \
        })
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand the pointer over: returns it and leaves NULL behind, so that the
 * _cleanup_ handler of the old owner does nothing. */
#define TAKE_PTR(p)                      \
        ({                               \
                typeof(p) _p_ = (p);     \
                (p) = NULL;              \
                _p_;                     \
        })
#define TAKE_FD(fd)                      \
        ({                               \
                int _fd_ = (fd);         \
                (fd) = -EBADF;           \
                _fd_;                    \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)       \
        static inline void func##p(type *p) {         \
                if (*p)                               \
                        func(*p);                     \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* free() that returns NULL, for `p = mfree(p);`. */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* errno as a negative return value; never 0 even if errno was not set. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* Time in microseconds, as sd-event counts it. */
typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define NSEC_PER_SEC ((uint64_t) 1000000000ULL)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)

static inline usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}
/* Nanoseconds, for measuring what may take less than a microsecond. */
static inline uint64_t now_nsec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

/* sd-event's default timer accuracy (0) is 250 ms of allowed slack; timers
 * that callers can observe (timeouts, deadlines) ask for this instead. */
#define TIMER_ACCURACY_PRECISE ((usec_t) 1)

/* Adds without wrapping past USEC_INFINITY. */
static inline usec_t usec_add(usec_t a, usec_t b) {
        if (a >= USEC_INFINITY - b)
                return USEC_INFINITY;
        return a + b;
}
