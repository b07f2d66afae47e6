"""Family-specific behaviour: progressive growing, SRCNN against bicubic, SimGAN phases, CRN alternatives."""

import json

import numpy as np
import pytest
import torch

from generation.training.checkpoints import load_checkpoint
from generation.training.loop import run_training
from generation.training.options import options_for
from generation.training.sampling import load_sampler, seed_generator
from generation.training.trainers import trainer_class
from generation.training.trainers.progressive import schedule
from generation.training.trainers.simgan import phase
from generation.training.trainers.srcnn import evaluate_psnr, evaluation_images
from tests.generation.training.conftest import tiny_options

CPU = torch.device("cpu")


def test_progressive_schedule_grows_with_linear_fades():
    got = [schedule(i, 16, fade_iters=4, stable_iters=2) for i in range(14)]
    assert got == [
        (0, 1.0), (0, 1.0),
        (1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0),
        (2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75), (2, 1.0), (2, 1.0),
    ]
    assert schedule(10_000, 16, 4, 2) == (2, 1.0)  # stays at the target once grown


def test_progressive_resets_adam_at_each_new_resolution(small_photos):
    trainer = trainer_class("progressive").build(tiny_options("progressive", small_photos), small_photos, CPU)
    trainer.step(), trainer.step()  # stage 0 (stable_iters = 2)
    steps = lambda: {int(s["step"]) for s in trainer.optimizers["generator"].state.values()}  # noqa: E731
    assert steps() == {2}
    losses = trainer.step()  # first iteration of stage 1's fade
    assert (losses["stage"], losses["alpha"]) == (1, 0.0)
    assert steps() == {1}


def test_progressive_fades_real_images_like_the_generator(small_photos):
    trainer = trainer_class("progressive").build(tiny_options("progressive", small_photos), small_photos, CPU)
    faded = trainer.real_batch(stage=1, alpha=0.0)  # (b, 3, 8, 8): the 4×4 reals, nearest-upsampled
    assert faded.shape[-1] == 8
    assert torch.equal(faded[..., ::2, ::2], faded[..., 1::2, 1::2])
    sharp = trainer.real_batch(stage=1, alpha=1.0)
    assert not torch.equal(sharp[..., ::2, ::2], sharp[..., 1::2, 1::2])


