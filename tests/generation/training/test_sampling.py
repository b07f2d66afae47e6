import numpy as np
import pytest
import torch

from generation.training.checkpoints import load_checkpoint
from generation.training.loop import run_training
from generation.training.sampling import Pipeline, load_sampler
from generation.training.trainers import trainer_class
from tests.generation.training.conftest import FAMILIES, tiny_options


@pytest.fixture(scope="module")
def trained(dataset_roots, tmp_path_factory):
    """A 3-iteration checkpoint of every family: {family: (checkpoint path, dataset root, options)}."""
    runs = {}
    for family in FAMILIES:
        root = dataset_roots[family]
        options = tiny_options(family, root, iterations=3)
        outcome = run_training(options, tmp_path_factory.mktemp(family), dataset_root=root)
        runs[family] = (outcome.checkpoints[-1].path, root, options)
    return runs


@pytest.mark.parametrize("family", FAMILIES)
def test_each_image_depends_only_on_its_seed(family, trained):
    path, root, options = trained[family]
    sampler = load_sampler(path, dataset_root=root)
    batch = sampler.images([1, 5, 9, 12])
    alone = sampler.images([5])
    assert batch.dtype == np.uint8 and batch.ndim == 4 and batch.shape[0] == 4 and batch.shape[-1] == 3
    assert np.array_equal(alone[0], batch[1])
    assert np.array_equal(load_sampler(path, dataset_root=root).images([9, 1])[::-1], batch[[0, 2]])
    assert not np.array_equal(batch[0], batch[1])  # different seeds, different images


@pytest.mark.parametrize("family", FAMILIES)
def test_sampler_from_a_checkpoint_matches_the_live_trainer(family, trained, tmp_path):
    path, root, options = trained[family]
    payload = load_checkpoint(path)
    trainer = trainer_class(family).build(options, root, torch.device("cpu"))
    trainer.load_state(payload)
    sampler = load_sampler(path, dataset_root=root)
    assert np.array_equal(trainer.sampler().images([2, 3]), sampler.images([2, 3]))
    assert (sampler.family, sampler.size, sampler.iteration) == (family, options.size, 3)
    assert (sampler.images_seen, sampler.training_seconds) == (payload["images_seen"], payload["training_seconds"])
    assert sampler.options == options


def test_sampling_leaves_training_untouched(trained):
    path, root, options = trained["dcgan"]
    trainer = trainer_class("dcgan").build(options, root, torch.device("cpu"))
    rng = torch.get_rng_state()
    trainer.sample_grid([0, 1, 2])
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(net.training for net in trainer.nets.values())  # BatchNorm back in training mode


def test_image_sizes_per_family(trained):
    shapes = {f: load_sampler(trained[f][0], dataset_root=trained[f][1]).images([0]).shape for f in FAMILIES}
    assert shapes["dcgan"] == shapes["progressive"] == (1, 16, 16, 3)
    assert shapes["crn"] == (1, 16, 32, 3)  # height = size, width = aspect · size
    assert shapes["simgan"] == (1, 28, 28, 3)
    assert shapes["srcnn"] == (1, 64, 64, 3)  # a held-out image of the folder at its size


def test_simgan_samples_the_simulator_for_bundled_digits(small_digits, tmp_path):
    options = tiny_options("simgan", small_digits, dataset="bundled:digits", iterations=1)
    outcome = run_training(options, tmp_path, dataset_root=small_digits)
    sampler = load_sampler(outcome.checkpoints[-1].path)  # no dataset needed: the seed drives the simulator
    images = sampler.images([4, 4, 8])
    assert np.array_equal(images[0], images[1]) and not np.array_equal(images[0], images[2])
    assert (images[..., 0] == images[..., 2]).all()  # grey refined digits, repeated to RGB


def test_families_that_need_their_dataset_say_so(trained):
    with pytest.raises(ValueError, match="needs dataset_root"):
        load_sampler(trained["crn"][0]).images([0])


def test_bad_seeds_are_refused_and_no_seeds_give_an_empty_batch(trained):
    sampler = load_sampler(trained["dcgan"][0])
    with pytest.raises(ValueError, match="non-negative integers"):
        sampler.images([-1])
    assert sampler.images([]).shape == (0, 16, 16, 3)


@pytest.mark.parametrize("scale", [2, 4])
def test_pipeline_super_resolves_the_generator_output(scale, trained, small_photos, tmp_path):
    generator = load_sampler(trained["dcgan"][0])
    options = tiny_options("srcnn", small_photos, size=16, iterations=2, family_options={"scale": scale})
    srcnn_run = run_training(options, tmp_path, dataset_root=small_photos)
    srcnn = load_sampler(srcnn_run.checkpoints[-1].path)
    pipeline = Pipeline(generator, srcnn)
    images = pipeline.images([0, 7])
    assert images.shape == (2, 16 * scale, 16 * scale, 3) and pipeline.size == 16 * scale
    assert np.array_equal(images, srcnn.upscale(generator.images([0, 7])))
    assert np.array_equal(pipeline.images([7])[0], images[1])
    assert pipeline.iteration == generator.iteration


def test_pipeline_needs_an_srcnn_second(trained):
    generator = load_sampler(trained["dcgan"][0])
    with pytest.raises(ValueError, match="SRCNN sampler"):
        Pipeline(generator, generator)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_sampling_only_checkpoint_samples_the_same_images_and_is_smaller(family, trained, tmp_path):
    from generation.training.checkpoints import sampling_payload, save_checkpoint

    path, root, options = trained[family]
    reduced = tmp_path / "reduced.pt"
    save_checkpoint(reduced, sampling_payload(load_checkpoint(path)))
    assert reduced.stat().st_size < path.stat().st_size
    payload = load_checkpoint(reduced)
    assert payload["sampling_only"] and "optimizers" not in payload
    seeds = [0, 4, 11]
    assert np.array_equal(load_sampler(reduced, dataset_root=root).images(seeds), load_sampler(path, dataset_root=root).images(seeds))


def test_a_sampling_only_checkpoint_cannot_be_trained_further(trained, tmp_path):
    from generation.training.checkpoints import checkpoint_name, sampling_payload, save_checkpoint
    from generation.training.loop import TrainingError

    path, root, options = trained["dcgan"]
    run_dir = tmp_path / "run"
    save_checkpoint(run_dir / "checkpoints" / checkpoint_name(3), sampling_payload(load_checkpoint(path)))
    options.iterations = 5
    with pytest.raises(TrainingError, match="only the networks needed for sampling"):
        run_training(options, run_dir, dataset_root=root)


def test_only_crn_and_simgan_on_folders_need_their_dataset_to_sample():
    from generation.training.options import options_for
    from generation.training.trainers import family_module

    needs = {family: family_module(family).SAMPLER.needs_dataset(options_for(family)) for family in FAMILIES}
    assert needs == {"dcgan": False, "progressive": False, "srcnn": False, "crn": True, "simgan": False}
    assert family_module("simgan").SAMPLER.needs_dataset(options_for("simgan", dataset="/data/eyes"))
