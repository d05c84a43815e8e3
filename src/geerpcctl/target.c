/* SPDX-License-Identifier: MIT */

/* Reaching what a command talks to: the discovery (--registry or a
 * --server list) and the xclient over it, both within the command's
 * deadline; and the errors they give, as the user reads them. */

#include "geerpcctl.h"
#include "shared/cli.h"

const char *ctl_error_text(int r, const char *remote) {
        switch (r) {
        case -EREMOTEIO:
                return strempty(remote);
        case -EINVAL: /* the arguments have no form in the codec: it says why */
                return remote ?: strerror(EINVAL);
        case -ENXIO:
                return "rpc discovery: no available servers";
        case -ETIMEDOUT:
                return "deadline exceeded";
        case -ECANCELED:
                return "cancelled: another server failed first";
        case -ESTALE:
                return "rpc discovery: registry unreachable for too long, cached list too old";
        case -EPROTO:
                return "the registry answered with an error status (is the URL right?)";
        case -EBADMSG:
                return "bad response (no server list, or an undecodable reply)";
        case -EMSGSIZE:
                return "the registry's server-list header is longer than libcurl accepts (100 KiB, about 4,800 "
                       "servers): a registry without a JSON listing (the Go original's) lists too many";
        case -EFBIG:
                return "the registry's answer is larger than 64 MiB";
        default:
                return strerror(-r);
        }
}

int ctl_exit_status(int r) {
        return r == 0 ? EXIT_OK : r == -EREMOTEIO ? EXIT_REMOTE : r == -EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE;
}

uint64_t ctl_remaining(const Ctl *c) {
        if (c->deadline == USEC_INFINITY)
                return 0;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        return c->deadline > now ? c->deadline - now : 1;
}

int ctl_open_discovery(Ctl *c) {
        int r;
        if (c->discovery)
                return 0;
        if (!c->registry)
                r = geerpc_discovery_new_static(&c->discovery, (const char *const *) c->servers, c->n_servers);
        else
                r = geerpc_discovery_new_from_url(&c->discovery, c->registry);
        if ((r == -EINVAL || r == -EPROTONOSUPPORT) && c->registry)
                return cli_usage_error("invalid --registry URL '%s' (expected http://HOST:PORT/PATH or "
                                       "etcd://HOST:PORT[,HOST:PORT...][/PREFIX])",
                                       c->registry);
        if (r < 0)
                return cli_usage_error("%s", strerror(-r));
        /* One request to the registry, within the command's deadline. */
        if (c->registry && c->timeout > 0)
                (void) geerpc_discovery_set_refresh_timeout(
                        c->discovery, MIN(c->timeout, GEERPC_DISCOVERY_REFRESH_TIMEOUT_DEFAULT_USEC));
        return 0;
}

int ctl_discovery(Ctl *c, geerpc_discovery **ret) {
        int r;
        if (!c->discovery && ctl_open_discovery(c) < 0)
                return EXIT_USAGE;
        if (c->registry && !c->refreshed) {
                r = geerpc_discovery_refresh(c->discovery);
                if (r < 0)
                        return output_failure(&c->out, EXIT_UNREACHABLE, NULL,
                                              "cannot get the servers from the registry at %s: %s", c->registry,
                                              ctl_error_text(r, NULL));
                c->refreshed = true;
        }
        *ret = c->discovery;
        return 0;
}

int ctl_server_list(Ctl *c, const char *service, geerpc_server_list **ret) {
        geerpc_discovery *d = NULL;
        int r = ctl_discovery(c, &d);
        if (r != 0)
                return r;
        r = geerpc_discovery_get_list(d, service, ret);
        if (r < 0)
                return output_failure(&c->out, ctl_exit_status(r), NULL, "%s", ctl_error_text(r, NULL));
        return 0;
}

int ctl_xclient(Ctl *c, geerpc_xclient **ret) {
        geerpc_discovery *d = NULL;
        int r = ctl_discovery(c, &d);
        if (r != 0)
                return r;
        if (!c->xclient) {
                r = geerpc_xclient_new(&c->xclient, d, c->mode);
                if (r >= 0)
                        r = geerpc_xclient_set_codec(c->xclient, c->codec);
                if (r < 0)
                        return output_failure(&c->out, EXIT_UNREACHABLE, NULL, "%s", strerror(-r));
        }
        *ret = c->xclient;
        return 0;
}

void ctl_done(Ctl *c) {
        c->xclient = geerpc_xclient_unref(c->xclient);
        c->discovery = geerpc_discovery_unref(c->discovery);
        if (c->call_args)
                json_decref(c->call_args);
        c->call_args = NULL;
        for (size_t i = 0; i < c->n_servers; i++)
                free(c->servers[i]);
        c->servers = mfree(c->servers);
        c->n_servers = 0;
}

int ctl_registry_request(Ctl *c, const char *method, const char *const *headers, const char *doing,
                         HttpResult *ret) {
        usec_t timeout = ctl_remaining(c) ?: HTTP_TIMEOUT_DEFAULT_USEC;
        HttpRequestSpec spec = {
                .method = method,
                .url = c->registry,
                .headers = headers,
                .timeout = timeout,
                .connect_timeout = MIN(timeout, HTTP_CONNECT_TIMEOUT_DEFAULT_USEC),
        };
        HttpResult res = {};
        int r = http_perform(&spec, &res);
        if (r >= 0 && res.result < 0)
                r = res.result;
        if (r < 0) {
                int status = output_failure(&c->out, EXIT_UNREACHABLE, NULL, "cannot %s at %s: %s", doing, c->registry,
                                            res.error ?: ctl_error_text(r, NULL));
                http_result_done(&res);
                return status;
        }
        *ret = res;
        return 0;
}
