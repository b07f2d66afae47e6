"""Whether a trial was shown as planned, from the browser's trial log. Pure Python: no Django.

The rules are the contract's (docs/participant-protocol.md, "The trial log" and "Validity"): a
timed trial is valid when its exposure lasted n frames of the measured refresh period F within
half a frame plus 1 ms, no frame was dropped, and the page kept focus; an untimed trial is valid
whenever it was answered (a missing log only means the page ran without JavaScript).
"""
from __future__ import annotations

import math

NO_LOG = "no timing log"
# Float slack so that a value exactly on the tolerance, computed in another order, still counts as on it.
EPSILON_MS = 1e-6


# A half frame is recognised to within this many frames. 125 ms at 60 Hz is exactly 7.5 frames,
# but F is measured, and its last digits (16.6664 or 16.6670 ms) would otherwise decide between
# 7 and 8 frames from one participant to the next. The slack is 0.17 ms at 60 Hz.
HALF_FRAME_SLACK = 0.01


def frames_for(exposure_ms: float, frame_ms: float) -> int:
    """Frames an exposure of ``exposure_ms`` lasts on a screen refreshing every ``frame_ms``: round half up, 1 at least.

    runner.js computes Math.max(1, Math.floor(T / F + 0.5 + 0.01)); IEEE doubles make this the same number.
    """
    if frame_ms <= 0:
        raise ValueError("frame_ms must be positive")
    return max(1, math.floor(exposure_ms / frame_ms + 0.5 + HALF_FRAME_SLACK))


def exposure_tolerance_ms(frame_ms: float) -> float:
    """How far the achieved exposure may be from n frames: half a frame (rAF lateness) plus 1 ms of clock jitter."""
    return frame_ms / 2 + 1


def trial_validity(timing: dict | None, planned_ms: int | None) -> tuple[bool, list[str]]:
    """(valid, reasons): the reasons are short English phrases with the numbers, empty when valid."""
    if planned_ms is None:
        # Untimed: whatever the log says, the participant saw the images for as long as they liked.
        return True, []
    if not timing:
        return False, [NO_LOG]
    missing = _missing_numbers(timing, ("frame_ms", "achieved_ms", "frames_planned"))
    if missing:
        return False, [f"no {name} in the timing log" for name in missing]
    if timing["frame_ms"] <= 0:
        return False, [f"frame period {timing['frame_ms']} ms is not positive"]
    reasons = _exposure_reasons(timing, planned_ms) + _dropped_frame_reasons(timing) + _focus_reasons(timing)
    return not reasons, reasons


def _missing_numbers(timing: dict, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not _is_number(timing.get(name))]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _exposure_reasons(timing: dict, planned_ms: int) -> list[str]:
    frame_ms, achieved_ms = timing["frame_ms"], timing["achieved_ms"]
    frames = frames_for(planned_ms, frame_ms)
    reasons = []
    if timing["frames_planned"] != frames:
        reasons.append(
            f"{timing['frames_planned']:g} frames planned by the browser, {frames} expected "
            f"for {planned_ms} ms at {frame_ms:.2f} ms a frame"
        )
    target_ms = frames * frame_ms
    tolerance = exposure_tolerance_ms(frame_ms)
    if abs(achieved_ms - target_ms) > tolerance + EPSILON_MS:
        reasons.append(
            f"exposure {achieved_ms:.1f} ms instead of {target_ms:.1f} ms ({frames} frames of {frame_ms:.2f} ms), "
            f"off by more than {tolerance:.1f} ms"
        )
    return reasons


def _dropped_frame_reasons(timing: dict) -> list[str]:
    dropped = timing.get("dropped_frames", 0)
    if not _is_number(dropped):
        return ["dropped_frames is not a number"]
    if dropped != 0:
        return [f"{dropped:g} dropped frame{'s' if dropped != 1 else ''} during the exposure"]
    return []


def _focus_reasons(timing: dict) -> list[str]:
    """focus_lost covers exactly onset to answer, so it decides when sent; else any blur or hide counts."""
    if "focus_lost" in timing:
        return ["the page lost focus during the trial"] if timing["focus_lost"] is not False else []
    blurs, hidden = timing.get("blur_count", 0), timing.get("hidden_count", 0)
    if not (_is_number(blurs) and _is_number(hidden)):
        return ["blur_count or hidden_count is not a number"]
    if blurs or hidden:
        return [f"the page lost focus during the trial ({blurs:g} blur, {hidden:g} hidden)"]
    return []
