#!/usr/bin/env python3
"""Generate graphsim's user property table from Microsoft's Graph v1.0 CSDL.

Run once (and again whenever the CSDL or the writable list changes):

    python3 tests/graphsim/gen_user_schema.py /work/shared/graph/cleanMetadata.xml tests/graphsim

It reads the `microsoft.graph.user` EntityType and its base types (directoryObject, entity) and
writes user_schema.h and user_schema.c: every structural property with its EDM type, collection
flag, nullability and whether weir may PATCH it with application permissions, plus member tables
for the complex types those writable properties (and assignLicense) use. graphsim never parses
the XML at run time. The writable/read-only split comes from GRAPH.md section 2, not from the
CSDL, which has no per-permission information.
"""

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NAMESPACE = "microsoft.graph"

# GRAPH.md section 2: properties listed as writable in the v1.0 update-user table.
APP_WRITABLE = """
accountEnabled ageGroup businessPhones city companyName consentProvidedForMinor country
customSecurityAttributes department displayName employeeId employeeType employeeHireDate
employeeLeaveDateTime employeeOrgData givenName identities jobTitle mail mailNickname
mobilePhone officeLocation onPremisesExtensionAttributes onPremisesImmutableId otherMails
passwordPolicies passwordProfile postalCode preferredLanguage state streetAddress surname
usageLocation userPrincipalName userType
""".split()

# GRAPH.md section 2: writable only with delegated permissions ("With application permissions
# only, you cannot update ..."; the 2021 v1.0 copy adds hireDate and preferredName).
DELEGATED_ONLY = """
aboutMe birthday interests mySite pastProjects responsibilities schools skills hireDate
preferredName
""".split()

# Complex types whose members graphsim validates, beyond those of writable properties.
EXTRA_COMPLEX = ["assignedLicense"]

EDM_KINDS = {
    "Edm.String": "GS_EDM_STRING",
    "Edm.Boolean": "GS_EDM_BOOLEAN",
    "Edm.Int32": "GS_EDM_INT32",
    "Edm.Int64": "GS_EDM_INT64",
    "Edm.Double": "GS_EDM_DOUBLE",
    "Edm.Guid": "GS_EDM_GUID",
    "Edm.DateTimeOffset": "GS_EDM_DATETIMEOFFSET",
    "Edm.Date": "GS_EDM_DATE",
    "Edm.Binary": "GS_EDM_BINARY",
}


def split_type(t):
    if t.startswith("Collection(") and t.endswith(")"):
        return t[len("Collection("):-1], True
    return t, False


