"""FeatureVisualizer(quiz=True): two query images, one reference, a pick, scores per kind of reference."""
from __future__ import annotations

import numpy as np
import pytest

import nnlens_widgets as nl
from nnlens_widgets.core import forward_capture


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def _peak(model, images, layer, channel):
    acts, _ = forward_capture(model, images, [layer])
    return acts[layer][:, channel].flatten(1).amax(1).numpy()


def test_quiz_trials_are_measured_and_scored_per_reference(digits):
    model, data = digits
    vis = nl.FeatureVisualizer(model, layer="relu3", data=data.x_test, channel=0, steps=8, seconds=0, quiz=True,
                               seed=3)
    assert vis.wait(300)
    quiz = vis._quiz
    assert quiz._pictures.layout.display == "none" and quiz.buttons[0].disabled  # nothing to answer yet
    with pytest.raises(ValueError, match="open trial"):
        quiz.pick(0)
    top = set(int(i) for i in vis.top_examples().top(unit=0)[0])
    kinds = []
    for n in range(8):
        trial = quiz.next()
        assert trial is not None and trial.layer == "relu3" and trial.channel == 0
        peaks = _peak(model, data.x_test[list(trial.queries)], "relu3", 0)
        assert np.allclose(trial.peaks, peaks, rtol=1e-4, atol=1e-4)  # who wins is measured
        assert trial.answer == int(np.argmax(peaks))
        assert len(top & set(trial.queries)) == 1  # one query from the unit's top images, one from elsewhere
        title = quiz.reference.title
        assert ("feature visualisation" in title) == (trial.reference == "visualisation")
        if trial.reference == "examples":  # the query from the top set is not among the references
            assert f"top {len(top) - 1} data images" in title
        assert quiz.buttons[0].disabled is False and quiz._pictures.layout.display == "flex"
        right = quiz.pick(trial.answer if n % 2 == 0 else 1 - trial.answer)
        assert right == (n % 2 == 0) and quiz.buttons[0].disabled
        with pytest.raises(ValueError):
            quiz.pick(0)  # one answer a trial
        kinds.append((trial.reference, right))
    results = vis.quiz_results()
    for kind in ("visualisation", "examples"):
        mine = [r for k, r in kinds if k == kind]
        assert results[kind]["answered"] == len(mine) and results[kind]["correct"] == sum(mine)
    assert len(results["trials"]) == 8 and {k for k, _ in kinds} == {"visualisation", "examples"}
    assert f"{results['examples']['correct']} of {results['examples']['answered']} right" in quiz.score.body.value
    assert "quiz score" in vis.views
    vis.close()


def test_quiz_waits_for_what_its_reference_needs(digits):
    model, data = digits
    vis = nl.FeatureVisualizer(model, layer="relu3", data=data.x_test, channel=0, steps=8, quiz=True,
                               autorun=False)
    assert vis.wait(300) and vis.result() is None
    waited = 0
    for _ in range(10):  # no picture yet: only top-example trials can start
        trial = vis._quiz.next()
        if trial is None:
            waited += 1
            assert "waiting for the visualisation" in vis._quiz.note.value and vis._quiz.buttons[0].disabled
        else:
            assert trial.reference == "examples"
    assert waited > 0
    vis.close()


def test_quiz_needs_data_and_a_plain_visualizer_has_no_results(digits):
    model, data = digits
    with pytest.raises(ValueError, match="data="):
        nl.FeatureVisualizer(model, layer="relu3", quiz=True, autorun=False)
    plain = nl.FeatureVisualizer(model, layer="relu3", autorun=False)
    with pytest.raises(ValueError, match="quiz=True"):
        plain.quiz_results()
    plain.close()
