"""When and how long to wait before asking a registry again.

A registry that answers 429 (too many requests) or a 5xx that may pass
(500, 502, 503, 504) is asked again after a pause: the ``Retry-After`` it
sent (seconds or an HTTP date), else an exponential backoff. Both are
bounded, and so is the number of tries, so a broken registry still ends the
command with one clear line instead of hanging it.
"""

from __future__ import annotations

import email.utils
import time
from typing import Callable

from layerlab.engine.record_type import field, record

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@record(frozen=True)
class RetryPolicy:
    attempts: int = 5                # tries in all, the first one included
    base_delay: float = 0.5          # the first backoff; each later one doubles
    max_delay: float = 30.0          # no pause is longer, whatever Retry-After asks
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def should_retry(self, status: int, tries: int) -> bool:
        return status in RETRY_STATUSES and tries < self.attempts

    def delay(self, tries: int, retry_after: str = "") -> float:
        """The pause after the ``tries``-th failed try."""
        asked = parse_retry_after(retry_after)
        wait = asked if asked is not None else self.base_delay * (2 ** (tries - 1))
        return max(0.0, min(wait, self.max_delay))

    def wait(self, tries: int, retry_after: str = "") -> None:
        self.sleep(self.delay(tries, retry_after))


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
