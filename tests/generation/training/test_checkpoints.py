import pytest
import torch

from generation.training.checkpoints import (
    FORMAT, CheckpointError, checkpoint_name, list_checkpoints, load_checkpoint, save_checkpoint,
)
from generation.training.device import autocast, pick_device
from tests.generation.training.conftest import tensors_equal


def _payload(**extra):
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return {
        "family": "dcgan", "options": {"family": "dcgan", "betas_g": [0.5, 0.999]}, "iteration": 7,
        "images_seen": 56, "training_seconds": 1.25, "nets": {"g": net.state_dict()},
        "optimizers": {"g": optimizer.state_dict()}, "state": {"stage": 1, "alpha": 0.5},
        "rng": {"torch": torch.get_rng_state()}, **extra,
    }


def test_checkpoint_round_trips_through_weights_only_load(tmp_path):
    payload = _payload()
    info = save_checkpoint(tmp_path / "ckpt" / checkpoint_name(7), payload)
    assert (info.iteration, info.images_seen, info.training_seconds) == (7, 56, 1.25)
    assert info.path.name == "iter_000007.pt"
    loaded = load_checkpoint(info.path)
    assert loaded["format"] == FORMAT
    assert tensors_equal({k: loaded[k] for k in payload}, payload)
    # Nothing but the checkpoint is left in the folder (the temporary file was renamed).
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["iter_000007.pt"]


def test_non_checkpoints_raise_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an evalsite checkpoint"):
        load_checkpoint(foreign)


def test_pickled_objects_are_refused_by_the_weights_only_loader(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "object": torch.nn.Linear(1, 1)}, path)  # a whole module, not a state dict
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_incomplete_payloads_are_refused_on_save(tmp_path):
    with pytest.raises(CheckpointError, match="lacks nets"):
        save_checkpoint(tmp_path / "x.pt", {k: v for k, v in _payload().items() if k != "nets"})


def test_checkpoints_are_listed_in_iteration_order(tmp_path):
    for it in (1000, 20, 300):
        save_checkpoint(tmp_path / checkpoint_name(it), _payload(iteration=it))
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_000020.pt", "iter_000300.pt", "iter_001000.pt"]
    assert list_checkpoints(tmp_path / "none") == []


def test_cpu_device_and_autocast_is_a_no_op_there():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with autocast(torch.device("cpu"), "auto"):
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert out.dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_asking_for_cuda_without_a_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_autocast_on_cuda_uses_bfloat16():
    device = pick_device("auto")
    with autocast(device, "auto"):
        out = torch.nn.Linear(4, 4).to(device)(torch.ones(2, 4, device=device))
    assert out.dtype == torch.bfloat16
    with autocast(device, "off"):
        out = torch.nn.Linear(4, 4).to(device)(torch.ones(2, 4, device=device))
    assert out.dtype == torch.float32
