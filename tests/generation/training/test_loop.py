import json
import math
import time

import pytest
import torch
from PIL import Image

from generation.training.checkpoints import CheckpointInfo, list_checkpoints, load_checkpoint
from generation.training.loop import SAMPLE_SEEDS, TrainingError, run_training
from generation.training.trainers import trainer_class
from tests.generation.training.conftest import FAMILIES, tensors_equal, tiny_options

PROGRESS_KEYS = {"iteration", "iterations", "images_seen", "training_seconds", "its_per_s", "losses"}


def _stats(run_dir):
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def _loss_lines(run_dir):
    return {line["iteration"]: line["losses"] for line in _stats(run_dir) if "losses" in line}


def _stop_after(n):
    """abort_fn that says "stop" on its (n + 1)-th poll, i.e. after n iterations."""
    calls = {"n": 0}

    def abort():
        calls["n"] += 1
        return calls["n"] > n

    return abort


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_trains_and_writes_its_run_directory(family, dataset_roots, tmp_path):
    options = tiny_options(family, dataset_roots[family], iterations=6, checkpoint_every=3, sample_every=3)
    events = []
    started = time.perf_counter()
    outcome = run_training(options, tmp_path, dataset_root=dataset_roots[family], progress_fn=events.append)
    wall = time.perf_counter() - started

    assert (outcome.status, outcome.iteration) == ("done", 6)
    assert 0 < outcome.training_seconds < wall
    assert [c.iteration for c in outcome.checkpoints] == [3, 6]
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["iter_000003.pt", "iter_000006.pt"]
    assert json.loads((tmp_path / "options.json").read_text()) == options.to_dict()
    for name in ("iter_000003.png", "iter_000006.png"):
        with Image.open(tmp_path / "samples" / name) as grid:
            assert grid.mode == "RGB" and min(grid.size) > options.size

    lines = [line for line in _stats(tmp_path) if "losses" in line]
    assert [line["iteration"] for line in lines] == [1, 2, 3, 4, 5, 6]
    for line in lines:
        assert {"iteration", "losses", "its_per_s", "images_seen", "training_seconds"} <= line.keys()
        assert line["losses"] and all(math.isfinite(v) for v in line["losses"].values())
    assert lines[-1]["images_seen"] == outcome.images_seen > 0

    assert all(PROGRESS_KEYS <= event.keys() for event in events)
    checkpoint_events = [e["checkpoint"] for e in events if "checkpoint" in e]
    assert checkpoint_events == outcome.checkpoints and isinstance(checkpoint_events[0], CheckpointInfo)
    assert [e["sample"].name for e in events if "sample" in e] == ["iter_000003.png", "iter_000006.png"]
    assert events[-1]["status"] == "done" and events[-1]["iteration"] == 6

    payload = load_checkpoint(tmp_path / "checkpoints" / "iter_000006.pt")
    assert (payload["family"], payload["iteration"], payload["images_seen"]) == (family, 6, outcome.images_seen)
    assert payload["training_seconds"] == pytest.approx(outcome.training_seconds)


@pytest.mark.parametrize("family", FAMILIES)
def test_abort_cancels_with_a_checkpoint(family, dataset_roots, tmp_path):
    options = tiny_options(family, dataset_roots[family], iterations=50)
    events = []
    outcome = run_training(options, tmp_path, dataset_root=dataset_roots[family], progress_fn=events.append,
                           abort_fn=_stop_after(3))
    assert (outcome.status, outcome.iteration) == ("cancelled", 3)
    assert [c.iteration for c in outcome.checkpoints] == [3]
    assert load_checkpoint(outcome.checkpoints[0].path)["iteration"] == 3
    assert events[-1]["status"] == "cancelled" and events[-1]["checkpoint"] == outcome.checkpoints[0]


RESUME_CASES = [
    ("dcgan", {}),
    ("dcgan", {"loss": "wgan-gp", "d_steps_per_g": 2}),
    ("progressive", {}),  # cancelled mid-fade of stage 1, continued through stage 2's fade
    ("srcnn", {}),
    ("crn", {}),
    ("simgan", {}),  # cancelled during D pretraining, continued into adversarial steps with the history buffer
]


RESUME_IDS = [f"{family}-{overrides.get('loss', 'default')}" for family, overrides in RESUME_CASES]


@pytest.mark.parametrize("family, overrides", RESUME_CASES, ids=RESUME_IDS)
def test_resumed_training_continues_exactly_like_an_uninterrupted_run(family, overrides, dataset_roots, tmp_path):
    root = dataset_roots[family]
    options = tiny_options(family, root, iterations=8, **overrides)
    straight = run_training(options, tmp_path / "straight", dataset_root=root)
    first = run_training(options, tmp_path / "resumed", dataset_root=root, abort_fn=_stop_after(3))
    second = run_training(options, tmp_path / "resumed", dataset_root=root)

    assert (first.status, second.status, second.resumed_from) == ("cancelled", "done", 3)
    assert second.images_seen == straight.images_seen
    assert second.training_seconds > first.training_seconds  # accumulated across the resume
    assert _loss_lines(tmp_path / "resumed") == _loss_lines(tmp_path / "straight")
    a, b = (load_checkpoint(r.checkpoints[-1].path) for r in (straight, second))
    for key in ("nets", "optimizers", "state", "rng"):
        assert tensors_equal(a[key], b[key]), key


