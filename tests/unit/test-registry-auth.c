/* SPDX-License-Identifier: MIT */

/* geeregistry's write token: loading it and checking Authorization. */

#include <criterion/criterion.h>
#include <stdio.h>

#include "auth.h"

static char dir[] = "/tmp/geeregistry-auth-XXXXXX";

static void setup(void) {
        cr_assert_not_null(mkdtemp(dir));
        unsetenv("CREDENTIALS_DIRECTORY");
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) !system(cmd);
}

TestSuite(auth, .init = setup, .fini = teardown);

static char *write_token(const char *name, const char *content, size_t n) {
        char *path;
        cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f);
        fwrite(content, 1, n, f);
        fclose(f);
        return path;
}

Test(auth, check) {
        cr_assert(auth_check(NULL, NULL), "no token: open");
        cr_assert(auth_check(NULL, "Bearer whatever"));
        cr_assert(auth_check("s3cret", "Bearer s3cret"));
        cr_assert(auth_check("s3cret", "bearer s3cret"));
        cr_assert(auth_check("s3cret", "BEARER    s3cret"));
        cr_assert_not(auth_check("s3cret", NULL));
        cr_assert_not(auth_check("s3cret", ""));
        cr_assert_not(auth_check("s3cret", "s3cret"));
        cr_assert_not(auth_check("s3cret", "Bearer"));
        cr_assert_not(auth_check("s3cret", "Bearer "));
        cr_assert_not(auth_check("s3cret", "Bearers3cret"));
        cr_assert_not(auth_check("s3cret", "Basic s3cret"));
        cr_assert_not(auth_check("s3cret", "Bearer s3cre"));
        /* Whitespace after the value is not part of it. */
        cr_assert(auth_check("s3cret", "Bearer s3cret "));
        cr_assert(auth_check("s3cret", "Bearer s3cret  \t "));
        cr_assert(auth_check("s3cret", "Bearer s3cret\t"));
        cr_assert_not(auth_check("s3cret", "Bearer s3cret x"));
        cr_assert_not(auth_check("s3cret", "Bearer s3cre\t"));
        cr_assert_not(auth_check("s3cret", "Bearer  \t"));
        cr_assert_not(auth_check("s3cret", "Bearer s3cretx"));
        cr_assert_not(auth_check("s3cret", "Bearer S3cret"));
        cr_assert_not(auth_check("s3cret", "Bearer x3cret"));
}

Test(auth, load_from_file) {
        char *token = NULL, *source = NULL;
        char *path = write_token("t", "\n  tok-en_1 \r\n", 14);
        cr_assert_eq(auth_load(path, &token, &source), 0);
        cr_assert_str_eq(token, "tok-en_1");
        cr_assert_str_eq(source, path);
        free(token);
        free(source);
        free(path);

        path = write_token("empty", "", 0);
        cr_assert_eq(auth_load(path, &token, NULL), -EINVAL);
        free(path);
        path = write_token("inner", "a b", 3);
        cr_assert_eq(auth_load(path, &token, NULL), -EINVAL);
        free(path);
        path = write_token("nul", "a\0b", 3);
        cr_assert_eq(auth_load(path, &token, NULL), -EINVAL);
        free(path);

        char big[AUTH_TOKEN_SIZE_MAX + 1];
        memset(big, 'x', sizeof big);
        path = write_token("big", big, sizeof big);
        cr_assert_eq(auth_load(path, &token, NULL), -EINVAL);
        free(path);
        path = write_token("max", big, AUTH_TOKEN_SIZE_MAX);
        cr_assert_eq(auth_load(path, &token, NULL), 0);
        cr_assert_eq(strlen(token), AUTH_TOKEN_SIZE_MAX);
        free(token);
        free(path);

        cr_assert_eq(auth_load("/nonexistent/token", &token, NULL), -ENOENT);
}

Test(auth, load_from_credentials_directory) {
        char *token = (char *) "untouched";
        cr_assert_eq(auth_load(NULL, &token, NULL), 0);
        cr_assert_null(token, "no credentials directory: no token");

        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        cr_assert_eq(auth_load(NULL, &token, NULL), 0);
        cr_assert_null(token, "no registry-token credential: no token");

        free(write_token(AUTH_CREDENTIAL_NAME, "cred\n", 5));
        char *source = NULL;
        cr_assert_eq(auth_load(NULL, &token, &source), 0);
        cr_assert_str_eq(token, "cred");
        cr_assert_not_null(strstr(source, "/" AUTH_CREDENTIAL_NAME));
        free(token);
        free(source);
}
