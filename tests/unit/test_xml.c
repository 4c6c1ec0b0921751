/*
 * test_xml — unit tests for engine/base/xml, the XML/SOAP body decoder: the mapping to JSON
 * (local names, attributes as "@name", "#text", repeated elements as arrays, CDATA, the
 * predefined entities and character references, comments and processing instructions
 * ignored), SOAP 1.1 and 1.2 envelopes unwrapped (a SuccessFactors ExternalEvent), declared
 * encodings; and what is refused, with its line: any DOCTYPE (XXE, billion laughs), other
 * entities, nesting and size limits (a 100,000-deep document), not well-formed or
 * namespace-ill-formed documents, bytes outside the encoding. libxml2 prints nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/xmlerror.h>

#include "engine/base/strutil.h"
#include "engine/base/xml.h"

static void expect_ok_opts(const char *text, const struct wr_xml_opts *opts, const char *want)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_xml_error e = {{0}, 0};
    if (wr_xml_parse(text, strlen(text), opts, &v, &e) != 0) {
        fail_msg("'%s' should decode, got line %d: %s", text, e.line, e.msg);
    }
    const char *got =
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s':\n want %s\n got  %s", text, want, got);
    }
    json_object_put(v);
}

static void expect_ok(const char *text, const char *want)
{
    expect_ok_opts(text, NULL, want);
}

static void expect_err_n(const char *text, size_t len, const struct wr_xml_opts *opts, int line,
                         const char *msg)
{
    struct json_object *v = (struct json_object *)1;
    struct wr_xml_error e = {{0}, 0};
    if (wr_xml_parse(text, len, opts, &v, &e) != -1) {
        fail_msg("'%.*s' should be refused, got %s", (int)(len > 200 ? 200 : len), text,
                 json_object_to_json_string(v));
    }
    assert_null(v);
    if (e.line != line || strcmp(e.msg, msg) != 0) {
        fail_msg("'%.*s':\n want line %d: %s\n got  line %d: %s", (int)(len > 200 ? 200 : len),
                 text, line, msg, e.line, e.msg);
    }
}

static void expect_err(const char *text, int line, const char *msg)
{
    expect_err_n(text, strlen(text), NULL, line, msg);
}

static void test_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"<a>x</a>", "{\"a\":\"x\"}"},
        {"<a/>", "{\"a\":\"\"}"},
        {"<a></a>", "{\"a\":\"\"}"},
        /* a leaf's text is kept as is, whitespace too */
        {"<a>  x y \n</a>", "{\"a\":\"  x y \\n\"}"},
        {"<a> </a>", "{\"a\":\" \"}"},
        /* values stay strings */
        {"<a><n>42</n><t>true</t></a>", "{\"a\":{\"n\":\"42\",\"t\":\"true\"}}"},
        /* attributes, and text beside them */
        {"<a id=\"1\">x</a>", "{\"a\":{\"@id\":\"1\",\"#text\":\"x\"}}"},
        {"<a id=\"1\"/>", "{\"a\":{\"@id\":\"1\"}}"},
        {"<a id='1' k=''>  x  </a>", "{\"a\":{\"@id\":\"1\",\"@k\":\"\",\"#text\":\"x\"}}"},
        /* children; a repeated name is an array in document order */
        {"<a><b>1</b><b>2</b><c/></a>", "{\"a\":{\"b\":[\"1\",\"2\"],\"c\":\"\"}}"},
        {"<r><i id=\"1\"/><j/><i>t</i><i><k>1</k></i></r>",
         "{\"r\":{\"i\":[{\"@id\":\"1\"},\"t\",{\"k\":\"1\"}],\"j\":\"\"}}"},
        /* whitespace between elements is dropped; other text is "#text", trimmed */
        {"<a>\n  <b>1</b>\n  <c>2</c>\n</a>\n", "{\"a\":{\"b\":\"1\",\"c\":\"2\"}}"},
        {"<a> hi <b>1</b> there </a>", "{\"a\":{\"b\":\"1\",\"#text\":\"hi  there\"}}"},
        /* CDATA is text; markup in it is not read */
        {"<a><![CDATA[<b>&amp;</b>]]></a>", "{\"a\":\"<b>&amp;</b>\"}"},
        {"<a>x<![CDATA[ y ]]>z</a>", "{\"a\":\"x y z\"}"},
        {"<a id=\"1\"><![CDATA[ c ]]></a>", "{\"a\":{\"@id\":\"1\",\"#text\":\"c\"}}"},
        /* the predefined entities and character references, in text and attributes */
        {"<a>&lt;&amp;&gt;&apos;&quot; &#233;&#x1F600;</a>",
         "{\"a\":\"<&>'\\\" \xc3\xa9\xf0\x9f\x98\x80\"}"},
        {"<a v=\"&amp;&lt;&#38;&#x26;&quot;&#60; x&#38;#38;\"/>",
         "{\"a\":{\"@v\":\"&<&&\\\"< x&#38;\"}}"},
        /* comments and processing instructions are ignored */
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><?pi x?><a><!-- c -->x<?pi "
         "y?>y</a><!-- after -->",
         "{\"a\":\"xy\"}"},
        /* UTF-8 text and names */
        {"<caf\xc3\xa9 n\xc3\xa9=\"\xc3\xa9\">Ren\xc3\xa9\x65</caf\xc3\xa9>",
         "{\"caf\xc3\xa9\":{\"@n\xc3\xa9\":\"\xc3\xa9\",\"#text\":\"Ren\xc3\xa9\x65\"}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_ok(cases[i].in, cases[i].want);
    }
}

