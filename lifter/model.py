"""GUMLP: graph convolution + U-shaped MLPs, predicting each joint's 3D position and
its uncertainty (s = log sigma), after the UAO paper (sizes in method-facts.md).

forward(x (B, 17, 2)) -> mu (B, 17, 3) metres, root-relative camera frame; s (B, 17).
encode / decode split the network at the feature the UAO* refiner optimises: the
output of the last block, (B, 17, C), which feeds only the two linear heads.
"""
import numpy as np
import torch
from torch import nn

from .skeleton import BONES, CENTRE, NUM_JOINTS, SYMMETRIC_PAIRS

# dropout 0: training samples are generated afresh every step (random cameras, bodies,
# noise), so there is nothing to memorise, and dropout's random masks cost a third of a
# CPU training step. The authors' 0.1 is one option away.
DEFAULT_CONFIG = {"width": 256, "blocks": 3, "embed": 64, "kernels": 4,
                  "drop_path": 0.1, "dropout": 0.0, "input_norm": "rays"}


def adjacency_kernels(n=NUM_JOINTS, bones=BONES, centre=CENTRE, pairs=SYMMETRIC_PAIRS):
    """(4, n, n): self, towards the centre joint, away from it, left/right partner.

    Row i lists whom joint i gathers from; each row is averaged (degree-normalised).
    """
    hop = np.full(n, np.inf)
    hop[centre] = 0
    for _ in range(n):
        for a, b in bones:
            hop[a] = min(hop[a], hop[b] + 1)
            hop[b] = min(hop[b], hop[a] + 1)
    A = np.zeros((4, n, n), np.float32)
    A[0] = np.eye(n)
    for a, b in bones:
        for i, j in ((a, b), (b, a)):
            A[1 if hop[j] < hop[i] else 2, i, j] = 1
    for a, b in pairs:
        A[3, a, b] = A[3, b, a] = 1
    deg = A.sum(-1, keepdims=True)
    return A / np.maximum(deg, 1)


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand(x.shape[0], 1, 1, device=x.device) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)


class GraphConv(nn.Module):
    """Sum over K fixed adjacency kernels of A_k @ (x W_k)."""

    def __init__(self, width, kernels):
        super().__init__()
        self.register_buffer("A", torch.from_numpy(adjacency_kernels()[:kernels]), persistent=False)
        self.proj = nn.Linear(width, width * kernels)
        self.kernels = kernels

    def forward(self, x):  # (B, J, C)
        B, J, C = x.shape
        h = self.proj(x).view(B, J, self.kernels, C)
        return torch.einsum("kij,bjkc->bic", self.A, h)


