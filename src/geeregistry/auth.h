/* SPDX-License-Identifier: MIT */
#pragma once

/* Write access: with a token, POST and DELETE need
 * "Authorization: Bearer <token>"; GET stays open. */

#include "basic/macro.h"

/* Named limit: the token file is read up to this many bytes. */
#define AUTH_TOKEN_SIZE_MAX 4096U
/* The systemd credential (LoadCredential=registry-token:...). */
#define AUTH_CREDENTIAL_NAME "registry-token"

/* Reads the token from path, or when path is NULL from
 * $CREDENTIALS_DIRECTORY/registry-token if that exists. *ret is NULL when
 * no token is configured, or the credential is blank (the units' fallback
 * when no token file exists). Surrounding whitespace (a trailing newline) is
 * dropped; an empty token file or a token with inner whitespace or control
 * characters is -EINVAL. *ret_source (optional) names the file used. */
int auth_load(const char *path, char **ret, char **ret_source);

/* Whether an Authorization header value carries token. The comparison
 * takes the same time wherever the first difference is. */
bool auth_check(const char *token, const char *authorization);
