/*
 * xml — XML documents decoded into json-c trees with libxml2; see xml.h.
 *
 * libxml2 is driven through SAX2 callbacks of this module's own, on a parser context of each
 * call's own: no libxml2 document tree is built; the JSON tree grows while the parser reads, so
 * the depth and node limits stop the parse at the element that breaks them. The callbacks that
 * would see a DTD (internalSubset, called at `<!DOCTYPE name ...` before the internal subset is
 * read) and entities stop the parser: nothing DTD-related is ever processed. libxml2's messages
 * reach this module's error handler (per context, and the thread's structured handler for the
 * call's duration, so nothing is printed); the first error is the one reported.
 *
 * A stack of frames, one per open element, collects each element's attributes, children and
 * text; at the element's end its value is made and added to its parent.
 */
#include "engine/base/xml.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/json.h"
#include "engine/base/strutil.h"

#define SOAP11_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP12_NS "http://www.w3.org/2003/05/soap-envelope"

enum role {
    ROLE_PLAIN,    /* an element whose value is kept */
    ROLE_ENVELOPE, /* a SOAP Envelope root: only its Body counts */
    ROLE_BODY,     /* the Envelope's Body: its first element child is the result */
};

struct frame {
    char *name;              /* the local name (owned) */
    struct json_object *obj; /* the value as an object, made for the first attribute or child */
    struct wr_buf text;      /* the element's text kept so far */
    struct wr_buf run;       /* the text since the last start or end of a child */
    bool children;           /* has had an element child */
    enum role role;
};

struct conv {
    xmlParserCtxtPtr ctxt;
    int max_depth;
    size_t max_nodes, nodes;
    struct frame *frames; /* frames[0 .. depth) are open; cap of them made */
    int depth, cap;
    char *soap_ns;              /* the Envelope's namespace when the root is one (owned) */
    bool body_seen;             /* the Envelope's (first) Body has started */
    struct json_object *result; /* {"NAME": value}, once made */
    bool failed;
    struct wr_xml_error err;
};

/* {====== errors ====== */

/* Records the first failure (msg cut at a UTF-8 boundary, on one line). */
static void record(struct conv *c, int line, const char *msg)
{
    if (c->failed) {
        return;
    }
    c->failed = true;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--;
    }
    n = wr_utf8_prefix(msg, n, sizeof(c->err.msg) - 1);
    /* libxml2 puts some details on a line of their own: one line here */
    for (size_t i = 0; i < n; i++) {
        c->err.msg[i] = msg[i] == '\n' ? ' ' : msg[i];
    }
    c->err.msg[n] = '\0';
    c->err.line = line > 0 ? line : 1;
}

/* Fails the conversion with this module's message at the parser's current line, and stops
   libxml2 (it reads nothing more and calls nothing more). */
