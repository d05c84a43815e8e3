/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>

#include "auth.h"
#include "basic/log.h"

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int read_token(const char *path, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        char buf[AUTH_TOKEN_SIZE_MAX + 1];
        size_t n = 0;
        while (n < sizeof buf) {
                ssize_t k = read(fd, buf + n, sizeof buf - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > AUTH_TOKEN_SIZE_MAX)
                return -EFBIG;

        size_t start = 0, end = n;
        while (start < end && is_space(buf[start]))
                start++;
        while (end > start && is_space(buf[end - 1]))
                end--;
        if (start == end)
                return -ENODATA;
        for (size_t i = start; i < end; i++) {
                unsigned char c = (unsigned char) buf[i];
                if (c <= ' ' || c == 0x7f)
                        return -EBADMSG;
        }
        char *t = strndup(buf + start, end - start);
        explicit_bzero(buf, sizeof buf);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

int auth_load(const char *path, char **ret, char **ret_source) {
        _cleanup_free_ char *cred = NULL;

        if (!path) {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");
                if (isempty(dir)) {
                        *ret = NULL;
                        return 0;
                }
                if (asprintf(&cred, "%s/%s", dir, AUTH_CREDENTIAL_NAME) < 0)
                        return -ENOMEM;
                if (access(cred, F_OK) < 0 && errno == ENOENT) {
                        *ret = NULL;
                        return 0;
                }
                path = cred;
        }

        char *t = NULL;
        int r = read_token(path, &t);
        if (r == -ENODATA && cred) {
                /* A blank credential is the units' SetCredential= fallback
                 * for "the admin made no token file" (systemd 252 fails a
                 * unit whose LoadCredential= source is missing otherwise). */
                *ret = NULL;
                return 0;
        }
        if (r == -EFBIG)
                return log_error_errno(-EINVAL, "token file %s is larger than %u bytes", path, AUTH_TOKEN_SIZE_MAX);
        if (r == -ENODATA)
                return log_error_errno(-EINVAL, "token file %s is empty", path);
        if (r == -EBADMSG)
                return log_error_errno(-EINVAL, "token in %s contains whitespace or control characters", path);
        if (r < 0)
                return log_error_errno(r, "cannot read token file %s: %m", path);
        if (ret_source) {
                char *s = strdup(path);
                if (!s) {
                        free(t);
                        return -ENOMEM;
                }
                *ret_source = s;
        }
        *ret = t;
        return 0;
}

/* Looks at every byte of the expected token whatever the input, so that
 * the time taken tells nothing of how much of a guess was right. */
static bool equal_consttime(const char *expected, size_t el, const char *given, size_t gl) {
        unsigned char d = el != gl;
        for (size_t i = 0; i < el; i++) {
                unsigned char g = i < gl ? (unsigned char) given[i] : 0;
                d |= (unsigned char) expected[i] ^ g;
        }
        return d == 0;
}

bool auth_check(const char *token, const char *authorization) {
        if (!token)
                return true;
        if (!authorization)
                return false;
        /* RFC 7235: the scheme is case-insensitive, then one or more spaces. */
        if (strncasecmp(authorization, "Bearer", 6) != 0 || authorization[6] != ' ')
                return false;
        const char *given = authorization + 6;
        while (*given == ' ')
                given++;
        /* RFC 9110: a field value does not include the whitespace around
         * it, whether the HTTP parser strips it or not. */
        size_t gl = strlen(given);
        while (gl > 0 && (given[gl - 1] == ' ' || given[gl - 1] == '\t'))
                gl--;
        return equal_consttime(token, strlen(token), given, gl);
}