def test_resume_requires_the_same_options_but_may_extend_iterations(small_photos, tmp_path):
    options = tiny_options("dcgan", small_photos, iterations=3)
    run_training(options, tmp_path, dataset_root=small_photos)
    with pytest.raises(TrainingError, match=r"other options \(lr_g: 0.0002 -> 0.001\)"):
        run_training(tiny_options("dcgan", small_photos, iterations=3, lr_g=1e-3), tmp_path, dataset_root=small_photos)

    again = run_training(options, tmp_path, dataset_root=small_photos)
    assert (again.status, again.iteration, again.checkpoints, again.resumed_from) == ("done", 3, [], 3)
    longer = run_training(tiny_options("dcgan", small_photos, iterations=5), tmp_path, dataset_root=small_photos)
    assert (longer.iteration, [c.iteration for c in longer.checkpoints]) == (5, [5])


def test_wgan_gp_with_five_critic_steps(small_photos, tmp_path):
    options = tiny_options("dcgan", small_photos, loss="wgan-gp", d_steps_per_g=5, iterations=3)
    trainer = trainer_class("dcgan").build(options, small_photos, torch.device("cpu"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in trainer.d.modules())
    outcome = run_training(options, tmp_path, dataset_root=small_photos)
    assert outcome.images_seen == 3 * 5 * options.batch_size
    losses = _loss_lines(tmp_path)[3]
    assert {"d_loss", "gp", "wasserstein", "g_loss"} <= losses.keys() and losses["gp"] >= 0


def test_gan_losses_stay_in_a_sane_range(small_photos, tmp_path):
    run_training(tiny_options("dcgan", small_photos, iterations=20), tmp_path, dataset_root=small_photos)
    for losses in _loss_lines(tmp_path).values():
        # Non-saturating BCE: a discriminator at chance scores 2·ln 2 ≈ 1.39; nothing explodes in 20 steps.
        assert 0 < losses["d_loss"] < 3 and 0 < losses["g_loss"] < 5


@pytest.mark.parametrize("family, key", [("srcnn", "mse"), ("crn", "loss"), ("simgan", "reg_loss")])
def test_reconstruction_losses_decrease(family, key, dataset_roots, tmp_path):
    fo = {"pretrain_refiner_steps": 30} if family == "simgan" else {}
    # A residual SRCNN starts at the bicubic error, which batch noise hides; the plain one starts far off.
    arch = {"residual": False} if family == "srcnn" else {}
    options = tiny_options(family, dataset_roots[family], iterations=30, lr_g=1e-3, family_options=fo, arch=arch)
    run_training(options, tmp_path, dataset_root=dataset_roots[family])
    values = [losses[key] for _, losses in sorted(_loss_lines(tmp_path).items())]
    assert sum(values[-5:]) < 0.9 * sum(values[:5])


def test_crn_random_vgg_warning_is_recorded_for_the_researcher(small_layouts, tmp_path):
    events = []
    outcome = run_training(tiny_options("crn", small_layouts, iterations=2), tmp_path, dataset_root=small_layouts,
                           progress_fn=events.append)
    assert any("random weights" in note for note in outcome.notes)
    assert any("random weights" in line.get("note", "") for line in _stats(tmp_path))
    assert events[-1]["notes"] == outcome.notes
    assert load_checkpoint(outcome.checkpoints[-1].path)["state"]["vgg_pretrained"] is False


def test_progress_is_throttled_but_every_sample_and_checkpoint_is_reported(small_photos, tmp_path):
    events = []
    options = tiny_options("dcgan", small_photos, iterations=40, sample_every=20, checkpoint_every=40)
    started = time.perf_counter()
    run_training(options, tmp_path, dataset_root=small_photos, progress_fn=events.append)
    wall = time.perf_counter() - started
    plain = [e for e in events if not ({"sample", "checkpoint", "status"} & e.keys())]
    # At most one plain event per 0.5 s of wall time (the first one comes straight away).
    assert 1 <= len(plain) <= 1 + wall / 0.5
    assert [e["sample"].name for e in events if "sample" in e] == ["iter_000020.png", "iter_000040.png"]
    assert len(SAMPLE_SEEDS) == 16


@pytest.mark.parametrize("family", FAMILIES)
def test_trainer_state_round_trips_through_a_checkpoint_file(family, dataset_roots, tmp_path):
    from generation.training.checkpoints import save_checkpoint

    root = dataset_roots[family]
    options = tiny_options(family, root)
    original = trainer_class(family).build(options, root, torch.device("cpu"))
    for _ in range(5):  # past SimGAN's pretraining and progressive's first stage
        original.step()
    counters = {"iteration": original.iteration, "images_seen": 0, "training_seconds": 0.0}
    path = save_checkpoint(tmp_path / "x.pt", {**original.state(), **counters, "options": options.to_dict()}).path
    payload = load_checkpoint(path)

    restored = trainer_class(family).build(options, root, torch.device("cpu"))
    restored.load_state(payload)
    assert tensors_equal(restored.state(), original.state())
    # Both continue from the saved global RNG state: the next step must agree bit for bit.
    torch.set_rng_state(payload["rng"]["torch"])
    expected = original.step()
    torch.set_rng_state(payload["rng"]["torch"])
    assert restored.step() == expected
    assert tensors_equal(restored.state()["nets"], original.state()["nets"])