static void fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct conv *c, const char *fmt, ...)
{
    char msg[sizeof(c->err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    record(c, xmlSAX2GetLineNumber(c->ctxt), msg);
    xmlStopParser(c->ctxt);
}

static void on_error(struct conv *c, const xmlError *err)
{
    /* warnings (a relative namespace URI, ...) do not make a document unusable */
    if (err && err->level >= XML_ERR_ERROR) {
        record(c, err->line, err->message ? err->message : "not well-formed XML");
    }
}

/* The context's own handler: libxml2 passes the context's userData, the context itself. */
static void on_ctxt_error(void *ctx, xmlErrorPtr err)
{
    on_error(((xmlParserCtxtPtr)ctx)->_private, err);
}

/* The thread's handler for the call's duration, for messages not raised on the context. */
static void on_thread_error(void *conv, xmlErrorPtr err)
{
    on_error(conv, err);
}

/* }====== */

/* {====== elements ====== */

static struct conv *conv_of(void *ctx)
{
    return ((xmlParserCtxtPtr)ctx)->_private;
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

/* Moves f's current text run into its text; whitespace-only text between elements is
   dropped. */
static void flush_run(struct frame *f)
{
    if (f->run.len > 0 && !(f->children && all_space(f->run.data, f->run.len))) {
        wr_buf_addn(&f->text, f->run.data, f->run.len);
    }
    f->run.len = 0;
}

static struct json_object *frame_obj(struct frame *f)
{
    if (!f->obj) {
        f->obj = json_object_new_object();
    }
    return f->obj;
}

/* Adds an attribute's value (libxml2's text: a literal '&' arrives as "&#38;", since entity
   substitution is off) to f as "@NAME". */
static void add_attribute(struct frame *f, const char *name, const char *v, size_t n)
{
    struct wr_buf key = {0}, val = {0};
    wr_buf_addf(&key, "@%s", name);
    wr_buf_addn(&val, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '&' && n - i >= 5 && memcmp(v + i, "&#38;", 5) == 0) {
            wr_buf_addc(&val, '&');
            i += 4;
        } else {
            wr_buf_addc(&val, v[i]);
        }
    }
    wr_json_object_gather(frame_obj(f), key.data,
                          json_object_new_string_len(val.data, (int)val.len));
    wr_buf_free(&key);
    wr_buf_free(&val);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
    struct conv *c = conv_of(ctx);
    (void)prefix;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_defaulted;
    if (c->failed) {
        return;
    }
    if (c->depth >= c->max_depth) {
        fail(c, "elements nested deeper than %d", c->max_depth);
        return;
    }
    c->nodes += 1 + (size_t)nb_attributes;
    if (c->nodes > c->max_nodes) {
        fail(c, "more than %zu elements and attributes", c->max_nodes);
        return;
    }
    if (c->depth == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        c->frames = wr_xrealloc(c->frames, (size_t)cap * sizeof(*c->frames));
        memset(c->frames + c->cap, 0, (size_t)(cap - c->cap) * sizeof(*c->frames));
        c->cap = cap;
    }
    /* (taken after the growth, which moves the frames) */
    struct frame *parent = c->depth > 0 ? &c->frames[c->depth - 1] : NULL;
    if (parent) {
        parent->children = true;
        flush_run(parent);
    }
    struct frame *f = &c->frames[c->depth++];
    f->name = wr_xstrdup((const char *)localname);
    f->obj = NULL;
    f->text.len = f->run.len = 0;
    f->children = false;
    f->role = ROLE_PLAIN;
    const char *ns = (const char *)uri;
    if (!parent && ns && strcmp(f->name, "Envelope") == 0 &&
        (strcmp(ns, SOAP11_NS) == 0 || strcmp(ns, SOAP12_NS) == 0)) {
        f->role = ROLE_ENVELOPE;
        c->soap_ns = wr_xstrdup(ns);
        return;
    }
    if (parent && parent->role == ROLE_ENVELOPE && !c->body_seen && ns &&
        strcmp(f->name, "Body") == 0 && strcmp(ns, c->soap_ns) == 0) {
        f->role = ROLE_BODY;
        c->body_seen = true;
        return;
    }
    /* attributes come five pointers each: local name, prefix, URI, value, end of value */
    for (int i = 0; i < nb_attributes; i++) {
        const xmlChar **a = attributes + 5 * i;
        add_attribute(f, (const char *)a[0], (const char *)a[3], (size_t)(a[4] - a[3]));
    }
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    struct conv *c = conv_of(ctx);
    (void)localname;
    (void)prefix;
    (void)uri;
    if (c->failed || c->depth == 0) {
        return;
    }
    struct frame *f = &c->frames[--c->depth];
    struct frame *parent = c->depth > 0 ? &c->frames[c->depth - 1] : NULL;
    flush_run(f);
    struct json_object *value;
    if (!f->obj) {
        value = json_object_new_string_len(wr_buf_str(&f->text), (int)f->text.len);
    } else {
        const char *t = wr_buf_str(&f->text);
        size_t b = 0, n = f->text.len;
        while (b < n && all_space(t + b, 1)) {
            b++;
        }
        while (n > b && all_space(t + n - 1, 1)) {
            n--;
        }
        if (n > b) {
            json_object_object_add(f->obj, "#text",
                                   json_object_new_string_len(t + b, (int)(n - b)));
        }
        value = f->obj;
        f->obj = NULL;
    }
    if (f->role == ROLE_ENVELOPE) {
        json_object_put(value);
        if (!c->result) {
            fail(c,
                 c->body_seen ? "the SOAP Body holds no element" : "the SOAP Envelope has no Body");
        }
    } else if (!parent || (parent->role == ROLE_BODY && !c->result)) {
        c->result = json_object_new_object();
        json_object_object_add(c->result, f->name, value);
    } else if (parent->role == ROLE_PLAIN) {
        wr_json_object_gather(frame_obj(parent), f->name, value);
    } else {
        /* the Envelope's Header, or a Body's later children */
        json_object_put(value);
    }
    free(f->name);
    f->name = NULL;
}

static void on_text(void *ctx, const xmlChar *s, int len)
{
    struct conv *c = conv_of(ctx);
    if (!c->failed && c->depth > 0 && len > 0) {
        struct frame *f = &c->frames[c->depth - 1];
        if (f->role == ROLE_PLAIN) {
            wr_buf_addn(&f->run, (const char *)s, (size_t)len);
        }
    }
}

/* }====== */

/* {====== what is refused ====== */

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    fail(conv_of(ctx), "DTDs are not accepted");
}

static xmlEntityPtr on_get_entity(void *ctx, const xmlChar *name)
{
    char q[WR_QUOTE_MAX + 4];
    wr_quote_input((const char *)name, q);
    fail(conv_of(ctx),
         "entity &%s; is not accepted (only &lt; &gt; &amp; &quot; &apos; and character "
         "references)",
         q);
    return NULL;
}

static void on_reference(void *ctx, const xmlChar *name)
{
    on_get_entity(ctx, name);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    fail(conv_of(ctx), "DTDs are not accepted");
}

static xmlParserInputPtr on_resolve_entity(void *ctx, const xmlChar *public_id,
                                           const xmlChar *system_id)
{
    (void)public_id;
    (void)system_id;
    fail(conv_of(ctx), "DTDs are not accepted");
    return NULL;
}

/* }====== */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml2(void)
{
    xmlInitParser();
}

/* Points ctxt's SAX handler (its own copy) at this module's callbacks, and nothing else. */
static void set_callbacks(xmlSAXHandler *sax)
{
    memset(sax, 0, sizeof(*sax));
    sax->initialized = XML_SAX2_MAGIC;
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    sax->characters = on_text;
    sax->ignorableWhitespace = on_text;
    sax->cdataBlock = on_text;
    sax->internalSubset = on_doctype;
    sax->externalSubset = on_doctype;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->reference = on_reference;
    sax->entityDecl = on_entity_decl;
    sax->resolveEntity = on_resolve_entity;
    sax->serror = on_ctxt_error;
}

int wr_xml_parse(const char *data, size_t len, const struct wr_xml_opts *opts,
                 struct json_object **out, struct wr_xml_error *e)
{
    struct conv c = {
        .max_depth = opts && opts->max_depth > 0 ? opts->max_depth : WR_XML_MAX_DEPTH,
        .max_nodes = opts && opts->max_nodes > 0 ? opts->max_nodes : WR_XML_MAX_NODES,
    };
    *out = NULL;
    pthread_once(&init_once, init_libxml2);
    if (len == 0) {
        record(&c, 1, "no XML document (the body is empty)");
        goto done;
    }
    if (len > INT_MAX) {
        record(&c, 1, "the document is larger than INT_MAX bytes");
        goto done;
    }
    c.ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
    if (!c.ctxt) {
        record(&c, 1, "libxml2 could not make a parser (out of memory)");
        goto done;
    }
    int options = XML_PARSE_NONET;
#ifdef XML_PARSE_NO_XXE
    options |= XML_PARSE_NO_XXE;
#endif
    xmlCtxtUseOptions(c.ctxt, options);
    set_callbacks(c.ctxt->sax);
    c.ctxt->_private = &c;

    xmlStructuredErrorFunc old_handler = xmlStructuredError;
    void *old_arg = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&c, on_thread_error);
    int rc = xmlParseDocument(c.ctxt);
    xmlSetStructuredErrorFunc(old_arg, old_handler);
    if (!c.failed && (rc != 0 || !c.ctxt->wellFormed || !c.ctxt->nsWellFormed || !c.result)) {
        record(&c, xmlSAX2GetLineNumber(c.ctxt), "not well-formed XML");
    }

done:
    if (c.ctxt) {
        xmlFreeParserCtxt(c.ctxt);
    }
    for (int i = 0; i < c.cap; i++) {
        free(c.frames[i].name);
        json_object_put(c.frames[i].obj);
        wr_buf_free(&c.frames[i].text);
        wr_buf_free(&c.frames[i].run);
    }
    free(c.frames);
    free(c.soap_ns);
    if (c.failed) {
        json_object_put(c.result);
        if (e) {
            *e = c.err;
        }
        return -1;
    }
    *out = c.result;
    return 0;
}
