#!/usr/bin/env python3
"""End-to-end tests of how weir's listeners frame requests and bound their answers (issue #13):
the real `weir run` on 127.0.0.1, the exact bytes sent over raw sockets, Python 3 stdlib only.

usage: test_reliability_http.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR

FramingTest: ambiguous or malformed framing (request smuggling behind a proxy) gets 400 on
both listeners, before evhttp parses it, and nothing is stored: conflicting or signed
Content-Length, NUL and other control bytes, HTTP/1.1 without Host (or with two), any
Transfer-Encoding but `chunked` and Transfer-Encoding with Content-Length, obs-fold, whitespace
before the colon, bare CR and LF-only line ends, bad header names, bad request lines; chunk
extensions are accepted (and cut before evhttp sees them), trailers are dropped, a malformed
chunk is 400 (not 413).

SizesTest: runs whose step fails with a 500 KB value in its error: the stored error is capped
with a marker (at a UTF-8 boundary) and stored once per run, log lines are capped, the run
list answers summaries, a capped `limit` and a cursor, and `weir runs`/`weir show` print
bounded text.

IdsTest: the admin API takes full run ids only (a prefix is 404 and changes nothing), refuses
control characters in parameters and path segments with 400, decodes percent escapes once;
the CLI takes unique prefixes and lists the candidates of an ambiguous one.
"""
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OPEN = """
name: open
trigger:
  webhook: { path: /hooks/open }
steps:
  - action: disable-user
    user: "{{ event.email }}"
"""


