"""Training options of the bundled models: one JSON-able dataclass, per-family defaults and validation."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields

FAMILIES = ("dcgan", "progressive", "srcnn", "crn", "simgan")
ADVERSARIAL_FAMILIES = ("dcgan", "progressive", "simgan")
LOSSES = ("gan", "wgan-gp")  # the same names as generation.nets.losses.ADVERSARIAL_LOSSES
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("auto", "off")

# Options that may change between a run and its resumption: they do not alter the maths of a step.
RESUMABLE_CHANGES = ("iterations", "checkpoint_every", "sample_every", "log_every", "device", "amp")


class OptionsError(ValueError):
    """Training options that cannot be used; the message lists every problem."""


@dataclass
class TrainOptions:
    """Every knob of one training run; ``asdict``/``from_dict`` round-trip through JSON."""

    family: str = "dcgan"  # one of FAMILIES
    dataset: str = "bundled:photos"  # "bundled:<name>" or a folder on the worker
    size: int = 64  # output side in pixels (CRN: height; SRCNN: high-resolution crop side)
    iterations: int = 2000  # generator (or model) steps to train for
    batch_size: int = 64
    seed: int = 0
    loss: str = "gan"  # "gan" (non-saturating) or "wgan-gp"; adversarial families only
    d_steps_per_g: int = 1  # discriminator/critic steps per generator step
    gp_lambda: float = 10.0  # gradient-penalty weight for "wgan-gp"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    checkpoint_every: int = 500
    sample_every: int = 100
    log_every: int = 10  # iterations between stats.jsonl lines
    device: str = "auto"  # "auto" = CUDA when present, else CPU
    amp: str = "auto"  # "auto" = bf16 autocast on CUDA (nothing on CPU); "off" = float32 everywhere
    arch: dict = field(default_factory=dict)  # network kwargs of the family (see FAMILY_DEFAULTS)
    family_options: dict = field(default_factory=dict)  # family-specific training knobs

    @classmethod
    def from_dict(cls, data: dict) -> TrainOptions:
        """Rebuild options from ``to_dict()`` output (or a partial dict, completed with family defaults)."""
        if not isinstance(data, dict):
            raise OptionsError(f"training options must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise OptionsError(f"unknown training option(s): {', '.join(unknown)}")
        rest = dict(data)
        return options_for(rest.pop("family", "dcgan"), **rest)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["betas_g"], data["betas_d"] = list(self.betas_g), list(self.betas_d)
        return data

    @property
    def adversarial(self) -> bool:
        return self.family in ADVERSARIAL_FAMILIES

    def validate(self) -> TrainOptions:
        """Raise OptionsError naming every bad value; return self when all is well."""
        problems = _common_problems(self)
        if self.family in FAMILIES:
            problems += _dict_problems(self, "arch") + _dict_problems(self, "family_options")
            problems += FAMILY_CHECKS[self.family](self)
        if problems:
            raise OptionsError("invalid training options: " + "; ".join(problems))
        return self


_COMMON = dict(
    iterations=2000, checkpoint_every=500, sample_every=100, log_every=10, seed=0, device="auto", amp="auto",
    gp_lambda=10.0, loss="gan", d_steps_per_g=1,
)
_DCGAN_ADAM = dict(lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999))
# Gulrajani et al.: Adam 1e-4, betas (0, 0.9), five critic steps per generator step.
WGAN_GP_DEFAULTS = dict(lr_g=1e-4, lr_d=1e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9), d_steps_per_g=5)



def _defaults(**values) -> dict:
    """Common defaults (DCGAN's Adam included) overridden by a family's own values."""
    return {**_COMMON, **_DCGAN_ADAM, **values}


FAMILY_DEFAULTS: dict[str, dict] = {
    "dcgan": _defaults(
        dataset="bundled:photos", size=64, batch_size=64,
        arch={"width": 1.0, "z_dim": 100},
        family_options={"critic_norm": "layer"},  # critic normalisation used with wgan-gp (no BatchNorm)
    ),
    "progressive": _defaults(
        dataset="bundled:photos", size=32, batch_size=16, loss="wgan-gp", d_steps_per_g=1,
        # Karras et al. (PGGAN): Adam 1e-3, betas (0, 0.99), 1:1 updates, WGAN-GP + drift, EMA generator.
        lr_g=1e-3, lr_d=1e-3, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99),
        arch={"channels": 128, "z_dim": 128, "max_channels": None},
        family_options={"fade_iters": 500, "stable_iters": 500, "ema_decay": 0.999, "drift": 1e-3},
    ),
    "srcnn": _defaults(
        dataset="bundled:photos", size=32, batch_size=64,
        lr_g=1e-3, betas_g=(0.9, 0.999),
        arch={"features": [64, 32], "middle_kernel": 1, "residual": True},
        # image_size: side the training photos are loaded at; crops of ``size`` are taken from them.
        family_options={"scale": 2, "image_size": 64, "eval_dataset": None, "eval_images": 64},
    ),
    "crn": _defaults(
        dataset="bundled:layouts", size=32, batch_size=4,
        lr_g=1e-4, betas_g=(0.9, 0.999),
        arch={"channels": 64, "base_height": 4},
        # vgg_width < 1 shrinks the random-weight VGG for tests; pretrained weights need 1.0.
        family_options={
            "aspect": 2, "images_per_layout": 1, "vgg_weights": None, "vgg_width": 1.0, "num_classes": None,
        },
    ),
    "simgan": _defaults(
        dataset="bundled:digits", size=28, batch_size=32,
        lr_g=1e-3, lr_d=1e-3,
        arch={"features": 64, "blocks": 4, "d_width": 1.0},
        family_options={
            "channels": 1, "reg_lambda": 0.1, "history_size": 512,
            "pretrain_refiner_steps": 50, "pretrain_d_steps": 20,
        },
    ),
}


def options_for(family: str, **overrides) -> TrainOptions:
    """The family's defaults updated by ``overrides``; ``arch``/``family_options`` merge key by key."""
    if family not in FAMILY_DEFAULTS:
        raise OptionsError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    values = copy.deepcopy(FAMILY_DEFAULTS[family])
    if overrides.get("loss") == "wgan-gp" and values["loss"] != "wgan-gp":
        # Switching a GAN family to WGAN-GP brings its usual optimiser settings unless set explicitly.
        values.update(WGAN_GP_DEFAULTS)
    for key in ("arch", "family_options"):
        extra = overrides.pop(key, None) or {}
        if not isinstance(extra, dict):
            raise OptionsError(f"{key} must be a dict, got {type(extra).__name__}")
        values[key].update(extra)
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainOptions)})
    if unknown:
        raise OptionsError(f"unknown training option(s): {', '.join(unknown)}")
    values.update(overrides)
    for key in ("betas_g", "betas_d"):
        if isinstance(values[key], list):
            values[key] = tuple(values[key])
    return TrainOptions(family=family, **values)


