/* SPDX-License-Identifier: MIT */

/* What the commands that write to the registry share (deregister, drain,
 * undrain, weight): the write token and the registry's refusal. */

#include "cluster/registration-internal.h"
#include "codec/json-util.h"
#include "geerpcctl.h"
#include "shared/cli.h"

int ctl_parse_token_file(Ctl *c, const char *value) {
        c->token_file = value;
        return 0;
}

int ctl_load_token(Ctl *c, char **ret) {
        const char *env = getenv("GEERPC_TOKEN");
        int r;
        if (c->token_file) {
                r = registration_token_read_file(c->token_file, ret);
                if (r < 0)
                        return output_failure(&c->out, EXIT_USAGE, NULL, "cannot use the token in %s: %s",
                                              c->token_file,
                                              r == -EINVAL ? "blank, or it has spaces or control characters"
                                                           : strerror(-r));
        } else if (!isempty(env)) {
                if (!registration_token_is_valid(env))
                        return output_failure(&c->out, EXIT_USAGE, NULL,
                                              "$GEERPC_TOKEN has spaces or control characters, or is too long");
                if (!(*ret = strdup(env)))
                        return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(ENOMEM));
        }
        return 0;
}

void ctl_token_freep(char **p) {
        if (*p)
                explicit_bzero(*p, strlen(*p));
        free(*p);
}

int ctl_registry_refused(Ctl *c, const HttpResult *res) {
        /* The registry's one-line reason, whatever it holds. */
        _cleanup_free_ char *body = strndup(buffer_data(&res->body), MIN(buffer_len(&res->body), (size_t) 4096));
        if (body)
                body[strcspn(body, "\r\n")] = 0;
        _cleanup_json_ json_t *extra = json_pack("{s:i}", "http_status", (int) res->status);
        return output_failure(&c->out, EXIT_REMOTE, extra, "the registry refused: HTTP %ld%s%s%s", res->status,
                              isempty(body) ? "" : ": ", strempty(body),
                              res->status == 401 ? " (give the token with --token-file or $GEERPC_TOKEN)" : "");
}