static void test_namespaces(void **state)
{
    (void)state;
    /* prefixes dropped, default namespaces too, xmlns declarations are not attributes */
    expect_ok("<x:a xmlns:x=\"urn:x\" xmlns=\"urn:d\"><x:b>1</x:b><c>2</c></x:a>",
              "{\"a\":{\"b\":\"1\",\"c\":\"2\"}}");
    expect_ok("<a xmlns=\"urn:d\"><b xmlns=\"urn:e\">1</b></a>", "{\"a\":{\"b\":\"1\"}}");
    /* namespaced attributes by local name */
    expect_ok("<a xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"T\" "
              "id=\"1\"/>",
              "{\"a\":{\"@type\":\"T\",\"@id\":\"1\"}}");
    /* the same local name from two namespaces is one name */
    expect_ok("<a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><p:b>1</p:b><q:b>2</q:b></a>",
              "{\"a\":{\"b\":[\"1\",\"2\"]}}");
    expect_ok("<a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" p:b=\"1\" q:b=\"2\"/>",
              "{\"a\":{\"@b\":[\"1\",\"2\"]}}");
}

static void test_soap(void **state)
{
    (void)state;
    /* 1.1, with a Header (ignored) and a second Body child (ignored) */
    expect_ok("<?xml version=\"1.0\"?>\n"
              "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n"
              "  <s:Header><h:Auth xmlns:h=\"urn:h\">secret</h:Auth></s:Header>\n"
              "  <s:Body>\n"
              "    <m:Op xmlns:m=\"urn:m\" m:v=\"2\"><m:x>1</m:x></m:Op><Other/>\n"
              "  </s:Body>\n"
              "</s:Envelope>\n",
              "{\"Op\":{\"@v\":\"2\",\"x\":\"1\"}}");
    /* 1.2, the namespace as the default one */
    expect_ok("<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Body><Notify>"
              "<id>7</id></Notify></Body></Envelope>",
              "{\"Notify\":{\"id\":\"7\"}}");
    /* a Fault is just an element */
    expect_ok("<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>"
              "<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"
              "</soap:Fault></soap:Body></soap:Envelope>",
              "{\"Fault\":{\"Code\":{\"Value\":\"soap:Sender\"}}}");
    /* an Envelope of another namespace, or none, is an ordinary root */
    expect_ok("<Envelope><Body><x>1</x></Body></Envelope>",
              "{\"Envelope\":{\"Body\":{\"x\":\"1\"}}}");
    expect_ok("<e:Envelope xmlns:e=\"urn:other\"><e:Body><x>1</x></e:Body></e:Envelope>",
              "{\"Envelope\":{\"Body\":{\"x\":\"1\"}}}");
    /* a Body of another namespace is not the Body */
    expect_err("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><Body><x/>"
               "</Body></s:Envelope>",
               1, "the SOAP Envelope has no Body");
    expect_err("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n<s:Body>\n"
               "</s:Body>\n</s:Envelope>",
               4, "the SOAP Body holds no element");
}

