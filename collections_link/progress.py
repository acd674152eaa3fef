"""A one-line progress display for long imports: rows done, rate and time left.

It draws only for a person at a terminal. When stderr is not a TTY (a log file, a pipe, cron)
or CI is set, it stays silent, so logs and CI output hold no carriage-return noise.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_FALSE = {"", "0", "false", "no", "off"}


def progress_wanted(stream: TextIO | None = None) -> bool:
    """True when progress should be drawn on `stream` (stderr by default)."""
    stream = stream if stream is not None else sys.stderr
    if os.environ.get("CI", "").strip().lower() not in _FALSE:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Call `update(rows=..., done=...)` as often as you like; it redraws at most every
    `interval` seconds. `done` and `total` are in any unit (bytes read, lines merged) and give
    the estimate of the time left; `rows` is what the reader sees counted.

    `enabled`: True draws, False never, None decides with progress_wanted()."""

    def __init__(
        self,
        *,
        label: str,
        total: float | None = None,
        unit: str = "rows",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 0.5,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_wanted(self.stream) if enabled is None else enabled
        self.interval = interval
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._width = 0
        self.rows = 0
        self.done: float | None = None

    def update(self, *, rows: int, done: float | None = None) -> None:
        if not self.enabled:
            return
        self.rows = rows
        self.done = done
        now = time.monotonic()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The text of the progress line as it would be drawn now."""
        elapsed = max((now if now is not None else time.monotonic()) - self._start, 1e-9)
        rate = self.rows / elapsed
        text = f"{self.label}: {self.rows:,} {self.unit}, {rate:,.0f} {self.unit}/s"
        if self.total and self.done:
            fraction = min(self.done / self.total, 1.0)
            left = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
            text += f", {fraction:.0%}, about {_duration(left)} left"
        return text

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (nothing when disabled or never drawn)."""
        if not self.enabled or not self.rows:
            return
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()
