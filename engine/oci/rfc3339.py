"""Timestamps as image configs and history entries write them: RFC 3339, as Go prints and reads it.

Apart from ``config`` so that listing images (which shows each one's age) needs
no config types.
"""

from __future__ import annotations

from datetime import datetime, timezone


def parse_time(text: str) -> datetime | None:
    """RFC 3339 with up to nanosecond fractions (Go writes 9 digits; Python takes 6)."""
    if not text:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    main, dot, rest = value.partition(".")
    if dot:
        digits = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                rest = rest[i:]
                break
            digits += ch
        else:
            rest = ""
        value = f"{main}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC the way Go prints it (nanoseconds trimmed of zeros)."""
    moment = moment.astimezone(timezone.utc)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        base += "." + f"{moment.microsecond:06d}".rstrip("0")
    return base + "Z"