def _is_int(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _betas_ok(betas) -> bool:
    return (
        isinstance(betas, (tuple, list)) and len(betas) == 2
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    )


def _common_problems(o: TrainOptions) -> list[str]:
    checks = [
        (o.family in FAMILIES, f"family must be one of {', '.join(FAMILIES)} (got {o.family!r})"),
        (isinstance(o.dataset, str) and o.dataset.strip() != "", "dataset must be 'bundled:<name>' or a folder"),
        (_is_int(o.iterations, 1), f"iterations must be an integer ≥ 1 (got {o.iterations!r})"),
        (_is_int(o.batch_size, 1), f"batch_size must be an integer ≥ 1 (got {o.batch_size!r})"),
        (_is_int(o.seed, 0), f"seed must be an integer ≥ 0 (got {o.seed!r})"),
        (o.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)} (got {o.loss!r})"),
        (_is_int(o.d_steps_per_g, 1), f"d_steps_per_g must be an integer ≥ 1 (got {o.d_steps_per_g!r})"),
        (_is_positive_number(o.gp_lambda), f"gp_lambda must be a positive number (got {o.gp_lambda!r})"),
        (_is_positive_number(o.lr_g), f"lr_g must be a positive number (got {o.lr_g!r})"),
        (_is_positive_number(o.lr_d), f"lr_d must be a positive number (got {o.lr_d!r})"),
        (_betas_ok(o.betas_g), f"betas_g must be two numbers in [0, 1) (got {o.betas_g!r})"),
        (_betas_ok(o.betas_d), f"betas_d must be two numbers in [0, 1) (got {o.betas_d!r})"),
        (_is_int(o.checkpoint_every, 1), f"checkpoint_every must be an integer ≥ 1 (got {o.checkpoint_every!r})"),
        (_is_int(o.sample_every, 1), f"sample_every must be an integer ≥ 1 (got {o.sample_every!r})"),
        (_is_int(o.log_every, 1), f"log_every must be an integer ≥ 1 (got {o.log_every!r})"),
        (o.device in DEVICES, f"device must be one of {', '.join(DEVICES)} (got {o.device!r})"),
        (o.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)} (got {o.amp!r})"),
        (isinstance(o.arch, dict), "arch must be a dict"),
        (isinstance(o.family_options, dict), "family_options must be a dict"),
    ]
    return [message for ok, message in checks if not ok]


def _dict_problems(o: TrainOptions, name: str) -> list[str]:
    value = getattr(o, name)
    if not isinstance(value, dict):
        return []
    allowed = FAMILY_DEFAULTS[o.family][name]
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        return [f"{name} of {o.family} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"]
    return _arch_value_problems(o) if name == "arch" else []


