/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>

#include "basic/log.h"

static char *capture_stderr(void (*fn)(void)) {
        char path[] = "/tmp/geerpc-log-XXXXXX";
        int fd = mkstemp(path);
        unlink(path);
        int saved = dup(STDERR_FILENO);
        dup2(fd, STDERR_FILENO);
        log_reopen();
        fn();
        dup2(saved, STDERR_FILENO);
        close(saved);
        log_reopen();
        off_t n = lseek(fd, 0, SEEK_END);
        char *s = calloc(1, (size_t) n + 1);
        (void) !pread(fd, s, (size_t) n, 0);
        close(fd);
        return s;
}

static void emit(void) {
        log_set_max_level(LOG_INFO);
        log_info("hello %d", 42);
        log_debug("not shown");
        int r = log_warning_errno(-ENOENT, "file: %m");
        cr_assert_eq(r, -ENOENT);
        log_struct(LOG_NOTICE, 0, LOG_FIELDS({ "GEERPC_SERVER", "tcp@x:1" }), "registered %s", "tcp@x:1");
}

Test(log, stderr_lines_with_priority_prefix) {
        unsetenv("JOURNAL_STREAM");
        char *out = capture_stderr(emit);
        cr_assert_str_eq(out, "<6>hello 42\n<4>file: No such file or directory\n<5>registered tcp@x:1\n");
        free(out);
}

static void emit_long(void) {
        char big[10000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        log_info("%s", big);
}

Test(log, long_messages_are_cut_to_one_line) {
        unsetenv("JOURNAL_STREAM");
        char *out = capture_stderr(emit_long);
        size_t n = strlen(out);
        cr_assert_lt(n, 4200);
        cr_assert_eq(out[n - 1], '\n');
        cr_assert_null(strchr(out, '\n') == out + n - 1 ? NULL : out);
        free(out);
}

Test(log, levels) {
        cr_assert_eq(log_level_from_string("debug"), LOG_DEBUG);
        cr_assert_eq(log_level_from_string("err"), LOG_ERR);
        cr_assert_eq(log_level_from_string("error"), LOG_ERR);
        cr_assert_eq(log_level_from_string("warning"), LOG_WARNING);
        cr_assert_eq(log_level_from_string("5"), LOG_NOTICE);
        cr_assert_eq(log_level_from_string("8"), -EINVAL);
        cr_assert_eq(log_level_from_string("loud"), -EINVAL);
        cr_assert_eq(log_level_from_string(NULL), -EINVAL);
        setenv("GEERPC_LOG_LEVEL", "debug", 1);
        log_parse_environment();
        cr_assert_eq(log_get_max_level(), LOG_DEBUG);
        log_set_max_level(99);
        cr_assert_eq(log_get_max_level(), LOG_DEBUG);
}

static void emit_journal(void) {
        log_info("to the journal");
}

Test(log, journal_stream_is_detected_by_device_and_inode) {
        /* $JOURNAL_STREAM naming some other file: stderr is not the journal,
         * so the line goes to stderr. */
        setenv("JOURNAL_STREAM", "1:1", 1);
        char *out = capture_stderr(emit_journal);
        cr_assert_str_eq(out, "<6>to the journal\n");
        free(out);
        unsetenv("JOURNAL_STREAM");
}
