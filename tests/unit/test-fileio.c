/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>

#include "basic/fileio.h"

/* A file holding n bytes of a repeating pattern, opened for reading. */
static int file_of(size_t n) {
        char path[] = "/tmp/geerpc-fileio-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        for (size_t i = 0; i < n; i++) {
                char c = (char) ('a' + i % 26);
                cr_assert_eq(write(fd, &c, 1), 1);
        }
        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

Test(fileio, reads_everything_up_to_the_limit) {
        size_t sizes[] = { 0, 1, 4095, 4096, 65536, 65537, 200000 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                int fd = file_of(sizes[i]);
                char *buf = NULL;
                size_t len = 7;
                cr_assert_eq(read_full_fd(fd, 200000, &buf, &len), 0, "size %zu", sizes[i]);
                cr_assert_eq(len, sizes[i]);
                cr_assert_eq(buf[len], 0);
                for (size_t k = 0; k < len; k++)
                        cr_assert_eq(buf[k], 'a' + k % 26);
                free(buf);
                close(fd);
        }
}

Test(fileio, one_byte_past_the_limit_is_efbig) {
        int fd = file_of(1001);
        char *buf = (char *) "untouched";
        size_t len = 7;
        cr_assert_eq(read_full_fd(fd, 1000, &buf, &len), -EFBIG);
        cr_assert_str_eq(buf, "untouched");
        cr_assert_eq(len, 7);
        close(fd);
        fd = file_of(1000);
        cr_assert_eq(read_full_fd(fd, 1000, &buf, &len), 0);
        cr_assert_eq(len, 1000);
        free(buf);
        close(fd);
}

Test(fileio, a_pipe_and_a_bad_fd) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(write(p[1], "{\"a\":1}", 7), 7);
        close(p[1]);
        char *buf;
        size_t len;
        cr_assert_eq(read_full_fd(p[0], 100, &buf, &len), 0);
        cr_assert_str_eq(buf, "{\"a\":1}");
        free(buf);
        close(p[0]);
        cr_assert_eq(read_full_fd(-1, 100, &buf, &len), -EBADF);
}
