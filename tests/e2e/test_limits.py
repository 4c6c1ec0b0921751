#!/usr/bin/env python3
"""End-to-end tests of the listeners' limits against hostile clients (engine/net/http_guard), and
of the file trigger's per-file limits: the real `weir run` on 127.0.0.1, raw sockets and
http.client, Python 3 stdlib only.

usage: test_limits.py WEIR_BINARY

Covers: 200 slowloris connections trickling header bytes while a signed client gets its 202
within 1 s, and their 408 + close at the request deadline; the connection cap (503 with
Retry-After); an oversized body (413), a 1 GB Content-Length with a short body (413 at once),
oversized headers (431); 10,000 levels of JSON nesting, invalid UTF-8 and NUL bytes (400, and
weir stays healthy); the keep-alive idle timeout; the admin listener's 413/431; weir's memory
(VmRSS) after all of it; files over a workflow's max_rows / max_bytes going to failed/.
"""
import http.client
import json
import os
import re
import select
import shutil
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RSS_LIMIT_KB = 64 * 1024
# Sanitizer builds run several times slower and carry shadow memory: timings and the memory
# bound get more room there (the ASan runtime is linked into the binary).
SLOW = False

HR_WORKFLOW = """
name: hr
trigger:
  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }
steps:
  - action: disable-user
    user: "{{ event.email }}"
"""

FILE_WORKFLOWS = {
    "rows.yaml": """
name: rows
trigger:
  file: { dir: ./in-rows, pattern: "*.csv", max_rows: 2 }
steps:
  - action: disable-user
    user: "{{ event.row.email }}"
""",
    "bytes.yaml": """
name: bytes
trigger:
  file: { dir: ./in-bytes, pattern: "*.csv", max_bytes: 100B }
steps:
  - action: disable-user
    user: "{{ event.row.email }}"
""",
}


def make_root(prefix, limits, workflows=None):
    """A root with both listeners, no Graph, these limits and workflows (HR_WORKFLOW)."""
    return harness.setup_root(None, workflows or {"hr.yaml": HR_WORKFLOW}, prefix=prefix,
                              admin="127.0.0.1:0", limits=limits)


def start_weir(root):
    """`weir run --ingest-only` (both ports read), removing root when weir does not start
    (tearDown will not run)."""
    try:
        return harness.Weir(root, ["--ingest-only"], admin=True,
                            env={"HR_WEBHOOK_SECRET": harness.HR_SECRET})
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def read_response(sock, timeout):
    """Reads until the server closes (or timeout): (raw bytes, closed, seconds)."""
    sock.settimeout(timeout)
    start = time.monotonic()
    data = b""
    closed = False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        pass
    return data, closed, time.monotonic() - start


def parse_response(data):
    """(status, {lower-case header: value}, body bytes) of one raw HTTP/1.1 response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0])
    if not m:
        raise AssertionError("not an HTTP response: %r" % data[:200])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


def raw_exchange(port, data, timeout=10):
    """Sends data on a new connection and reads the answer until the close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        raw, closed, secs = read_response(s, timeout)
    finally:
        s.close()
    return raw, closed, secs


class JsonRefusal:
    """Assertions on a refusal: its status, a JSON {"error": ...} body, and the close."""

    def assertRefusal(self, raw, closed, status, words):
        code, headers, body = parse_response(raw)
        self.assertEqual(code, status, raw[:300])
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(int(headers["content-length"]), len(body))
        self.assertIn(words, json.loads(body)["error"])
        self.assertEqual(headers.get("connection"), "close")
        self.assertTrue(closed, "the connection stays open after a refusal")
        return headers


