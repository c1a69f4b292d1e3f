"""Ctrl-C / SIGTERM for the demo: each signal asks for more haste, none loses an export.

1st: stop reading the source; frames in flight still reach the outputs (for at most the
     pipeline's drain time), then the exports are finalised and the app exits 0.
2nd: do not wait for the frames in flight; finalise the exports now.
more: ignored while the exports are written (SIGKILL quits without npz/csv/bvh; then
      `python -m app.finalise DIR` builds them from the complete poses.jsonl).
Before the pipeline runs (models loading) nothing is written yet, so a 2nd signal quits
at once (KeyboardInterrupt).
"""
import os
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    """`with StopOnSignal() as signals: ... signals.attach(pipeline); pipeline.run()`;
    the previous handlers are back after the block."""

    def __init__(self):
        self.reason, self.count, self.pipeline, self._previous = None, 0, None, {}

    def __enter__(self):
        for s in SIGNALS:
            self._previous[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def attach(self, pipeline):
        """From now on signals stop `pipeline`; one that came while loading stops it at once."""
        self.pipeline = pipeline
        if self.reason:
            pipeline.request_stop(self.reason, now=self.count > 1)

    def _on_signal(self, signum, _frame):
        name = signal.Signals(signum).name
        self.count += 1
        self.reason = self.reason or name
        if self.pipeline is None:
            if self.count > 1:
                raise KeyboardInterrupt
            say(f"{name}: stopping as soon as the models are loaded ({name} again: quit now)")
        elif self.count == 1:
            self.pipeline.request_stop(name)
            say(f"{name}: stopping: finishing the frames in flight, then writing the exports "
                f"({name} again: skip the frames in flight)")
        elif self.count == 2:
            self.pipeline.request_stop(name, now=True)
            say(f"{name}: writing the exports now")
        else:
            say(f"{name}: still writing the exports; SIGKILL quits without npz/csv/bvh "
                "(then `python -m app.finalise DIR` builds them from poses.jsonl)")


def say(message):
    """One line to stderr with os.write: print() could re-enter a write this signal interrupted."""
    os.write(2, f"{message}\n".encode())