def test_progressive_samples_come_from_the_ema_generator(small_photos, tmp_path):
    outcome = run_training(tiny_options("progressive", small_photos, iterations=3), tmp_path, dataset_root=small_photos)
    payload = load_checkpoint(outcome.checkpoints[-1].path)
    live, ema = payload["nets"]["generator"], payload["nets"]["generator_ema"]
    assert any(not torch.equal(live[k], ema[k]) for k in live)
    sampler = load_sampler(outcome.checkpoints[-1].path)
    stage, alpha = payload["state"]["stage"], payload["state"]["alpha"]
    assert (stage, alpha) == (1, 0.5)
    g = sampler.nets["generator_ema"]
    with torch.no_grad():
        z = torch.randn(1, g.z_dim, generator=seed_generator(3))
        expected = torch.nn.functional.interpolate(g(z, stage, alpha), size=16, mode="nearest")
    expected = ((expected.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(sampler.images([3])[0], expected)


@pytest.mark.parametrize("family", ["dcgan", "progressive", "simgan"])
def test_wgan_gp_with_five_critic_steps_per_generator_step(family, dataset_roots, tmp_path):
    root = dataset_roots[family]
    options = tiny_options(family, root, loss="wgan-gp", d_steps_per_g=5, iterations=6)
    outcome = run_training(options, tmp_path, dataset_root=root)
    payload = load_checkpoint(outcome.checkpoints[-1].path)
    assert outcome.status == "done" and payload["options"]["d_steps_per_g"] == 5
    # Five critic steps per generator step: the critic's Adam has stepped five times as often.
    g_name = "refiner" if family == "simgan" else "generator"
    g_steps = {int(s["step"]) for s in payload["optimizers"][g_name]["state"].values()}
    d_steps = {int(s["step"]) for s in payload["optimizers"]["discriminator"]["state"].values()}
    if family == "simgan":  # 2 refiner-pretraining, 2 D-pretraining, then 2 adversarial iterations
        assert (g_steps, d_steps) == ({4}, {2 + 2 * 5})
    elif family == "progressive":  # Adam restarted with stage 1 at iteration 2; the 4×4 toRGB idles once alpha = 1
        assert (max(g_steps), max(d_steps)) == (4, 20)
    else:
        assert (g_steps, d_steps) == ({6}, {30})


def test_srcnn_starts_exactly_at_bicubic(small_photos):
    trainer = trainer_class("srcnn").build(tiny_options("srcnn", small_photos), small_photos, CPU)
    metrics = trainer.evaluate()
    assert metrics["psnr"] == pytest.approx(metrics["bicubic_psnr"], abs=1e-9)


def test_srcnn_beats_bicubic_on_held_out_photos_within_a_minute(photos_root, heldout_root, tmp_path):
    # Residual SRCNN (zero-initialised last layer), batch 16 of 32×32 crops: ~0.02-0.03 s per step on two idle
    # cores. 200 steps normally take ~5 s; a busy machine is cut off at 50 s of training (abort_fn).
    options = options_for("srcnn", size=32, batch_size=16, iterations=200, sample_every=200, checkpoint_every=200,
                          device="cpu", family_options={"eval_images": 64})
    trained = {"seconds": 0.0}
    outcome = run_training(options, tmp_path, dataset_root=photos_root,
                           progress_fn=lambda event: trained.update(seconds=event["training_seconds"]),
                           abort_fn=lambda: trained["seconds"] > 50)
    assert outcome.training_seconds <= 60 and outcome.iteration >= 50

    sampler = load_sampler(outcome.checkpoints[-1].path, dataset_root=photos_root)
    heldout, _ = evaluation_images(options, photos_root)
    assert heldout.shape == (64, 3, 128, 128)  # the bundled photos-heldout set, never seen in training
    final = evaluate_psnr(sampler.model, heldout, 2, CPU)
    print(f"SRCNN {final['psnr']:.2f} dB vs bicubic {final['bicubic_psnr']:.2f} dB "
          f"(+{final['psnr_gain']:.2f} dB) after {outcome.iteration} steps, {outcome.training_seconds:.1f} s")
    assert final["bicubic_psnr"] > 25  # measured against the originals, not against the bicubic image
    assert final["psnr_gain"] > 0.3


def test_simgan_phases_and_history_buffer(small_digits, tmp_path):
    assert [phase(i, 2, 3) for i in range(7)] == ["refiner"] * 2 + ["discriminator"] * 3 + ["adversarial"] * 2
    options = tiny_options("simgan", small_digits, iterations=6)
    outcome = run_training(options, tmp_path, dataset_root=small_digits)
    lines = [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()]
    phases = [line["losses"]["phase"] for line in lines if "losses" in line]
    assert phases == [0, 0, 1, 1, 2, 2]
    payload = load_checkpoint(outcome.checkpoints[-1].path)
    history = payload["state"]["history"]["images"]
    assert history.shape == (4 * options.batch_size, 1, 28, 28)  # one batch per D step, capacity 32


def test_crn_seed_picks_a_layout_and_one_of_k_alternatives(small_layouts, tmp_path):
    options = tiny_options("crn", small_layouts, iterations=2, family_options={"images_per_layout": 2})
    outcome = run_training(options, tmp_path, dataset_root=small_layouts)
    sampler = load_sampler(outcome.checkpoints[-1].path, dataset_root=small_layouts)
    choices = [sampler.choice(seed) for seed in range(20)]
    assert {alt for _, alt in choices} == {0, 1} and len({i for i, _ in choices}) > 5
    assert sampler.choice(7) == choices[7]
    assert sampler.images([7]).shape == (1, 16, 32, 3)
