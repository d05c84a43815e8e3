/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "codec/option.h"

static int parse(const char *s, Option *o, char **why) {
        return option_parse(s, strlen(s), o, why);
}

Test(option, go_default_option) {
        Option o;
        char *why = NULL;
        cr_assert_eq(parse("{\"MagicNumber\":3927900,\"CodecType\":\"application/json\",\"ConnectTimeout\":10000000000,"
                           "\"HandleTimeout\":0}",
                           &o, &why),
                     0);
        cr_assert_eq(o.magic_number, 0x3bef5c);
        cr_assert_str_eq(o.codec_type, "application/json");
        cr_assert_eq(o.connect_timeout_ns, 10000000000LL);
        cr_assert_eq(o.handle_timeout_ns, 0);
        cr_assert_null(why);
}

Test(option, field_names_fold_case_like_go) {
        Option o;
        cr_assert_eq(parse("{\"magicnumber\":3927900,\"codectype\":\"application/json\",\"handletimeout\":5}", &o, NULL), 0);
        cr_assert_eq(o.handle_timeout_ns, 5);
}

Test(option, bad_magic_number) {
        Option o;
        char *why = NULL;
        cr_assert_eq(parse("{\"MagicNumber\":1234,\"CodecType\":\"application/json\"}", &o, &why), -EPROTO);
        cr_assert_str_eq(why, "rpc server: invalid magic number 4d2");
        free(why);
}

Test(option, unknown_codec) {
        Option o;
        char *why = NULL;
        cr_assert_eq(parse("{\"MagicNumber\":3927900,\"CodecType\":\"application/xml\"}", &o, &why), -EPROTONOSUPPORT);
        cr_assert_str_eq(why, "rpc server: invalid codec type application/xml");
        free(why);
}

Test(option, malformed) {
        const char *bad[] = { "[1]", "{\"MagicNumber\":\"x\"}", "{\"MagicNumber\":3927900,\"CodecType\":5}", "{",
                              "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\",\"HandleTimeout\":-1}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Option o;
                char *why = NULL;
                cr_assert_eq(parse(bad[i], &o, &why), -EBADMSG, "'%s'", bad[i]);
                cr_assert(why && strncmp(why, "rpc server: options error: ", 27) == 0, "reason: %s", why);
                free(why);
        }
}

Test(option, append_round_trip) {
        Option o = { .magic_number = 0x3bef5c, .connect_timeout_ns = 10000000000LL, .handle_timeout_ns = 1000000000LL };
        strcpy(o.codec_type, "application/json");
        Buffer b = {};
        cr_assert_eq(option_append(&b, &o), 0);
        buffer_append(&b, "", 1);
        cr_assert_str_eq(buffer_data(&b), "{\"MagicNumber\":3927900,\"CodecType\":\"application/json\",\"ConnectTimeout\":"
                                          "10000000000,\"HandleTimeout\":1000000000}\n");
        Option p;
        cr_assert_eq(option_parse(buffer_data(&b), strlen(buffer_data(&b)), &p, NULL), 0);
        cr_assert_eq(p.handle_timeout_ns, 1000000000LL);
        buffer_done(&b);
}
