"""The server under load: its gate on CPU-heavy work (at most one thread per slot, first come first served
across passes), and Keras' state kept between script runs."""

from __future__ import annotations

import threading
import time

import pytest

from ui.models import FirstComeGate, keep_keras_state


def _wait_until(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the threads did not get where the test expects"
        time.sleep(0.005)


def test_a_thread_back_for_its_second_pass_goes_before_later_arrivals():
    gate, entered, release = FirstComeGate(1), [], threading.Event()

    def first() -> None:
        with gate.turn():
            entered.append("first, pass 1")
            release.wait(10)
        with gate.turn():  # its models, after reading its upload
            entered.append("first, pass 2")

    def later(name: str) -> None:
        with gate.turn():
            entered.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    _wait_until(lambda: entered)
    for k, name in enumerate(("second", "third")):
        threads.append(threading.Thread(target=later, args=(name,)))
        threads[-1].start()
        _wait_until(lambda k=k: len(gate._waiting) == k + 1)  # queued in this order
    release.set()
    for thread in threads:
        thread.join(10)
    assert entered == ["first, pass 1", "first, pass 2", "second", "third"]


def test_no_more_threads_inside_than_slots_and_a_pass_inside_a_pass_is_the_same_turn():
    gate, lock, inside, most = FirstComeGate(2), threading.Lock(), [0], [0]
    pair = threading.Barrier(2, timeout=10)  # passes only when two are inside at once

    def work() -> None:
        with gate.turn():
            with gate.turn():  # nested: must not wait for itself
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                pair.wait()
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads) and not pair.broken
    assert most[0] == 2 and inside[0] == 0


def test_streamlits_end_of_run_clear_no_longer_resets_keras(monkeypatch):
    keras = pytest.importorskip("keras")
    from keras.src.backend.common import global_state

    monkeypatch.setattr(keras.backend, "clear_session", keras.backend.clear_session)  # put back afterwards
    global_state.set_global_attribute("medlib_probe", 1)
    keep_keras_state()
    keras.backend.clear_session()  # what Streamlit's script runner calls after every run
    assert global_state.get_global_attribute("medlib_probe") == 1
    keep_keras_state()  # again, on the next run: still the same stand-in
    assert keras.backend.clear_session.__name__ == "_keep_session"
