"""Reading camera calibration files from outside: OpenCV FileStorage YAML/XML, or JSON.

Parsed in Python (PyYAML's safe loader, ElementTree, json) rather than by
cv2.FileStorage, whose parser answers damaged files with a SystemError traceback.
Returns plain values; lifter.camera.load_calibration turns them into Intrinsics.
Every failure is a `CalibrationError` (a ValueError) of one line naming the file.
"""
import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import yaml

K_NAMES = ("camera_matrix", "K", "cameraMatrix", "mtx")
D_NAMES = ("distortion_coefficients", "dist_coeffs", "distCoeffs", "D", "dist")
MAX_BYTES = 1 << 20  # a calibration is a few hundred bytes; refuse anything huge unread


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the problem."""


class _OpenCVLoader(yaml.SafeLoader):
    """Safe YAML plus OpenCV's `!!opencv-matrix` tag (a mapping rows, cols, dt, data)."""


def _opencv_matrix(loader, node):
    m = loader.construct_mapping(node, deep=True)
    return {"__matrix__": True, **m}


_OpenCVLoader.add_constructor("tag:yaml.org,2002:opencv-matrix", _opencv_matrix)
_OpenCVLoader.add_constructor("tag:yaml.org,2002:opencv-nd-matrix", _opencv_matrix)


def _numbers(value, path, name):
    """A number, a (nested) list of numbers or an opencv-matrix -> float64 array."""
    if isinstance(value, dict) and value.get("__matrix__"):
        rows, cols = value.get("rows"), value.get("cols", 1)
        data = _numbers(value.get("data"), path, name)
        if not isinstance(rows, int) or not isinstance(cols, int) or rows * cols != data.size:
            raise CalibrationError(f"calibration file {path}: {name} rows/cols do not match its data")
        return data.reshape(rows, cols)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise CalibrationError(f"calibration file {path}: {name} is not numeric") from None
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"calibration file {path}: {name} holds a non-finite value")
    return arr


def _read_yaml(text, path):
    if text.startswith("%YAML"):  # OpenCV writes "%YAML:1.0", which PyYAML does not accept
        text = text.split("\n", 1)[1] if "\n" in text else ""
    try:
        data = yaml.load(text, Loader=_OpenCVLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise CalibrationError(f"calibration file {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except (ValueError, TypeError, RecursionError) as e:  # e.g. unhashable keys in a mapping
        raise CalibrationError(f"calibration file {path}: not valid YAML ({type(e).__name__})") from None
    return data


def _xml_value(el):
    if el.get("type_id") in ("opencv-matrix", "opencv-nd-matrix"):
        fields = {c.tag: (c.text or "").strip() for c in el}
        try:
            rows, cols = int(fields.get("rows", "")), int(fields.get("cols", "1"))
        except ValueError:
            rows = cols = None
        return {"__matrix__": True, "rows": rows, "cols": cols, "data": fields.get("data", "").split()}
    words = (el.text or "").split()
    return words[0] if len(words) == 1 else words


def _read_xml(text, path):
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise CalibrationError(f"calibration file {path}: not valid XML ({e})") from None
    return {child.tag: _xml_value(child) for child in root}


def read_calibration(path):
    """-> (K (3, 3), dist (n,) or None, width or None, height or None) from a calibration file."""
    path = str(path)
    if not os.path.isfile(path):
        raise CalibrationError(f"calibration file {path}: not found")
    if os.path.getsize(path) > MAX_BYTES:
        raise CalibrationError(f"calibration file {path}: over {MAX_BYTES} bytes, not a calibration")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise CalibrationError(f"calibration file {path}: not UTF-8 text") from None
    except OSError as e:
        raise CalibrationError(f"calibration file {path}: cannot be read ({e.strerror})") from None
    kind = os.path.splitext(path)[1].lower()
    if kind == ".json":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise CalibrationError(f"calibration file {path}: not valid JSON ({str(e)[:80]})") from None
    elif kind == ".xml" or text.lstrip().startswith("<"):
        data = _read_xml(text, path)
    else:
        data = _read_yaml(text, path)
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration file {path}: expected a mapping of names to values")
    get = lambda names: next((data[n] for n in names if data.get(n) is not None), None)
    K = get(K_NAMES)
    if K is None:
        raise CalibrationError(f"calibration file {path}: no camera matrix "
                               f"(expected one of {', '.join(K_NAMES)})")
    K = _numbers(K, path, "camera matrix")
    if K.size == 9:
        K = K.reshape(3, 3)
    if K.shape != (3, 3):
        raise CalibrationError(f"calibration file {path}: camera matrix has shape {K.shape}, expected 3x3")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationError(f"calibration file {path}: focal lengths must be positive "
                               f"(fx {K[0, 0]:g}, fy {K[1, 1]:g})")
    D = get(D_NAMES)
    D = None if D is None else _numbers(D, path, "distortion coefficients").ravel()
    size = []
    for names in (("image_width", "width"), ("image_height", "height")):
        v = get(names)
        if v is not None:
            arr = _numbers(v, path, names[0])
            if arr.size != 1 or not 0 < arr.item() < 1e6 or arr.item() != int(arr.item()):
                raise CalibrationError(f"calibration file {path}: {names[0]} must be a positive whole number")
            v = int(arr.item())
        size.append(v)
    return K, D, size[0], size[1]
