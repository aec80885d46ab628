"""The background run of the saliency explorer: missing maps first (fastest
methods first), then trust reports, with progress, stopping, and a failure of
one method shown without losing the others' maps."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

from ...core import metrics
from ...core.attribution import MethodSpec
from ..scheduling import Cancelled, Job

__all__ = ["Step", "MethodFailed", "run_steps"]

_REPORT_COST = 3  # a trust report costs about three maps (two curves and the randomisation check)


class MethodFailed(RuntimeError):
    """A method raised; the message names the method and the original error."""


@dataclass
class Step:
    """One method's part of a run: its map (when missing) and its trust report (when asked)."""

    entry: MethodSpec
    key: tuple  # the cache key of its map and report
    kwargs: Dict[str, Any] = field(default_factory=dict)


def run_steps(job: Job, model, x, target, maps: List[Step], reports: List[Step],
              stored_map: Callable[[Step], Any], on_map: Callable[[Step, Any], None],
              on_report: Callable[[Step, Any], None], on_failure: Callable[[Step, str], None]) -> None:
    """Compute ``maps`` then ``reports`` for ``target``; hand each result to its callback.

    ``stored_map(step)`` gives a map already computed (for the reports). A
    method that raises is reported through ``on_failure`` and the run goes on;
    the first failure is raised at the end so the widget shows it.
    """
    total = max(1, len(maps) + _REPORT_COST * len(reports))
    done = [0.0]
    failures: List[Tuple[Step, BaseException]] = []

    def progress_of(title: str, weight: float):
        def progress(fraction: float, _text: str = "") -> None:
            job.check()  # raising here stops a long method between its batches
            job.progress((done[0] + weight * fraction) / total, title)
        return progress

    def attempt(step: Step, fn: Callable[[], Any]):
        try:
            return fn()
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - any method may fail; the others still run
            failures.append((step, exc))
            on_failure(step, f"{step.entry.title} failed: {type(exc).__name__}: {exc}")
            return None

    for step in maps:
        job.progress(done[0] / total, step.entry.title)
        kwargs = dict(step.kwargs)
        if step.entry.streams:
            kwargs["progress"] = progress_of(step.entry.title, 1.0)
        result = attempt(step, lambda: step.entry.function(model, x, target=target, **kwargs))
        job.check()
        if result is not None:
            on_map(step, result)
        done[0] += 1
    for step in reports:
        attribution = stored_map(step)
        if attribution is not None:
            title = f"trust report: {step.entry.title}"
            report = attempt(step, lambda: metrics.trust_report(
                model, x, step.entry.function, target, attribution=attribution,
                progress=progress_of(title, _REPORT_COST), **step.kwargs))
            job.check()
            if report is not None:
                on_report(step, report)
        done[0] += _REPORT_COST
    if failures:
        step, exc = failures[0]
        raise MethodFailed(f"{step.entry.title} failed: {type(exc).__name__}: {exc}") from exc