class ChannelUMLP(nn.Module):
    """C -> C/2 -> C/2 (+skip) -> C over channels."""

    def __init__(self, width, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.down = nn.Linear(width, width // 2)
        self.mid = nn.Linear(width // 2, width // 2)
        self.up = nn.Linear(width // 2, width)
        self.act, self.drop = nn.GELU(), nn.Dropout(dropout)

    def forward(self, x):
        h1 = self.drop(self.act(self.down(self.norm(x))))
        h2 = self.drop(self.act(self.mid(h1)))
        return self.drop(self.up(h2 + h1))


class JointUMLP(nn.Module):
    """17 -> 51 -> 102 -> 102 (+skip) -> 51 (+skip) -> 17 over the joint axis."""

    def __init__(self, joints, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(joints)
        a, b = 3 * joints, 6 * joints
        self.l1, self.l2, self.l3 = nn.Linear(joints, a), nn.Linear(a, b), nn.Linear(b, b)
        self.l4, self.l5 = nn.Linear(b, a), nn.Linear(a, joints)
        self.act, self.drop = nn.GELU(), nn.Dropout(dropout)

    def forward(self, x):  # (B, J, C)
        t = self.norm(x.transpose(1, 2))  # (B, C, J)
        h1 = self.drop(self.act(self.l1(t)))
        h2 = self.drop(self.act(self.l2(h1)))
        h3 = self.drop(self.act(self.l3(h2))) + h2
        h4 = self.drop(self.act(self.l4(h3))) + h1
        return self.l5(h4).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, width, kernels, drop_path, dropout):
        super().__init__()
        self.gcn_norm = nn.LayerNorm(width)
        self.gcn = GraphConv(width, kernels)
        self.channel = ChannelUMLP(width, dropout)
        self.joint = JointUMLP(NUM_JOINTS, dropout / 2)  # the authors use 0.05 beside 0.1
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path(self.gcn(self.gcn_norm(x)))
        return x + self.drop_path(self.channel(x) + self.joint(x))


class Head(nn.Module):
    """LayerNorm -> Linear -> Linear (no activation, as in the authors' code)."""

    def __init__(self, width, out):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width // 2)
        self.fc2 = nn.Linear(width // 2, out)

    def forward(self, x):
        return self.fc2(self.fc1(self.norm(x)))


class GUMLP(nn.Module):
    def __init__(self, **config):
        super().__init__()
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown GUMLP options: {sorted(unknown)}")
        self.config = {**DEFAULT_CONFIG, **config}
        c = self.config
        self.embed = nn.Sequential(nn.Linear(2, c["embed"]), nn.Linear(c["embed"], c["width"]))
        rates = np.linspace(0, c["drop_path"], c["blocks"])
        self.blocks = nn.ModuleList(Block(c["width"], c["kernels"], float(r), c["dropout"]) for r in rates)
        self.mean_head = Head(c["width"], 3)
        self.sigma_head = Head(c["width"], 1)
        nn.init.constant_(self.sigma_head.fc2.bias, float(np.log(0.05)))  # start near 5 cm

    def encode(self, x):
        """(B, 17, 2) normalised 2D -> (B, 17, C) feature (the UAO* latent)."""
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return h

    def decode(self, feature):
        """(B, 17, C) -> mu (B, 17, 3) metres, s = log sigma (B, 17)."""
        return self.mean_head(feature), self.sigma_head(feature)[..., 0]

    def forward(self, x):
        return self.decode(self.encode(x))


def likelihood_loss(mu, s, target):
    """The authors' loss: mean over joints of ||y - mu|| exp(-s) + s (Laplace-style).
    Minimised at sigma = the joint's expected distance to the truth."""
    dist = torch.linalg.vector_norm(target - mu, dim=-1)
    return (dist * torch.exp(-s) + s).mean()


def gaussian_loss(mu, s, target):
    """The squared form the paper writes: the negative log-likelihood of an isotropic 3D
    Gaussian N(mu, sigma^2 I), mean over joints of ||y - mu||^2 / (2 sigma^2) + 3 log sigma.
    Minimised at sigma = the per-axis RMS error (distance / sqrt 3)."""
    sq = ((target - mu) ** 2).sum(-1)
    return (0.5 * sq * torch.exp(-2 * s) + 3 * s).mean()


LOSSES = {"likelihood": likelihood_loss, "gaussian": gaussian_loss}


def save_lifter(model, path, meta=None):
    torch.save({"format": "gumlp-v1", "config": dict(model.config),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "meta": meta or {}}, path)


def _first_line(e):
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def load_lifter(path, device="cpu"):
    """Load a checkpoint saved by save_lifter (weights_only). Raises ValueError with the
    file name and the problem on a missing, foreign or wrong-shape checkpoint. The model
    is first built on the meta device (no memory) and checked against the file's tensors,
    so a crafted config cannot make it allocate more than the file holds."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"lifter weights {path}: file not found") from None
    except Exception as e:  # pickle/zip errors carry long messages: keep the first line
        raise ValueError(f"lifter weights {path}: not a loadable checkpoint ({_first_line(e)[:160]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != "gumlp-v1":
        raise ValueError(f"lifter weights {path}: not a GUMLP checkpoint (no 'format': 'gumlp-v1')")
    config, state = ckpt.get("config"), ckpt.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError(f"lifter weights {path}: no 'config' / 'state_dict' mappings")
    config_text = repr(config)[:120]
    blocks = config.get("blocks", DEFAULT_CONFIG["blocks"])
    if not isinstance(blocks, int) or not 0 <= blocks <= 64:
        raise ValueError(f"lifter weights {path}: blocks {blocks!r} is not a whole number in 0..64")
    try:
        with torch.device("meta"):
            shapes = {k: v.shape for k, v in GUMLP(**config).state_dict().items()}
        wrong = [k for k, shape in shapes.items()
                 if not isinstance(state.get(k), torch.Tensor) or state[k].shape != shape]
        if wrong or set(state) != set(shapes):
            raise ValueError(f"tensor {(wrong or sorted(set(state) ^ set(shapes)))[0]!r} missing or of another shape")
        model = GUMLP(**config)
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else _first_line(e)
        raise ValueError(f"lifter weights {path}: does not fit GUMLP{config_text} ({detail[:200]})") from None
    model.meta = ckpt.get("meta", {})
    return model.to(device).eval()
