/* SPDX-License-Identifier: MIT */
#pragma once

/* Constants shared by the server and the client. */

/* The Option's MagicNumber (docs/PROTOCOL.md), as in Go GeeRPC. */
#define GEERPC_MAGIC_NUMBER_VALUE 0x3bef5c

/* Named limit: one decoded value (a header or a body) may be at most this
 * large unless set otherwise; a peer that sends more loses its connection. */
#define GEERPC_MAX_MESSAGE_SIZE_DEFAULT (16U * 1024U * 1024U)

/* The codecs (the Option's CodecType). JSON is geerpc's default; gob is Go
 * GeeRPC's default and the only codec its client speaks. */
#define GEERPC_CODEC_JSON "application/json"
#define GEERPC_CODEC_GOB "application/gob"
