/* SPDX-License-Identifier: MIT */
#include "basic/macro.h"
#include "http/http-connect.h"

HttpSniff http_sniff(const void *data, size_t n) {
        static const char connect[] = "CONNECT ";
        const char *p = data;

        if (n == 0)
                return HTTP_SNIFF_MORE;
        if (p[0] < 'A' || p[0] > 'Z')
                return HTTP_SNIFF_RPC;
        size_t k = MIN(n, (size_t) HTTP_SNIFF_BYTES);
        if (memcmp(p, connect, k) != 0)
                return HTTP_SNIFF_HTTP;
        return k == HTTP_SNIFF_BYTES ? HTTP_SNIFF_CONNECT : HTTP_SNIFF_MORE;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* "HTTP/D.D" */
static bool is_version(const char *p, size_t len) {
        return len == 8 && memcmp(p, "HTTP/", 5) == 0 && is_digit(p[5]) && p[6] == '.' && is_digit(p[7]);
}

/* Visible ASCII, tabs and obs-text; no other control character. */
static bool line_valid(const char *p, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) p[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return false;
        }
        return true;
}

typedef int (*first_line_t)(const char *line, size_t len, void *userdata);

/* The line structure both heads share; first_line checks the first line. */
static int parse_head(const char *data, size_t n, size_t max, first_line_t first_line, void *userdata) {
        size_t pos = 0;
        for (bool first = true;; first = false) {
                const char *nl = memchr(data + pos, '\n', n - pos);
                if (!nl)
                        return n >= max ? -EMSGSIZE : 0;
                size_t end = (size_t) (nl - data) + 1;
                if (end > max)
                        return -EMSGSIZE;
                const char *line = data + pos;
                size_t len = (size_t) (nl - line);
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                if (!line_valid(line, len))
                        return -EBADMSG;
                if (first) {
                        int r = first_line(line, len, userdata);
                        if (r < 0)
                                return r;
                } else if (len == 0)
                        return (int) end;
                else if (line[0] == ':' || line[0] == ' ' || line[0] == '\t' || !memchr(line, ':', len))
                        return -EBADMSG;
                pos = end;
        }
}

static bool path_is(const char *p, size_t len, const char *path) {
        return len == strlen(path) && memcmp(p, path, len) == 0;
}

/* CONNECT SP TARGET SP HTTP/D.D */
static int request_line(const char *line, size_t len, void *userdata) {
        bool *rpc_path = userdata;
        if (len < 8 || memcmp(line, "CONNECT ", 8) != 0)
                return -EBADMSG;
        const char *target = line + 8, *end = line + len;
        const char *sp = memchr(target, ' ', (size_t) (end - target));
        if (!sp || sp == target || !is_version(sp + 1, (size_t) (end - sp - 1)))
                return -EBADMSG;
        for (const char *p = target; p < sp; p++)
                if (*p == '\t' || (unsigned char) *p >= 0x80)
                        return -EBADMSG;
        size_t tl = (size_t) (sp - target);
        *rpc_path = path_is(target, tl, HTTP_RPC_PATH) || path_is(target, tl, HTTP_RPC_PATH_ALT);
        return 0;
}

int http_connect_request_parse(const char *data, size_t n, size_t max, bool *ret_rpc_path) {
        bool rpc_path = false;
        int r = parse_head(data, n, max, request_line, &rpc_path);
        if (r > 0)
                *ret_rpc_path = rpc_path;
        return r;
}

/* HTTP/D.D SP CODE [SP REASON] */
static int status_line(const char *line, size_t len, void *userdata) {
        unsigned *status = userdata;
        if (len < 12 || !is_version(line, 8) || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) ||
            !is_digit(line[11]) || (len > 12 && line[12] != ' '))
                return -EBADMSG;
        *status = (unsigned) ((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
        return 0;
}

int http_connect_response_parse(const char *data, size_t n, size_t max, unsigned *ret_status) {
        unsigned status = 0;
        int r = parse_head(data, n, max, status_line, &status);
        if (r > 0)
                *ret_status = status;
        return r;
}