def responses(data, complete=False):
    """[(status, {header: value}, body bytes)] of the HTTP/1.1 answers in data, in order. With
    complete, an answer not received whole ends the list instead of failing."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep and complete:
            break
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
        if not sep or not m:
            raise AssertionError("not an HTTP answer: %r" % data[:300])
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", len(rest)))  # none: up to the close
        if complete and len(rest) < n:
            break
        out.append((int(m.group(1)), headers, rest[:n]))
        data = rest[n:]
    return out


def exchange(port, data, expect=1, timeout=5):
    """Sends data on a new connection and reads until the server closes it or expect answers
    have come whole: (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, True
            got += chunk
            if len(responses(got, complete=True)) >= expect:
                # a refusal closes right after its answer: wait for that briefly
                s.settimeout(0.5)
    except (ConnectionResetError, BrokenPipeError):
        return got, True
    except socket.timeout:
        return got, False
    finally:
        s.close()


def post(path, headers, body=b"", version=b"HTTP/1.1", eol=b"\r\n"):
    """The bytes of a request: the request line, each header line as given, then body."""
    return (b"POST " + path + b" " + version + eol + b"".join(h + eol for h in headers) + eol
            + body)


class FramingTest(unittest.TestCase):
    """One weir (--ingest-only) with an unsigned webhook path and the admin listener."""

    @classmethod
    def setUpClass(cls):
        cls.root = harness.setup_root(None, {"open.yaml": OPEN}, prefix="weir-framing-",
                                      admin="127.0.0.1:0",
                                      limits={"request_timeout": "3s", "body": "64KiB"})
        try:
            cls.weir = harness.Weir(cls.root, ["--ingest-only"], admin=True)
        except BaseException:
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.weir.proc.poll() is None:
            rc = cls.weir.stop()
            assert rc == 0, "weir exited with %d" % rc
        shutil.rmtree(cls.root)

    def events(self):
        c = harness.journal(self.root)
        try:
            return c.execute("SELECT body, headers FROM events ORDER BY received_at, id").fetchall()
        finally:
            c.close()

    def assertRefused(self, raw, status=400, words="", port=None):
        """raw gets one JSON refusal with status (naming words), the close, nothing stored."""
        before = len(self.events())
        data, closed = exchange(port or self.weir.port, raw)
        answers = responses(data)
        self.assertEqual(len(answers), 1, (raw, data))
        code, headers, body = answers[0]
        self.assertEqual(code, status, (raw, data))
        self.assertEqual(headers.get("content-type"), "application/json", data)
        self.assertEqual(headers.get("connection"), "close", data)
        self.assertIn(words, json.loads(body)["error"], raw)
        self.assertTrue(closed, "the connection stays open after a refusal: %r" % raw)
        self.assertEqual(len(self.events()), before, "a refused request was stored: %r" % raw)

    def assertAccepted(self, raw, bodies):
        """raw gets 202 answers, one per element of bodies, which are stored in that order."""
        before = len(self.events())
        data, _ = exchange(self.weir.port, raw, expect=len(bodies))
        answers = responses(data)
        self.assertEqual([a[0] for a in answers], [202] * len(bodies), (raw, data))
        stored = [json.loads(b) for b, _ in self.events()[before:]]
        self.assertEqual(stored, bodies, raw)

    HOST = b"Host: weir"
    JSON = b"Content-Type: application/json"

    def test_content_length(self):
        body = b'{"email":"a@x"}'
        n = str(len(body)).encode()
        for cl, words in (
                ([b"Content-Length: 2", b"Content-Length: " + n], "Content-Length"),
                ([b"Content-Length: +" + n], "Content-Length"),
                ([b"Content-Length: -1"], "Content-Length"),
                ([b"Content-Length: " + n + b", " + n], "Content-Length"),
                ([b"Content-Length: 0x10"], "Content-Length"),
                ([b"Content-Length: 1 5"], "Content-Length"),
                ([b"Content-Length:"], "Content-Length"),
                ([b"Content-Length : " + n], "whitespace before the colon")):
            self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON] + cl, body),
                               words=words)
        # identical duplicates are one length (RFC 9112 6.3), with optional whitespace
        self.assertAccepted(post(b"/hooks/open", [self.HOST, self.JSON, b"Content-Length: " + n,
                                                  b"Content-Length:\t" + n + b" "], body),
                            [{"email": "a@x"}])

    def test_control_bytes_and_line_ends(self):
        body = b'{"email":"b@x"}'
        cl = b"Content-Length: %d" % len(body)
        for extra, words in ((b"X-A: a\x00b", "control"), (b"X-A: a\x01b", "control"),
                             (b"X-A: a\x7fb", "control"), (b"X-A: a\rb", "CR"),
                             (b"X-A: a\nX-B: b", "LF"), (b"X(A): b", "header name"),
                             (b"X@A: b", "header name"), (b": b", "header name"),
                             (b"X-A b", "whitespace"), (b"\x00X: b", "header name"),
                             (b" X-A: b", "continuation")):
            self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON, cl, extra], body),
                               words=words)
        # obs-fold: a header line continued on the next
        self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON, b"X-A: a", b" b", cl],
                                body), words="continuation")
        self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON, b"X-A: a", b"\tb", cl],
                                body), words="continuation")
        # LF-only line ends, everywhere or on one line
        self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON, cl], body, eol=b"\n"),
                           words="LF")
        self.assertRefused(b"POST /hooks/open HTTP/1.1\r\nHost: weir\n" + self.JSON + b"\r\n"
                           + cl + b"\r\n\r\n" + body, words="LF")
        self.assertRefused(b"POST /hooks/open HTTP/1.1\r\nHost: weir\r\n" + cl + b"\r\n\n" + body,
                           words="LF")
        # a bare CR ending a line
        self.assertRefused(b"POST /hooks/open HTTP/1.1\rHost: weir\r\n" + cl + b"\r\n\r\n" + body,
                           words="CR")
        # obs-text (bytes >= 0x80) is allowed in a value
        self.assertAccepted(post(b"/hooks/open", [self.HOST, self.JSON, cl, b"X-Name: J\xc3\xb6rg"],
                                 body), [{"email": "b@x"}])

    def test_host(self):
        body = b'{"email":"c@x"}'
        cl = b"Content-Length: %d" % len(body)
        self.assertRefused(post(b"/hooks/open", [self.JSON, cl], body), words="Host")
        self.assertRefused(post(b"/hooks/open", [self.HOST, b"Host: other", self.JSON, cl], body),
                           words="Host")
        self.assertRefused(post(b"/hooks/open", [b"Host: a b", self.JSON, cl], body),
                           words="Host")
        self.assertRefused(post(b"/hooks/open", [b"Host: a/b", self.JSON, cl], body),
                           words="Host")
        # HTTP/1.0 needs none; an empty Host is allowed (no authority)
        self.assertAccepted(post(b"/hooks/open", [self.JSON, cl], body, version=b"HTTP/1.0"),
                            [{"email": "c@x"}])
        self.assertAccepted(post(b"/hooks/open", [b"Host:", self.JSON, cl], body),
                            [{"email": "c@x"}])
        self.assertAccepted(post(b"/hooks/open", [b"Host: [::1]:8080", self.JSON, cl], body),
                            [{"email": "c@x"}])

    def test_request_line(self):
        tail = b"Host: weir\r\nContent-Length: 2\r\n\r\n{}"
        for line, status, words in (
                (b"POST  /hooks/open HTTP/1.1", 400, "request line"),
                (b"POST /hooks/open  HTTP/1.1", 400, "request line"),
                (b"POST /hooks/open HTTP/1.1 ", 400, "request line"),
                (b"POST /hooks/open http/1.1", 400, "request line"),
                (b"POST /hooks/open HTTP/1.1x", 400, "request line"),
                (b"POST /hooks/\x01open HTTP/1.1", 400, "request target"),
                (b"POST /hooks/\xc3\xa9 HTTP/1.1", 400, "request target"),
                (b"POST /hooks/open\x00 HTTP/1.1", 400, "request target"),
                (b"PO(ST /hooks/open HTTP/1.1", 400, "method"),
                (b"POST /hooks/open HTTP/2.0", 505, "HTTP/1.1"),
                (b"POST /hooks/open HTTP/0.9", 505, "HTTP/1.1"),
                (b"", 400, "request line")):
            self.assertRefused(line + b"\r\n" + tail, status, words)

    def test_transfer_encoding(self):
        chunked = b'f\r\n{"email":"d@x"}\r\n0\r\n\r\n'
        for te, words in (
                ([b"Transfer-Encoding: gzip, chunked"], "Transfer-Encoding"),
                ([b"Transfer-Encoding: chunked, chunked"], "Transfer-Encoding"),
                ([b"Transfer-Encoding: identity"], "Transfer-Encoding"),
                ([b"Transfer-Encoding: xchunked"], "Transfer-Encoding"),
                ([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
                 "Transfer-Encoding"),
                ([b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"],
                 "Transfer-Encoding"),
                ([b"Transfer-Encoding:"], "Transfer-Encoding"),
                ([b"Transfer-Encoding: chunked", b"Content-Length: 25"], "Content-Length"),
                ([b"Content-Length: 25", b"Transfer-Encoding: chunked"], "Content-Length"),
                ([b"Transfer-Encoding : chunked"], "whitespace before the colon")):
            self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON] + te, chunked),
                               words=words)
        # HTTP/1.0 has no chunked coding (RFC 9112 6.1)
        self.assertRefused(post(b"/hooks/open", [self.JSON, b"Transfer-Encoding: chunked"],
                                chunked, version=b"HTTP/1.0"), words="HTTP/1.0")
        # the smuggling shape: a second request hidden in the body evhttp would not read
        hidden = post(b"/hooks/open", [self.HOST, self.JSON, b"Content-Length: 15"],
                      b'{"email":"e@x"}')
        self.assertRefused(post(b"/hooks/open", [self.HOST, self.JSON,
                                                 b"Transfer-Encoding: gzip, chunked"],
                                b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"),
                           words="Transfer-Encoding")
        # exactly chunked, in any case, is fine
        self.assertAccepted(post(b"/hooks/open", [self.HOST, self.JSON,
                                                  b"Transfer-Encoding: Chunked"], chunked),
                            [{"email": "d@x"}])

    def test_chunks(self):
        te = [self.HOST, self.JSON, b"Transfer-Encoding: chunked"]
        # extensions, trailers, leading zeros and upper-case hex are valid
        for body in (b'f;name=value\r\n{"email":"f@x"}\r\n0\r\n\r\n',
                     b'f ; a = "x;\\"y" ; b\r\n{"email":"f@x"}\r\n0;last\r\n\r\n',
                     b'5;a\r\n{"ema\r\n000A;b=c;d\r\nil":"f@x"}\r\n0\r\n\r\n',
                     b'F\r\n{"email":"f@x"}\r\n0\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n'):
            self.assertAccepted(post(b"/hooks/open", te, body), [{"email": "f@x"}])
        headers = json.loads(self.events()[-1][1] or "{}")
        self.assertNotIn("x-trailer", {k.lower() for k in headers})
        for body, words in (
                (b"zz\r\n{}\r\n0\r\n\r\n", "chunk size"),
                (b"0x2\r\n{}\r\n0\r\n\r\n", "chunk size"),
                (b"-2\r\n{}\r\n0\r\n\r\n", "chunk size"),
                (b"+2\r\n{}\r\n0\r\n\r\n", "chunk size"),
                (b"\r\n{}\r\n0\r\n\r\n", "chunk size"),
                (b"2 \r\n{}\r\n0\r\n\r\n", "chunk"),
                (b"2;\r\n{}\r\n0\r\n\r\n", "chunk extension"),
                (b"2;a=\r\n{}\r\n0\r\n\r\n", "chunk extension"),
                (b'2;a="x\r\n{}\r\n0\r\n\r\n', "chunk extension"),
                (b"2;a b\r\n{}\r\n0\r\n\r\n", "chunk extension"),
                (b"2;a=b\x00\r\n{}\r\n0\r\n\r\n", "chunk extension"),
                (b"2\n{}\r\n0\r\n\r\n", "LF"),
                (b"2\r\n{}xx\r\n0\r\n\r\n", "after the chunk"),
                (b"2\r\n{}\n0\r\n\r\n", "after the chunk"),
                (b"2\r\n{}\r\n0\r\n\n", "LF"),
                (b"2\r\n{}\r\n0\r\nX-T t\r\n\r\n", "trailer"),
                (b"2\r\n{}\r\n0\r\n t\r\n\r\n", "continuation")):
            self.assertRefused(post(b"/hooks/open", te, body), 400, words)
        # too large stays 413, as soon as a chunk size says so
        self.assertRefused(post(b"/hooks/open", te, b"ffffffffffffffffffff\r\n"), 413, "larger")
        self.assertRefused(post(b"/hooks/open", te, b"10001\r\n"), 413, "larger")

    def test_pipelined_after_chunked(self):
        """Two requests in one write, the first chunked with an extension and a trailer: both
        are answered and stored, so the cut bytes did not shift the second one."""
        a = post(b"/hooks/open", [self.HOST, self.JSON, b"Transfer-Encoding: chunked"],
                 b'f;x=y\r\n{"email":"g@x"}\r\n0\r\nT: 1\r\n\r\n')
        b = post(b"/hooks/open", [self.HOST, self.JSON, b"Content-Length: 15",
                                  b"Connection: close"], b'{"email":"h@x"}')
        self.assertAccepted(a + b, [{"email": "g@x"}, {"email": "h@x"}])
        # and a bad second request after a good one: the first is answered, the second refused
        before = len(self.events())
        bad = post(b"/hooks/open", [self.HOST, self.JSON, b"Content-Length: 2",
                                    b"Content-Length: 3"], b"{}")
        good = post(b"/hooks/open", [self.HOST, self.JSON, b"Content-Length: 15"],
                    b'{"email":"i@x"}')
        data, closed = exchange(self.weir.port, good + bad, expect=2)
        self.assertEqual([r[0] for r in responses(data)], [202, 400], data)
        self.assertTrue(closed)
        self.assertEqual(len(self.events()), before + 1)

    def test_split_across_reads(self):
        """A chunked request with extensions and a trailer sent a byte at a time: the cuts
        that span reads leave the right bytes."""
        raw = post(b"/hooks/open", [self.HOST, self.JSON, b"Transfer-Encoding: chunked"],
                   b'7;a="q;q" ; bb=cc\r\n{"email\r\n8;z\r\n":"j@x"}\r\n0;end\r\n'
                   b'X-T: 1\r\nX-U: 2\r\n\r\n')
        before = len(self.events())
        s = socket.create_connection(("127.0.0.1", self.weir.port), timeout=5)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(raw)):
                s.send(raw[i:i + 1])
                time.sleep(0.001)  # separate segments, so separate reads (not a timing check)
            data = b""
            while len(responses(data, complete=True)) < 1:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertEqual(responses(data)[0][0], 202, data)
        self.assertEqual([json.loads(b) for b, _ in self.events()[before:]], [{"email": "j@x"}])

    def test_admin_listener(self):
        """The admin listener applies the same rules."""
        port = self.weir.admin
        for raw, words in (
                (b"GET /healthz HTTP/1.1\r\n\r\n", "Host"),
                (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", "control"),
                (b"GET /healthz HTTP/1.1\nHost: x\n\n", "LF"),
                (b"POST /api/runs/x/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                 b"Content-Length: 0\r\n\r\nx", "Content-Length"),
                (b"POST /api/runs/x/cancel HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                 b"chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"),
                (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "continuation")):
            self.assertRefused(raw, 400, words, port=port)
        data, _ = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(responses(data)[0][0], 200)

    def test_zz_healthy(self):
        """After all of the above, an ordinary client is served."""
        status, body = self.weir.post("/hooks/open", {"email": "z@x"})
        self.assertEqual(status, 202, body)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
