import numpy as np
import pytest
import torch
from torch import nn

from nnlens_widgets.zoo import DIGIT_CLASSES, DigitsCNN, digits_cnn, digits_data, train_digits_cnn
from nnlens_widgets.zoo.digits import WEIGHTS_PATH, accuracy


@pytest.fixture(scope="module")
def data():
    return digits_data()


def test_data_shapes_and_ranges(data):
    assert data.x_train.shape == (1347, 1, 32, 32)
    assert data.x_test.shape == (450, 1, 32, 32)
    assert data.x_train.dtype == data.x_test.dtype == torch.float32
    assert data.y_train.shape == (1347,) and data.y_test.shape == (450,)
    assert data.y_train.dtype == data.y_test.dtype == torch.int64
    for x in (data.x_train, data.x_test):
        assert x.min() >= 0 and x.max() <= 1
    assert set(data.y_train.tolist()) == set(data.y_test.tolist()) == set(range(10))
    assert data.classes == DIGIT_CLASSES == [str(d) for d in range(10)]


def test_size_8_is_the_original_images_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    small = digits_data(size=8)
    images = torch.from_numpy(load_digits().images.astype(np.float32) / 16)
    assert torch.equal(small.x_train[:, 0], images[small.train_index])
    assert torch.equal(small.x_test[:, 0], images[small.test_index])


def test_split_is_disjoint_stratified_and_fixed(data):
    train, test = set(data.train_index.tolist()), set(data.test_index.tolist())
    assert len(train) == 1347 and len(test) == 450
    assert not train & test
    assert train | test == set(range(1797))
    # Stratified: each class is ~25% of its images in the test split.
    counts_train = torch.bincount(data.y_train, minlength=10)
    counts_test = torch.bincount(data.y_test, minlength=10)
    share = counts_test.float() / (counts_train + counts_test)
    assert ((share - 0.25).abs() < 0.01).all()
    assert torch.equal(digits_data().test_index, data.test_index)
    assert not torch.equal(digits_data(seed=1).test_index, data.test_index)


def test_shipped_model_accuracy(data):
    model = digits_cnn()
    assert not model.training
    acc = accuracy(model, data.x_test, data.y_test)
    print(f"shipped DigitsCNN test accuracy: {acc:.4f}")
    assert acc >= 0.95


def test_weights_file_is_a_small_plain_state_dict():
    assert WEIGHTS_PATH.stat().st_size < 500 * 1024
    state = torch.load(WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert isinstance(state, dict)
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    assert state.keys() == DigitsCNN().state_dict().keys()


def test_named_layers_and_output_shape():
    model = DigitsCNN()
    names = dict(model.named_children())
    for name in ("conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "pool2", "gap", "fc"):
        assert name in names
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 3 and not any(m.inplace for m in relus)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_untrained_model_differs_from_shipped():
    random, shipped = digits_cnn(pretrained=False), digits_cnn()
    assert not random.training
    assert not torch.equal(random.conv1.weight, shipped.conv1.weight)
    assert not torch.equal(random.fc.weight, shipped.fc.weight)


def test_accuracy_restores_training_flag(data):
    model = DigitsCNN().train()
    accuracy(model, data.x_test[:10], data.y_test[:10])
    assert all(m.training for m in model.modules())


def test_training_is_reproducible_and_leaves_global_rng_alone():
    progress = []
    rng = torch.get_rng_state()
    first = train_digits_cnn(epochs=1, on_progress=lambda *args: progress.append(args))
    assert torch.equal(torch.get_rng_state(), rng)
    second = train_digits_cnn(epochs=1)
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not first.training
    (epoch, loss, acc), = progress
    assert epoch == 1 and loss > 0 and 0 <= acc <= 1
    other = train_digits_cnn(epochs=1, seed=1).state_dict()
    assert not torch.equal(a["conv1.weight"], other["conv1.weight"])
