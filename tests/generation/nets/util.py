"""Helpers shared by the nets tests."""

import torch
from torch import nn


def assert_grads_everywhere(module: nn.Module, skip: tuple[str, ...] = ()) -> None:
    """Every trainable parameter (except names starting with ``skip``) got a non-zero gradient."""
    missing = [
        name
        for name, p in module.named_parameters()
        if p.requires_grad and not name.startswith(skip) and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not missing, f"no gradient reached: {missing}"


def same_state(a: nn.Module, b: nn.Module) -> bool:
    """Whether two modules hold identical state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
