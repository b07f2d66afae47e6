"""Frame accuracy of the trial runner (surveys/static/surveys/runner.js) in headless Chromium.

Self-contained: it makes a temporary folder with its own SQLite database and media, imports two
pools of generated PNGs, creates one timed pairwise survey (fixed exposures, every exposure the
same number of times through ``trials_per_cell``, one noise mask), serves it with
``manage.py runserver`` in a subprocess, and lets one participant take every trial in Debian's
/usr/bin/chromium through Playwright. A script in the page answers each trial (← key) 30 ms after
the mask goes up, so that nothing else runs in the page during an exposure.

It then reads the trial logs the runner stored (``Response.client_timing``) and prints:

- the share of **frame-exact** trials: frames_achieved == frames_planned (target >= 99.5 %);
- achieved - planned in ms, planned being n frames of the measured period F (n F), as
  min / percentiles / max, and the same against the nominal exposure T;
- a histogram of frames_achieved - frames_planned, and per exposure the trials, exact share,
  dropped frames and the server's validity verdicts.

    .venv/bin/python bench/presenter_timing.py                    # 200 trials, ~2.5 min
    .venv/bin/python bench/presenter_timing.py --trials-per-exposure 100 --exposures 125 250 500 1000 2000
    .venv/bin/python bench/presenter_timing.py --quick            # 8 trials, a smoke run

Benchmarks assert nothing; they print figures. Other processes using the CPU (see the load average
printed first) make frames late: run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("EVALSITE_CHROMIUM", "/usr/bin/chromium")
# The flags of tests/browser/conftest.py: no background connections on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# Answers each trial 30 ms after its mask is up: no polling from outside during an exposure.
AUTO_ANSWER = """
document.addEventListener("evalsite:offset", () => setTimeout(() => {
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft", bubbles: true}));
}, 30));
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exposures", type=int, nargs="+", default=[125, 250, 500, 1000],
                        help="exposures in ms (default: 125 250 500 1000)")
    parser.add_argument("--trials-per-exposure", type=int, default=50, help="default 50 (200 trials in all)")
    parser.add_argument("--viewport", default="1280x800", help="browser window, WIDTHxHEIGHT (default 1280x800)")
    parser.add_argument("--image-size", type=int, default=256, help="side of the square test images in px (default 256)")
    parser.add_argument("--port", type=int, default=0, help="port for runserver (default: a free one)")
    parser.add_argument("--quick", action="store_true", help="2 trials per exposure: a smoke run, not a measurement")
    args = parser.parse_args()
    if args.quick:
        args.trials_per_exposure = 2
    return args


def machine_lines() -> list[str]:
    lines = [f"python {platform.python_version()} | {platform.machine()} | {os.cpu_count()} CPU cores visible"]
    try:
        version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        version = "not found"
    lines.append(f"browser: {CHROMIUM} ({version}), headless, flags as in tests/browser/conftest.py")
    load = os.getloadavg()
    lines.append(f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in load)}")
    if load[0] >= 1.0:
        lines.append("WARNING: other processes were using the CPU when this run started: frames may come late")
    return lines


# --- The server -----------------------------------------------------------------------------------


