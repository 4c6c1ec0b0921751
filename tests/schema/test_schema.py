#!/usr/bin/python3
"""schema_validate: the JSON Schemas in workflows/schema/ checked with a real validator.

usage: test_schema.py SOURCE_DIR WEIR

- Both schemas are valid draft 2020-12 (Draft202012Validator.check_schema).
- Every example workflow (workflows/ and below, not the sample deliveries in workflows/events/
  nor workflows/schema/) and every valid fixture validates against workflow.schema.json, and
  each example starts with the yaml-language-server modeline pointing at it.
- Every example weir.yaml in the repository (scripts/weir.yaml.example and the like, and
  tests/fixtures/schema/weir.yaml) validates against config.schema.json, and `weir validate`
  accepts tests/fixtures/schema/ too: the schema takes what the loader takes.
- Every invalid fixture of tests/fixtures/invalid/ is listed below: the ones the schema can
  express must fail it AT the key their .expected file names (or the mapping holding it), not
  somewhere by chance; the others say in a comment why the schema cannot, and the schema must
  not pretend to catch their error either.
- Every fixture of tests/fixtures/schema/invalid/ fails the schema at the key `weir validate`
  names in its message for it.

Files are read as weir reads them (YAML 1.2 core schema: tests/schema/yaml12.py).
"""
import json
import os
import re
import subprocess
import sys

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yaml12  # noqa: E402

# {====== tests/fixtures/invalid: what the schema refuses, and what it cannot ======

# The schema refuses these at the key (or the mapping holding the key) named by the first line
# of their .expected file; a value is another line of it to use instead (its 1-based number).
SCHEMA_REFUSES = {
    "action-not-string.yaml": 1,
    "add-to-group-no-group.yaml": 1,
    "assign-license-no-add-remove.yaml": 1,  # a rule across arguments (the table's last entry)
    "assign-license-no-user.yaml": 1,
    "bad-workflow-name.yaml": 1,
    "config-bad-client-id.config.yaml": 1,
    "config-bad-listen.config.yaml": 1,
    "config-bad-pacing-range.config.yaml": 1,
    "config-bad-pacing.config.yaml": 1,
    "config-certificate-without-key.config.yaml": 1,
    "config-inline-key.config.yaml": 1,
    "config-inline-secret.config.yaml": 1,
    "config-limits-types.config.yaml": 1,
    "config-limits.config.yaml": 1,
    "config-max-concurrency-range.config.yaml": 1,
    "config-missing-graph.config.yaml": 1,
    "config-no-credentials.config.yaml": 1,
    "config-runs-and-retention.config.yaml": 1,
    "config-secret-and-certificate.config.yaml": 1,
    "config-template.config.yaml": 1,
    "config-unknown-key.config.yaml": 1,
    "continue-on-error-not-bool.yaml": 1,
    "create-user-no-mailnickname.yaml": 1,
    "cron-field-count.yaml": 1,
    "duration-no-unit.yaml": 1,
    "duration-not-string.yaml": 1,
    "duration-unknown-unit.yaml": 1,
    "empty-on-error.yaml": 1,
    "empty-steps.yaml": 1,
    "empty-trigger.yaml": 1,
    "empty-when.yaml": 1,
    "enabled-not-bool.yaml": 1,
    "file-bad-format.yaml": 1,
    "file-max-bytes-bad.yaml": 1,
    "file-max-rows.yaml": 1,
    "file-pattern-slash.yaml": 1,
    "group-membership-bad-on.yaml": 1,
    "http-bad-auth.yaml": 1,
    "http-bad-expect.yaml": 1,
    "http-bad-method.yaml": 1,
    "http-bad-url.yaml": 1,
    "http-header-not-string.yaml": 1,
    "http-method-nosuggest.yaml": 1,
    "integer-overflow.yaml": 1,  # refused as out of range 1-100; weir's reader refuses it sooner
    "json-integer-overflow.json": 1,  # the same
    "json-nul-in-path.json": 1,  # a NUL is no printable ASCII in a URL path
    "json-surrogate-pair.json": 1,
    "json-timezone-with-every.json": 1,
    "json-unknown-action.json": 1,
    "license-add-not-list.yaml": 1,
    "license-bad-usage-location.yaml": 1,
    "license-element-not-string.yaml": 1,
    "many-errors.yaml": 1,
    "missing-name.yaml": 1,
    "missing-steps.yaml": 1,
    "missing-trigger.yaml": 1,
    "name-not-string.yaml": 1,
    "retry-attempts-range.yaml": 1,
    "retry-template.yaml": 1,
    "retry-unknown-key.yaml": 1,
    "root-not-mapping.yaml": 1,
    "root-scalar.json": 1,
    "schedule-cron-and-every.yaml": 1,
    "schedule-neither.yaml": 1,
    "script-bad-function.yaml": 1,
    "script-empty-path.yaml": 1,
    "set-manager-no-manager.yaml": 1,
    "set-role-no-role.yaml": 1,
    "step-action-and-script.yaml": 1,
    "step-id-invalid.yaml": 1,
    "step-kind-typo.yaml": 1,
    "step-no-kind.yaml": 1,
    "step-not-mapping.yaml": 1,
    "step-null.yaml": 1,
    "step-when-template.yaml": 1,
    "steps-not-list.yaml": 1,
    "template-interpolated-list.yaml": 1,
    "timezone-with-every.yaml": 1,
    "trigger-args-not-mapping.yaml": 1,
    "trigger-not-mapping.yaml": 1,
    "two-trigger-kinds.yaml": 1,
    "unknown-action-nosuggest.yaml": 1,
    "unknown-action.yaml": 1,
    "unknown-step-key-common.yaml": 1,
    "unknown-step-key.yaml": 1,
    "unknown-top-key-nosuggest.yaml": 1,
    "unknown-top-key.yaml": 1,
    "unknown-trigger-nosuggest.yaml": 1,
    "unknown-trigger.yaml": 1,
    "update-user-empty-set.yaml": 1,
    "update-user-no-set.yaml": 1,
    "update-user-set-not-mapping.yaml": 1,
    "user-change-no-attributes.yaml": 1,
    "user-date-bad-args.yaml": 2,  # at: '9:00' (line 1, the offset's range, is not expressed)
    "user-date-missing-attribute.yaml": 1,
    "user-date-unknown-attribute.yaml": 1,
    "user-not-string.yaml": 1,
    "wait-unknown-key.yaml": 1,
    "webhook-accept-unknown.yaml": 1,
    "webhook-auth-hmac-no-header.yaml": 1,
    "webhook-auth-hmac-signed.yaml": 3,  # tolerance beside hmac (the signed parts' grammar is not)
    "webhook-auth-preset-recipe.yaml": 1,
    "webhook-auth-unknown-type.yaml": 1,
    "webhook-inline-secret.yaml": 1,
    "webhook-no-path.yaml": 1,
    "webhook-path-dot.yaml": 1,
    "webhook-path-dotdot.yaml": 1,
    "webhook-path-double-slash.yaml": 1,
    "webhook-path-encoded-dots.yaml": 1,
    "webhook-path-no-slash.yaml": 1,
    "webhook-path-non-ascii.yaml": 1,
    "webhook-template-path.yaml": 1,
    "yaml-bom.yaml": 1,  # the BOM itself is the reader's; the missing user is the schema's
    "yaml-merge-key.yaml": 1,  # YAML 1.2 has no merge keys: `<<` is an unknown step key
    "yaml-tag-document.yaml": 1,  # a !!set is no mapping
    "yaml-tag.yaml": 1,  # a !!binary is no string
}

