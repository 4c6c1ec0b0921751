/*
 * schema — JSON Schema (draft 2020-12) of workflow files and of weir.yaml, built from the same
 * argument tables the loader checks with and `weir help` prints (engine/lang/argspec.h): the
 * workflow's keys, every trigger kind's and every action's arguments, the keys of each step
 * kind, and weir.yaml's keys. Editors use it to complete keys and flag typos as they are typed;
 * `weir schema workflow|config` prints it, and workflows/schema/ keeps a copy.
 *
 * What a table says becomes the schema: help text the description, choices an enum, required
 * keys `required`, unknown keys refused (`additionalProperties: false`), an integer's bounds,
 * the syntax of durations, secrets, URLs, URL paths and HOST:PORT as patterns. Where the
 * loader takes a template ("{{ expr }}") in place of a typed value, the schema takes a
 * template string too (a whole-value one where the value must come out as a table, number or
 * boolean). What the type cannot say comes from an entry's `.schema` fragment.
 *
 * What it is not: the loader. It does not compile Lua, read cron fields, look up time zones or
 * scripts, compare one key with another unless a table says how, or see other files; a file
 * the schema takes may still be refused by `weir validate`, never the other way round.
 *
 * Definitions a `.schema` fragment may refer to with {"$ref": "#/$defs/NAME"}:
 *   template        a string holding a template ("{{ ... }}")
 *   whole-template  a string that is exactly one template (its value keeps its type)
 *   size            a byte count: an integer, or digits and a unit (64MiB, 512KB)
 *   steps           a non-empty list of steps (a workflow's steps:, on_error:, notify:)
 *   step            one step: exactly one of action, script, wait, wait_until or approval
 *   trigger         a workflow's trigger: exactly one kind with its arguments
 *   guard-destructive  the mass-change brake's limits (a workflow's guard.destructive)
 */
#ifndef WR_SCHEMA_H
#define WR_SCHEMA_H

#include <json-c/json.h>
#include <stddef.h>

#include "engine/lang/argspec.h"

#define WR_SCHEMA_DIALECT "https://json-schema.org/draft/2020-12/schema"

/*
 * The schema of a workflow file: the workflow table (engine/lang/workflow.c) with the trigger
 * and action registries. Returns it (owned), or NULL with a message in err when a table's
 * `.schema` fragment is not a JSON object or refers to a definition not listed above (a bug in
 * that table, named in the message).
 */
struct json_object *wr_schema_workflow(char *err, size_t errlen);

/*
 * The schema of weir.yaml from its table config_spec (borrowed: engine/config.c's
 * wr_config_spec(), passed in because this folder may not include the composition root). No
 * template is accepted anywhere weir.yaml's own table reads (nothing renders them there); the
 * steps of guard.notify are workflow steps and take them as workflows do. Returns the schema
 * (owned), or NULL with a message in err as wr_schema_workflow does.
 */
struct json_object *wr_schema_config(const struct wr_argspec *config_spec, char *err,
                                     size_t errlen);

/*
 * The text of a schema: pretty JSON (two-space indent, keys in the order they were built, which
 * follows the tables, with $defs sorted by name) and a trailing newline. Owned; never NULL.
 */
char *wr_schema_text(struct json_object *schema);

#endif
