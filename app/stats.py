"""Run statistics in constant memory: a live run may go on for hours."""
import math
from collections import deque

ROLLING_FRAMES = 30


class RunningStat:
    """Count, mean and max of a stream of numbers, and the mean of the last `window`."""

    def __init__(self, window=ROLLING_FRAMES):
        self.count, self.total, self.max = 0, 0.0, -math.inf
        self.recent = deque(maxlen=window)

    def add(self, value):
        self.count += 1
        self.total += value
        self.max = max(self.max, value)
        self.recent.append(value)

    def mean(self):
        return self.total / self.count if self.count else None

    def rolling(self):
        return sum(self.recent) / len(self.recent) if self.recent else None


class StageTimes:
    """Per-stage wall ms (rolling and whole-run mean) and whole-run mean thread-CPU ms."""

    def __init__(self, stages):
        self.wall = {s: RunningStat() for s in stages}
        self.cpu = {s: RunningStat() for s in stages}

    def add(self, frame):
        for s, ms in frame.timings_ms.items():
            self.wall[s].add(ms)
            self.cpu[s].add(frame.cpu_ms[s])  # Frame.record writes both

    def rolling(self):
        return {s: v.rolling() for s, v in self.wall.items() if v.count}

    def mean(self):
        return {s: v.mean() for s, v in self.wall.items() if v.count}

    def mean_cpu(self):
        return {s: v.mean() for s, v in self.cpu.items() if v.count}
