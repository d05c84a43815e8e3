/* SPDX-License-Identifier: MIT */
#pragma once

/* The Go interop program (tests/go/geerpc-interop.go), run with the Go
 * toolchain: standard library only, no modules, no network. */

#include <stdbool.h>

/* Whether `go` is on $PATH. */
bool tl_go_found(void);
/* go run geerpc-interop.go ARGS...; returns its stdout (malloc'd) and
 * aborts the test when it fails. */
char *tl_go_interop(const char *const *args);
