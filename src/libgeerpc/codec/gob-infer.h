/* SPDX-License-Identifier: MIT */
#pragma once

/* The gob type a JSON value gets when nothing says otherwise. */

#include "codec/gob-encode.h"

/* Infers v's type (v is not null), sends the definitions e has not sent
 * yet to out, and gives the type's id. -EINVAL (why in e) when v has no
 * gob form, -EMSGSIZE past a limit. *hint: the caller's memory of the
 * last flat object's type (0 at first), which spares inferring the same
 * shape again. */
int gob_infer(GobEncoder *e, Buffer *out, json_t *v, int64_t *hint, int64_t *ret_id);