def upper_snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.upper())
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_user_schema.py CLEANMETADATA.XML OUTDIR")
    root = ET.parse(sys.argv[1]).getroot()
    schema = None
    for s in root.iter(EDM + "Schema"):
        if s.get("Namespace") == NAMESPACE:
            schema = s
            break
    if schema is None:
        sys.exit("no microsoft.graph schema")
    entities = {e.get("Name"): e for e in schema.findall(EDM + "EntityType")}
    complexes = {c.get("Name"): c for c in schema.findall(EDM + "ComplexType")}
    enums = {e.get("Name") for e in schema.findall(EDM + "EnumType")}

    # Walk user -> directoryObject -> entity, collecting properties and navigation properties.
    props, navs, chain = [], [], []
    name = "user"
    while name:
        ent = entities[name]
        chain.append(name)
        for p in ent.findall(EDM + "Property"):
            props.append((p.get("Name"), p.get("Type"), p.get("Nullable") != "false", name))
        for n in ent.findall(EDM + "NavigationProperty"):
            navs.append(n.get("Name"))
        base = ent.get("BaseType")
        name = base.split(".", 1)[1] if base else None
    if chain != ["user", "directoryObject", "entity"]:
        sys.exit("unexpected user base chain: %r" % chain)

    names = {p[0] for p in props}
    for n in APP_WRITABLE + DELEGATED_ONLY:
        if n not in names:
            sys.exit("GRAPH.md property %s is not on microsoft.graph.user" % n)
    lower = [p[0].lower() for p in props]
    if len(set(lower)) != len(lower):
        sys.exit("user property names collide case-insensitively")

    def kind_of(base_type):
        if base_type in EDM_KINDS:
            return EDM_KINDS[base_type]
        short = base_type.split(".", 1)[1] if base_type.startswith("graph.") else None
        if short in enums:
            return "GS_EDM_ENUM"
        if short in complexes:
            return "GS_EDM_COMPLEX"
        sys.exit("unknown type %s" % base_type)

    # Complex types to describe: those of writable properties plus EXTRA_COMPLEX.
    wanted = []
    for n, t, _, _ in props:
        base, _ = split_type(t)
        if n in APP_WRITABLE and kind_of(base) == "GS_EDM_COMPLEX":
            wanted.append(base.split(".", 1)[1])
    wanted += EXTRA_COMPLEX
    wanted = sorted(set(wanted))
    for c in wanted:
        for p in complexes[c].findall(EDM + "Property"):
            if kind_of(split_type(p.get("Type"))[0]) == "GS_EDM_COMPLEX":
                sys.exit("nested complex member %s.%s not supported" % (c, p.get("Name")))

    def access(n):
        if n in APP_WRITABLE:
            return "GS_ACCESS_APP_WRITABLE"
        if n in DELEGATED_ONLY:
            return "GS_ACCESS_DELEGATED_ONLY"
        return "GS_ACCESS_READ_ONLY"

    def cident(c):
        return "gs_complex_" + upper_snake(c).lower()

    def prop_line(n, t, nullable, acc, indent="    "):
        base, coll = split_type(t)
        kind = kind_of(base)
        cx = "NULL"
        if kind == "GS_EDM_COMPLEX" and base.split(".", 1)[1] in wanted:
            cx = "&" + cident(base.split(".", 1)[1])
        return '%s{"%s", "%s", %s, %s, %s, %s, %s},' % (
            indent, n, base, kind, "true" if coll else "false",
            "true" if nullable else "false", acc, cx)

    props.sort(key=lambda p: p[0].lower())
    navs.sort(key=str.lower)
    outdir = sys.argv[2]

    h = []
    h.append("/*")
    h.append(" * user_schema.h: the microsoft.graph.user property table (GENERATED, do not edit).")
    h.append(" *")
    h.append(" * Produced by gen_user_schema.py from Microsoft's Graph v1.0 CSDL (msgraph-metadata,")
    h.append(" * clean_v10_metadata/cleanMetadata.xml): the user EntityType and its base types")
    h.append(" * directoryObject and entity. Which properties weir may PATCH with application")
    h.append(" * permissions comes from GRAPH.md section 2. This is data only; lookups live in")
    h.append(" * tenant.c. It is not a full OData model: navigation properties are names only.")
    h.append(" */")
    h.append("#ifndef GS_USER_SCHEMA_H")
    h.append("#define GS_USER_SCHEMA_H")
    h.append("")
    h.append("#include <stdbool.h>")
    h.append("#include <stddef.h>")
    h.append("")
    h.append("/* The EDM kind of a property's (element) type. */")
    h.append("enum gs_edm {")
    for k in ["GS_EDM_STRING", "GS_EDM_BOOLEAN", "GS_EDM_INT32", "GS_EDM_INT64", "GS_EDM_DOUBLE",
              "GS_EDM_GUID", "GS_EDM_DATETIMEOFFSET", "GS_EDM_DATE", "GS_EDM_BINARY",
              "GS_EDM_ENUM", "GS_EDM_COMPLEX"]:
        h.append("    %s," % k)
    h.append("};")
    h.append("")
    h.append("/* Who may write a property through PATCH /users/{id}. */")
    h.append("enum gs_access {")
    h.append("    GS_ACCESS_READ_ONLY,      /* computed or read-only: never writable */")
    h.append("    GS_ACCESS_APP_WRITABLE,   /* writable with application permissions */")
    h.append("    GS_ACCESS_DELEGATED_ONLY, /* writable only with delegated permissions */")
    h.append("};")
    h.append("")
    h.append("struct gs_complex;")
    h.append("")
    h.append("/* One structural property. type is the CSDL element type without Collection(). */")
    h.append("struct gs_prop {")
    h.append("    const char *name;")
    h.append("    const char *type;")
    h.append("    enum gs_edm edm;")
    h.append("    bool collection;")
    h.append("    bool nullable;")
    h.append("    enum gs_access access;")
    h.append("    const struct gs_complex *complex; /* members, when described; else NULL */")
    h.append("};")
    h.append("")
    h.append("/* A complex type's members; open types accept members not listed. */")
    h.append("struct gs_complex {")
    h.append("    const char *name;")
    h.append("    bool open;")
    h.append("    size_t nprops;")
    h.append("    const struct gs_prop *props;")
    h.append("};")
    h.append("")
    h.append("/* Indexes into gs_user_props, sorted case-insensitively by name. */")
    h.append("enum gs_user_prop {")
    for n, _, _, _ in props:
        h.append("    GS_U_%s," % upper_snake(n))
    h.append("    GS_U_COUNT")
    h.append("};")
    h.append("")
    h.append("extern const struct gs_prop gs_user_props[GS_U_COUNT];")
    h.append("extern const char *const gs_user_navigation[];")
    h.append("extern const size_t gs_user_navigation_count;")
    for c in wanted:
        h.append("extern const struct gs_complex %s;" % cident(c))
    h.append("")
    h.append("#endif")

    c = []
    c.append("/*")
    c.append(" * user_schema.c: the microsoft.graph.user property table (GENERATED, do not edit).")
    c.append(" *")
    c.append(" * See user_schema.h. Regenerate with gen_user_schema.py.")
    c.append(" */")
    c.append('#include "user_schema.h"')
    c.append("")
    for cx in wanted:
        node = complexes[cx]
        members = sorted(node.findall(EDM + "Property"), key=lambda p: p.get("Name").lower())
        arr = cident(cx) + "_props"
        if members:
            c.append("static const struct gs_prop %s[] = {" % arr)
            for p in members:
                c.append(prop_line(p.get("Name"), p.get("Type"), p.get("Nullable") != "false",
                                   "GS_ACCESS_APP_WRITABLE"))
            c.append("};")
            c.append("")
        c.append("const struct gs_complex %s = {" % cident(cx))
        c.append('    "%s", %s, %d, %s,' % (
            cx, "true" if node.get("OpenType") == "true" else "false", len(members),
            arr if members else "NULL"))
        c.append("};")
        c.append("")
    c.append("const struct gs_prop gs_user_props[GS_U_COUNT] = {")
    for n, t, nullable, _ in props:
        c.append(prop_line(n, t, nullable, access(n)))
    c.append("};")
    c.append("")
    c.append("const char *const gs_user_navigation[] = {")
    for n in navs:
        c.append('    "%s",' % n)
    c.append("};")
    c.append("")
    c.append("const size_t gs_user_navigation_count = sizeof(gs_user_navigation) /")
    c.append("                                        sizeof(gs_user_navigation[0]);")

    with open(outdir + "/user_schema.h", "w") as f:
        f.write("\n".join(h) + "\n")
    with open(outdir + "/user_schema.c", "w") as f:
        f.write("\n".join(c) + "\n")
    # Keep the output within the repository's clang-format rules (100 columns).
    if shutil.which("clang-format"):
        subprocess.run(["clang-format", "-i", outdir + "/user_schema.h", outdir + "/user_schema.c"],
                       check=True)
    print("%d properties, %d navigation properties, %d complex types"
          % (len(props), len(navs), len(wanted)))


if __name__ == "__main__":
    main()
