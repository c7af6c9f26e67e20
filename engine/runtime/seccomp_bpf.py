"""``seccomp.json`` compiled to a classic BPF program, for bubblewrap's ``--seccomp FD``.

runc compiles the profile itself (through libseccomp); bubblewrap only loads
a ready program. The profile is a deny list, so the program is short: refuse
every foreign ABI (32-bit and x32 calls would reach the same kernel entry
points under other numbers), then compare the call number against each
refused call, look at clone's flags, and allow the rest. x86-64 only; on
other machines ``compile_profile`` says so and bubblewrap runs without it.
"""

from __future__ import annotations

import errno
import os
import struct

from layerlab.engine.runtime.seccomp import default_profile

# x86-64 numbers from <asm/unistd_64.h> for the calls the profile names (the rest don't exist there).
X86_64_NUMBERS = {
    "acct": 163, "add_key": 248, "bpf": 321, "clock_adjtime": 305, "clock_settime": 227, "clone": 56,
    "clone3": 435, "create_module": 174, "delete_module": 176, "fanotify_init": 300, "finit_module": 313,
    "fsconfig": 431, "fsmount": 432, "fsopen": 430, "fspick": 433, "get_kernel_syms": 177, "init_module": 175,
    "io_uring_enter": 426, "io_uring_register": 427, "io_uring_setup": 425, "ioperm": 173, "iopl": 172,
    "kcmp": 312, "kexec_file_load": 320, "kexec_load": 246, "keyctl": 250, "lookup_dcookie": 212, "mount": 165,
    "mount_setattr": 442, "move_mount": 429, "name_to_handle_at": 303, "nfsservctl": 180,
    "open_by_handle_at": 304, "open_tree": 428, "perf_event_open": 298, "pidfd_getfd": 438, "pivot_root": 155,
    "process_vm_readv": 310, "process_vm_writev": 311, "ptrace": 101, "query_module": 178, "quotactl": 179,
    "quotactl_fd": 443, "reboot": 169, "request_key": 249, "setdomainname": 171, "sethostname": 170,
    "setns": 308, "settimeofday": 164, "swapoff": 168, "swapon": 167, "syslog": 103, "umount2": 166,
    "unshare": 272, "uselib": 134, "userfaultfd": 323,
}
AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000

# Opcodes and return values from <linux/filter.h> and <linux/seccomp.h>.
_LOAD_WORD = 0x20          # BPF_LD | BPF_W | BPF_ABS
_JUMP_EQUAL = 0x15         # BPF_JMP | BPF_JEQ | BPF_K
_JUMP_ANY_BIT = 0x45       # BPF_JMP | BPF_JSET | BPF_K
_RETURN = 0x06             # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
# struct seccomp_data: nr at 0, arch at 4, instruction pointer at 8, args[6] (u64) from 16.
_NR, _ARCH, _ARG0_LOW = 0, 4, 16


def _op(code: int, k: int, jump_true: int = 0, jump_false: int = 0) -> tuple[int, int, int, int]:
    if not (0 <= jump_true <= 255 and 0 <= jump_false <= 255):
        raise ValueError("seccomp program too long for a short jump")
    return code, jump_true, jump_false, k


def compile_profile(machine: str | None = None) -> bytes | None:
    """The profile as ``struct sock_filter[]`` bytes, or None where it is not compiled (not x86-64)."""
    if (machine or os.uname().machine) != "x86_64":
        return None
    rules = default_profile()["syscalls"]
    denied = sorted({X86_64_NUMBERS[name] for rule in rules if not rule.get("args") and rule["errnoRet"] == errno.EPERM
                     for name in rule["names"] if name in X86_64_NUMBERS})
    enosys = sorted({X86_64_NUMBERS[name] for rule in rules if rule["errnoRet"] == errno.ENOSYS
                     for name in rule["names"] if name in X86_64_NUMBERS})
    clone_mask = 0
    for rule in rules:
        if rule["names"] == ["clone"] and rule.get("args"):
            clone_mask |= rule["args"][0]["value"]
    body: list[tuple[str, int]] = ([("deny", number) for number in denied] + [("enosys", number) for number in enosys])
    # Layout: checks, then the clone test (3), then ALLOW, DENY, ENOSYS.
    checks = 5 + len(body)
    allow, deny, nosys = checks + 3, checks + 4, checks + 5
    program = [
        _op(_LOAD_WORD, _ARCH),
        _op(_JUMP_EQUAL, AUDIT_ARCH_X86_64, 1, 0),
        _op(_RETURN, _ERRNO | errno.EPERM),               # a foreign ABI
        _op(_LOAD_WORD, _NR),
        _op(_JUMP_ANY_BIT, X32_BIT, deny - 5, 0),          # x32 calls
    ]
    for target, number in body:
        index = len(program)
        program.append(_op(_JUMP_EQUAL, number, (deny if target == "deny" else nosys) - index - 1, 0))
    index = len(program)
    program.append(_op(_JUMP_EQUAL, X86_64_NUMBERS["clone"], 0, allow - index - 1))
    program.append(_op(_LOAD_WORD, _ARG0_LOW))
    index = len(program)
    program.append(_op(_JUMP_ANY_BIT, clone_mask, deny - index - 1, allow - index - 1))
    program += [_op(_RETURN, _ALLOW), _op(_RETURN, _ERRNO | errno.EPERM), _op(_RETURN, _ERRNO | errno.ENOSYS)]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