class HostileInputTest(unittest.TestCase, JsonRefusal):
    """One weir, default sizes, short deadlines (2 s to receive a request, 2 s idle)."""

    @classmethod
    def setUpClass(cls):
        cls.root = make_root("weir-limits-", {"request_timeout": "2s", "idle_timeout": "2s",
                                              "max_connections": 1000})
        cls.weir = start_weir(cls.root)

    @classmethod
    def tearDownClass(cls):
        if cls.weir.proc.poll() is None:
            rc = cls.weir.stop()
            assert rc == 0, "weir exited with %d" % rc
        shutil.rmtree(cls.root)

    def assertHealthy(self):
        status, body = self.weir.signed_post({"email": "ok@x"})
        self.assertEqual(status, 202, body)
        self.assertIsNone(self.weir.proc.poll(), "weir died")

    def test_slowloris(self):
        """200 connections trickle header bytes; a signed client is served within 1 s; the
        trickling connections get 408 and are closed at the 2 s deadline, not later."""
        n, deadline = 200, 2.0
        request = b"POST /hooks/hr HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        socks, start, got, closed_at = [], {}, {}, {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.weir.port))
            s.setblocking(False)
            s.send(request[:1])
            socks.append(s)
            start[s] = time.monotonic()
            got[s] = b""
        sent = {s: 1 for s in socks}
        normal = {}

        def normal_client():
            time.sleep(0.6)
            t = time.monotonic()
            normal["status"], normal["body"] = self.weir.signed_post({"email": "n@x"})
            normal["secs"] = time.monotonic() - t

        th = threading.Thread(target=normal_client)
        th.start()
        next_tick = time.monotonic() + 0.5
        end = time.monotonic() + deadline + (8 if SLOW else 4)
        while len(closed_at) < n and time.monotonic() < end:
            open_socks = [s for s in socks if s not in closed_at]
            wait = max(0.0, next_tick - time.monotonic())
            readable, _, _ = select.select(open_socks, [], [], wait)
            for s in readable:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    got[s] += chunk
                else:
                    closed_at[s] = time.monotonic()
            if time.monotonic() >= next_tick:
                next_tick += 0.5
                for s in open_socks:
                    if s in closed_at or got[s] or sent[s] >= len(request):
                        continue
                    try:
                        s.send(request[sent[s]:sent[s] + 1])
                        sent[s] += 1
                    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                        pass
        th.join(timeout=30)
        for s in socks:
            s.close()

        self.assertEqual(normal.get("status"), 202, normal)
        self.assertLess(normal["secs"], 1.0, "the signed client waited %.2f s" % normal["secs"])
        self.assertEqual(len(closed_at), n, "%d of %d trickling connections still open"
                         % (n - len(closed_at), n))
        late = (1.5 if SLOW else 0.75)
        for s in socks:
            took = closed_at[s] - start[s]
            self.assertGreater(took, deadline - 0.25, "closed after %.2f s" % took)
            self.assertLess(took, deadline + late, "closed after %.2f s" % took)
            self.assertRefusal(got[s], True, 408, "not received within 2s")
        self.assertHealthy()

    def test_slow_body(self):
        """Headers at once, then a body trickling in: the same deadline, 408 at 2 s."""
        head = (b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n")
        socks = [socket.create_connection(("127.0.0.1", self.weir.port)) for _ in range(5)]
        start = time.monotonic()
        for s in socks:
            s.sendall(head)
        done = {}
        while len(done) < len(socks) and time.monotonic() - start < 10:
            for s in socks:
                if s in done:
                    continue
                try:
                    s.send(b" ")
                except OSError:
                    pass
            readable, _, _ = select.select([s for s in socks if s not in done], [], [], 0.5)
            for s in readable:
                done[s] = (read_response(s, 5), time.monotonic() - start)
        for s in socks:
            s.close()
        self.assertEqual(len(done), len(socks))
        for (raw, closed, _), took in done.values():
            self.assertRefusal(raw, closed, 408, "not received within 2s")
            self.assertGreater(took, 1.75)
            self.assertLess(took, 2.0 + (1.5 if SLOW else 0.75))

    def test_oversized_body(self):
        """A body over 1MiB: 413 and a close, also when the client sends it all."""
        body = b"[" + b"1," * (512 * 1024) + b"1]"
        self.assertGreater(len(body), 1 << 20)
        head = ("POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        raw, closed, _ = raw_exchange(self.weir.port, head + body)
        self.assertRefusal(raw, closed, 413, "larger than 1MiB")
        # http.client sends the whole body before reading: it still gets the answer.
        status, answer = self.weir.signed_post(body)
        self.assertEqual(status, 413, answer)
        self.assertIn("larger than 1MiB", answer["error"])
        # Chunked: the first chunk already says more than the limit.
        raw, closed, _ = raw_exchange(
            self.weir.port,
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"200000\r\n" + b"x" * 1000)
        self.assertRefusal(raw, closed, 413, "larger than 1MiB")
        self.assertHealthy()

    def test_huge_content_length_short_body(self):
        """Content-Length: 1 GB with a 2-byte body: 413 at once, nothing waited for."""
        raw, closed, secs = raw_exchange(
            self.weir.port,
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n{}")
        self.assertRefusal(raw, closed, 413, "larger than 1MiB")
        self.assertLess(secs, 1.0)
        self.assertHealthy()

    def test_oversized_headers(self):
        """Over 16KiB of request line and headers: 431, one long header or many short ones,
        or a long URL; just under the limit is fine."""
        one = b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        many = (b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\n"
                + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 30) for i in range(1000)) + b"\r\n")
        url = b"GET /" + b"u" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        no_end = b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000
        for data in (one, many, url, no_end):
            raw, closed, secs = raw_exchange(self.weir.port, data)
            self.assertRefusal(raw, closed, 431, "larger than 16KiB")
            self.assertLess(secs, 1.0)
        # 16000 bytes of headers pass the limit check (and then fail authentication).
        body = b'{"email": "h@x"}'
        pad = 16000 - len(b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n")
        status, answer = self.weir.post("/hooks/hr", body,
                                        {"X-Pad": "p" * (pad - 200),
                                         "Content-Type": "application/json"})
        self.assertEqual(status, 401, answer)
        self.assertHealthy()

    def test_deep_json_nesting(self):
        """10,000 levels of nesting, signed (so the parser sees it): 400, weir stays up."""
        for body in (b"[" * 10000 + b"]" * 10000, b'{"a":' * 10000 + b"1" + b"}" * 10000):
            status, answer = self.weir.signed_post(body)
            self.assertEqual(status, 400, answer)
            self.assertIn("invalid JSON", answer["error"])
        self.assertHealthy()

    def test_invalid_utf8(self):
        for body in (b'{"email": "\xff"}', b'{"email": "\xc3\x28"}', b'{"email": "\xe2\x82"}',
                     b'{"\xf8\x88\x80\x80\x80": 1}', b'{"email": "\x80"}'):
            status, answer = self.weir.signed_post(body)
            self.assertEqual(status, 400, (body, answer))
            self.assertIn("invalid JSON", answer["error"])
        self.assertHealthy()

    def test_nul_bytes(self):
        for body in (b'{"email": "a\x00b"}', b'{"email": "a@x"}\x00', b'\x00{"email": "a@x"}',
                     b'{"email": "a@x"}\x00{"email": "b@x"}'):
            status, answer = self.weir.signed_post(body)
            self.assertEqual(status, 400, (body, answer))
        self.assertHealthy()

    def test_malformed_request(self):
        """evhttp's own refusals come as JSON too."""
        raw, closed, _ = raw_exchange(self.weir.port, b"GARBAGE\r\n\r\n")
        self.assertRefusal(raw, closed, 400, "malformed")
        raw, closed, _ = raw_exchange(self.weir.port, b"TRACE /hooks/hr HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRefusal(raw, closed, 501, "not supported")

    def test_keepalive_idle_timeout(self):
        """A kept-alive connection serves several requests, then closes after 2 s idle."""
        conn = http.client.HTTPConnection("127.0.0.1", self.weir.port, timeout=10)
        for i in range(3):
            body = json.dumps({"email": "k%d@x" % i}).encode()
            msg_id = "keep-%d-%d" % (i, time.monotonic_ns())
            conn.request("POST", "/hooks/hr", body=body,
                         headers=harness.signed_headers(body, msg_id))
            r = conn.getresponse()
            self.assertEqual(r.status, 202, r.read())
            r.read()
            time.sleep(0.5)  # idle, but less than the timeout: the connection stays
        sock = conn.sock
        t = time.monotonic()
        data, closed, _ = read_response(sock, 10)
        idle = time.monotonic() - t
        conn.close()
        self.assertEqual(data, b"")
        self.assertTrue(closed)
        self.assertGreater(idle, 1.2)
        self.assertLess(idle, 2.0 + (1.5 if SLOW else 0.75))

    def test_admin_limits(self):
        """The admin listener: 64KiB bodies (413 above) and 16KiB headers (431 above)."""
        raw, closed, secs = raw_exchange(
            self.weir.admin,
            b"POST /api/runs/r_1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        self.assertRefusal(raw, closed, 413, "larger than 64KiB")
        self.assertLess(secs, 1.0)
        raw, closed, _ = raw_exchange(
            self.weir.admin, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 17000
            + b"\r\n\r\n")
        self.assertRefusal(raw, closed, 431, "larger than 16KiB")
        conn = http.client.HTTPConnection("127.0.0.1", self.weir.admin, timeout=10)
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_zz_memory_bounded(self):
        """After every test above (this one runs last): weir's resident memory is bounded."""
        self.assertHealthy()
        rss = self.weir.rss_kb()
        limit = RSS_LIMIT_KB * (4 if SLOW else 1)
        self.assertLess(rss, limit, "weir's VmRSS is %d kB" % rss)


class ConnectionCapTest(unittest.TestCase, JsonRefusal):
    """max_connections: 20 on each listener."""

    def setUp(self):
        self.root = make_root("weir-cap-", {"max_connections": 20, "request_timeout": "5s"})
        self.weir = start_weir(self.root)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def churn(self):
        """Connections ending every way there is, 20 at a time: each must leave the count."""
        ok = json.dumps({"email": "c@x"}).encode()
        pipelined = b"".join(
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s"
            % (len(ok), b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v
                                 in harness.signed_headers(ok, "pipe-%d" % i).items()), ok)
            for i in range(3))
        endings = [
            b"",  # connect, close
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\n",  # half the headers, close
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",  # half a body
            b"POST /hooks/hr HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999\r\n\r\n",  # 413
            b"GET / HTTP/1.1\r\nX: " + b"a" * 20000,  # 431
            b"NONSENSE\r\n\r\n",  # 400
            pipelined,  # three requests at once, answered, then closed
        ]
        for round_ in range(3):
            socks = []
            for i in range(20):
                s = socket.create_connection(("127.0.0.1", self.weir.port))
                data = endings[i % len(endings)]
                if data:
                    s.sendall(data)
                socks.append(s)
            time.sleep(0.2)
            for i, s in enumerate(socks):
                if i % 2:
                    # an abrupt close: RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                s.close()
            time.sleep(0.2)

    def test_21st_connection_gets_503(self):
        self.churn()
        held = [socket.create_connection(("127.0.0.1", self.weir.port)) for _ in range(20)]
        for s in held:
            s.sendall(b"POST /hooks/hr HTTP/1.1\r\n")  # started, never finished
        # All 20 were taken, none refused: the churn left nothing behind in the count.
        time.sleep(0.1)
        for s in held:
            s.settimeout(0.05)
            with self.assertRaises(socket.timeout, msg="a held connection was refused"):
                s.recv(100)
        time.sleep(0.3)  # weir has accepted them all
        for attempt in range(3):
            raw, closed, secs = raw_exchange(
                self.weir.port, b"GET /hooks/hr HTTP/1.1\r\nHost: x\r\n\r\n")
            headers = self.assertRefusal(raw, closed, 503, "too many open connections")
            self.assertEqual(headers.get("retry-after"), "1")
            self.assertLess(secs, 1.0)
        # The admin listener counts its own connections.
        conn = http.client.HTTPConnection("127.0.0.1", self.weir.admin, timeout=10)
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        # Closing the 20 frees their places.
        for s in held:
            s.close()
        deadline = time.time() + 5
        while True:
            status, body = self.weir.signed_post({"email": "after@x"})
            if status == 202 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 202, body)


class DescriptorsTest(unittest.TestCase):
    """weir runs out of file descriptors (a low RLIMIT_NOFILE, more clients than that): it
    pauses accepting instead of spinning on the listening socket, and recovers."""

    def setUp(self):
        self.root = make_root("weir-nofile-", {"request_timeout": "30s"})
        import resource
        saved = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, saved[1]))
        try:
            self.weir = start_weir(self.root)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, saved)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.weir.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_out_of_descriptors(self):
        held = []
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", self.weir.port))
            s.sendall(b"P")
            held.append(s)
        time.sleep(0.5)
        before = self.cpu_seconds()
        time.sleep(2)
        used = self.cpu_seconds() - before
        self.assertLess(used, 0.25, "weir used %.2f s of CPU in 2 s while out of descriptors"
                        % used)
        self.assertIsNone(self.weir.proc.poll(), "weir died")
        for s in held:
            s.close()
        deadline = time.time() + 10
        while True:
            try:
                status, body = self.weir.signed_post({"email": "fd@x"}, timeout=2)
            except OSError as e:
                status, body = None, str(e)
            if status == 202 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 202, body)


