/* SPDX-License-Identifier: MIT */
#pragma once

/* Constants shared by the server and the client. */

/* The Option's MagicNumber (docs/PROTOCOL.md), as in Go GeeRPC. */
#define GEERPC_MAGIC_NUMBER_VALUE 0x3bef5c

/* Named limit: one decoded value (a header or a body) may be at most this
 * large unless set otherwise; a peer that sends more loses its connection. */
#define GEERPC_MAX_MESSAGE_SIZE_DEFAULT (16U * 1024U * 1024U)

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
