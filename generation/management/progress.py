"""A one-line progress bar for management commands: redrawn in place on a terminal, a line now and
then when the output is a file or a pipe (CI logs, nohup)."""
import time

BAR_WIDTH = 30
# How often a non-terminal output gets a line, and a terminal a redraw.
LOG_EVERY_S = 10.0
REDRAW_EVERY_S = 0.2


class ProgressBar:
    def __init__(self, stream, *, total: int, unit: str = "it"):
        self.stream, self.total, self.unit = stream, max(1, total), unit
        self.interactive = stream.isatty() if hasattr(stream, "isatty") else False
        self.started = time.monotonic()
        self.last = float("-inf")

    def update(self, done: int, *, suffix: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (REDRAW_EVERY_S if self.interactive else LOG_EVERY_S):
            return
        self.last = now
        line = self._line(done, now - self.started, suffix)
        if self.interactive:
            self.stream.write(f"\r{line}\033[K", ending="")
            self.stream.flush()
        else:
            self.stream.write(line)

    def finish(self, done: int, *, suffix: str = "") -> None:
        self.update(done, suffix=suffix, force=True)
        if self.interactive:
            self.stream.write("")

    def _line(self, done: int, elapsed: float, suffix: str) -> str:
        fraction = min(1.0, done / self.total)
        filled = round(BAR_WIDTH * fraction)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else None
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        eta_text = f" eta {_duration(eta)}" if eta is not None and done < self.total else ""
        tail = f" {suffix}" if suffix else ""
        return f"[{bar}] {done}/{self.total} {self.unit} {fraction:4.0%} {rate:.2f} {self.unit}/s{eta_text}{tail}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
