/*
 * test_schema_gen — the schema generator (engine/lang/schema) on small tables of its own and on
 * the real registries: what each argument type becomes, where templates are taken, the rules a
 * `.schema` fragment adds, and the errors for a broken fragment. The validator's view of the
 * generated files is tests/schema/test_schema.py's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "engine/base/strutil.h"
#include "engine/lang/schema.h"
#include "engine/lang/workflow.h"
#include "triggers/trigger.h"

/* The node at a slash-separated path of object keys ("properties/count"), or NULL. */
static struct json_object *at(struct json_object *o, const char *path)
{
    char *copy = wr_xstrdup(path), *save = NULL;
    for (char *k = strtok_r(copy, "/", &save); k && o; k = strtok_r(NULL, "/", &save)) {
        struct json_object *next = NULL;
        o = json_object_object_get_ex(o, k, &next) ? next : NULL;
    }
    free(copy);
    return o;
}

static const char *str_at(struct json_object *o, const char *path)
{
    struct json_object *v = at(o, path);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* True when the JSON text of node contains needle (for shapes not worth walking). */
static bool text_has(struct json_object *node, const char *needle)
{
    return node && strstr(json_object_to_json_string_ext(node, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
                          needle) != NULL;
}

static const char *const colours[] = {"red", "green", NULL};

static const struct wr_argspec sample[] = {
    {.name = "title", .type = WR_ARG_STRING, .flags = WR_ARG_REQUIRED, .help = "a title"},
    {.name = "count", .type = WR_ARG_INT, .min = 1, .max = 9},
    {.name = "colour", .type = WR_ARG_ENUM, .choices = colours},
    {.name = "every", .type = WR_ARG_DURATION, .flags = WR_ARG_NO_TEMPLATE},
    {.name = "on", .type = WR_ARG_BOOL},
    {.name = "key", .type = WR_ARG_SECRET},
    {.name = "size", .type = WR_ARG_ANY, .schema = "{\"$ref\": \"#/$defs/size\"}"},
    {.schema = "{\"anyOf\": [{\"required\": [\"count\"]}, {\"required\": [\"on\"]}]}"},
};

/* weir.yaml's mode (no templates) through wr_schema_config, which takes any table. */
static void test_table_without_templates(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    struct json_object *s = wr_schema_config(sample, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(str_at(s, "$schema"), WR_SCHEMA_DIALECT);
    assert_string_equal(str_at(s, "type"), "object");
    assert_false(json_object_get_boolean(at(s, "additionalProperties")));
    assert_string_equal(json_object_to_json_string(at(s, "required")), "[ \"title\" ]");
    assert_string_equal(str_at(s, "properties/title/description"), "a title");
    assert_string_equal(str_at(s, "properties/title/not/$ref"), "#/$defs/template");
    assert_int_equal(json_object_get_int(at(s, "properties/count/minimum")), 1);
    assert_int_equal(json_object_get_int(at(s, "properties/count/maximum")), 9);
    assert_string_equal(json_object_to_json_string(at(s, "properties/colour/enum")),
                        "[ \"red\", \"green\" ]");
    assert_string_equal(str_at(s, "properties/on/type"), "boolean");
    assert_non_null(str_at(s, "properties/every/pattern"));
    assert_non_null(str_at(s, "properties/key/pattern"));
    /* The table's last entry adds its rule across keys to the mapping. */
    assert_true(text_has(at(s, "anyOf"), "\"required\":[\"on\"]"));
    /* Referred definitions come along, and only those. */
    assert_non_null(at(s, "$defs/size"));
    assert_non_null(at(s, "$defs/template"));
    assert_null(at(s, "$defs/step"));
    /* No template is offered anywhere. */
    assert_false(text_has(at(s, "properties"), "whole-template"));
    json_object_put(s);
}

/* A workflow's tables: a template where the loader takes one, of the kind it takes. */
static void test_templates_in_workflows(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    struct json_object *s = wr_schema_workflow(err, sizeof(err));
    assert_non_null(s);
    /* concurrency_key: a string takes any template; no alternative needed. */
    assert_string_equal(str_at(s, "properties/concurrency_key/type"), "string");
    /* enabled: a boolean, or a whole-value template. */
    struct json_object *alts = at(s, "properties/enabled/anyOf");
    assert_non_null(alts);
    assert_true(text_has(alts, "\"type\":\"boolean\""));
    assert_true(text_has(alts, "#/$defs/whole-template"));
    /* name: no template, and its own pattern. */
    assert_string_equal(str_at(s, "properties/name/pattern"), "^[a-z0-9-]{1,64}$");
    /* trigger and steps refer to their definitions, which are built. */
    assert_string_equal(str_at(s, "properties/trigger/$ref"), "#/$defs/trigger");
    assert_string_equal(str_at(s, "properties/steps/$ref"), "#/$defs/steps");
    /* http-request's method: an enum, or a template with text around it. */
    struct json_object *method = at(s, "$defs/action.http-request/properties/method/anyOf");
    assert_true(text_has(method, "\"enum\""));
    assert_true(text_has(method, "\"#/$defs/template\""));
    json_object_put(s);
}

/* Every action and trigger kind of the registries is in the workflow schema. */
static void test_registries(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    struct json_object *s = wr_schema_workflow(err, sizeof(err));
    assert_non_null(s);
    size_t actions = 0;
    for (const char *const *n = wr_action_names(); *n; n++, actions++) {
        char *path = wr_xasprintf("$defs/action.%s/properties/action/const", *n);
        assert_string_equal(str_at(s, path), *n);
        free(path);
    }
    size_t kinds = 0;
    for (const char *const *n = wr_trigger_names(); *n; n++, kinds++) {
        char *path = wr_xasprintf("$defs/trigger/properties/%s/type", *n);
        assert_string_equal(str_at(s, path), "object");
        free(path);
    }
    assert_int_equal(json_object_object_length(at(s, "$defs/trigger/properties")), kinds);
    /* One rule per action and per other step kind; exactly one kind per step. */
    size_t others = 0;
    for (const char *const *k = wr_workflow_step_kinds(); *k; k++) {
        others += wr_workflow_step_kind_spec(*k) != NULL;
    }
    assert_int_equal(json_object_array_length(at(s, "$defs/step/allOf")), actions + others);
    assert_int_equal(json_object_array_length(at(s, "$defs/step/oneOf")), others + 1);
    /* The text is stable and ends with a newline. */
    char *a = wr_schema_text(s), *b = wr_schema_text(s);
    assert_string_equal(a, b);
    assert_int_equal(a[strlen(a) - 1], '\n');
    free(a);
    free(b);
    json_object_put(s);
}

static const struct wr_argspec broken_json[] = {
    {.name = "limit", .type = WR_ARG_INT, .schema = "{\"minimum\": }"},
    {0},
};

static const struct wr_argspec broken_ref[] = {
    {.name = "limit", .type = WR_ARG_INT, .schema = "{\"$ref\": \"#/$defs/nope\"}"},
    {0},
};

static const struct wr_argspec broken_kind[] = {
    {.name = "limit", .type = WR_ARG_INT, .schema = "[1]"},
    {0},
};

/* A broken fragment is a bug in a table: no schema, and a message naming it. */
static void test_broken_fragments(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    assert_null(wr_schema_config(broken_json, err, sizeof(err)));
    assert_non_null(strstr(err, "'limit'"));
    assert_non_null(strstr(err, "is not JSON"));
    assert_null(wr_schema_config(broken_ref, err, sizeof(err)));
    assert_non_null(strstr(err, "no definition 'nope'"));
    assert_null(wr_schema_config(broken_kind, err, sizeof(err)));
    assert_non_null(strstr(err, "not a JSON object"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_without_templates),
        cmocka_unit_test(test_templates_in_workflows),
        cmocka_unit_test(test_registries),
        cmocka_unit_test(test_broken_fragments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
