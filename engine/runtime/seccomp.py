"""The seccomp profile every container gets: Docker's intent, written as a deny list.

Docker's default profile allows ~350 named system calls and refuses the
rest. Its intent is to keep a process with root inside the container away
from the kernel's host-wide and cross-namespace interfaces: no new
namespaces (so no user namespace in which to regain full capabilities), no
mount, no keyring, no bpf or perf, no kexec or kernel modules, no reading
or tracing other processes, no clock or reboot. ``seccomp.json`` refuses
exactly those with EPERM and allows everything else, so a new harmless
system call in a newer libc does not break builds the way an outdated allow
list does. ``clone`` is refused only with a namespace flag; ``clone3``,
whose flags a filter cannot read, gets ENOSYS so libc falls back to ``clone``
(Docker does the same).

runc applies the profile from the bundle's config.json; bubblewrap gets it
compiled to BPF by ``seccomp_bpf`` (x86-64).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _profile_text() -> str:
    # beside this module in any installed copy (importlib.resources would load zipfile for nothing)
    return Path(__file__).with_name("seccomp.json").read_text(encoding="utf-8")


def default_profile() -> dict:
    """The OCI ``linux.seccomp`` object (a fresh copy, without the explanatory comments)."""
    profile = json.loads(_profile_text())
    profile.pop("comment", None)
    for rule in profile["syscalls"]:
        rule.pop("comment", None)
    return profile
