/*
 * test_action_flags — every registered action declares whether it is destructive (the flag the
 * guardrails of issue 17 count), and the actions that decide by their arguments decide as the
 * issue lists: assign-license with a non-empty remove:, update-user turning accountEnabled off.
 *
 * The walk goes over wr_action_names(), so an action added to actions.def without the flag
 * fails here, by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "actions/action.h"

/* {====== every action declares ====== */

static void test_every_action_declares(void **state)
{
    (void)state;
    size_t n = 0, bad = 0;
    for (const char *const *name = wr_action_names(); *name; name++, n++) {
        const struct wr_action *a = wr_action_find(*name);
        assert_non_null(a);
        switch (a->destructive) {
        case WR_DESTRUCTIVE_NO:
        case WR_DESTRUCTIVE_YES:
            if (a->is_destructive != NULL) {
                print_error("action '%s': is_destructive is set but the flag is not BY_ARGS\n",
                            a->name);
                bad++;
            }
            break;
        case WR_DESTRUCTIVE_BY_ARGS:
            if (a->is_destructive == NULL || a->destructive_note == NULL) {
                print_error("action '%s': BY_ARGS needs is_destructive and destructive_note "
                            "(when, for weir help)\n",
                            a->name);
                bad++;
            }
            break;
        case WR_DESTRUCTIVE_UNDECLARED:
        default:
            print_error("action '%s' does not declare .destructive (WR_DESTRUCTIVE_NO, _YES or "
                        "_BY_ARGS in its descriptor)\n",
                        a->name);
            bad++;
            break;
        }
    }
    assert_true(n >= 14);
    assert_int_equal(bad, 0);
}

/* The list, pinned: what is always destructive, never, or by arguments. */
static void test_classification(void **state)
{
    (void)state;
    static const char *const yes[] = {"disable-user",      "delete-user", "remove-all-licenses",
                                      "remove-from-group", "remove-role", "revoke-sessions"};
    static const char *const by_args[] = {"assign-license", "update-user"};
    static const char *const no[] = {"create-user", "enable-user", "add-to-group",
                                     "set-role",    "set-manager", "http-request"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        const struct wr_action *a = wr_action_find(yes[i]);
        assert_non_null(a);
        assert_int_equal(a->destructive, WR_DESTRUCTIVE_YES);
        assert_true(wr_action_destructive(a, NULL));
    }
    for (size_t i = 0; i < sizeof(by_args) / sizeof(by_args[0]); i++) {
        const struct wr_action *a = wr_action_find(by_args[i]);
        assert_non_null(a);
        assert_int_equal(a->destructive, WR_DESTRUCTIVE_BY_ARGS);
        assert_true(wr_action_destructive(a, NULL)); /* arguments unknown: may be */
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        const struct wr_action *a = wr_action_find(no[i]);
        assert_non_null(a);
        assert_int_equal(a->destructive, WR_DESTRUCTIVE_NO);
        assert_false(wr_action_destructive(a, NULL));
    }
}

/* An undeclared descriptor counts as destructive: when in doubt, the brake counts. */
static void test_undeclared_counts(void **state)
{
    (void)state;
    const struct wr_action forgot = {.name = "forgot", .summary = "x"};
    assert_true(wr_action_destructive(&forgot, NULL));
    struct json_object *args = json_object_new_object();
    assert_true(wr_action_destructive(&forgot, args));
    json_object_put(args);
}

/* }====== */

/* {====== by arguments ====== */

/* Whether action name is destructive with the arguments of json (parsed here). */
static bool destructive(const char *name, const char *json)
{
    const struct wr_action *a = wr_action_find(name);
    assert_non_null(a);
    struct json_object *args = json_tokener_parse(json);
    if (args == NULL) {
        fail_msg("bad test JSON: %s", json);
    }
    bool d = wr_action_destructive(a, args);
    json_object_put(args);
    return d;
}

static void test_assign_license(void **state)
{
    (void)state;
    assert_false(destructive("assign-license", "{\"user\": \"a@x\", \"add\": [\"SPE_E3\"]}"));
    assert_true(destructive("assign-license", "{\"user\": \"a@x\", \"remove\": [\"SPE_E3\"]}"));
    assert_true(destructive(
        "assign-license", "{\"user\": \"a@x\", \"add\": [\"SPE_E5\"], \"remove\": [\"SPE_E3\"]}"));
    assert_false(destructive("assign-license",
                             "{\"user\": \"a@x\", \"add\": [\"SPE_E3\"], \"remove\": []}"));
    assert_false(destructive("assign-license", "{\"user\": \"a@x\", \"remove\": []}"));
    assert_false(destructive("assign-license", "{\"user\": \"a@x\", \"remove\": null}"));
    /* Still a template (asked before rendering): it may render to a list of SKUs. */
    assert_true(
        destructive("assign-license", "{\"user\": \"a@x\", \"remove\": \"{{ event.old_skus }}\"}"));
}

static void test_update_user(void **state)
{
    (void)state;
    assert_true(
        destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"accountEnabled\": false}}"));
    assert_true(destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"department\": "
                                           "\"Sales\", \"accountEnabled\": false}}"));
    assert_false(
        destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"accountEnabled\": true}}"));
    assert_false(
        destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"department\": \"Sales\"}}"));
    /* A template that rendered to a string, and Graph's case-insensitive property names. */
    assert_true(destructive("update-user",
                            "{\"user\": \"a@x\", \"set\": {\"accountEnabled\": \"false\"}}"));
    assert_true(
        destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"AccountEnabled\": false}}"));
    assert_false(
        destructive("update-user", "{\"user\": \"a@x\", \"set\": {\"accountEnabled\": \"true\"}}"));
    /* set: a template not yet rendered may be such a mapping. */
    assert_true(destructive("update-user", "{\"user\": \"a@x\", \"set\": \"{{ event.patch }}\"}"));
    assert_false(destructive("update-user", "{\"user\": \"a@x\"}"));
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_action_declares), cmocka_unit_test(test_classification),
        cmocka_unit_test(test_undeclared_counts),     cmocka_unit_test(test_assign_license),
        cmocka_unit_test(test_update_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
