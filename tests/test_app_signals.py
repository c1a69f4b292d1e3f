"""app.signals.StopOnSignal with real signals sent to this process."""
import os
import signal
import time

import pytest

from app.signals import StopOnSignal


class Recorder:
    def __init__(self):
        self.calls = []

    def request_stop(self, reason, now=False):
        self.calls.append((reason, now))


def send(signum):
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs in this (main) thread at its next bytecode


def test_each_signal_asks_for_more_haste_and_none_kills(capfd):
    before = signal.getsignal(signal.SIGINT)
    pipeline = Recorder()
    with StopOnSignal() as signals:
        signals.attach(pipeline)
        send(signal.SIGINT)
        send(signal.SIGTERM)
        send(signal.SIGINT)  # while the exports are written: ignored, the process lives on
    assert pipeline.calls == [("SIGINT", False), ("SIGTERM", True)]
    assert signal.getsignal(signal.SIGINT) is before
    err = capfd.readouterr().err
    assert "SIGINT: stopping" in err and "SIGTERM: writing the exports now" in err and "still writing" in err


def test_signal_while_loading_stops_the_pipeline_at_once_and_a_second_quits():
    with StopOnSignal() as signals:
        send(signal.SIGTERM)
        pipeline = Recorder()
        signals.attach(pipeline)
    assert pipeline.calls == [("SIGTERM", False)]
    with pytest.raises(KeyboardInterrupt):
        with StopOnSignal():
            send(signal.SIGINT)
            send(signal.SIGINT)
