"""A training process that is gone without a word ends its run as failed, with the reason, exactly once."""

from __future__ import annotations

from pathlib import Path

from medlib.datasets.phantom import make_phantom
from medlib.training import TrainConfig
from medlib.training.worker import TrainingProcess, exit_reason


class _Gone:
    """A process that ended by a signal (as one killed when memory runs out does)."""

    exitcode = -9

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None


def test_a_killed_process_ends_its_run_as_failed_once_with_the_reason(tmp_path):
    events = []
    run = TrainingProcess(TrainConfig(), make_phantom(n=6, size=16), Path(tmp_path / "out"), events.append,
                          scratch=tmp_path / "scratch")
    run._process = _Gone()
    assert run.notice_death(grace=0.0)
    assert not run.notice_death(grace=0.0)  # once only, whatever the follower says later
    (event,) = events
    assert event["state"] == "failed" and "SIGKILL" in event["error"] and "memory" in event["error"]


def test_exit_codes_in_words():
    assert exit_reason(3) == "the training process ended unexpectedly (exit code 3)"
    assert "SIGTERM" in exit_reason(-15)