static void test_successfactors(void **state)
{
    (void)state;
    /* the shape of SAP SuccessFactors' Intelligent Services ExternalEvent */
    expect_ok("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
              "<ns3:ExternalEvent xmlns:ns3=\"http://notification.event.successfactors.com\">"
              "<ns3:externalEventMeta><ns3:externalEventId>6767884f-e601</ns3:externalEventId>"
              "<ns3:type>com.successfactors.Employment.AssignmentInformation.Termination</ns3:type>"
              "<ns3:effective>future</ns3:effective></ns3:externalEventMeta><ns3:events><ns3:event>"
              "<ns3:eventId>c143</ns3:eventId><ns3:entityType>EmpJob</ns3:entityType>"
              "<ns3:effectiveStartDate>2021-09-01</ns3:effectiveStartDate><ns3:entityKeys>"
              "<ns3:entityKey><name>userId</name><value>82094</value></ns3:entityKey>"
              "</ns3:entityKeys></ns3:event></ns3:events></ns3:ExternalEvent></soap:Body>"
              "</soap:Envelope>",
              "{\"ExternalEvent\":{\"externalEventMeta\":{\"externalEventId\":\"6767884f-e601\","
              "\"type\":\"com.successfactors.Employment.AssignmentInformation.Termination\","
              "\"effective\":\"future\"},\"events\":{\"event\":{\"eventId\":\"c143\","
              "\"entityType\":\"EmpJob\",\"effectiveStartDate\":\"2021-09-01\",\"entityKeys\":{"
              "\"entityKey\":{\"name\":\"userId\",\"value\":\"82094\"}}}}}}");
}

static void test_encodings(void **state)
{
    (void)state;
    /* a declared encoding libxml2 knows is transcoded to UTF-8 */
    expect_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Ren\xe9\x65</a>",
              "{\"a\":\"Ren\xc3\xa9\x65\"}");
    /* UTF-16 (little-endian, with its byte order mark) */
    static const char utf16[] = "\xff\xfe<\0a\0>\0\xe9\0<\0/\0a\0>\0";
    struct json_object *v = NULL;
    struct wr_xml_error e;
    assert_int_equal(wr_xml_parse(utf16, sizeof(utf16) - 1, NULL, &v, &e), 0);
    assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                        "{\"a\":\"\xc3\xa9\"}");
    json_object_put(v);
    /* one it does not know is an error; bytes that are not UTF-8 in a UTF-8 document too */
    expect_err("<?xml version=\"1.0\" encoding=\"x-no-such-encoding\"?><a/>", 1,
               "Unsupported encoding x-no-such-encoding");
    expect_err("<a>\n\xff</a>", 2,
               "Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF 0x3C 0x2F 0x61");
    expect_err("<a>\xc3\x28</a>", 1,
               "Input is not proper UTF-8, indicate encoding ! Bytes: 0xC3 0x28 0x3C 0x2F");
}

static void test_not_well_formed(void **state)
{
    (void)state;
    expect_err("<a>\n<b>\n</a>", 3, "Opening and ending tag mismatch: b line 2 and a");
    expect_err("<a>x", 1, "Premature end of data in tag a line 1");
    expect_err("<a/><b/>", 1, "Extra content at the end of the document");
    expect_err("x", 1, "Start tag expected, '<' not found");
    expect_err("<a b=1/>", 1, "AttValue: \" or ' expected");
    expect_err("<a b=\"1\" b=\"2\"/>", 1, "Attribute b redefined");
    expect_err_n("", 0, NULL, 1, "no XML document (the body is empty)");
    expect_err("   ", 1, "Start tag expected, '<' not found");
    /* NUL is not a character of XML, raw or as a reference */
    expect_err_n("<a>x\0</a>", 9, NULL, 1, "Char 0x0 out of allowed range");
    expect_err("<a>&#0;</a>", 1, "xmlParseCharRef: invalid xmlChar value 0");
    /* namespace well-formedness is required */
    expect_err("<x:a/>", 1, "Namespace prefix x on a is not defined");
    expect_err("<a x:b=\"1\"/>", 1, "Namespace prefix x for b on a is not defined");
    /* entities other than the five predefined ones */
    expect_err("<a>\n&x;</a>", 2,
               "entity &x; is not accepted (only &lt; &gt; &amp; &quot; &apos; and character "
               "references)");
    expect_err("<a v=\"&x;\"/>", 1,
               "entity &x; is not accepted (only &lt; &gt; &amp; &quot; &apos; and character "
               "references)");
}

