/*
 * registry — the table of every trigger kind, built from triggers.def.
 */
#include <stdlib.h>
#include <string.h>

#include "triggers/trigger.h"

#define WR_TRIGGER(id) extern const struct wr_trigger_kind wr_trigger_##id;
#include "triggers/triggers.def"
#undef WR_TRIGGER

static const struct wr_trigger_kind *const kinds[] = {
#define WR_TRIGGER(id) &wr_trigger_##id,
#include "triggers/triggers.def"
#undef WR_TRIGGER
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const struct wr_trigger_kind *wr_trigger_find(const char *name)
{
    for (size_t i = 0; i < NKINDS; i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *const *wr_trigger_names(void)
{
    static const char *names[NKINDS + 1];
    if (!names[0]) {
        for (size_t i = 0; i < NKINDS; i++) {
            names[i] = kinds[i]->name;
        }
        /* triggers.def is in start order; help and suggestions list kinds by name. */
        qsort(names, NKINDS, sizeof(names[0]), by_name);
    }
    return names;
}

size_t wr_trigger_count(void)
{
    return NKINDS;
}

const struct wr_trigger_kind *wr_trigger_at(size_t i)
{
    return i < NKINDS ? kinds[i] : NULL;
}
