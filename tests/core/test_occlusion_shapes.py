"""Occlusion maps point at the shape on the shapes model (ground-truth masks)."""
import nnlens_widgets as nl
from nnlens_widgets.core import occlusion


def test_pointing_game_on_shapes_cnn():
    model = nl.zoo.shapes_cnn()
    test = nl.zoo.make_shapes(30, seed=777)
    hits, inside_wins = 0, 0
    for img, mask, label in zip(test.images, test.masks, test.labels):
        probability = lambda out, c=int(label): out.softmax(1)[:, c]  # noqa: E731
        heat = occlusion(model, img, probability, window=6, stride=3).mean(0)
        y, x = divmod(int(heat.argmax()), heat.shape[1])
        hits += bool(mask[y, x])
        inside_wins += bool(heat[mask].mean() > heat[~mask].mean())
    print(f"pointing game {hits}/30, mean inside > outside {inside_wins}/30")
    assert hits >= 0.9 * 30
    assert inside_wins >= 0.9 * 30
