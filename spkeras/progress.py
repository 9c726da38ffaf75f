"""Progress bars on standard error: redrawn in place on a terminal, a few plain lines otherwise.

Standard output stays reserved for results (tables, ``wrote FILE`` lines), so ``spkeras evaluate ... >
results.txt`` captures the table only, and no ANSI escape sequence is ever written: a terminal gets a bar
redrawn with a carriage return, a file or a pipe gets one plain line at each quarter of the work.
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """A progress bar over ``total`` units written to a text stream (default: ``sys.stderr``).

    Args:
        total: Number of units of work (e.g. images); 0 or less shows a count without a bar.
        enabled: Show anything at all; a disabled bar ignores every update.
        unit_name: Name of one unit, shown after the count (``"image"`` gives ``300/1000 images``).
        stream: Where to write; default ``sys.stderr`` looked up at creation.
        dynamic: Redraw one line in place (``\\r``); default: whether ``stream`` is a terminal.
        interval: Minimum seconds between two redraws on a terminal.
        label: The phase of the work, shown first (``"simulation"`` gives ``simulation: 300/1000 images``).

    Examples:
        >>> import io
        >>> stream = io.StringIO()
        >>> bar = ProgressBar(200, unit_name="image", stream=stream, label="simulation")
        >>> for done in (50, 100, 150):
        ...     bar.update(done)
        >>> print(stream.getvalue(), end="")
        simulation:  50/200 images  25%
        simulation: 100/200 images  50%
        simulation: 150/200 images  75%
    """

    WIDTH = 24

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        unit_name: str = "step",
        stream=None,
        dynamic: bool | None = None,
        interval: float = 0.1,
        label: str = "",
    ):
        self.total = int(total)
        self.enabled = bool(enabled)
        self.unit_name = unit_name
        self.stream = sys.stderr if stream is None else stream
        if dynamic is None:
            isatty = getattr(self.stream, "isatty", None)
            dynamic = bool(isatty and isatty())
        self.dynamic = dynamic
        self.interval = interval
        self.label = label
        self._started = time.perf_counter()
        self._last_draw = -float("inf")
        self._quarters_shown = 0
        self._finished = False
        self._width = 0
        self._done: int | None = None

    def _line(self, done: int, finished: bool) -> str:
        prefix = f"{self.label}: " if self.label else ""
        return prefix + self._counts(done, finished)

    def _counts(self, done: int, finished: bool) -> str:
        digits = len(str(max(self.total, 1)))
        units = self.unit_name if self.total == 1 else f"{self.unit_name}s"
        elapsed = time.perf_counter() - self._started
        if self.total <= 0:
            return f"{done} {units}" + (f" done in {elapsed:.0f}s" if finished else f" {elapsed:.0f}s")
        fraction = min(max(done / self.total, 0.0), 1.0)
        text = f"{done:>{digits}}/{self.total} {units} {fraction:>4.0%}"
        if self.dynamic:
            filled = int(self.WIDTH * fraction)
            text += " [" + "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1) + "]"
        if finished:
            text += f" done in {elapsed:.0f}s"
        elif self.dynamic and done > 0:
            text += f" ETA {elapsed * (self.total - done) / done:.0f}s"
        return text

    def update(self, done: int) -> None:
        """Reports that ``done`` units out of ``total`` are finished (a running count, not an increment)."""
        if not self.enabled or self._finished:
            return
        done = int(done)
        finished = self.total > 0 and done >= self.total
        if self.dynamic:
            now = time.perf_counter()
            if not finished and now - self._last_draw < self.interval:
                return
            self._last_draw = now
            line = self._line(done, finished)
            self.stream.write("\r" + line + " " * max(self._width - len(line), 0) + ("\n" if finished else ""))
            self._width = len(line)
        else:
            quarters = 4 if finished else (4 * done // self.total if self.total > 0 else 0)
            if quarters <= self._quarters_shown:
                self._done = done  # an unknown total prints its count on close()
                return
            self._quarters_shown = quarters
            self.stream.write(self._line(done, finished) + "\n")
        self._finished = finished
        self._done = done
        self.stream.flush()

    def close(self) -> None:
        """Ends the bar: a terminal line gets its newline, an unknown total (``total <= 0``) its final count.

        Calling it after the last ``update`` of a known total changes nothing; it is safe to call twice.
        """
        if not self.enabled or self._finished:
            return
        self._finished = True
        if self.dynamic and self._width:
            self.stream.write("\n")
        elif not self.dynamic and self.total <= 0 and self._done is not None:
            self.stream.write(self._line(self._done, True) + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def progress_bar(total: int, enabled: bool = True, unit_name: str = "step", label: str = "") -> ProgressBar:
    """A :class:`ProgressBar` over ``total`` units on standard error (plain text when it is not a terminal).

    Args:
        total: Number of units of work.
        enabled: Show the bar (pass ``verbose``); a disabled bar writes nothing.
        unit_name: Name of one unit, e.g. ``"image"``.
        label: The phase of the work, shown before the count, e.g. ``"statistics"`` or ``"simulation"``.

    Returns:
        An object with ``update(done)``, where ``done`` is the running count of finished units, and ``close()``
        (also a context manager) that ends the line; needed only when ``total`` is unknown (``<= 0``) or the
        work stops early.

    Examples:
        >>> bar = progress_bar(1000, enabled=False, unit_name="image", label="simulation")
        >>> bar.update(500)  # disabled: writes nothing
        >>> bar.total, bar.unit_name, bar.label
        (1000, 'image', 'simulation')
    """
    return ProgressBar(total, enabled=enabled, unit_name=unit_name, label=label)
