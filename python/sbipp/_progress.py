"""Progress bars for long library calls, drawn by Python so that they show in terminals and notebooks.

The library reports (stage, done, total, unit, status) on the calling thread, at most ten times a
second (python/src/call_context.hpp); every report is also where Ctrl-C is noticed.
"""

import shutil
import sys
import time


def _interactive():
    """True when a person watches: stderr is a terminal, or the code runs in a Jupyter kernel."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    return "ipykernel" in sys.modules


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class TextBar:
    """One bar per stage on sys.stderr: "simulate [#####.....] 5000/10000 sim, 2.1e+03 sim/s, ETA 2.4 s"."""

    def __init__(self, stream=None):
        self._stream = stream
        self._stage = None
        self._start = 0.0
        self._width = 0

    def __call__(self, stage, done, total, unit, status):
        stream = self._stream or sys.stderr
        now = time.monotonic()
        if stage != self._stage:
            self.close()
            self._stage, self._start = stage, now
        elapsed = now - self._start
        fraction = min(1.0, done / total) if total else 0.0
        slots = 20
        filled = int(round(fraction * slots))
        text = f"{stage} [{'#' * filled}{'.' * (slots - filled)}] {done}/{total} {unit}"
        if elapsed > 0 and done > 0:
            rate = done / elapsed
            text += f", {rate:.3g} {unit}/s"
            if total and done < total:
                text += f", ETA {_duration((total - done) / rate)}"
        if status:
            text += f"  {status}"
        columns = shutil.get_terminal_size((100, 20)).columns - 1
        text = text[:columns]
        stream.write("\r" + text + " " * max(0, self._width - len(text)))
        stream.flush()
        self._width = len(text)

    def close(self):
        """Ends the current bar's line."""
        if self._stage is not None:
            stream = self._stream or sys.stderr
            stream.write("\n")
            stream.flush()
        self._stage = None
        self._width = 0


class Progress:
    """What a call does with `progress=`: None = a bar when someone watches (a terminal or a notebook),
    True = always a bar, False = none, or a callable (stage, done, total, unit, status) of your own."""

    def __init__(self, progress):
        self._bar = None
        if callable(progress) and not isinstance(progress, bool):
            self.callback = progress
        elif progress is True or (progress is None and _interactive()):
            self._bar = TextBar()
            self.callback = self._bar
        elif progress is None or progress is False:
            self.callback = None
        else:
            raise TypeError(f"progress: expected None, True, False or a callable, got {progress!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False
