"""Train a small network on points of the plane, step by step, as TensorFlow Playground does.

Headless pieces of ``nl.Playground``:

- ``data``: the four Playground data sets (circle, xor, gauss, spiral) for
  2 to 6 classes and the train/test split; ``own_data``: your points from
  an array, a tensor, a DataFrame or a CSV file;
- ``net``: the network (a plain ``nn.Sequential``), its activations
  (``step`` with a straight-through gradient);
- ``trainer``: mini-batch SGD with L1/L2 penalties, live settings and an
  exact ``rewind``; ``history``: the loss curves; ``state``: a trainer as
  a JSON-ready dict;
- ``pictures``: the decision map and every neuron's map over the plane.

Every random number comes from a ``torch.Generator`` of its own.
"""
from .data import DATASETS, EXTENT, MAX_CLASSES, MIN_CLASSES, POINTS, PointSet, make_points, split_points
from .history import LossHistory
from .net import (
    ACTIVATIONS, MAX_LAYERS, MAX_NEURONS, ActivationSpec, InputScale, Step, build_net, check_activations, check_hidden,
)
from .own_data import MAX_POINTS, check_classes, load_points
from .source import OWN, DataSource, nearest_point
from .forward import Snapshot, loss_of, probabilities_of, share_right, snapshot
from .pictures import NetPictures, decision_probabilities, net_pictures
from .state import STATE_VERSION, restore_trainer, trainer_state
from .trainer import RECORD_EVERY, REGULARIZATIONS, Trainer, check_settings, data_loss, derived_seeds

__all__ = [
    "ACTIVATIONS", "DATASETS", "EXTENT", "MAX_CLASSES", "MAX_LAYERS", "MAX_NEURONS", "MAX_POINTS", "MIN_CLASSES",
    "POINTS", "RECORD_EVERY", "REGULARIZATIONS", "STATE_VERSION", "ActivationSpec", "InputScale", "LossHistory",
    "NetPictures", "decision_probabilities", "OWN", "DataSource", "nearest_point", "PointSet", "Step", "Trainer", "build_net", "check_activations", "check_classes", "check_hidden",
    "check_settings", "data_loss", "Snapshot", "loss_of", "probabilities_of", "share_right", "snapshot", "derived_seeds", "load_points",
    "make_points", "net_pictures", "restore_trainer", "split_points", "trainer_state",
]
