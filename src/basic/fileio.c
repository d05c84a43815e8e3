/* SPDX-License-Identifier: MIT */
#include "basic/fileio.h"

#define READ_CHUNK_MIN 4096

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;

        for (;;) {
                if (allocated - len < READ_CHUNK_MIN) {
                        /* One byte past max tells a file of exactly max bytes
                         * from a larger one. */
                        size_t want = MIN(MAX(allocated * 2, (size_t) 65536), max + 1);
                        if (want <= allocated)
                                want = allocated + READ_CHUNK_MIN;
                        char *b = realloc(buf, want + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = want;
                }
                ssize_t k = read(fd, buf + len, allocated - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = 0;
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}
