"""Read a child's stdout and stderr together, line by line, keeping the last lines.

One thread, one selector: each complete line goes to ``on_output(stream,
line)`` as soon as it arrives (``stream`` is "stdout" or "stderr", ``line``
the raw bytes without the newline), and the last ``tail_lines`` lines of
both streams, decoded, are kept for error messages.
"""

from __future__ import annotations

import os
import selectors
import subprocess
from collections import deque
from typing import Callable

OutputCallback = Callable[[str, bytes], None]

TAIL_LINES = 20
# A line longer than this is delivered in pieces rather than buffered without bound.
_MAX_LINE = 64 * 1024


def pump_output(process: subprocess.Popen, on_output: OutputCallback | None,
                tail_lines: int = TAIL_LINES) -> list[str]:
    """Stream ``process``'s piped stdout/stderr until both close; return the output tail."""
    tail: deque[str] = deque(maxlen=tail_lines)
    pending: dict[str, bytes] = {}

    def emit(stream: str, line: bytes) -> None:
        tail.append(line.decode("utf-8", errors="replace").rstrip("\r"))
        if on_output is not None:
            on_output(stream, line)

    with selectors.DefaultSelector() as selector:
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            if pipe is not None:
                selector.register(pipe, selectors.EVENT_READ, name)
                pending[name] = b""
        while selector.get_map():
            for key, _ in selector.select():
                stream = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if pending[stream]:
                        emit(stream, pending.pop(stream))
                    continue
                buffer = pending[stream] + chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    emit(stream, line)
                while len(buffer) > _MAX_LINE:
                    emit(stream, buffer[:_MAX_LINE])
                    buffer = buffer[_MAX_LINE:]
                pending[stream] = buffer
    return list(tail)
