/* SPDX-License-Identifier: MIT */
#pragma once

/* Service names: the rule geerpc_server_add_service() applies, which the
 * registry and discovery apply too (a name must survive a comma-separated
 * header and a URL query unescaped). */

#include "geerpc/defs.h"
#include "basic/macro.h"

static inline bool service_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Whether the n bytes at s are a valid service name. */
static inline bool service_name_is_validn(const char *s, size_t n) {
        if (n == 0 || n > GEERPC_SERVICE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!service_name_char(s[i]))
                        return false;
        return true;
}

static inline bool service_name_is_valid(const char *s) {
        return s && service_name_is_validn(s, strnlen(s, GEERPC_SERVICE_NAME_MAX + 1));
}

/* The service of "Service.Method" (before the last '.', as the server
 * splits it) copied into buf, or NULL when there is no valid one. */
static inline const char *service_of_method(const char *service_method, char buf[static GEERPC_SERVICE_NAME_MAX + 1]) {
        const char *dot = service_method ? strrchr(service_method, '.') : NULL;
        if (!dot || !service_name_is_validn(service_method, (size_t) (dot - service_method)))
                return NULL;
        memcpy(buf, service_method, (size_t) (dot - service_method));
        buf[dot - service_method] = 0;
        return buf;
}
