"""Import shims that let mmpose 1.3.2 load on this CPU stack; imported only by the
mmpose backend, before the first mmpose/torchvision import. Each shim is applied only
when the real thing is missing, so a full install (compiled mmcv, CPU torchvision)
passes through untouched.

* torchvision 0.28 from PyPI is a CUDA build: with the CPU torch its compiled `_C`
  extension cannot load, and `import torchvision` then dies registering fake kernels for
  `torchvision::nms` / `qnms` ("operator torchvision::nms does not exist"). Declaring
  the two schemas first lets everything but the compiled ops import. Top-down pose
  models never call them.
* mmcv-lite has no compiled ops, yet mmpose imports `mmcv.ops.MultiScaleDeformableAttention`
  at import time (for EDPose only). A placeholder `mmcv.ops` module satisfies the import;
  using it raises a clear error instead.
"""
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

_LIBS = []  # keep the torch.library handle alive: dropping it unregisters the schemas


def _torchvision_ops_load():
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed: nothing to patch, the import error will say so
    for path in Path(spec.submodule_search_locations[0]).glob("_C*.so"):
        try:
            torch.ops.load_library(str(path))
            return True
        except (OSError, RuntimeError):
            return False
    return False


def _patch_torchvision():
    if "torchvision" in sys.modules or _torchvision_ops_load():
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)


class _MissingOp:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("this model needs mmcv's compiled ops, which mmcv-lite lacks; "
                           "install the full mmcv==2.1.0 (built from source) to use it")


def _patch_mmcv_ops():
    try:
        import mmcv.ops  # noqa: F401  (a full mmcv build: nothing to do)
        return
    except ImportError:
        pass
    ops = types.ModuleType("mmcv.ops")
    ops.MultiScaleDeformableAttention = _MissingOp
    ops.MMCV_LITE_PLACEHOLDER = True
    sys.modules["mmcv.ops"] = ops
    import mmcv
    mmcv.ops = ops


def has_compiled_mmcv_ops():
    return not getattr(sys.modules.get("mmcv.ops"), "MMCV_LITE_PLACEHOLDER", False)


def allow_numpy_in_checkpoints():
    """OpenMMLab checkpoints keep numpy arrays and scalars in `meta` (dataset info);
    allow-list exactly the numpy reconstructors they need, under both the numpy 1 and
    numpy 2 module names, so torch.load can stay weights_only=True."""
    multiarray = np._core.multiarray
    allowed = [np.ndarray, np.dtype, *{type(np.dtype(t)) for t in _DTYPES}]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(multiarray._reconstruct, f"{module}._reconstruct"),
                    (multiarray.scalar, f"{module}.scalar")]
    torch.serialization.add_safe_globals(allowed)


_DTYPES = ("b1", "u1", "i1", "i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "U", "S")


_patch_torchvision()
_patch_mmcv_ops()
