"""The LightningModule's forward and predict steps, without a trainer."""

from __future__ import annotations

import torch

from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule


def test_forward_returns_one_logit_per_class() -> None:
    model = {{ cookiecutter.class_name }}LitModule(num_classes=10)

    logits = model(torch.randn(4, 1, 28, 28))

    assert logits.shape == (4, 10)


def test_predict_step_returns_class_indices() -> None:
    model = {{ cookiecutter.class_name }}LitModule().eval()
    batch = (torch.randn(3, 1, 28, 28), torch.zeros(3, dtype=torch.int64))

    predictions = model.predict_step(batch, 0)

    assert predictions.shape == (3,)
    assert predictions.dtype == torch.int64
    assert int(predictions.min()) >= 0 and int(predictions.max()) < 10


def test_hyperparameters_are_saved() -> None:
    model = {{ cookiecutter.class_name }}LitModule(lr=0.01, hidden_dim=32)

    assert model.hparams.lr == 0.01
    assert model.hparams.hidden_dim == 32


def test_compiling_keeps_parameter_names() -> None:
    # Checkpoints of a compiled model load into an uncompiled one, and back.
    compiled = {{ cookiecutter.class_name }}LitModule(compile=True)
    plain = {{ cookiecutter.class_name }}LitModule()

    assert list(compiled.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(compiled.state_dict())
