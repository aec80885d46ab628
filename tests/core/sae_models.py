"""Small autoencoders the sparse-autoencoder tests share (trained in seconds) and the layer by hand."""
import pytest
import torch

import nnlens_widgets as nl

DIGITS_LAYER = "relu3"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Training on one CPU thread (imported by each SAE test module): on a machine other jobs share,
    torch's thread pool waits on busy cores and a 100-step training takes ten times as long."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def digits():
    data = nl.zoo.digits_data()
    return nl.zoo.digits_cnn(), data


def digits_sae(model, images, **kw):
    """A small TopK autoencoder of the digits CNN's ``relu3`` (64 channels at 16x16)."""
    settings = dict(features=128, k=8, steps=60, batch_size=256, lr=8e-3, seed=0)  # quick, held-out EV about 0.94
    settings.update(kw)
    return nl.core.train_sae(model, DIGITS_LAYER, images, **settings)


def digits_relu3(model, x):
    """The digits CNN up to ``relu3``, written out."""
    x = model.relu1(model.conv1(x))
    x = model.pool1(model.relu2(model.conv2(x)))
    return model.relu3(model.conv3(x))


def digits_head(model, a):
    """The digits CNN after ``relu3``, written out."""
    return model.fc(model.flatten(model.gap(model.pool2(a))))


def encode_by_hand(sae, rows):
    """z = TopK(ReLU(W_enc (a - b_dec) + b_enc)) computed directly from the formula."""
    pre = (rows - sae.b_dec) @ sae.W_enc.T + sae.b_enc
    top = torch.topk(pre, sae.k, dim=-1)
    z = torch.zeros_like(pre)
    return z.scatter(-1, top.indices, top.values.clamp_min(0))
