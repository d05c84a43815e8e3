/* SPDX-License-Identifier: MIT */
#pragma once

/* RPC over HTTP, as Go GeeRPC does it: the client sends
 *
 *     CONNECT /_geeprc_ HTTP/1.0\n\n
 *
 * the server answers "HTTP/1.0 200 Connected to Gee RPC\n\n", and the
 * connection carries the Option and messages from then on. Here: telling
 * such a request, any other HTTP request and a GeeRPC Option apart by the
 * first bytes of a connection, and parsing both heads of the handshake.
 * Pure functions on bytes: the callers do the I/O. */

#include <stdbool.h>
#include <stddef.h>

/* The original's path, spelling included; the second one is accepted too. */
#define HTTP_RPC_PATH "/_geeprc_"
#define HTTP_RPC_PATH_ALT "/_geerpc_"
#define HTTP_CONNECT_REQUEST "CONNECT " HTTP_RPC_PATH " HTTP/1.0\n\n"
#define HTTP_CONNECTED_STATUS "200 Connected to Gee RPC"
#define HTTP_CONNECT_REPLY "HTTP/1.0 " HTTP_CONNECTED_STATUS "\n\n"
/* Named limit: the request or response line plus headers of a CONNECT
 * handshake, as geeregistry's default header limit. */
#define HTTP_CONNECT_HEAD_MAX (16U * 1024U)

typedef enum HttpSniff {
        HTTP_SNIFF_MORE,    /* a prefix of "CONNECT ": more bytes decide */
        HTTP_SNIFF_RPC,     /* not an HTTP method: the Option (or garbage) */
        HTTP_SNIFF_HTTP,    /* an HTTP request other than CONNECT */
        HTTP_SNIFF_CONNECT, /* "CONNECT ": the handshake above */
} HttpSniff;

/* At most this many first bytes decide. */
#define HTTP_SNIFF_BYTES 8

/* An HTTP request starts with a method, an upper-case token; an Option is
 * JSON, which never starts with an upper-case letter. */
HttpSniff http_sniff(const void *data, size_t n);

/* Parses a CONNECT request head at the start of data: "CONNECT TARGET
 * HTTP/D.D", then header lines ("Name: value") up to an empty line; lines
 * end in "\n" or "\r\n". Returns 0 while it is incomplete, the head's
 * length in bytes once complete (with *ret_rpc_path telling whether
 * TARGET is one of the two paths above), -EBADMSG when it is malformed,
 * -EMSGSIZE when it is (or would become) longer than max. */
int http_connect_request_parse(const char *data, size_t n, size_t max, bool *ret_rpc_path);

/* Parses the response head: "HTTP/D.D CODE REASON", header lines, an empty
 * line. Returns as http_connect_request_parse(), with the status code in
 * *ret_status. */
int http_connect_response_parse(const char *data, size_t n, size_t max, unsigned *ret_status);
