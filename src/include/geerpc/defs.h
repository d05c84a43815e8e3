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
 * geerpc_client_unrefp(), geerpc_discovery_unrefp(), geerpc_xclient_unrefp(),
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
