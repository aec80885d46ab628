import threading

from nnlens_widgets.widgets.scheduling import LatestWins


def test_newest_work_wins_and_stale_results_are_not_drawn():
    drawn, errors = [], []
    runner = LatestWins(on_error=errors.append)
    gate = threading.Event()
    started = threading.Event()

    def slow(job):
        started.set()
        gate.wait(5)
        return "old"

    runner.submit(slow, drawn.append)
    assert started.wait(5)
    runner.submit(lambda job: "middle", drawn.append)  # dropped: replaced before it starts
    runner.submit(lambda job: "new", drawn.append)
    gate.set()
    assert runner.wait(5)
    assert drawn == ["new"] and errors == []


def test_cancel_marks_running_work_and_errors_are_reported():
    errors, drawn = [], []
    runner = LatestWins(on_error=errors.append)
    seen_cancel = threading.Event()
    running = threading.Event()

    def loop(job):
        running.set()
        while not job.cancelled:
            pass
        seen_cancel.set()
        job.check()  # raises Cancelled: nothing drawn, no error

    runner.submit(loop, drawn.append)
    assert running.wait(5)
    runner.cancel()
    assert seen_cancel.wait(5) and runner.wait(5)
    runner.submit(lambda job: 1 / 0, drawn.append)
    assert runner.wait(5)
    assert drawn == [] and len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    runner.submit(lambda job: "ok", drawn.append)
    assert runner.wait(5) and drawn == ["ok"]


def test_progress_reported_only_for_current_work():
    progress = []
    runner = LatestWins(on_error=print, on_progress=lambda f, t: progress.append((f, t)))

    def work(job):
        job.progress(0.5, "half")
        return None

    runner.submit(work, lambda r: None)
    assert runner.wait(5)
    assert progress == [(0.5, "half")]
