import json

import pytest

from generation.training.options import FAMILIES, FAMILY_DEFAULTS, OptionsError, TrainOptions, options_for


@pytest.mark.parametrize("family", FAMILIES)
def test_family_defaults_are_valid_and_round_trip_through_json(family):
    options = options_for(family).validate()
    assert options.family == family
    restored = TrainOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert restored == options


def test_documented_optimiser_defaults():
    dcgan, progressive = options_for("dcgan"), options_for("progressive")
    assert (dcgan.lr_g, dcgan.betas_g, dcgan.loss, dcgan.d_steps_per_g) == (2e-4, (0.5, 0.999), "gan", 1)
    assert (progressive.lr_d, progressive.betas_d, progressive.loss) == (1e-3, (0.0, 0.99), "wgan-gp")
    assert dcgan.gp_lambda == 10.0


def test_switching_to_wgan_gp_brings_its_optimiser_settings_unless_given():
    wgan = options_for("dcgan", loss="wgan-gp")
    assert (wgan.lr_g, wgan.lr_d, wgan.betas_d, wgan.d_steps_per_g) == (1e-4, 1e-4, (0.0, 0.9), 5)
    explicit = options_for("dcgan", loss="wgan-gp", lr_d=2e-4, d_steps_per_g=3)
    assert (explicit.lr_d, explicit.d_steps_per_g, explicit.lr_g) == (2e-4, 3, 1e-4)


def test_nested_overrides_merge_key_by_key():
    options = options_for("simgan", arch={"blocks": 2}, family_options={"reg_lambda": 0.5})
    assert options.arch == {**FAMILY_DEFAULTS["simgan"]["arch"], "blocks": 2}
    assert options.family_options["reg_lambda"] == 0.5
    assert options.family_options["history_size"] == FAMILY_DEFAULTS["simgan"]["family_options"]["history_size"]
    # The defaults table itself is never mutated by a merge.
    assert FAMILY_DEFAULTS["simgan"]["arch"]["blocks"] == 4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(batch_size=0), "batch_size must be an integer ≥ 1 (got 0)"),
        (dict(loss="hinge"), "loss must be one of gan, wgan-gp (got 'hinge')"),
        (dict(lr_g=-1.0), "lr_g must be a positive number (got -1.0)"),
        (dict(betas_d=(0.5, 1.0)), "betas_d must be two numbers in [0, 1)"),
        (dict(d_steps_per_g=0), "d_steps_per_g must be an integer ≥ 1"),
        (dict(size=20), "dcgan size must be a multiple of 8 and at least 16 (got 20)"),
        (dict(device="tpu"), "device must be one of auto, cpu, cuda (got 'tpu')"),
        (dict(arch={"depth": 3}), "arch of dcgan has unknown key(s) depth; known: width, z_dim"),
        (dict(iterations=1.5), "iterations must be an integer ≥ 1 (got 1.5)"),
    ],
)
def test_validation_names_the_bad_value(overrides, message):
    with pytest.raises(OptionsError) as caught:
        options_for("dcgan", **overrides).validate()
    assert message in str(caught.value)


def test_validation_lists_every_problem_at_once():
    with pytest.raises(OptionsError) as caught:
        options_for("dcgan", batch_size=0, lr_d=0.0, seed=-1).validate()
    text = str(caught.value)
    assert "batch_size" in text and "lr_d" in text and "seed" in text


@pytest.mark.parametrize(
    "family, overrides, message",
    [
        ("progressive", dict(size=24), "progressive size must be a power of two ≥ 8"),
        ("progressive", dict(batch_size=6), "multiple of 4, the minibatch-stddev group"),
        ("progressive", dict(family_options={"fade_iters": 0}), "family_options.fade_iters must be an integer ≥ 1"),
        ("srcnn", dict(family_options={"scale": 5}), "family_options.scale must be 2, 3 or 4"),
        ("srcnn", dict(size=33, family_options={"scale": 2}), "multiple of scale 2"),
        ("crn", dict(size=24), "crn size must be arch.base_height (4) times a power of two"),
        ("crn", dict(family_options={"vgg_weights": "/x.pt", "vgg_width": 0.5}), "vgg_width must be 1.0"),
        ("simgan", dict(family_options={"channels": 2}), "family_options.channels must be 1 (grey) or 3"),
        ("simgan", dict(arch={"blocks": 0}), "arch.blocks of simgan must be like its default 4 (got 0)"),
        ("srcnn", dict(arch={"features": [64]}), "arch.features of srcnn must be like its default [64, 32]"),
        ("progressive", dict(arch={"max_channels": 256}), None),
        ("dcgan", dict(arch={"width": 0}), "arch.width of dcgan must be like its default 1.0 (got 0)"),
    ],
)
def test_family_specific_validation(family, overrides, message):
    options = options_for(family, **overrides)
    if message is None:  # a valid variation
        assert options.validate() is options
        return
    with pytest.raises(OptionsError) as caught:
        options.validate()
    assert message in str(caught.value)


def test_unknown_family_and_unknown_options_are_refused():
    with pytest.raises(OptionsError, match="unknown model family 'vae'"):
        options_for("vae")
    with pytest.raises(OptionsError, match="unknown training option"):
        options_for("dcgan", learning_rate=1e-3)
    with pytest.raises(OptionsError, match="unknown training option.*colour"):
        TrainOptions.from_dict({"family": "dcgan", "colour": "red"})
