/*
 * test_undo — the reverse plan of a run (engine/exec/undo): the last step first, what cannot be
 * undone and what recorded nothing listed, a deleted user restored before anything else,
 * recorded values kept as literals (never templates), and the generated workflow loading the
 * plan as steps (or refusing one that does not validate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "engine/exec/undo.h"
#include "engine/lang/workflow.h"

/* A shown run (wr_history_show's shape) with the given steps' JSON. */
static struct json_object *run_with(const char *steps)
{
    char *text = NULL;
    size_t n = strlen(steps) + 128;
    text = malloc(n);
    snprintf(text, n,
             "{\"id\": \"run_1\", \"workflow\": \"offboard\", \"status\": \"succeeded\", "
             "\"steps\": %s}",
             steps);
    struct json_object *o = json_tokener_parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static const char *action_at(struct json_object *plan, size_t i)
{
    struct json_object *steps = json_object_object_get(plan, "steps");
    return json_object_get_string(
        json_object_object_get(json_object_array_get_idx(steps, i), "action"));
}

static void test_reverse_order_and_lists(void **state)
{
    (void)state;
    struct json_object *run = run_with(
        "[{\"idx\": 0, \"step_id\": \"note\", \"status\": \"succeeded\", \"action\": "
        "\"update-user\", \"output\": {\"undo\": [{\"action\": \"update-user\", \"user\": \"u1\", "
        "\"set\": {\"officeLocation\": \"12/1110\"}}]}},"
        " {\"idx\": 1, \"step_id\": \"disable\", \"status\": \"succeeded\", \"action\": "
        "\"disable-user\", \"output\": {\"undo\": [{\"action\": \"enable-user\", \"user\": "
        "\"u1\"}]}},"
        " {\"idx\": 2, \"step_id\": \"revoke\", \"status\": \"succeeded\", \"action\": "
        "\"revoke-sessions\", \"output\": {\"undo_impossible\": \"sessions cannot be given "
        "back\"}},"
        " {\"idx\": 3, \"step_id\": \"map\", \"status\": \"succeeded\", \"action\": \"script\", "
        "\"output\": {\"x\": 1}},"
        " {\"idx\": 4, \"step_id\": \"old\", \"status\": \"succeeded\", \"action\": "
        "\"set-manager\", \"output\": {\"changed\": true}},"
        " {\"idx\": 5, \"step_id\": \"failed\", \"status\": \"failed\", \"action\": "
        "\"delete-user\", \"output\": null}]");
    struct json_object *plan = wr_undo_plan(run);
    struct json_object *steps = json_object_object_get(plan, "steps");
    assert_int_equal(json_object_array_length(steps), 2);
    assert_string_equal(action_at(plan, 0), "enable-user"); /* the last change first */
    assert_string_equal(action_at(plan, 1), "update-user");
    assert_true(json_object_get_boolean(
        json_object_object_get(json_object_array_get_idx(steps, 0), "continue_on_error")));
    struct json_object *imp = json_object_object_get(plan, "impossible");
    assert_int_equal(json_object_array_length(imp), 1);
    assert_string_equal(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(imp, 0), "step")),
        "revoke");
    struct json_object *unrec = json_object_object_get(plan, "unrecorded");
    assert_int_equal(json_object_array_length(unrec), 1); /* set-manager; not the script */
    assert_string_equal(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(unrec, 0), "step")),
        "old");
    assert_string_equal(json_object_get_string(json_object_object_get(plan, "undo_of")), "run_1");
    json_object_put(plan);
    json_object_put(run);
}

