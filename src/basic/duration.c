/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "basic/duration.h"

static const struct {
        const char *suffix;
        double usec;
} units[] = {
        /* Longest suffixes first, so that "ms" is not read as "m" + "s". */
        { "ns", 0.001 }, { "us", 1 }, { "\xc2\xb5s", 1 }, { "\xce\xbcs", 1 }, { "ms", 1000 },
        { "s", 1e6 },    { "m", 60e6 }, { "h", 3600e6 },
};

/* To whole microseconds; anything above zero is at least 1 us, because 0
 * means "no limit" to most of what takes a duration. */
static usec_t round_usec(double usec) {
        usec_t u = (usec_t) llround(usec);
        return u == 0 && usec > 0 ? 1 : u;
}

int duration_parse(const char *s, usec_t *ret) {
        if (isempty(s))
                return -EINVAL;

        /* A plain number means seconds. */
        char *end;
        errno = 0;
        double plain = strtod(s, &end);
        if (end != s && *end == 0) {
                if (errno != 0 || !isfinite(plain) || plain < 0 || plain > 1e12)
                        return plain < 0 ? -EINVAL : -ERANGE;
                if (s[0] == '+' || s[0] == '-' || s[0] == ' ' || s[0] == '\t' || s[0] == 'i' ||
                    s[0] == 'I' || s[0] == 'n' || s[0] == 'N' || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
                        return -EINVAL;
                *ret = round_usec(plain * 1e6);
                return 0;
        }

        double total = 0;
        const char *p = s;
        while (*p) {
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        return -EINVAL;
                const char *num = p;
                while ((*p >= '0' && *p <= '9') || *p == '.')
                        p++;
                char tmp[64];
                size_t nl = (size_t) (p - num);
                if (nl >= sizeof tmp || (nl == 1 && num[0] == '.'))
                        return -EINVAL;
                memcpy(tmp, num, nl);
                tmp[nl] = 0;
                if (strchr(tmp, '.') != strrchr(tmp, '.'))
                        return -EINVAL;
                double v = strtod(tmp, &end);
                if (*end != 0)
                        return -EINVAL;

                size_t best = SIZE_MAX, best_len = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t l = strlen(units[i].suffix);
                        if (l > best_len && strncmp(p, units[i].suffix, l) == 0) {
                                best = i;
                                best_len = l;
                        }
                }
                if (best == SIZE_MAX)
                        return -EINVAL;
                p += best_len;
                total += v * units[best].usec;
                if (total > 1e18)
                        return -ERANGE;
        }
        *ret = round_usec(total);
        return 0;
}

/* Writes the fraction of v (prec digits) into the end of buf, dropping
 * trailing zeros, as Go's fmtFrac. Returns the new write index. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec) {
        bool print = false;
        for (int i = 0; i < prec; i++) {
                unsigned digit = (unsigned) (*v % 10);
                print = print || digit != 0;
                if (print)
                        buf[--w] = (char) ('0' + digit);
                *v /= 10;
        }
        if (print)
                buf[--w] = '.';
        return w;
}

static size_t fmt_int(char *buf, size_t w, uint64_t v) {
        if (v == 0)
                buf[--w] = '0';
        while (v > 0) {
                buf[--w] = (char) ('0' + v % 10);
                v /= 10;
        }
        return w;
}

const char *go_duration_format(char buf[static GO_DURATION_MAX], int64_t nsec) {
        char tmp[GO_DURATION_MAX];
        size_t w = sizeof tmp - 1;
        tmp[w] = 0;
        bool neg = nsec < 0;
        uint64_t u = neg ? (uint64_t) 0 - (uint64_t) nsec : (uint64_t) nsec;

        if (u < NSEC_PER_SEC) {
                int prec = 0;
                if (u == 0) {
                        strcpy(buf, "0s");
                        return buf;
                }
                tmp[--w] = 's';
                if (u < 1000) {
                        tmp[--w] = 'n';
                } else if (u < 1000000) {
                        prec = 3;
                        /* U+00B5 MICRO SIGN, as Go writes it. */
                        tmp[--w] = (char) 0xb5;
                        tmp[--w] = (char) 0xc2;
                } else {
                        prec = 6;
                        tmp[--w] = 'm';
                }
                w = fmt_frac(tmp, w, &u, prec);
                w = fmt_int(tmp, w, u);
        } else {
                tmp[--w] = 's';
                w = fmt_frac(tmp, w, &u, 9);
                w = fmt_int(tmp, w, u % 60);
                u /= 60;
                if (u > 0) {
                        tmp[--w] = 'm';
                        w = fmt_int(tmp, w, u % 60);
                        u /= 60;
                        if (u > 0) {
                                tmp[--w] = 'h';
                                w = fmt_int(tmp, w, u);
                        }
                }
        }
        if (neg)
                tmp[--w] = '-';
        strcpy(buf, tmp + w);
        return buf;
}

const char *duration_format_short(char buf[static GO_DURATION_MAX], usec_t usec) {
        if (usec == USEC_INFINITY)
                snprintf(buf, GO_DURATION_MAX, "infinity");
        else if (usec < USEC_PER_SEC)
                snprintf(buf, GO_DURATION_MAX, "%llums", (unsigned long long) (usec / USEC_PER_MSEC));
        else if (usec < USEC_PER_MINUTE)
                snprintf(buf, GO_DURATION_MAX, "%llus", (unsigned long long) (usec / USEC_PER_SEC));
        else if (usec < 60 * USEC_PER_MINUTE) {
                unsigned long long m = usec / USEC_PER_MINUTE, s = usec % USEC_PER_MINUTE / USEC_PER_SEC;
                if (s)
                        snprintf(buf, GO_DURATION_MAX, "%llum%llus", m, s);
                else
                        snprintf(buf, GO_DURATION_MAX, "%llum", m);
        } else {
                unsigned long long h = usec / (60 * USEC_PER_MINUTE), m = usec % (60 * USEC_PER_MINUTE) / USEC_PER_MINUTE;
                if (m)
                        snprintf(buf, GO_DURATION_MAX, "%lluh%llum", h, m);
                else
                        snprintf(buf, GO_DURATION_MAX, "%lluh", h);
        }
        return buf;
}
