/* SPDX-License-Identifier: MIT */
#pragma once

/* geerpcctl's pieces: the context every command gets (Ctl), the option
 * and command tables that main.c parses and prints --help from, and the
 * commands, one file each (cmd-*.c).
 *
 * A new command is one new file defining a CtlCommand, plus its entry in
 * main.c's commands[] table; a new global option is one CtlOption in
 * main.c's options[] table (and a field in Ctl). Both appear in --help
 * from the tables, and the man page test asks for them in geerpcctl(1). */

#include <jansson.h>

#include "basic/macro.h"
#include "cluster/etcd.h"
#include "codec/json-util.h"
#include "geerpc/discovery.h"
#include "geerpc/xclient.h"
#include "http/http-client.h"
#include "output.h"

/* Exit statuses (documented in --help, the man page and README.md). */
enum {
        EXIT_OK = 0,
        EXIT_REMOTE = 1,      /* the call returned a remote error, or the registry refused */
        /* EXIT_USAGE (2, shared/cli.h): usage, or invalid JSON arguments */
        EXIT_UNREACHABLE = 3, /* no server or registry reachable, or the deadline passed */
};

#define CTL_TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)

typedef struct Ctl {
        /* Global options. */
        const char *registry; /* URL, or NULL with a --server list */
        char **servers;       /* --server */
        size_t n_servers;
        geerpc_select_mode mode;
        const char *key; /* --mode=hash:KEY */
        usec_t timeout;  /* 0: none */
        usec_t deadline; /* CLOCK_MONOTONIC, from timeout; USEC_INFINITY: none */
        const char *codec; /* --codec; NULL: per server (auto) */
        Output out;

        /* The command, its own options and arguments. */
        const struct CtlCommand *command;
        const char *method; /* SERVICE.METHOD (call, broadcast) */
        json_t *call_args;  /* ARGS_JSON */
        unsigned long count; /* call --count */
        const char *token_file; /* --token-file of the commands that write */
        const char *address;    /* deregister, drain, undrain, weight ADDR */
        const char *service;    /* servers --service; describe, list [SERVICE] */
        int weight;             /* weight N; -1: the override is cleared (undrain) */

        /* Opened on first use (target.c). */
        geerpc_discovery *discovery;
        geerpc_xclient *xclient;
        bool refreshed;
} Ctl;

typedef struct CtlOption {
        const char *name;    /* long name, without "--" */
        char short_name;     /* 0: none */
        const char *metavar; /* the value's name; NULL: takes none */
        const char *help;    /* lines separated by '\n' */
        /* value: NULL for an option without one. < 0: a usage error,
         * reported (cli_usage_error()). */
        int (*parse)(Ctl *c, const char *value);
} CtlOption;

typedef enum CtlNeeds {
        CTL_NEEDS_NOTHING,
        CTL_NEEDS_SERVERS,  /* a registry or a --server list */
        CTL_NEEDS_REGISTRY, /* a registry only */
} CtlNeeds;

typedef struct CtlCommand {
        const char *name;
        const char *synopsis; /* the arguments, e.g. "SERVICE.METHOD ARGS_JSON" */
        const char *help;     /* lines separated by '\n' */
        const CtlOption *options; /* its own, ended by an entry without name; may be NULL */
        CtlNeeds needs;
        /* The positional arguments (after the command's options). < 0: a
         * usage error, reported. */
        int (*parse)(Ctl *c, int argc, char **argv);
        /* Returns the exit status, having printed the outcome (on stdout
         * with --json, failures included). */
        int (*run)(Ctl *c);
} CtlCommand;

extern const CtlCommand command_servers;
extern const CtlCommand command_call;
extern const CtlCommand command_broadcast;
extern const CtlCommand command_deregister;
extern const CtlCommand command_describe;
extern const CtlCommand command_list;
extern const CtlCommand command_services;
extern const CtlCommand command_drain;
extern const CtlCommand command_undrain;
extern const CtlCommand command_weight;

/* ---- target.c: reaching the servers and the registry ---- */

/* Creates the discovery for --registry or --server (no request yet): a
 * bad URL is a usage error (reported, -EINVAL). */
int ctl_open_discovery(Ctl *c);
/* The discovery for --registry or --server, refreshed once (a registry's
 * failure is reported). Returns 0, or the exit status when it failed. */
int ctl_discovery(Ctl *c, geerpc_discovery **ret);
/* The servers listed for service (NULL: all) with what the registry says
 * of each, through ctl_discovery(). Returns 0 or the exit status. */
int ctl_server_list(Ctl *c, const char *service, geerpc_server_list **ret);
/* An xclient over ctl_discovery(). Returns 0 or the exit status. */
int ctl_xclient(Ctl *c, geerpc_xclient **ret);
/* One HTTP request to the registry (--registry), within the deadline. A
 * request that got no answer is reported ("cannot DOING at URL: why") and
 * its exit status returned; otherwise 0 and the answer in *ret (free it
 * with http_result_done()). */
int ctl_registry_request(Ctl *c, const char *method, const char *const *headers, const char *doing,
                         HttpResult *ret);
/* What is left of the command's deadline, as the library's timeouts say
 * it (0: none). */
uint64_t ctl_remaining(const Ctl *c);
/* The exit status for a library error. */
int ctl_exit_status(int r);
/* A library error as the user reads it; remote: the server's own text. */
const char *ctl_error_text(int r, const char *remote);
void ctl_done(Ctl *c);

/* ---- method.c: SERVICE.METHOD ARGS_JSON, shared by call and broadcast ---- */

/* ARGS_JSON: a JSON text, or "-" / "@-" for standard input, or @PATH. */
int ctl_parse_method_args(Ctl *c, int argc, char **argv);

/* ---- registry-write.c: what the commands that write to the registry share ---- */

int ctl_parse_token_file(Ctl *c, const char *value);
#define CTL_OPTION_TOKEN_FILE                                                                                   \
        { "token-file", 0, "PATH", "the registry's write token (default:\n$GEERPC_TOKEN)", ctl_parse_token_file }
/* The token: --token-file, else $GEERPC_TOKEN, else none (*ret left
 * NULL). Returns 0 or the exit status (reported). */
int ctl_load_token(Ctl *c, char **ret);
/* Frees a token, erasing it first (for _cleanup_). */
void ctl_token_freep(char **p);
/* Reports a write the registry answered with an error: its one-line
 * reason, and how to give the token after a 401. Returns EXIT_REMOTE. */
int ctl_registry_refused(Ctl *c, const HttpResult *res);
/* Runs a write against --registry after loading the token: etcd for an
 * etcd:// URL (the token is checked, not sent), http otherwise. Returns
 * the exit status. */
int ctl_registry_write(Ctl *c, int (*http)(Ctl *c, const char *token), int (*etcd)(Ctl *c));
/* etcd (--registry etcd://...): its target, 0 or the exit status of the
 * error printed. */
int ctl_etcd_target(Ctl *c, EtcdTarget *ret);
/* The base64 key key_for (etcd_key_for, etcd_override_key_for) makes of
 * the canonical spelling of c->address; NULL when out of memory. */
char *ctl_etcd_key64(const Ctl *c, const EtcdTarget *t, char *(*key_for)(const EtcdTarget *, const char *));
/* POSTs body to path within the deadline: 0 with the parsed answer to a
 * 200 (*ret_response, a new reference), or the exit status of the failure
 * printed (unreachable; etcd's refusal). */
int ctl_etcd_request(Ctl *c, EtcdTarget *t, const char *path, json_t *body, json_t **ret_response);
/* Whether a deleterange answer says a key was deleted. */
bool ctl_etcd_deleted(json_t *response);