static void test_restore_first(void **state)
{
    (void)state;
    struct json_object *run = run_with(
        "[{\"idx\": 0, \"status\": \"succeeded\", \"action\": \"remove-from-group\", "
        "\"output\": {\"undo\": [{\"action\": \"add-to-group\", \"group\": \"g1\", \"user\": "
        "\"u1\"}]}},"
        " {\"idx\": 1, \"status\": \"succeeded\", \"action\": \"remove-all-licenses\", "
        "\"output\": {\"undo\": [{\"action\": \"assign-license\", \"user\": \"u1\", \"add\": "
        "[\"E3\"]}]}},"
        " {\"idx\": 2, \"status\": \"succeeded\", \"action\": \"disable-user\", "
        "\"output\": {\"undo\": [{\"action\": \"enable-user\", \"user\": \"u1\"}]}},"
        " {\"idx\": 3, \"status\": \"succeeded\", \"action\": \"add-to-group\", "
        "\"output\": {\"undo\": [{\"action\": \"remove-from-group\", \"group\": \"g9\", \"user\": "
        "\"u2\"}]}},"
        " {\"idx\": 4, \"status\": \"succeeded\", \"action\": \"delete-user\", "
        "\"output\": {\"undo\": [{\"action\": \"restore-user\", \"user\": \"u1\"}]}}]");
    struct json_object *plan = wr_undo_plan(run);
    struct json_object *steps = json_object_object_get(plan, "steps");
    /* restore u1 first (it must exist again), then undo the earlier changes, last first: what
       those steps removed before the deletion is not in the restored user */
    assert_int_equal(json_object_array_length(steps), 5);
    assert_string_equal(action_at(plan, 0), "restore-user");
    assert_string_equal(action_at(plan, 1), "remove-from-group");
    assert_string_equal(action_at(plan, 2), "enable-user");
    assert_string_equal(action_at(plan, 3), "assign-license");
    assert_string_equal(action_at(plan, 4), "add-to-group");
    json_object_put(plan);
    json_object_put(run);
}

static void test_values_are_literals(void **state)
{
    (void)state;
    struct json_object *run = run_with(
        "[{\"idx\": 0, \"status\": \"succeeded\", \"action\": \"update-user\", \"output\": "
        "{\"undo\": [{\"action\": \"update-user\", \"user\": \"u1\", \"set\": {\"jobTitle\": "
        "\"{{ env.SECRET }} }} x\", \"officeLocation\": null}}]}}]");
    struct json_object *plan = wr_undo_plan(run);
    struct json_object *set = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(plan, "steps"), 0), "set");
    const char *t = json_object_get_string(json_object_object_get(set, "jobTitle"));
    assert_null(strstr(t, "env.SECRET"));     /* not an expression any more */
    assert_non_null(strstr(t, "\\123\\032")); /* "{ " as escapes */
    assert_true(json_object_object_get_ex(set, "officeLocation", NULL));
    /* the generated workflow loads it: the literal compiles */
    struct wr_workflow *wf = NULL;
    struct wr_diags d = {0};
    int rc = wr_undo_workflow(plan, NULL, &wf, &d);
    if (rc != 0) {
        wr_diags_print(&d, stderr);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(wf->name, WR_UNDO_WORKFLOW);
    assert_int_equal(wf->nsteps, 1);
    assert_true(wf->steps[0].continue_on_error);
    wr_workflow_free(wf);
    wr_diags_clear(&d);
    json_object_put(plan);
    json_object_put(run);
}

static void test_workflow_refuses_bad_steps(void **state)
{
    (void)state;
    struct json_object *plan = json_tokener_parse(
        "{\"steps\": [{\"action\": \"un-delete-everything\", \"user\": \"u1\"}]}");
    struct wr_workflow *wf = NULL;
    struct wr_diags d = {0};
    assert_int_equal(wr_undo_workflow(plan, NULL, &wf, &d), -1);
    assert_null(wf);
    assert_true(d.count > 0);
    assert_non_null(strstr(d.items[0], "unknown action 'un-delete-everything'"));
    wr_diags_clear(&d);
    json_object_put(plan);
    struct json_object *empty = json_tokener_parse("{\"steps\": []}");
    assert_int_equal(wr_undo_workflow(empty, NULL, &wf, &d), -1);
    assert_non_null(strstr(d.items[0], "nothing to undo"));
    wr_diags_clear(&d);
    json_object_put(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_order_and_lists),
        cmocka_unit_test(test_restore_first),
        cmocka_unit_test(test_values_are_literals),
        cmocka_unit_test(test_workflow_refuses_bad_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