static void test_dtds(void **state)
{
    (void)state;
    expect_err("<!DOCTYPE a><a/>", 1, "DTDs are not accepted");
    expect_err("<?xml version=\"1.0\"?>\n<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/a.dtd\">\n<a/>", 2,
               "DTDs are not accepted");
    /* XXE: the file's content never appears, in the tree or the message */
    const char *xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
    struct json_object *v = (struct json_object *)1;
    struct wr_xml_error e;
    assert_int_equal(wr_xml_parse(xxe, strlen(xxe), NULL, &v, &e), -1);
    assert_null(v);
    assert_string_equal(e.msg, "DTDs are not accepted");
    assert_null(strstr(e.msg, "root"));
    expect_err("<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x\"> %p;]><r/>", 1,
               "DTDs are not accepted");
    /* billion laughs: refused before a single entity is declared */
    const char *lol = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE lolz [\n"
                      " <!ENTITY lol \"lol\">\n"
                      " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                      " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"
                      "&lol1;\">\n"
                      " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"
                      "&lol2;\">\n"
                      " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"
                      "&lol3;\">\n"
                      " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"
                      "&lol4;\">\n"
                      " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"
                      "&lol5;\">\n"
                      " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"
                      "&lol6;\">\n"
                      " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"
                      "&lol7;\">\n"
                      " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;"
                      "&lol8;\">\n"
                      "]>\n"
                      "<lolz>&lol9;</lolz>\n";
    expect_err(lol, 2, "DTDs are not accepted");
    /* a DOCTYPE after the root is not well-formed anyway */
    expect_err("<a/><!DOCTYPE a>", 1, "Extra content at the end of the document");
}

static void test_limits(void **state)
{
    (void)state;
    struct wr_xml_opts three = {.max_depth = 3};
    expect_ok_opts("<a><b><c>x</c></b></a>", &three, "{\"a\":{\"b\":{\"c\":\"x\"}}}");
    expect_err_n("<a><b><c>\n<d/></c></b></a>", 25, &three, 2, "elements nested deeper than 3");
    struct wr_xml_opts four = {.max_nodes = 4};
    expect_ok_opts("<a x=\"1\"><b/><c/></a>", &four,
                   "{\"a\":{\"@x\":\"1\",\"b\":\"\",\"c\":\"\"}}");
    expect_err_n("<a x=\"1\"><b/><c y=\"2\"/></a>", 27, &four, 1,
                 "more than 4 elements and attributes");

    /* 100,000 deep: refused at depth 65, before anything grows */
    size_t depth = 100000;
    struct wr_buf b = {0};
    for (size_t i = 0; i < depth; i++) {
        wr_buf_add(&b, "<a>");
    }
    for (size_t i = 0; i < depth; i++) {
        wr_buf_add(&b, "</a>");
    }
    expect_err_n(b.data, b.len, NULL, 1, "elements nested deeper than 64");
    /* a limit above libxml2's own (256) meets libxml2's */
    struct wr_xml_opts deep = {.max_depth = 100000};
    expect_err_n(b.data, b.len, &deep, 1,
                 "Excessive depth in document: 256 use XML_PARSE_HUGE option");
    wr_buf_free(&b);

    /* many siblings: the default node limit */
    for (size_t i = 0; i < 100000; i++) {
        wr_buf_add(&b, i == 0 ? "<r>" : "<i/>");
    }
    wr_buf_add(&b, "</r>");
    struct json_object *v = NULL;
    struct wr_xml_error e;
    assert_int_equal(wr_xml_parse(b.data, b.len, NULL, &v, &e), 0);
    assert_int_equal(
        json_object_array_length(json_object_object_get(json_object_object_get(v, "r"), "i")),
        99999);
    json_object_put(v);
    b.len -= 4;
    wr_buf_add(&b, "<i/><i/></r>");
    expect_err_n(b.data, b.len, NULL, 1, "more than 100000 elements and attributes");
    wr_buf_free(&b);
}

static void on_foreign_error(void *arg, xmlErrorPtr err)
{
    (void)arg;
    (void)err;
}

/* libxml2 prints nothing, and the thread's own error handler is left as it was. */
static void test_quiet(void **state)
{
    (void)state;
    xmlSetStructuredErrorFunc(NULL, on_foreign_error);
    char path[] = "/tmp/test_xml_stderr_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    static const char *bad[] = {
        "<a>\n<b>\n</a>",
        "<!DOCTYPE a><a/>",
        "<a>&x;</a>",
        "<x:a/>",
        "<?xml version=\"1.0\" encoding=\"x-no-such-encoding\"?><a/>",
        "<a>\xff</a>",
        "<a xmlns:p=\"rel\"/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *v = NULL;
        struct wr_xml_error e;
        wr_xml_parse(bad[i], strlen(bad[i]), NULL, &v, &e);
        json_object_put(v);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(size, 0);
    assert_ptr_equal(xmlStructuredError, on_foreign_error);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping),   cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_soap),      cmocka_unit_test(test_successfactors),
        cmocka_unit_test(test_encodings), cmocka_unit_test(test_not_well_formed),
        cmocka_unit_test(test_dtds),      cmocka_unit_test(test_limits),
        cmocka_unit_test(test_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
