import numpy as np
import pytest
import torch

from generation.nets.simgan import (
    REAL,
    REFINED,
    HistoryBuffer,
    LocalDiscriminator,
    Refiner,
    local_adversarial_loss,
    self_regularisation,
)

from .util import assert_grads_everywhere, same_state


@pytest.mark.parametrize("size", [(28, 28), (35, 55), (32, 32)])
def test_refiner_keeps_size_and_discriminator_gives_patch_map(size):
    torch.manual_seed(0)
    refiner, d = Refiner(channels=1, features=8, blocks=2), LocalDiscriminator(channels=1, width=0.125)
    refined = refiner(torch.rand(4, 1, *size) * 2 - 1)
    assert refined.shape == (4, 1, *size) and refined.abs().max() <= 1
    h, w = size
    assert d(refined).shape == (4, 2, -(-h // 4), -(-w // 4))


def test_refiner_on_colour_images():
    assert Refiner(channels=3, features=8, blocks=1)(torch.zeros(4, 3, 16, 16)).shape == (4, 3, 16, 16)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    refiner, d = Refiner(features=8, blocks=2), LocalDiscriminator(width=0.125)
    synthetic, real = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    refined = refiner(synthetic)
    d_loss = local_adversarial_loss(d(real), REAL) + local_adversarial_loss(d(refined.detach()), REFINED)
    d_loss.backward()
    assert_grads_everywhere(d)
    (local_adversarial_loss(d(refined), REAL) + self_regularisation(refined, synthetic, 0.5)).backward()
    assert_grads_everywhere(refiner)


@pytest.mark.parametrize("target", [0, 1])
def test_local_adversarial_loss_matches_numpy(target):
    torch.manual_seed(0)
    logits = torch.randn(4, 2, 3, 5)
    x = logits.double().numpy()
    log_probs = x - np.log(np.exp(x).sum(axis=1, keepdims=True))  # log-softmax over the 2 classes
    expected = -log_probs[:, target].sum() / 4  # summed over patches, mean over the batch
    assert local_adversarial_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_self_regularisation():
    refined, synthetic = torch.zeros(2, 1, 3, 3), torch.full((2, 1, 3, 3), 0.5)
    assert self_regularisation(refined, synthetic, 2.0).item() == pytest.approx(2.0 * 0.5 * 9 * 2 / 2)


def ids(images: torch.Tensor) -> list[int]:
    """Each test image is constant, its value an id."""
    return images[:, 0, 0, 0].long().tolist()


def batch(first_id: int, b: int = 4) -> torch.Tensor:
    return torch.arange(first_id, first_id + b, dtype=torch.float32).view(b, 1, 1, 1).expand(b, 1, 2, 2).clone()


def test_history_buffer_mixes_half_current_half_history():
    buf = HistoryBuffer(capacity=8, seed=0)
    assert ids(buf.push_and_sample(batch(0))) == [0, 1, 2, 3]  # empty: current batch only
    assert len(buf) == 4
    out = ids(buf.push_and_sample(batch(10)))
    assert out[:2] == [10, 11] and set(out[2:]) <= {0, 1, 2, 3} and len(set(out[2:])) == 2
    assert len(buf) == 8  # fills with whole batches
    for step in range(2, 6):
        before = set(ids(buf.images))
        out = ids(buf.push_and_sample(batch(10 * step)))
        assert out[:2] == [10 * step, 10 * step + 1]
        assert set(out[2:]) <= before  # the history half comes from earlier steps
        after = ids(buf.images)
        assert len(after) == 8
        assert sum(i // 10 == step for i in after) == 2  # half a batch of slots replaced per step
        assert len(set(after) - before) == 2


def test_history_buffer_output_is_detached_and_capacity_respected():
    buf = HistoryBuffer(capacity=3)
    refined = torch.rand(4, 1, 2, 2, requires_grad=True)
    assert not buf.push_and_sample(refined).requires_grad
    assert len(buf) == 3


def test_history_buffer_state_round_trip():
    a = HistoryBuffer(capacity=8, seed=1)
    for step in range(3):
        a.push_and_sample(batch(10 * step))
    b = HistoryBuffer(capacity=1, seed=99)
    b.load_state_dict(a.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in a.state_dict().values())
    for step in range(3, 6):
        assert ids(a.push_and_sample(batch(10 * step))) == ids(b.push_and_sample(batch(10 * step)))
    assert ids(a.images) == ids(b.images)


def test_same_seed_same_init():
    torch.manual_seed(4)
    r, d = Refiner(features=8, blocks=2), LocalDiscriminator(width=0.125)
    torch.manual_seed(4)
    assert same_state(r, Refiner(features=8, blocks=2)) and same_state(d, LocalDiscriminator(width=0.125))
