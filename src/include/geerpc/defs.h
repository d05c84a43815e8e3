/* SPDX-License-Identifier: MIT */
#pragma once

/* Constants shared by the server and the client. */

/* The Option's MagicNumber (docs/PROTOCOL.md), as in Go GeeRPC. */
#define GEERPC_MAGIC_NUMBER_VALUE 0x3bef5c

/* Named limit: one decoded value (a header or a body) may be at most this
 * large unless set otherwise; a peer that sends more loses its connection. */
#define GEERPC_MAX_MESSAGE_SIZE_DEFAULT (16U * 1024U * 1024U)
