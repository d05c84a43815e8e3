/* SPDX-License-Identifier: MIT */
#include "codec/codec.h"

static const CodecType *const codec_types[] = {
        &codec_json,
        &codec_gob,
};

const CodecType *codec_type_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(codec_types); i++)
                if (streq(codec_types[i]->name, name))
                        return codec_types[i];
        return NULL;
}

int codec_new(const CodecType *type, size_t max_value, Codec **ret) {
        Codec *c = calloc(1, type->object_size);
        if (!c)
                return -ENOMEM;
        c->type = type;
        c->max_value = max_value;
        int r = type->init ? type->init(c) : 0;
        if (r < 0) {
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Codec *codec_free(Codec *c) {
        if (!c)
                return NULL;
        if (c->type->done)
                c->type->done(c);
        free(c);
        return NULL;
}