def _arch_value_problems(o: TrainOptions) -> list[str]:
    """Each arch value must have the kind of its default: counts ≥ 1, positive widths, flags, count lists."""
    problems = []
    for key, default in FAMILY_DEFAULTS[o.family]["arch"].items():
        value = o.arch.get(key, default)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int) or default is None:
            ok = _is_int(value, 1) or (default is None and value is None)
        elif isinstance(default, float):
            ok = _is_positive_number(value)
        else:  # a list of channel counts
            ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(_is_int(v, 1) for v in value)
        if not ok:
            problems.append(f"arch.{key} of {o.family} must be like its default {default!r} (got {value!r})")
    return problems


def _int_option(o: TrainOptions, key: str, minimum: int) -> list[str]:
    value = o.family_options.get(key)
    return [] if _is_int(value, minimum) else [f"family_options.{key} must be an integer ≥ {minimum} (got {value!r})"]


def _number_option(o: TrainOptions, key: str, low: float, high: float) -> list[str]:
    value = o.family_options.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    return [] if ok else [f"family_options.{key} must be a number in [{low}, {high}] (got {value!r})"]


def _dcgan_problems(o: TrainOptions) -> list[str]:
    problems = []
    if not (_is_int(o.size, 16) and o.size % 8 == 0):
        problems.append(f"dcgan size must be a multiple of 8 and at least 16 (got {o.size!r})")
    if o.family_options.get("critic_norm") not in ("layer", "none"):
        problems.append("family_options.critic_norm must be 'layer' or 'none' (WGAN-GP critics have no BatchNorm)")
    return problems


def _power_of_two(n) -> bool:
    return _is_int(n, 1) and n & (n - 1) == 0


def _progressive_problems(o: TrainOptions) -> list[str]:
    problems = []
    if not (_power_of_two(o.size) and o.size >= 8):
        problems.append(f"progressive size must be a power of two ≥ 8 (got {o.size!r})")
    if _is_int(o.batch_size, 1) and o.batch_size % min(4, o.batch_size):
        problems.append(
            f"progressive batch_size must be a multiple of 4, the minibatch-stddev group (got {o.batch_size})"
        )
    problems += _int_option(o, "fade_iters", 1) + _int_option(o, "stable_iters", 1)
    problems += _number_option(o, "ema_decay", 0.0, 1.0) + _number_option(o, "drift", 0.0, 1.0)
    return problems


def _srcnn_problems(o: TrainOptions) -> list[str]:
    scale = o.family_options.get("scale")
    if scale not in (2, 3, 4):
        return [f"family_options.scale must be 2, 3 or 4 (got {scale!r})"]
    problems = _int_option(o, "eval_images", 1) + _int_option(o, "image_size", 8)
    if not (_is_int(o.size, 8) and o.size % scale == 0):
        problems.append(
            f"srcnn size (the high-resolution crop) must be ≥ 8 and a multiple of scale {scale} (got {o.size!r})"
        )
    elif _is_int(o.family_options.get("image_size"), 8) and o.size > o.family_options["image_size"]:
        limit = o.family_options["image_size"]
        problems.append(f"srcnn size {o.size} must not exceed family_options.image_size {limit}")
    eval_dataset = o.family_options.get("eval_dataset")
    if eval_dataset is not None and not (isinstance(eval_dataset, str) and eval_dataset.strip()):
        problems.append("family_options.eval_dataset must be None, 'bundled:<name>' or a folder")
    return problems


def _crn_problems(o: TrainOptions) -> list[str]:
    base = o.arch.get("base_height", 4)
    fo = o.family_options
    problems = _int_option(o, "aspect", 1) + _int_option(o, "images_per_layout", 1)
    if not _is_positive_number(fo.get("vgg_width")):
        problems.append("family_options.vgg_width must be a positive number")
    elif fo.get("vgg_weights") is not None and fo["vgg_width"] != 1:
        problems.append("family_options.vgg_width must be 1.0 when vgg_weights (pretrained VGG-19) is given")
    if fo.get("num_classes") is not None and not _is_int(fo["num_classes"], 1):
        problems.append(
            f"family_options.num_classes must be None (from the data) or an integer ≥ 1 (got {fo['num_classes']!r})"
        )
    if not (_is_int(base, 1) and _is_int(o.size, 1) and o.size % base == 0 and _power_of_two(o.size // base)):
        problems.append(f"crn size must be arch.base_height ({base}) times a power of two (got {o.size!r})")
    return problems


def _simgan_problems(o: TrainOptions) -> list[str]:
    problems = [] if _is_int(o.size, 8) else [f"simgan size must be an integer ≥ 8 (got {o.size!r})"]
    if o.family_options.get("channels") not in (1, 3):
        problems.append("family_options.channels must be 1 (grey) or 3 (RGB)")
    problems += _int_option(o, "history_size", 1)
    problems += _int_option(o, "pretrain_refiner_steps", 0) + _int_option(o, "pretrain_d_steps", 0)
    return problems + _number_option(o, "reg_lambda", 0.0, 1e6)


FAMILY_CHECKS = {
    "dcgan": _dcgan_problems,
    "progressive": _progressive_problems,
    "srcnn": _srcnn_problems,
    "crn": _crn_problems,
    "simgan": _simgan_problems,
}
