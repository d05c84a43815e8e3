/* SPDX-License-Identifier: MIT */
#pragma once

/* Constants shared by the server and the client, and the cleanup helpers'
 * definition. */

/* The Option's MagicNumber (docs/PROTOCOL.md), as in Go GeeRPC. */
#define GEERPC_MAGIC_NUMBER_VALUE 0x3bef5c

/* Named limit: one decoded value (a header or a body) may be at most this
 * large unless set otherwise; a peer that sends more loses its connection. */
#define GEERPC_MAX_MESSAGE_SIZE_DEFAULT (16U * 1024U * 1024U)

/* Defines func##p(type **p), which calls func(*p) unless *p is NULL, for
 * __attribute__((cleanup(func##p))): the object a variable holds is
 * released when the variable goes out of scope, on every return path.
 *
 *     __attribute__((cleanup(geerpc_client_unrefp))) geerpc_client *c = NULL;
 *
 * Every header defines one per object type (geerpc_server_unrefp(),
 * geerpc_client_unrefp(), geerpc_discovery_unrefp(), geerpc_server_list_unrefp(),
 * geerpc_xclient_unrefp(),
 * geerpc_registration_unrefp(), geerpc_broadcast_result_freep()). They are
 * static inline: nothing is exported, the ABI is the same with or without
 * them. As systemd's _SD_DEFINE_POINTER_CLEANUP_FUNC; the trailing struct
 * lets the use end with a semicolon. */
#define _GEERPC_DEFINE_POINTER_CLEANUP_FUNC(type, func) \
        static __inline__ void func##p(type **p) {     \
                if (*p)                                 \
                        func(*p);                       \
        }                                               \
        struct _geerpc_useless_struct_to_allow_trailing_semicolon_
/* The codecs (the Option's CodecType). JSON is geerpc's default; gob is Go
 * GeeRPC's default and the only codec its client speaks. */
#define GEERPC_CODEC_JSON "application/json"
#define GEERPC_CODEC_GOB "application/gob"

/* A service name (geerpc_server_add_service(), the services a registry
 * lists per server): 1 to GEERPC_SERVICE_NAME_MAX bytes of ASCII letters,
 * digits and '_' -- what a Go service's type name may be, and safe in the
 * comma-separated lists of the registry protocol. */
#define GEERPC_SERVICE_NAME_MAX 64U

/* What a registry knows about a server besides its address
 * (docs/PROTOCOL.md, "Registry"), and the limits of each:
 *   services: at most GEERPC_SERVICES_MAX names (as above);
 *   weight:   0 to GEERPC_WEIGHT_MAX, default GEERPC_WEIGHT_DEFAULT; a
 *             server with weight 0 is draining: listed, never chosen;
 *   labels:   at most GEERPC_LABELS_MAX key=value pairs; a key is 1 to
 *             GEERPC_LABEL_KEY_MAX bytes of ASCII letters, digits, '_',
 *             '.', '-', starting with a letter; a value 0 to
 *             GEERPC_LABEL_VALUE_MAX bytes of ASCII letters, digits and
 *             _ . - : / @ +. */
#define GEERPC_SERVICES_MAX 64U
#define GEERPC_WEIGHT_DEFAULT 1U
#define GEERPC_WEIGHT_MAX 1000U
#define GEERPC_LABELS_MAX 16U
#define GEERPC_LABEL_KEY_MAX 64U
#define GEERPC_LABEL_VALUE_MAX 128U
