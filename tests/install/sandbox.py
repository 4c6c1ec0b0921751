#!/usr/bin/env python3
"""sandbox — runs a command under the system-call sandbox weir.service asks systemd for, without
systemd: for the tests, which cannot start the unit (there is no systemd manager here), but can
check that weir works inside what the unit's seccomp settings allow.

usage: sandbox.py PROGRAM [ARGS...]      (execs PROGRAM in place: same pid)

Applied with libseccomp (through ctypes; Debian's libseccomp2), from the installed systemd's own
definitions of the groups (`systemd-analyze syscall-filter`):

  SystemCallFilter=@system-service + ~@privileged @resources, SystemCallErrorNumber=EPERM
  RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX            (others: EAFNOSUPPORT)
  MemoryDenyWriteExecute=yes: mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect with
                              PROT_EXEC, shmat with SHM_EXEC: EPERM
  NoNewPrivileges=yes

The capability bounding set is emptied by setpriv(1) around this script (see weir_sandboxed).
Not emulated: the mount namespace (ProtectSystem=, PrivateTmp=, ...), PrivateUsers=, the user.
"""
import ctypes
import ctypes.util
import errno
import os
import subprocess
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
PR_SET_NO_NEW_PRIVS = 38
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SCMP_CMP_NE, SCMP_CMP_EQ, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ = 1, 4, 6, 7


def act_errno(e):
    return 0x00050000 | (e & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def group(name, seen=None):
    """Every system call of a systemd group (@name), nested groups expanded."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= group(word, seen) if word.startswith("@") else {word}
    return calls


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    libc = ctypes.CDLL(None, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]

    def nr(name):
        n = lib.seccomp_syscall_resolve_name(name.encode())
        return None if n < 0 else n

    def rule(ctx, action, name, *cmps):
        n = nr(name)
        if n is None:
            return
        arr = (ArgCmp * max(1, len(cmps)))(*cmps)
        rc = lib.seccomp_rule_add_array(ctx, action, n, len(cmps), arr)
        if rc != 0:
            sys.exit("sandbox: rule for %s: %s" % (name, os.strerror(-rc)))

    allowed = group("@system-service") - group("@privileged") - group("@resources")

    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("sandbox: PR_SET_NO_NEW_PRIVS failed")

    # 1. what is refused inside calls the allow list lets through (stacked: the stricter wins)
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    for af in [a for a in range(0, 64) if a not in (AF_UNIX, AF_INET, AF_INET6)]:
        rule(ctx, act_errno(errno.EAFNOSUPPORT), "socket", ArgCmp(0, SCMP_CMP_EQ, af, 0))
    wx = PROT_WRITE | PROT_EXEC
    rule(ctx, act_errno(errno.EPERM), "mmap", ArgCmp(2, SCMP_CMP_MASKED_EQ, wx, wx))
    for call in ("mprotect", "pkey_mprotect"):
        rule(ctx, act_errno(errno.EPERM), call,
             ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
    rule(ctx, act_errno(errno.EPERM), "shmat", ArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if lib.seccomp_load(ctx) != 0:
        sys.exit("sandbox: cannot load the argument filter")

    # 2. the allow list; anything else fails with EPERM
    ctx = lib.seccomp_init(act_errno(errno.EPERM))
    for call in sorted(allowed):
        rule(ctx, SCMP_ACT_ALLOW, call)
    if lib.seccomp_load(ctx) != 0:
        sys.exit("sandbox: cannot load the allow list")

    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