# The schema cannot express these; each says why. Those a validator can read must pass it
# without an error at their own key, so this list cannot hide a fixture the schema catches.
SCHEMA_CANNOT = {
    # Lua: expressions and templates are compiled by the loader, not matched by a pattern
    "bad-when-assign.yaml": "Lua syntax of a when: expression",
    "bad-when.yaml": "Lua syntax of a when: expression",
    "webhook-bad-split.yaml": "Lua syntax of split:",
    "webhook-split-unfinished.yaml": "Lua syntax of split:",
    "template-empty.yaml": "an empty {{ }} is a Lua error, found by compiling",
    "template-in-step-once.yaml": "Lua syntax inside a template",
    "template-in-trigger-once.yaml": "an empty {{ }} is a Lua error, found by compiling",
    "template-lua-error.yaml": "Lua syntax inside a template",
    "template-unclosed.yaml": "an unclosed {{ is found by the template parser",
    "script-missing-function.yaml": "what a Lua hook file defines",
    "script-missing.yaml": "whether a script file exists",
    "script-outside-absolute.yaml": "where a script file lies on disk",
    "script-outside-dotdot.yaml": "where a script file lies on disk",
    "script-outside-symlink.yaml": "where a symbolic link leads",
    "script-runtime-error.yaml": "what a Lua hook does when loaded",
    "script-syntax-error.yaml": "Lua syntax of a hook file",
    # values a pattern cannot judge
    "bad-timezone.yaml": "time zones are those installed on the system (tz database)",
    "cron-bad-name.yaml": "a cron field's names and ranges (the pattern checks the five fields)",
    "cron-out-of-range.yaml": "a cron field's ranges",
    "every-below-1s.yaml": "a duration's minimum (patterns read text, not milliseconds)",
    "user-change-every-below-1s.yaml": "a duration's minimum",
    "wait-zero.yaml": "a duration's minimum",
    "file-max-bytes-range.yaml": "a size's range written with a unit (2GiB)",
    "retry-initial-gt-max.yaml": "comparing two durations",
    "webhook-allow-from-host-bits.yaml": "CIDR arithmetic (host bits below the prefix)",
    "webhook-bad-cidr.yaml": "a CIDR's prefix length per address family",
    "user-change-unknown-attribute.yaml": "the Entra user properties are triggers/entra.c's "
    "list, checked by the trigger, not a table's choices",
    "webhook-auth-github-tolerance.yaml": "which presets carry a timestamp is "
    "triggers/webhook/preset.c's",
    "license-add-and-remove.yaml": "the same SKU in two lists",
    # several files or the reader (before any schema)
    "duplicate-step-id.yaml": "duplicate ids across steps (JSON Schema has no cross-item "
    "uniqueness of one key)",
    "duplicate-step-id-on-error.yaml": "duplicate ids across steps and on_error",
    "duplicate-name": "workflow names across files",
    "empty-dir": "a directory without workflows",
    "webhook-secret-conflict": "workflows sharing a webhook path must agree (across files)",
    "webhook-split-conflict": "workflows sharing a webhook path must agree (across files)",
    "comments-only.yaml": "no document at all (the reader's)",
    "empty-file.yaml": "no document at all (the reader's)",
    "two-documents.yaml": "two YAML documents (the reader's)",
    "complex-key.yaml": "a mapping as a key (the reader's)",
    "duplicate-key.yaml": "a repeated key (the reader's; a validator sees one value)",
    "json-duplicate-key.json": "a repeated key (the reader's)",
    "invalid-utf8.yaml": "bytes that are not UTF-8 (the reader's)",
    "json-invalid-utf8.json": "bytes that are not UTF-8 (the reader's)",
    "json-lone-surrogate.json": "a lone UTF-16 surrogate (the reader's)",
    "json-nan.json": "NaN is not JSON (the reader's)",
    "json-negative-overflow.json": "an integer beyond 64 bits (the reader's)",
    "json-number-too-large.json": "1e400 overflows a double (the reader's)",
    "yaml-number-too-large.yaml": "1e400 overflows a double (the reader's)",
    "json-nesting-10000.json": "nesting deeper than 64 levels (the reader's)",
    "json-nesting-too-deep.json": "nesting deeper than 64 levels (the reader's)",
    "too-deep-10000.yaml": "nesting deeper than 64 levels (the reader's)",
    "too-deep.yaml": "nesting deeper than 64 levels (the reader's)",
    "config-too-deep.config.yaml": "nesting deeper than 64 levels (the reader's)",
    "json-single-quotes.json": "not JSON (the reader's)",
    "json-trailing-comma.json": "not JSON (the reader's)",
    "json-trailing-garbage.json": "not JSON (the reader's)",
    "json-unexpected-eof.json": "not JSON (the reader's)",
    "nul-byte.yaml": "a NUL byte in YAML (the reader's)",
    "yaml-alias-document.yaml": "YAML aliases (the reader's)",
    "yaml-alias.yaml": "YAML aliases (the reader's; a validator sees the value)",
    "yaml-bad-indent.yaml": "not YAML (the reader's)",
    "yaml-merge-key-in-set.yaml": "a `<<` key inside a free-form mapping (set:) is the "
    "reader's to refuse",
    "yaml-tab-indent.yaml": "not YAML (the reader's)",
    "yaml-unclosed-quote.yaml": "not YAML (the reader's)",
}

