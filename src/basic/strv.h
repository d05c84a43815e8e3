/* SPDX-License-Identifier: MIT */
#pragma once

/* NULL-terminated arrays of malloc'd strings ("string vectors"), as a
 * server's services and labels are kept. NULL is a valid, empty vector
 * for every function that reads. */

#include "basic/macro.h"

char **strv_free(char **v);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *v);
bool strv_contains(char *const *v, const char *s);
bool strv_equal(char *const *a, char *const *b);
/* A deep copy; NULL for NULL (check the source to tell it from -ENOMEM). */
int strv_copy(char *const *v, char ***ret);
/* Appends a copy of s. */
int strv_push(char ***v, const char *s);
/* Sorts in place (strcmp order) and drops repeated strings. */
void strv_sort_unique(char **v);
/* The strings joined by sep ("" for an empty vector). */
char *strv_join(char *const *v, const char *sep);
