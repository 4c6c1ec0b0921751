#!/usr/bin/env python3
"""What `cmake --install` puts on a machine, checked the way an operator would use it: the
files, the systemd unit (systemd-analyze verify and security), the sysusers.d entry
(systemd-sysusers into a scratch root), the man page (man -l, lexgrog) and the example
configuration (weir validate, and `weir run` on it laid out as /etc/weir). Python 3 stdlib.

usage: test_install.py CMAKE BUILD_DIR SOURCE_DIR [unittest names...]
       e.g. test_install.py /usr/bin/cmake build . InstallFiles

Each test class installs into its own temporary prefix (`cmake --install BUILD --prefix P`).
Processes started here listen on 127.0.0.1 only.
"""
import filecmp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

CMAKE = BUILD = SOURCE = None

# `systemd-analyze security` rates exposure 0 (locked down) to 10 (unprotected); the unit
# must stay at or under this.
SECURITY_THRESHOLD = 2.0


def run(cmd, env=None, **kw):
    """cmd's CompletedProcess (text; stdout and stderr kept apart), never raising on exit."""
    return subprocess.run(cmd, env=dict(os.environ, **(env or {})), capture_output=True,
                          text=True, timeout=120, **kw)


def install(prefix, destdir=None):
    """cmake --install BUILD --prefix prefix (staged under destdir when given)."""
    env = {"DESTDIR": destdir} if destdir else {}
    p = run([CMAKE, "--install", BUILD, "--prefix", prefix], env=env)
    if p.returncode != 0:
        raise AssertionError("cmake --install failed:\n%s%s" % (p.stdout, p.stderr))
    return p


class Installed(unittest.TestCase):
    """A fresh install into self.prefix for the class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weir-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        install(cls.prefix)
        cls.weir = os.path.join(cls.prefix, "bin", "weir")
        cls.unit = os.path.join(cls.prefix, "lib", "systemd", "system", "weir.service")
        cls.man = os.path.join(cls.prefix, "share", "man", "man1", "weir.1")
        cls.share = os.path.join(cls.prefix, "share", "weir")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scratch(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def unit_text(self):
        with open(self.unit) as f:
            return f.read()

    def write_unit(self, name, text):
        """A copy of the unit under another name (systemd-analyze takes the file's name)."""
        d = self.scratch(name)
        path = os.path.join(d, "weir.service")
        with open(path, "w") as f:
            f.write(text)
        return path


class InstallFiles(Installed):
    def test_listed_files(self):
        for rel in ("bin/weir", "share/man/man1/weir.1", "share/weir/weir.yaml.example",
                    "lib/systemd/system/weir.service", "lib/sysusers.d/weir.conf"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, rel)), rel)
        self.assertTrue(os.access(self.weir, os.X_OK))
        p = run([self.weir, "--version"])
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^weir \d+\.\d+\.\d+")

    def test_examples_are_the_workflows_tree(self):
        # every file of workflows/ (examples, events/, hr/, READMEs), the same bytes
        src = os.path.join(SOURCE, "workflows")
        dst = os.path.join(self.share, "examples")
        n = 0
        for root, _, files in os.walk(src):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), src)
                self.assertTrue(filecmp.cmp(os.path.join(src, rel), os.path.join(dst, rel),
                                            shallow=False), rel)
                n += 1
        self.assertGreater(n, 20)
        for sub in ("events", "hr", "events/hr"):
            self.assertTrue(os.path.isdir(os.path.join(dst, sub)), sub)
        # the mapping hooks the examples name sit where `script:` finds them beside the config
        for name in os.listdir(os.path.join(SOURCE, "scripts")):
            if name.endswith(".lua"):
                self.assertTrue(os.path.isfile(os.path.join(self.share, "scripts", name)), name)

    def test_unit_names_the_installed_binary(self):
        text = self.unit_text()
        self.assertIn("\nExecStart=%s run --config /etc/weir/weir.yaml\n" % self.weir, text)
        self.assertNotRegex(text, r"@[A-Z_]+@")  # nothing left unfilled
        with open(os.path.join(self.prefix, "lib", "sysusers.d", "weir.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^u weir ")

    def test_man_page_is_the_binarys(self):
        p = run([self.weir, "help", "--man"])
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.man) as f:
            self.assertEqual(f.read(), p.stdout, "the installed weir.1 is stale")

    def test_destdir_stages_without_entering_the_unit(self):
        stage = self.scratch("stage")
        install("/usr", destdir=stage)
        self.assertTrue(os.path.isfile(os.path.join(stage, "usr/bin/weir")))
        self.assertTrue(os.path.isfile(os.path.join(stage, "usr/lib/sysusers.d/weir.conf")))
        with open(os.path.join(stage, "usr/lib/systemd/system/weir.service")) as f:
            text = f.read()
        self.assertIn("\nExecStart=/usr/bin/weir run --config /etc/weir/weir.yaml\n", text)
        self.assertNotIn(stage, text)


