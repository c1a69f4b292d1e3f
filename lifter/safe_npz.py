"""Reading .npz files from outside without running their code.

VideoPose3D's Human3.6M files hold pickled dicts (subject -> action -> arrays), so
numpy's free unpickling (its allow_pickle switch) would be needed, and that runs whatever
the pickle names (`os.system` included). Here object arrays are unpickled by a restricted unpickler that
admits only what that layout holds: numpy arrays, dtypes and scalars, and the dicts,
lists, tuples, strings and numbers that pickle builds without naming any class.
Everything else is refused with a one-line `UnsafeFileError` naming the file.
"""
import io
import pickle
import zipfile

import numpy as np
from numpy.lib import format as npy_format


class UnsafeFileError(ValueError):
    """An npz whose pickle names something outside the admitted set."""


# (module, name) pairs a numpy object-array pickle may name. numpy 1.x wrote
# numpy.core.*, numpy 2.x writes numpy._core.*; both resolve to today's objects.
_MULTIARRAY = np._core.multiarray
_ADMITTED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy._core.multiarray", "_reconstruct"): _MULTIARRAY._reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _MULTIARRAY._reconstruct,
    ("numpy._core.multiarray", "scalar"): _MULTIARRAY.scalar,
    ("numpy.core.multiarray", "scalar"): _MULTIARRAY.scalar,
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def __init__(self, stream, path):
        super().__init__(stream)
        self.path = path

    def find_class(self, module, name):
        try:
            return _ADMITTED[module, name]
        except KeyError:
            raise UnsafeFileError(f"{self.path}: refused, its pickle names {module}.{name} "
                                  f"(only numpy arrays, dicts, lists, strings and numbers are read)") from None

    def persistent_load(self, pid):
        raise UnsafeFileError(f"{self.path}: refused, its pickle uses persistent ids")


def _read_member(raw, path, name):
    stream = io.BytesIO(raw)
    version = npy_format.read_magic(stream)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"{path}: {name} has an unknown .npy version {version}")
    header = {(1, 0): npy_format.read_array_header_1_0}.get(version, npy_format.read_array_header_2_0)
    shape, fortran, dtype = header(stream)
    if not dtype.hasobject:
        # numpy allocates the announced shape before reading: check the bytes exist first
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need > len(raw) - stream.tell():
            raise ValueError(f"{path}: {name} announces {shape} {dtype} but holds fewer bytes")
        stream.seek(0)
        return npy_format.read_array(stream, allow_pickle=False)
    try:
        obj = _ArraysOnlyUnpickler(stream, path).load()
    except UnsafeFileError:
        raise
    except Exception as e:  # a damaged pickle: any of the many errors pickle raises
        raise ValueError(f"{path}: {name} is a damaged pickle ({type(e).__name__})") from None
    if not isinstance(obj, np.ndarray) or obj.dtype != dtype:
        raise ValueError(f"{path}: {name} does not hold the object array its header announces")
    return obj


def load_npz(path):
    """{key: array} of every member of an .npz; object arrays through the restricted unpickler.

    Raises ValueError (UnsafeFileError for refused pickles) with one line naming `path`.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.endswith(".npy")]
            if not members:
                raise ValueError(f"{path}: not an npz (no .npy member)")
            out = {}
            for name in members:
                out[name[:-4]] = _read_member(zf.read(name), path, name)
            return out
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as e:
        raise ValueError(f"{path}: unreadable npz ({type(e).__name__}: {str(e)[:80]})") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: unreadable npz ({str(e).splitlines()[0][:100] if str(e) else 'bad header'})") \
            from None