class FileLimitsTest(unittest.TestCase):
    """The file trigger's max_rows and max_bytes: over them, the file goes to failed/ with a
    NAME.error naming the limit."""

    def setUp(self):
        self.root = make_root("weir-filelim-", {}, FILE_WORKFLOWS)
        self.weir = start_weir(self.root)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def drop(self, sub, name, text):
        tmp = os.path.join(self.root, sub, "." + name)
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.root, sub, name))

    def wait_for(self, path, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path):
                return
            time.sleep(0.05)
        raise AssertionError("%s never appeared" % path)

    def read(self, path):
        self.wait_for(path)
        with open(path) as f:
            return f.read()

    def test_max_rows_and_max_bytes(self):
        self.drop("in-rows", "ok.csv", "email\na@x\nb@x\n")
        self.drop("in-rows", "three.csv", "email\na@x\nb@x\nc@x\n")
        self.drop("in-bytes", "small.csv", "email\na@x\n")
        self.drop("in-bytes", "big.csv", "email\n" + "".join("u%03d@x\n" % i for i in range(20)))
        self.wait_for(os.path.join(self.root, "in-rows", "done", "ok.csv"))
        self.wait_for(os.path.join(self.root, "in-bytes", "done", "small.csv"))
        text = self.read(os.path.join(self.root, "in-rows", "failed", "three.csv.error"))
        self.assertIn("\nmore than 2 rows: the limit per file (max_rows of workflow rows)\n", text)
        text = self.read(os.path.join(self.root, "in-bytes", "failed", "big.csv.error"))
        self.assertIn("\nthe file is larger than 100 bytes, the limit per file "
                      "(max_bytes of workflow bytes)\n", text)
        self.assertTrue(os.path.exists(os.path.join(self.root, "in-rows", "failed", "three.csv")))


if __name__ == "__main__":
    harness.parse_args("WEIR")
    with open(harness.WEIR, "rb") as f:
        SLOW = b"__asan_init" in f.read()
    unittest.main(verbosity=2)
