"""What a refinement run is asked to do: the modes, the solvers and their measured
defaults, as one dataclass (RefineOptions) with named presets."""
import math
from dataclasses import dataclass, replace

import numpy as np

# none: the lifter alone; uao: the authors' input latent; uao-feature: the feature before
# the heads (UAO*); uao-sequence: the feature latent over one person's consecutive frames
# (shared bone lengths, temporal smoothness; lifter/refine/sequence.py).
MODES = ("none", "uao", "uao-feature", "uao-sequence")
ROOTS = ("solve", "joint")
SOLVERS = ("adam", "gn")
# Adam steps by measurement (benchmarks/uao_ablation.py, training subjects): the latents
# live in different units (normalised 2D vs LayerNorm-scale features).
LR = {"uao": 1e-2, "uao-feature": 3e-2}
# Modes whose latent is the feature before the heads (Gauss-Newton on joint positions).
FEATURE_MODES = ("uao-feature", "uao-sequence")


@dataclass
class RefineOptions:
    mode: str = "none"          # one of MODES
    iters: int = 4
    lambda_proj: float = 1.0
    lambda_unc: float = 0.1       # measured; 0.005 is the paper's value in its own units
    lr: float = None              # Adam step; None: the measured default of the latent (LR)
    score_threshold: float = 0.3  # 2D joints scored below this do not pull the projection
    max_ms: float = 0.0           # > 0: stop refining once this much time has passed (live)
    root: str = "solve"           # solve: closed-form root per iteration | joint: Adam on it too
    root_lr_m: float = 0.01       # Adam step of the root translation when root == "joint"
    sticky: bool = True           # joints at rest move only if the 2D pull beats their confidence
    solver: str = None            # adam | gn (feature latent only); None: gn for the feature
                                  # latent (measured: more accurate, as fast), adam for the input
    # uao-sequence only (lifter/refine/sequence.py); 0 turns a term off
    lambda_bone: float = 30.0     # per metre^2 of bone-length deviation from the person's set
    lambda_smooth: float = 300.0  # per (m / frame^2)^2 of root-relative joint acceleration
    lambda_root_smooth: float = 0.3  # per (m / frame^2)^2 of root acceleration
    window: int = 32              # frames per window (offline: overlapping windows; live: the last W)
    cg_iters: int = 8             # conjugate-gradient steps per Gauss-Newton step (window system)

    @property
    def solver_used(self):
        """The solver that runs: the given one, else gn for the feature latent, adam for the input."""
        return self.solver or ("gn" if self.mode in FEATURE_MODES else "adam")

    @property
    def lr_used(self):
        """Adam's step: the given one, else the measured default of the latent (LR)."""
        return self.lr if self.lr is not None else LR.get(self.mode)

    @staticmethod
    def preset(name):
        """Named settings. "authors": the released code's exact optimiser settings
        (input latent, Adam lr 1e-3, 4 iterations, lambdas 1 / 0.005, autograd's zero
        gradient of ||mu - mu0|| at rest); "live": the feature latent with Gauss-Newton,
        2 steps (converged; see benchmarks/uao_ablation.py); "sequence": uao-sequence at
        its defaults; "sequence-live": the live sliding window (lifter/refine/live.py), 8
        frames, one warm-started step per frame (4 CG steps), stopping after 3 ms
        (benchmarks/sequence_ablation.py, benchmarks/uao_speed.py)."""
        presets = {
            "authors": RefineOptions(mode="uao", iters=4, lambda_proj=1.0, lambda_unc=0.005, lr=1e-3,
                                     sticky=False, solver="adam"),
            "live": RefineOptions(mode="uao-feature", iters=2, solver="gn"),
            "sequence": RefineOptions(mode="uao-sequence"),
            "sequence-live": RefineOptions(mode="uao-sequence", iters=1, cg_iters=4, window=8, max_ms=3.0),
        }
        if name not in presets:
            raise ValueError(f"refine preset {name!r}: unknown (expected one of {', '.join(presets)})")
        return replace(presets[name])

    def check(self):
        """Raise a one-line ValueError naming the first bad field."""
        if self.mode not in MODES:
            raise ValueError(f"refine mode {self.mode!r}: unknown (expected one of {', '.join(MODES)})")
        if self.root not in ROOTS:
            raise ValueError(f"refine root {self.root!r}: unknown (expected one of {', '.join(ROOTS)})")
        if self.solver is not None and self.solver not in SOLVERS:
            raise ValueError(f"refine solver {self.solver!r}: unknown (expected one of {', '.join(SOLVERS)})")
        if self.solver == "gn" and self.mode == "uao":
            raise ValueError("refine solver 'gn' needs mode 'uao-feature' (the input latent has no small closed form)")
        if self.mode == "uao-sequence" and self.solver_used != "gn":
            raise ValueError("refine solver 'adam': mode 'uao-sequence' runs Gauss-Newton only")
        for name in ("iters", "cg_iters"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 0):
                raise ValueError(f"refine {name} {v!r}: must be an integer >= 0")
        if not (isinstance(self.window, (int, np.integer)) and self.window >= 3):
            raise ValueError(f"refine window {self.window!r}: must be an integer >= 3")
        for name in ("lambda_proj", "lambda_unc", "lr", "root_lr_m", "max_ms", "lambda_bone",
                     "lambda_smooth", "lambda_root_smooth"):
            v = getattr(self, name)
            if v is None and name == "lr":
                continue
            if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"refine {name} {v!r}: must be a finite number >= 0")
