"""Constant-velocity Kalman filters for N independent scalar channels, with a
Rauch-Tung-Striebel (RTS) smoother over the stored history, and a One-Euro filter.

State per channel: [position, velocity]; the process is white-noise acceleration of
spectral density q (units^2 / s^3), so over dt the prediction adds
Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]]. Each measurement carries its own variance r, so
a confident measurement pulls the state to itself and an uncertain one barely moves a
state that the motion model predicts well. A NaN measurement is skipped (predict
only), so a missing joint never poisons its channel; a channel not seen for longer
than `reset_after_s` starts afresh at its next measurement instead of extrapolating a
stale velocity.
"""
from dataclasses import dataclass

import numpy as np

INITIAL_SPEED_STD = 1.0   # units/s: velocity prior of a channel's first measurement


def _transition(dt):
    return np.array([[1.0, dt], [0.0, 1.0]])


def _inverse2(M):
    """(N, 2, 2) -> inverses, in closed form (np.linalg.inv costs more than the filter)."""
    det = M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
    adj = np.stack([np.stack([M[:, 1, 1], -M[:, 0, 1]], -1), np.stack([-M[:, 1, 0], M[:, 0, 0]], -1)], -2)
    return adj / np.where(np.abs(det) > 1e-30, det, 1e-30)[:, None, None]


@dataclass
class Step:
    """One stored filter step: prior (after predict) and posterior (after update), and the
    RTS gain carrying the next step's correction back to this one."""
    x_prior: np.ndarray   # (N, 2)
    x_post: np.ndarray    # (N, 2)
    P_post: np.ndarray    # (N, 2, 2)
    fresh: np.ndarray     # (N,) bool: channel (re)started here, no link to the past
    gain_back: np.ndarray | None = None   # (N, 2, 2), set when the next step arrives


class ConstantVelocityBank:
    def __init__(self, n, q, gate=3.0, reset_after_s=1.0, history=0):
        """n channels; q (n,) or scalar process noise; gate: innovations beyond this many
        standard deviations get their variance inflated (Huber-like), so one wild
        measurement moves the state by at most about gate sigmas; history: steps kept
        for `smoothed` (0 = none)."""
        self.q = np.broadcast_to(np.asarray(q, np.float64), (n,)).copy()
        self.gate, self.reset_after_s, self.history = gate, reset_after_s, history
        self.x = np.full((n, 2), np.nan)
        self.P = np.zeros((n, 2, 2))
        self.unseen_s = np.full(n, np.inf)   # time since each channel's last measurement
        self.steps = []

    def step(self, z, r, dt):
        """Advance by dt seconds and take measurements z (n,) with variances r (n,)
        (NaN z = none). Returns the filtered positions (n,)."""
        z, r = np.asarray(z, np.float64), np.asarray(r, np.float64)
        q = self.q[:, None, None]
        F = _transition(dt)
        Q = q * np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])
        x_prior = self.x @ F.T
        P_prior = F @ self.P @ F.T + Q
        self.unseen_s += dt
        seen = np.isfinite(z) & np.isfinite(r)
        fresh = seen & (~np.isfinite(self.x[:, 0]) | (self.unseen_s > self.reset_after_s))
        update = seen & ~fresh
        x, P = x_prior.copy(), P_prior.copy()
        if update.any():
            y = z[update] - x_prior[update, 0]
            S = P_prior[update, 0, 0] + r[update]
            nis = y * y / S
            S = S + r[update] * np.maximum(nis / self.gate ** 2 - 1.0, 0.0)  # outliers count less
            K = P_prior[update, :, 0] / S[:, None]                             # (m, 2)
            x[update] = x_prior[update] + K * y[:, None]
            P[update] = P_prior[update] - K[:, :, None] * P_prior[update, None, 0, :]
        x[fresh] = np.stack([z[fresh], np.zeros(fresh.sum())], -1)
        P[fresh] = 0.0
        P[fresh, 0, 0], P[fresh, 1, 1] = r[fresh], INITIAL_SPEED_STD ** 2
        self.unseen_s[seen] = 0.0
        self.x, self.P = x, P
        if self.history:
            if self.steps:  # RTS gain of the previous step: P_post F^T P_prior^-1
                last = self.steps[-1]
                last.gain_back = last.P_post @ F.T @ _inverse2(P_prior + 1e-12 * np.eye(2))
            self.steps.append(Step(x_prior, x, P, fresh))
            del self.steps[:-self.history]
        return x[:, 0]

    def sweep(self, count):
        """RTS-smoothed positions (count, n) of the last `count` stored steps, oldest
        first, each given every stored step after it (the last row is the filtered one)."""
        if not 1 <= count <= len(self.steps):
            raise ValueError(f"RTS sweep over {count} steps: {len(self.steps)} stored")
        xs = self.steps[-1].x_post
        out = [xs[:, 0]]
        for k in range(len(self.steps) - 2, len(self.steps) - 1 - count, -1):
            cur, nxt = self.steps[k], self.steps[k + 1]
            step_back = cur.x_post + (cur.gain_back @ (xs - nxt.x_prior)[..., None])[..., 0]
            linked = ~nxt.fresh & np.isfinite(xs[:, 0]) & np.isfinite(cur.x_post[:, 0])
            xs = np.where(linked[:, None], step_back, cur.x_post)
            out.append(xs[:, 0])
        return np.stack(out[::-1])


class OneEuroBank:
    """One-Euro filter (Casiez et al., CHI 2012) on n channels whose minimum cut-off
    follows each measurement's noise: cutoff = min_cutoff_hz * (noise_ref / noise) +
    beta * |speed|, so a noisy joint is low-passed harder. Causal only."""

    def __init__(self, n, min_cutoff_hz, beta, noise_ref, d_cutoff_hz=1.0):
        self.min_cutoff, self.beta, self.noise_ref, self.d_cutoff = min_cutoff_hz, beta, noise_ref, d_cutoff_hz
        self.x = np.full(n, np.nan)
        self.dx = np.zeros(n)

    @staticmethod
    def _alpha(cutoff_hz, dt):
        tau = 1.0 / (2 * np.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt)

    def step(self, z, noise, dt):
        """z (n,) measurements (NaN = none), noise (n,) their standard deviations."""
        seen = np.isfinite(z) & np.isfinite(noise)
        new = seen & ~np.isfinite(self.x)
        self.x[new], self.dx[new] = z[new], 0.0
        upd = seen & ~new
        dx = (z[upd] - self.x[upd]) / dt
        self.dx[upd] += self._alpha(self.d_cutoff, dt) * (dx - self.dx[upd])
        cutoff = self.min_cutoff * self.noise_ref / np.maximum(noise[upd], 1e-6) + self.beta * np.abs(self.dx[upd])
        self.x[upd] += self._alpha(cutoff, dt) * (z[upd] - self.x[upd])
        return self.x.copy()
