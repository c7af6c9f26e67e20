"""Ages as people read them (``3 weeks ago``), the same in the CLI and the app: go-units' ``HumanDuration``."""

from __future__ import annotations

from datetime import datetime, timezone


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: "Less than a second", "About a minute", "3 weeks" …"""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def created_since(moment: datetime | None, now: datetime | None = None) -> str:
    """``docker images``' CREATED column: "2 hours ago", "N/A" when the image says no time."""
    if moment is None:
        return "N/A"
    now = now or datetime.now(timezone.utc)
    return human_duration((now - moment).total_seconds()) + " ago"