def django_environment(folder: Path) -> dict[str, str]:
    """Settings for a throwaway site in ``folder``: its own SQLite file, media and secret key."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "EVALSITE_VAR_DIR": str(folder),
        "EVALSITE_MEDIA_ROOT": str(folder / "media"),
        "EVALSITE_DEBUG": "false",
        "EVALSITE_BACKGROUND_THREADS": "false",
        "EVALSITE_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
    }


def write_pngs(folder: Path, count: int, size: int, seed: int) -> None:
    import random

    from PIL import Image

    folder.mkdir(parents=True)
    for index in range(count):
        rng = random.Random(seed + index)
        pixels = bytes(rng.randrange(256) for _ in range(16 * 16 * 3))
        image = Image.frombytes("RGB", (16, 16), pixels).resize((size, size), Image.NEAREST)
        image.save(folder / f"image_{index:03d}.png")


def create_survey(folder: Path, exposures: list[int], per_exposure: int, image_size: int) -> str:
    """Migrate the throwaway database and create the open survey; its slug."""
    os.environ.update(django_environment(folder))
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from generation.services import pool_import
    from surveys import services
    from surveys.protocol import Protocol

    call_command("migrate", verbosity=0, interactive=False)
    pools = []
    for number, kind in enumerate(["real", "generated"]):
        write_pngs(folder / "sources" / kind, 12, image_size, seed=1000 * number)
        pools.append(pool_import(name=f"bench {kind}", source=folder / "sources" / kind, kind=kind).pool)
    protocol = Protocol(exposures_ms=tuple(exposures), trials_per_cell=per_exposure, mask_count=1)
    survey = services.survey_create(name="presenter timing", pools=pools, kind="pairwise", protocol=protocol,
                                    trials_per_participant=len(exposures) * per_exposure)
    return services.survey_open(survey=survey).slug


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT, env=django_environment(folder), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"runserver stopped: {server.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("runserver did not start within 60 s")


# --- The participant ------------------------------------------------------------------------------


def take_survey(base_url: str, slug: str, viewport: tuple[int, int], trials: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="en-US")
        context.add_init_script(AUTO_ANSWER)
        page = context.new_page()
        page.goto(f"{base_url}/s/{slug}/")
        page.locator("input[name=consent]").check()
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/instructions/$"))
        started = time.monotonic()
        page.goto(f"{base_url}/s/{slug}/trial/")
        page.wait_for_url(re.compile(r"/done/$"), timeout=(trials * 3 + 60) * 1000)
        print(f"{trials} trials taken in {time.monotonic() - started:.0f} s\n")
        browser.close()


# --- The figures ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def spread_line(name: str, values: list[float]) -> str:
    points = [("min", min(values)), ("p1", percentile(values, 0.01)), ("p5", percentile(values, 0.05)),
              ("p50", percentile(values, 0.5)), ("p95", percentile(values, 0.95)), ("p99", percentile(values, 0.99)),
              ("max", max(values))]
    return f"{name}: " + "  ".join(f"{label} {value:+.2f}" for label, value in points)


def table(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join("  ".join(str(cell).rjust(width) for cell, width in zip(line, widths)) for line in lines)


def report() -> None:
    from surveys.models import Response

    responses = list(Response.objects.filter(trial__exposure_ms__isnull=False).select_related("trial"))
    logs = [(response, response.client_timing) for response in responses]
    frame_ms = statistics.mean(log["frame_ms"] for _, log in logs)
    exact = [log["frames_achieved"] == log["frames_planned"] for _, log in logs]
    print(f"refresh period F measured by the runner: {frame_ms:.3f} ms ({1000 / frame_ms:.1f} Hz)")
    print(f"frame-exact trials: {sum(exact)}/{len(exact)} = {100 * sum(exact) / len(exact):.2f} %  (target >= 99.5 %)")
    print(spread_line("achieved - n F (ms)", [log["achieved_ms"] - log["frames_planned"] * log["frame_ms"] for _, log in logs]))
    print(spread_line("achieved - T   (ms)", [log["achieved_ms"] - log["planned_ms"] for _, log in logs]))
    histogram = Counter(log["frames_achieved"] - log["frames_planned"] for _, log in logs)
    print("\nframes achieved - frames planned:")
    print(table(["frames", "trials"], [[f"{offset:+d}", histogram[offset]] for offset in sorted(histogram)]))
    print("\nby exposure:")
    rows = []
    for exposure in sorted({log["planned_ms"] for _, log in logs}):
        group = [(response, log) for response, log in logs if log["planned_ms"] == exposure]
        rows.append([
            exposure, group[0][1]["frames_planned"], len(group),
            f"{100 * sum(log['frames_achieved'] == log['frames_planned'] for _, log in group) / len(group):.1f} %",
            f"{statistics.mean(log['achieved_ms'] for _, log in group):.2f}",
            sum(log["dropped_frames"] for _, log in group),
            f"{max(log['max_interval_ms'] for _, log in group):.1f}",
            sum(response.valid for response, _ in group),
        ])
    print(table(["T ms", "n", "trials", "exact", "mean achieved ms", "dropped", "max interval ms", "valid"], rows))


def main() -> None:
    args = parse_args()
    viewport = tuple(int(side) for side in args.viewport.split("x"))
    trials = len(args.exposures) * args.trials_per_exposure
    print("\n".join(machine_lines()))
    print(f"{trials} timed pairwise trials: exposures {args.exposures} ms x {args.trials_per_exposure}, "
          f"{args.image_size}² images, viewport {viewport[0]}x{viewport[1]}\n")
    with tempfile.TemporaryDirectory(prefix="evalsite-bench-") as tmp:
        folder = Path(tmp)
        slug = create_survey(folder, args.exposures, args.trials_per_exposure, args.image_size)
        port = args.port or free_port()
        server = start_server(folder, port)
        try:
            take_survey(f"http://127.0.0.1:{port}", slug, viewport, trials)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report()


if __name__ == "__main__":
    main()
