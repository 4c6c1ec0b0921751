/*
 * xml — XML documents (webhook bodies: SOAP notifications from SuccessFactors and Workday, plain
 * XML) decoded into json-c trees that a workflow reads like a JSON body.
 *
 * Parsing is libxml2's; this module drives it safely: no DTD is accepted at all (the parse
 * stops at `<!DOCTYPE`, before an entity could be declared), so there is no entity expansion,
 * no external entity, no network or file access, and billion laughs and XXE documents are
 * refused before anything grows. Elements are nested at most max_depth deep and the document
 * holds at most max_nodes elements and attributes; libxml2's own limits (depth 256, 10 MB
 * text nodes) stay on. libxml2 never prints: its messages are caught per parse into the error.
 *
 * The mapping (element → JSON) is the common "XML to JSON" convention, by local names:
 *   <a>x</a>                    → {"a":"x"}
 *   <a id="1">x</a>             → {"a":{"@id":"1","#text":"x"}}
 *   <a><b>1</b><b>2</b><c/></a> → {"a":{"b":["1","2"],"c":""}}
 * Namespace prefixes and xmlns declarations are dropped; a SOAP 1.1 or 1.2 Envelope is
 * unwrapped to the first element in its Body. Comments and processing instructions are
 * ignored. Values are strings, never guessed numbers. The document order of different
 * children, and text mixed between elements, are not kept.
 *
 * What this module is not: a validator (no schemas), a writer, or a general XML API.
 */
#ifndef WR_XML_H
#define WR_XML_H

#include <json-c/json.h>
#include <stddef.h>

#define WR_XML_MAX_DEPTH 64     /* the default nesting limit of elements */
#define WR_XML_MAX_NODES 100000 /* the default limit on elements and attributes */

struct wr_xml_opts {
    int max_depth;    /* 0 = WR_XML_MAX_DEPTH; the root element is at depth 1 */
    size_t max_nodes; /* 0 = WR_XML_MAX_NODES; elements and attributes, counted together */
};

struct wr_xml_error {
    char msg[160]; /* what is wrong (libxml2's message, or this module's), without the line */
    int line;      /* 1-based line of the document where it went wrong */
};

/*
 * Parses an XML document (borrowed data[0..len), need not be NUL-terminated) into an owned
 * json-c tree in *out: {"ROOT": value} where ROOT is the root element's local name; with a SOAP
 * 1.1 (http://schemas.xmlsoap.org/soap/envelope/) or 1.2 (http://www.w3.org/2003/05/soap-envelope)
 * Envelope as the root, {"CHILD": value} of the first element child of its Body instead (the
 * Header is ignored; a Fault is just an element; an Envelope without a Body, or an empty Body,
 * is an error).
 *
 * An element's value: with no attributes and no element children, its text — a string, ""
 * when empty, CDATA sections included as text, kept as is; otherwise an object: the child
 * elements by LOCAL name (a name that repeats → an array of their values in document order),
 * the attributes as "@NAME" (local name), and the text as "#text" (whitespace-only text
 * between elements dropped, the rest trimmed of surrounding whitespace; omitted when empty).
 *
 * Refused: any DOCTYPE ("DTDs are not accepted"), any reference to an entity other than the
 * five predefined ones, nesting deeper than opts->max_depth, more than opts->max_nodes
 * elements and attributes, a document that is not namespace-well-formed XML, bytes that are
 * not in the declared encoding (UTF-8 when none is declared; other encodings libxml2 knows are
 * transcoded, one it does not know is an error), a body of more than INT_MAX bytes. opts may
 * be NULL for the defaults.
 *
 * Returns 0, or -1 with *out NULL and *e filled (e may be NULL). Not reentrant from libxml2's
 * own callbacks; safe to call from any one thread at a time per thread (libxml2 is initialised
 * once, on the first call).
 */
int wr_xml_parse(const char *data, size_t len, const struct wr_xml_opts *opts,
                 struct json_object **out, struct wr_xml_error *e);

#endif
