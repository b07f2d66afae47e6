"""Self-describing checkpoints: written atomically, read back with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch

FORMAT = "evalsite-checkpoint/1"
REQUIRED_KEYS = ("format", "family", "options", "iteration", "images_seen", "training_seconds", "nets")
_NAME = re.compile(r"^iter_(\d+)\.pt$")


class CheckpointError(ValueError):
    """A file that is not a readable evalsite checkpoint."""


@dataclass(frozen=True)
class CheckpointInfo:
    """Where a checkpoint lies and how far training had got when it was written."""

    path: Path
    iteration: int
    images_seen: int
    training_seconds: float


def checkpoint_name(iteration: int) -> str:
    """File name of the checkpoint at ``iteration`` (zero-padded so names sort by iteration)."""
    return f"iter_{iteration:06d}.pt"


def save_checkpoint(path: Path, payload: dict) -> CheckpointInfo:
    """Write ``payload`` to ``path`` atomically (temporary file + os.replace) and describe it."""
    payload = {"format": FORMAT, **payload}
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"checkpoint payload lacks {', '.join(missing)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, temporary)
    # A reader (or a crash) never sees a half-written checkpoint: the rename is atomic on one filesystem.
    os.replace(temporary, path)
    return checkpoint_info(path, payload)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint onto the CPU; CheckpointError when the file is missing or not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({error.__class__.__name__}: {error})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an evalsite checkpoint (expected format {FORMAT!r})")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: it lacks {', '.join(missing)}")
    return payload


def sampling_payload(payload: dict) -> dict:
    """A checkpoint reduced to what sampling needs (the demo checkpoints kept in the repository): the
    family's sampling networks and small state, without discriminators, optimiser state or buffers.
    It is marked ``sampling_only``: it can be sampled from but not trained further."""
    from generation.training.trainers import family_module

    keep = family_module(payload["family"]).SAMPLER.nets_used
    state = {k: v for k, v in payload.get("state", {}).items() if isinstance(v, (bool, int, float, str))}
    reduced = {k: v for k, v in payload.items() if k not in ("optimizers", "rng", "state", "nets", "arch")}
    return {
        **reduced,
        "arch": {name: spec for name, spec in payload["arch"].items() if name in keep},
        "nets": {name: net for name, net in payload["nets"].items() if name in keep},
        "state": state,
        "sampling_only": True,
    }


def checkpoint_info(path: Path, payload: dict) -> CheckpointInfo:
    """CheckpointInfo of a loaded payload."""
    return CheckpointInfo(
        Path(path), int(payload["iteration"]), int(payload["images_seen"]), float(payload["training_seconds"])
    )


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files of a run's checkpoints folder, oldest iteration first (by file name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def capture_rng(device: torch.device) -> dict:
    """Global RNG states (CPU, and CUDA when training there) so a resumed run draws the same numbers."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict, device: torch.device) -> None:
    """Put back what ``capture_rng`` saved."""
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
