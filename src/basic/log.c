/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "geerpc/log.h"
#include "basic/log.h"

/* Bounds one formatted message; longer ones are cut, never allocated. */
#define LOG_LINE_MAX 4096
#define LOG_FIELDS_MAX 16

static atomic_int max_level = LOG_INFO;

/* -1: not yet checked, 0: stderr is not the journal, 1: it is. */
static atomic_int stderr_is_journal = -1;

void log_set_max_level(int level) {
        if (level < LOG_EMERG)
                level = LOG_EMERG;
        if (level > LOG_DEBUG)
                level = LOG_DEBUG;
        atomic_store(&max_level, level);
}

int log_get_max_level(void) {
        return atomic_load_explicit(&max_level, memory_order_relaxed);
}

static const char *const level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int log_level_from_string(const char *s) {
        if (isempty(s))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warn"))
                return LOG_WARNING;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

void log_parse_environment(void) {
        const char *e = getenv("GEERPC_LOG_LEVEL");
        int l = log_level_from_string(e);
        if (l >= 0)
                log_set_max_level(l);
}

void log_reopen(void) {
        atomic_store(&stderr_is_journal, -1);
}

static bool check_stderr_is_journal(void) {
        int v = atomic_load_explicit(&stderr_is_journal, memory_order_relaxed);
        if (v >= 0)
                return v;

        /* $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected;
         * it is inherited, so compare with what stderr really is now. */
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        v = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
            (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        atomic_store(&stderr_is_journal, v);
        return v;
}

static void write_journal(int level, int error, const char *file, int line, const char *func,
                          const LogField *fields, const char *message) {
        char prio[32], code_file[256], code_line[32], code_func[128], err[32], msg[LOG_LINE_MAX + 16];
        char extra[LOG_FIELDS_MAX][512];
        struct iovec iov[8 + LOG_FIELDS_MAX];
        size_t n = 0;

#define ADD(buf) iov[n++] = (struct iovec) { .iov_base = (buf), .iov_len = strlen(buf) }
        snprintf(msg, sizeof msg, "MESSAGE=%s", message);
        ADD(msg);
        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        ADD(prio);
        snprintf(code_file, sizeof code_file, "CODE_FILE=%s", file);
        ADD(code_file);
        snprintf(code_line, sizeof code_line, "CODE_LINE=%d", line);
        ADD(code_line);
        snprintf(code_func, sizeof code_func, "CODE_FUNC=%s", func);
        ADD(code_func);
        char ident[128];
        snprintf(ident, sizeof ident, "SYSLOG_IDENTIFIER=%s", program_invocation_short_name);
        ADD(ident);
        if (error != 0) {
                snprintf(err, sizeof err, "ERRNO=%d", abs(error));
                ADD(err);
        }
        for (size_t i = 0; fields && fields[i].key && i < LOG_FIELDS_MAX; i++) {
                if (!fields[i].value)
                        continue; /* optional fields that do not apply */
                snprintf(extra[i], sizeof extra[i], "%s=%s", fields[i].key, fields[i].value);
                ADD(extra[i]);
        }
#undef ADD
        if (sd_journal_sendv(iov, (int) n) < 0)
                /* The journal went away: fall back rather than lose the line. */
                dprintf(STDERR_FILENO, "<%d>%s\n", level, message);
}

static void write_stderr(int level, const char *message) {
        char buf[LOG_LINE_MAX + 32];
        int k = snprintf(buf, sizeof buf, "<%d>%s\n", level, message);
        if (k < 0)
                return;
        if ((size_t) k >= sizeof buf) {
                k = sizeof buf - 1;
                buf[k - 1] = '\n';
        }
        /* One write per line so that threads never interleave inside a line. */
        const char *p = buf;
        while (k > 0) {
                ssize_t w = write(STDERR_FILENO, p, (size_t) k);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                p += w;
                k -= (int) w;
        }
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const LogField *fields, const char *format, ...) {
        if (level > log_get_max_level())
                return -abs(error);

        int saved_errno = errno;
        char message[LOG_LINE_MAX];
        va_list ap;

        errno = abs(error);
        va_start(ap, format);
        vsnprintf(message, sizeof message, format, ap);
        va_end(ap);

        if (check_stderr_is_journal())
                write_journal(level, error, file, line, func, fields, message);
        else
                write_stderr(level, message);

        errno = saved_errno;
        return -abs(error);
}

_public_ void geerpc_log_set_level(int level) {
        log_set_max_level(level);
}

_public_ int geerpc_log_get_level(void) {
        return log_get_max_level();
}

_public_ int geerpc_log_level_from_string(const char *s) {
        return log_level_from_string(s);
}