class InstallVerify(Installed):
    def verify(self, unit, env=None):
        """(exit status, everything systemd-analyze verify printed)."""
        man = {"MANPATH": os.path.join(self.prefix, "share", "man")}
        p = run(["systemd-analyze", "verify", unit], env=dict(man, **(env or {})))
        return p.returncode, (p.stdout + p.stderr).strip()

    def test_installed_unit_verifies_clean(self):
        # Documentation=man:weir(1) is looked up too: the installed page must be found
        rc, out = self.verify(self.unit)
        self.assertEqual((rc, out), (0, ""))

    def test_a_broken_unit_is_caught(self):
        # systemd-analyze verify exits 0 on an unknown key or bad value and only warns: a
        # clean verify is exit 0 *and* no output
        text = self.unit_text()
        for old, new, says in (
                ("\nType=notify\n", "\nTyp=notify\n", "Unknown key"),
                ("\nProtectSystem=strict\n", "\nProtectSystem=strcit\n", "strcit"),
                ("\nSystemCallFilter=@system-service\n", "\nSystemCallFilter=@system-servce\n",
                 "system-servce"),
                ("\nExecStart=" + self.weir, "\nExecStart=" + self.weir + "-missing", "missing"),
                ("\nUser=weir\n", "\nUser=we ir\n", "we ir")):
            self.assertIn(old, text)
            rc, out = self.verify(self.write_unit("bad", text.replace(old, new, 1)))
            self.assertTrue(rc != 0 or out, "verify passed a unit with %r" % new)
            self.assertIn(says, out)

    def test_execstart_flags_are_weirs(self):
        # the unit's command line parses: a missing config is bad input (1), not a usage error
        m = re.search(r"(?m)^ExecStart=(.*)$", self.unit_text())
        argv = m.group(1).split()
        self.assertEqual(argv[:3], [self.weir, "run", "--config"])
        p = run(argv[:3] + [os.path.join(self.tmp, "no-such", "weir.yaml")])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no-such", p.stderr)

    def test_unit_settings(self):
        text = self.unit_text()
        for line in ("Type=notify", "User=weir", "Group=weir", "ExecReload=/bin/kill -HUP $MAINPID",
                     "Restart=on-failure", "StateDirectory=weir", "ConfigurationDirectory=weir",
                     "EnvironmentFile=-/etc/weir/weir.env", "ProtectSystem=strict",
                     "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes",
                     "CapabilityBoundingSet=", "AmbientCapabilities=",
                     "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "UMask=0077"):
            self.assertRegex(text, r"(?m)^%s$" % re.escape(line))

    def test_sysusers_creates_the_units_user(self):
        root = self.scratch("sysroot")
        os.makedirs(os.path.join(root, "etc"))
        os.makedirs(os.path.join(root, "usr", "lib", "sysusers.d"))
        shutil.copy(os.path.join(self.prefix, "lib", "sysusers.d", "weir.conf"),
                    os.path.join(root, "usr", "lib", "sysusers.d", "weir.conf"))
        p = run(["systemd-sysusers", "--root=" + root])
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            user = [line.split(":") for line in f.read().splitlines() if line.startswith("weir:")]
        with open(os.path.join(root, "etc", "group")) as f:
            group = [line for line in f.read().splitlines() if line.startswith("weir:")]
        self.assertEqual(len(user), 1)
        self.assertEqual(len(group), 1)
        self.assertEqual(user[0][5:], ["/var/lib/weir", "/usr/sbin/nologin"])
        self.assertLess(int(user[0][2]), 1000)  # a system user
        self.assertEqual(user[0][3], group[0].split(":")[2])


class InstallSecurity(Installed):
    def score(self, unit):
        p = run(["systemd-analyze", "security", "--offline=true", unit])
        m = re.search(r"Overall exposure level for weir\.service: (\d+\.\d+)", p.stdout)
        if not m:
            raise AssertionError("no score in:\n%s%s" % (p.stdout, p.stderr))
        return float(m.group(1)), p.stdout

    def test_score(self):
        score, report = self.score(self.unit)
        print("\nsystemd-analyze security --offline=true weir.service: %.1f" % score)
        print("\n".join(line for line in report.splitlines() if line.startswith("✗")))
        self.assertLessEqual(score, SECURITY_THRESHOLD, report)

    def test_the_measure_can_fail(self):
        # the same unit without its sandbox scores far above the threshold
        keep = ("[", "Type=", "ExecStart=", "ExecReload=", "User=", "Group=", "Description=",
                "WantedBy=", "Restart=")
        bare = "\n".join(line for line in self.unit_text().splitlines()
                         if line.startswith(keep)) + "\n"
        score, _ = self.score(self.write_unit("bare", bare))
        self.assertGreater(score, SECURITY_THRESHOLD + 3)


class InstallMan(Installed):
    def render(self, width=80):
        p = run(["man", "-l", "--warnings=all", self.man],
                env={"MANWIDTH": str(width)})
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout, p.stderr

    def test_renders_without_warnings(self):
        for width in (60, 80, 120):
            _, err = self.render(width)
            self.assertEqual(err, "", "man -l warns at width %d" % width)

    def test_whatis_entry(self):
        p = run(["lexgrog", self.man])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('"weir - event-driven identity lifecycle workflows', p.stdout)

    def sections(self, text):
        """{SECTION: [its lines]} of a rendered page (headings at the margin)."""
        out, cur = {}, None
        for line in text.splitlines():
            if re.match(r"^[A-Z][A-Z ]+$", line):
                cur = line
                out[cur] = []
            elif cur:
                out[cur].append(line)
        return out

    def names(self, *args):
        """The first column of `weir ARGS` lines indented by two (commands, actions...)."""
        p = run([self.weir] + list(args))
        return [m.group(1) for m in re.finditer(r"(?m)^  ([a-z][a-z-]*) ", p.stdout)]

    def test_names_everything_weir_help_lists(self):
        text, _ = self.render()
        s = self.sections(text)
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ACTIONS", "TRIGGERS",
                     "FILES", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO"):
            self.assertIn(name, s)

        def headings(section):
            return {line.strip() for line in s[section] if re.match(r"^   \S", line)}

        commands = self.names("--help")
        self.assertIn("run", commands)
        self.assertIn("validate", commands)
        self.assertGreaterEqual(len(commands), 15)
        self.assertEqual(set(commands) - headings("COMMANDS"), set())
        actions = self.names("help", "actions")
        self.assertGreater(len(actions), 15)
        self.assertEqual(set(actions) - headings("ACTIONS"), set())
        triggers = self.names("help", "triggers")
        self.assertIn("webhook", triggers)
        self.assertEqual(set(triggers) - headings("TRIGGERS"), set())
        # each command's usage line is there, as `weir help COMMAND` prints it (compared
        # without blanks: the page breaks long usages at '|')
        body = re.sub(r"\s+", "", "".join(s["COMMANDS"]))
        for c in commands:
            usage = run([self.weir, "help", c]).stdout.splitlines()[0]
            self.assertTrue(usage.startswith("usage: "), usage)
            self.assertIn(re.sub(r"\s+", "", usage[len("usage: "):]), body, c)
        # the exit codes of engine/base/exit_code.h
        codes = [line.strip() for line in s["EXIT STATUS"] if re.match(r"^\s+\d\s", line)]
        self.assertEqual([c.split()[0] for c in codes], ["0", "1", "2", "3"])

    def test_text_is_escaped(self):
        with open(self.man) as f:
            lines = f.read().splitlines()
        requests = {".TH", ".SH", ".SS", ".PP", ".TP", ".RS", ".RE", ".br", ".nh", ".ad"}
        for line in lines:
            if line.startswith('.\\"'):  # a comment
                continue
            # a text line never starts like a request (a '.' or '\'' in text gets \& first)
            if line.startswith((".", "'")):
                self.assertIn(line.split()[0], requests, line)
            # a bare hyphen in text would render as a hyphen, not the minus options need
            self.assertNotRegex(line, r"(?<!\\)-", line)


class InstallExampleConfig(Installed):
    def test_validates_with_the_examples(self):
        example = os.path.join(self.share, "weir.yaml.example")
        examples = os.path.join(self.share, "examples")
        p = run([self.weir, "validate", "-c", example, examples, os.path.join(examples, "hr")])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^ok: \d+ workflows")

    def test_runs_laid_out_as_etc_weir(self):
        # the README's layout, under a scratch root: weir.yaml, workflows/, scripts/
        root = self.scratch("root")
        etc = os.path.join(root, "etc", "weir")
        os.makedirs(etc)
        os.makedirs(os.path.join(root, "var", "lib", "weir"))
        shutil.copytree(os.path.join(self.share, "examples"), os.path.join(etc, "workflows"))
        shutil.copytree(os.path.join(self.share, "scripts"), os.path.join(etc, "scripts"))
        with open(os.path.join(self.share, "weir.yaml.example")) as f:
            text = f.read()
        self.assertIn("127.0.0.1:8080", text)  # loopback listeners
        self.assertIn("127.0.0.1:8081", text)
        self.assertRegex(text, r"client_secret: env:\w+")
        self.assertNotRegex(text, r"(?m)^\s*(client_secret|token):\s*(?!env:|file:)\S")
        text = (text.replace("/etc/weir", etc).replace("/var/lib/weir", root + "/var/lib/weir")
                .replace("127.0.0.1:8080", "127.0.0.1:0").replace("127.0.0.1:8081", "127.0.0.1:0"))
        cfg = os.path.join(etc, "weir.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        top = [n for n in os.listdir(os.path.join(etc, "workflows")) if n.endswith(".yaml")]
        p = run([self.weir, "validate", "-c", cfg])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "ok: %d workflows" % len(top))

        # and the daemon starts on it (runs off: no Graph here) and says READY=1
        sock_path = os.path.join(root, "notify.sock")
        manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        manager.bind(sock_path)
        manager.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path,
                   HR_WEBHOOK_SECRET="whsec_ZXhhbXBsZS1jb25maWctdGVzdC1rZXk=")
        log = open(os.path.join(root, "weir.log"), "w+")
        proc = subprocess.Popen([self.weir, "run", "--config", cfg, "--ingest-only"], env=env,
                                stdout=log, stderr=log)
        try:
            try:
                msg = manager.recv(4096).decode()
            except socket.timeout:
                log.seek(0)
                raise AssertionError("no READY=1:\n" + log.read())
            self.assertTrue(msg.startswith("READY=1\n"), msg)
            self.assertIn("%d workflows" % len(top), msg)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
            self.assertTrue(os.path.isfile(os.path.join(root, "var", "lib", "weir", "weir.db")))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            manager.close()
            log.close()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    CMAKE, BUILD, SOURCE = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    del sys.argv[1:4]
    for tool in ("systemd-analyze", "systemd-sysusers", "man", "lexgrog"):
        if not shutil.which(tool):
            sys.exit("%s is missing: ./scripts/deps installs systemd and man-db" % tool)
    unittest.main(verbosity=2)