# }====== */

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def parse_path(text):
    """'steps[0].set["<<"]' -> ['steps', 0, 'set', '<<']; '' -> []."""
    out = []
    for m in re.finditer(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.\[\]]+)', text):
        if m.group(1) is not None:
            out.append(json.loads('"%s"' % m.group(1)))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(3))
    return out


# A key path as weir's messages write it: name, .name, [N] and ["key with anything"].
_PART = r'(?:[^.\[\]\s":]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])'
PATH_RE = re.compile(r"^(%s(?:\.?%s)*): " % (_PART, _PART))


def message_path(line):
    """The key path of one `FILE:LINE:COL: PATH: MESSAGE` line ([] when it names none)."""
    m = re.match(r"^.*?:\d+:\d+: (.*)$", line)
    rest = m.group(1) if m else line
    m = PATH_RE.match(rest)
    return parse_path(m.group(1)) if m else []


def at_key(errors, path):
    """The errors at path, or at the mapping or list holding it (where JSON Schema reports a
    missing or unknown key, and a failed oneOf/anyOf of the parent)."""
    found = []
    for e in errors:
        p = list(e.absolute_path)
        if p == path or (path and p == path[:-1]):
            found.append(e)
    return found


def describe(errors):
    return "; ".join("%s: %s" % (list(e.absolute_path), e.message[:160]) for e in errors[:4])


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    source, weir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    schema_dir = os.path.join(source, "workflows", "schema")
    schemas = {}
    for which in ("workflow", "config"):
        with open(os.path.join(schema_dir, which + ".schema.json")) as f:
            schemas[which] = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schemas[which])
        if schemas[which].get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail("%s.schema.json: $schema is not draft 2020-12" % which)
    wf = jsonschema.Draft202012Validator(schemas["workflow"])
    cf = jsonschema.Draft202012Validator(schemas["config"])
    checked = {"examples": 0, "configs": 0, "refused": 0, "cannot": 0, "own": 0}

    # {====== what must pass ======
    examples = []
    for root, dirs, files in os.walk(os.path.join(source, "workflows")):
        rel = os.path.relpath(root, os.path.join(source, "workflows"))
        if rel.split(os.sep)[0] in ("events", "schema"):
            dirs[:] = []
            continue
        examples += [os.path.join(root, n) for n in sorted(files)
                     if n.endswith((".yaml", ".yml", ".json"))]
    if len(examples) < 10:
        fail("only %d example workflows found under workflows/" % len(examples))
    for path in examples:
        want = os.path.relpath(os.path.join(schema_dir, "workflow.schema.json"),
                               os.path.dirname(path))
        if not path.endswith(".json"):
            with open(path) as f:
                first = f.readline().rstrip("\n")
            if first != "# yaml-language-server: $schema=" + want:
                fail("%s: the first line is not the modeline "
                     "'# yaml-language-server: $schema=%s'" % (path, want))
        errors = list(wf.iter_errors(yaml12.load(path)))
        if errors:
            fail("%s: an example does not validate: %s" % (path, describe(errors)))
        checked["examples"] += 1
    valid = [os.path.join(source, "tests/fixtures/valid", n)
             for n in sorted(os.listdir(os.path.join(source, "tests/fixtures/valid")))]
    valid += [os.path.join(source, "tests/fixtures/schema/valid", n)
              for n in sorted(os.listdir(os.path.join(source, "tests/fixtures/schema/valid")))]
    for path in valid:
        errors = list(wf.iter_errors(yaml12.load(path)))
        if errors:
            fail("%s: a valid workflow does not validate: %s" % (path, describe(errors)))
        checked["examples"] += 1

    # Example configs: scripts/weir.yaml.example and any weir.yaml or *.weir.yaml kept in the
    # tree, wherever the packaging puts one; the schema tests' own covers every section.
    configs = []
    skip = {"build", ".git", "invalid", "node_modules"}
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in skip and not d.startswith(("build", "."))]
        for n in files:
            if re.fullmatch(r"(.*[.-])?weir(\.example)?\.ya?ml(\.example)?", n):
                configs.append(os.path.join(root, n))
    own = os.path.join(source, "tests/fixtures/schema/weir.yaml")
    if own not in configs:
        fail("%s was not found by the search for example configs" % own)
    for path in sorted(configs):
        errors = list(cf.iter_errors(yaml12.load(path)))
        if errors:
            fail("%s: an example config does not validate: %s" % (path, describe(errors)))
        checked["configs"] += 1
    out = subprocess.run([weir, "validate", "-c", own], capture_output=True, text=True)
    if out.returncode != 0:
        fail("weir validate -c %s: exit %d: %s" % (own, out.returncode, out.stdout + out.stderr))
    # }======

    # {====== what must fail ======
    inv = os.path.join(source, "tests/fixtures/invalid")
    entries = sorted(e for e in os.listdir(inv)
                     if e != "scripts" and not e.endswith((".expected", ".pending")))
    for e in entries:
        if (e in SCHEMA_REFUSES) == (e in SCHEMA_CANNOT):
            fail("tests/fixtures/invalid/%s: list it in exactly one of SCHEMA_REFUSES or "
                 "SCHEMA_CANNOT (with the reason) in %s" % (e, __file__))
    for e in list(SCHEMA_REFUSES) + list(SCHEMA_CANNOT):
        if e not in entries:
            fail("%s is listed but tests/fixtures/invalid/ has no such fixture" % e)
    for e in entries:
        path = os.path.join(inv, e)
        base = re.sub(r"(\.config)?\.(yaml|yml|json)$", "", e)
        expected = []
        if os.path.exists(os.path.join(inv, base + ".expected")):
            with open(os.path.join(inv, base + ".expected")) as f:
                expected = [line for line in f.read().splitlines() if line]
        v = cf if e.endswith(".config.yaml") else wf
        if e in SCHEMA_REFUSES:
            line = SCHEMA_REFUSES[e]
            key = message_path(expected[line - 1])
            errors = list(v.iter_errors(yaml12.load(path)))
            if not at_key(errors, key):
                fail("%s: the schema should refuse %s (%s); it says: %s"
                     % (e, key, expected[line - 1], describe(errors) or "valid"))
            checked["refused"] += 1
        elif e in SCHEMA_CANNOT:
            if os.path.isdir(path):
                # Each file of a cross-file fixture is fine alone.
                for n in sorted(os.listdir(path)):
                    if n.endswith((".yaml", ".json")):
                        errors = list(wf.iter_errors(yaml12.load(os.path.join(path, n))))
                        if errors:
                            fail("%s/%s: refused alone: %s" % (e, n, describe(errors)))
                checked["cannot"] += 1
                continue
            try:
                doc = yaml12.load(path)
            except (ValueError, RecursionError, yaml12.yaml.YAMLError):
                checked["cannot"] += 1
                continue  # the reader refuses it before any schema
            errors = list(v.iter_errors(doc))
            for line in expected:
                key = message_path(line)
                if key and at_key(errors, key):
                    fail("%s: listed as beyond the schema, but the schema refuses %s: move it "
                         "to SCHEMA_REFUSES (%s)" % (e, key, describe(at_key(errors, key))))
            checked["cannot"] += 1

    # Our own: each fails the schema where `weir validate` says it is wrong.
    own_dir = os.path.join(source, "tests/fixtures/schema/invalid")
    for e in sorted(os.listdir(own_dir)):
        path = os.path.join(own_dir, e)
        config = e.endswith(".config.yaml")
        cmd = [weir, "validate", "-c", path] if config else [weir, "validate", path]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=own_dir)
        lines = [line for line in (out.stdout + out.stderr).splitlines()
                 if re.match(r"^.*:\d+:\d+: ", line)]
        if out.returncode != 1 or not lines:
            fail("%s: weir validate should refuse it (exit 1), got exit %d: %s"
                 % (e, out.returncode, out.stdout + out.stderr))
            continue
        errors = list((cf if config else wf).iter_errors(yaml12.load(path)))
        for line in lines:
            if not at_key(errors, message_path(line)):
                fail("%s: the schema should refuse %s as weir does (%s); it says: %s"
                     % (e, message_path(line), line, describe(errors) or "valid"))
        checked["own"] += 1
    if checked["own"] < 5:
        fail("only %d fixtures in tests/fixtures/schema/invalid" % checked["own"])
    # }======

    # {====== the command ======
    for which in ("workflow", "config"):
        out = subprocess.run([weir, "schema", which], capture_output=True, text=True)
        with open(os.path.join(schema_dir, which + ".schema.json")) as f:
            kept = f.read()
        if out.returncode != 0 or out.stdout != kept or not out.stdout.endswith("}\n"):
            fail("weir schema %s: exit %d, or not the kept file ending in a newline"
                 % (which, out.returncode))
    for args, want in ((["schema"], "workflow or config"),
                       (["schema", "workflows"], "unknown schema 'workflows'"),
                       (["schema", "workflow", "config"], "one schema at a time"),
                       (["schema", "--bogus", "workflow"], "unknown option '--bogus'"),
                       (["schema", "workflow", "-o"], "needs a FILE")):
        out = subprocess.run([weir] + args, capture_output=True, text=True)
        if out.returncode != 2 or want not in out.stderr or \
                "usage: weir schema workflow|config [-o FILE]" not in out.stderr or out.stdout:
            fail("weir %s: want exit 2 with %r and the usage line on stderr, got exit %d: %s"
                 % (" ".join(args), want, out.returncode, out.stderr))
    for args in (["help"], ["help", "schema"], ["schema", "--help"]):
        out = subprocess.run([weir] + args, capture_output=True, text=True)
        if out.returncode != 0 or "schema" not in out.stdout:
            fail("weir %s does not show the schema command" % " ".join(args))
    # }======

    print("checked: %(examples)d valid workflows, %(configs)d configs, %(refused)d invalid "
          "fixtures refused by the schema, %(cannot)d beyond it, %(own)d of our own" % checked)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
