"""Lifting plus test-time refinement: the public face is `lift` and its LiftResult,
configured by RefineOptions (from lifter.refine import lift, RefineOptions).

UAO (uncertainty-aware test-time optimisation) freezes the lifter and moves a latent
state for a few iterations so that the 3D pose re-projects onto the detected 2D joints
(projection term, weighted by detector score) while joints the network is confident
about stay put (uncertainty term: mean_j ||mu_j - mu0_j|| exp(-s_j), s detached).

Latents (RefineOptions.mode):
  "uao"          the normalised 2D network input (B, 17, 2): the authors' released
                 algorithm (Adam), a forward and an input-gradient through the whole
                 frozen network per iteration (folded.py).
  "uao-feature"  the feature before the heads (B, 17, C) (the paper's UAO*): the trunk
                 runs once; Gauss-Newton on the per-joint positions it reaches
                 (solvers.py), or the paper's Adam (solver "adam").
  "uao-sequence" the feature latent of each of one person's consecutive frames, with
                 one set of bone lengths per person and temporal smoothness
                 (sequence.py); live, per track: SequenceRefiner (live.py).

No ground truth is used: the root translation is the closed-form least-squares fit of
the current root-relative pose to the 2D rays with one depth guard
(camera.root_map / camera.place_root), re-solved in every iteration (root "solve"), or
optimised jointly with the latent (root "joint"); benchmarks/uao_ablation.py measures
both (re-solving wins).

Projection residuals are measured in the network's own input unit: undistorted camera
rays divided by the 2D pose's RMS spread around the pelvis. That unit is free of focal
length, image size and distance, so one lr and one lambda serve every camera and person
size. It is larger than the authors' width-normalised pixels, which is why the measured
lambda_unc (0.1) is not the paper's 0.005 (kept in RefineOptions.preset("authors")).

Modules: options (RefineOptions, presets), objective (FrameProblem: the per-frame
objective, its gradient and Gauss-Newton system), folded (FoldedGUMLP: the hand-written
forward and input-gradient), solvers (the per-frame loops), lifting (lift), sequence
(uao-sequence over a track's windows), live (SequenceRefiner).
"""
from .folded import FoldedGUMLP
from .lifting import LiftResult, lift
from .live import SequenceRefiner
from .objective import FrameProblem, projection_weights, reprojection_error_px
from .options import LR, MODES, RefineOptions
from .solvers import refine_frames

__all__ = ["FoldedGUMLP", "FrameProblem", "LR", "LiftResult", "MODES", "RefineOptions", "SequenceRefiner", "lift",
           "projection_weights", "refine_frames", "reprojection_error_px"]
