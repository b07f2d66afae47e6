"""Where training runs: CUDA when present (bf16 autocast there), the CPU otherwise."""

from __future__ import annotations

import contextlib

import torch


def pick_device(pref: str = "auto") -> torch.device:
    """"auto" -> CUDA when available else CPU; "cuda" without a GPU is an error, not a silent fallback."""
    if pref == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if pref == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but no CUDA GPU is available on this worker")
    if pref not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {pref!r}")
    return torch.device(pref)


def autocast(device: torch.device, amp: str = "auto"):
    """bf16 autocast on CUDA when amp is "auto"; a no-op context on the CPU or with amp "off"."""
    if amp == "auto" and device.type == "cuda":
        # bf16 has float32's exponent range, so no GradScaler is needed (unlike fp16).
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
