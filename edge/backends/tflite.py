"""A loaded ``.tflite`` model: input quantization in, dequantized outputs out, once, here.

Implements the small ``Backend`` interface the pipeline uses:
``invoke(tensor (H, W, 3) uint8 pixels in the model's channel order) -> list[np.ndarray]``
(float32 outputs, batch dimension kept). Callers never see quantization.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.backends.runtime import interpreter_module
from edge.core.metadata import Normalization
from edge.core.tflite_file import ModelFileError, TfliteFile, read_tflite

log = logging.getLogger(__name__)

DELEGATES = ("cpu", "edgetpu")
_EDGETPU_LIB = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
EDGETPU_HINT = (
    "install the Edge TPU runtime: `sudo apt-get install libedgetpu1-std` from Coral's apt "
    "repository (https://coral.ai/software/#debian-packages), plug the accelerator in, and "
    "add your user to the plugdev group"
)


@dataclass(frozen=True)
class TensorSpec:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


def _spec(d: dict) -> TensorSpec:
    scale, zp = d.get("quantization", (0.0, 0))
    return TensorSpec(int(d["index"]), str(d["name"]), tuple(int(v) for v in d["shape"]),
                      np.dtype(d["dtype"]), float(scale), int(zp))


class TfliteBackend:
    """One interpreter. Not thread-safe: one pipeline thread invokes it."""

    def __init__(
        self,
        model_path: str | Path,
        threads: int | None = None,
        delegate: str = "cpu",
        normalization: Normalization | None = None,
        preserve_all_tensors: bool = False,
    ) -> None:
        if delegate not in DELEGATES:
            raise ValueError(f"delegate must be one of {DELEGATES}, got {delegate!r}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.path = Path(model_path)
        self.file: TfliteFile = read_tflite(self.path)  # clear errors before the C++ loader
        self.runtime, mod = interpreter_module()
        delegates = [self._edgetpu(mod)] if delegate == "edgetpu" else []
        kwargs: dict = {"model_path": str(self.path), "num_threads": threads}
        if delegates:
            kwargs["experimental_delegates"] = delegates
        if preserve_all_tensors:
            kwargs["experimental_preserve_all_tensors"] = True
            # XNNPACK fuses away intermediates; the reference kernels keep them readable
            resolver = getattr(mod, "OpResolverType", None)
            if resolver is not None:
                kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interpreter = mod.Interpreter(**kwargs)
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as e:
            raise ModelFileError(f"{self.path}: the {self.runtime} interpreter cannot load "
                                 f"this model: {str(e).strip().splitlines()[0]}") from e
        self.delegate = delegate
        self.threads = threads
        ins = self.interpreter.get_input_details()
        if len(ins) != 1:
            raise ModelFileError(f"{self.path}: expected one image input, model has {len(ins)}")
        self.input = _spec(ins[0])
        if len(self.input.shape) != 4 or self.input.shape[3] not in (1, 3):
            raise ModelFileError(f"{self.path}: input shape {self.input.shape} is not an "
                                 "image batch [1, H, W, 1|3]")
        self.outputs = [_spec(d) for d in self.interpreter.get_output_details()]
        self._set_normalization(normalization)

    @staticmethod
    def _edgetpu(mod):
        lib = _EDGETPU_LIB.get(platform.system(), "libedgetpu.so.1")
        try:
            return mod.load_delegate(lib)
        except (ValueError, OSError, RuntimeError) as e:
            raise RuntimeError(f"Edge TPU delegate {lib} failed to load ({e}); {EDGETPU_HINT}") from e

    @property
    def input_wh(self) -> tuple[int, int]:
        return (self.input.shape[2], self.input.shape[1])

    def _set_normalization(self, norm: Normalization | None) -> None:
        """Precompute pixel -> input-value mapping so the per-frame cost is one LUT or FMA."""
        spec = self.input
        self._lut: np.ndarray | None = None  # (256, 3) pixel -> input value, per channel
        self._channels = np.arange(3)
        self._identity = False
        if norm is None:
            # Foreign models: quantized inputs take raw pixels (their quantization encodes
            # the normalization); float inputs take pixel / 255 (YOLO/Keras convention).
            norm = None if spec.quantized or spec.dtype == np.uint8 else Normalization()
        if spec.dtype in (np.uint8, np.int8) and norm is None:
            self._identity = spec.dtype == np.uint8
            if spec.dtype == np.int8:  # same real value, shifted storage
                self._lut = (np.arange(256) - 128).astype(np.int8)[:, None].repeat(3, 1)
            return
        mean = np.asarray(norm.mean, np.float64) if norm else np.zeros(3)
        std = np.asarray(norm.std, np.float64) if norm else np.ones(3)
        if spec.quantized:
            real = (np.arange(256)[:, None] - mean) / std  # (256, 3)
            q = np.round(real / spec.scale + spec.zero_point)
            info = np.iinfo(spec.dtype)
            lut = np.clip(q, info.min, info.max).astype(spec.dtype)
            self._identity = spec.dtype == np.uint8 and np.array_equal(
                lut, np.arange(256, dtype=np.uint8)[:, None].repeat(3, 1))
            self._lut = None if self._identity else lut
        else:
            self._mul = (1.0 / std).astype(np.float32)
            self._add = (-mean / std).astype(np.float32)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) uint8 pixels -> (1, H, W, C) in the input's dtype and quantization."""
        spec = self.input
        if image.shape[:2] != (spec.shape[1], spec.shape[2]):
            raise ValueError(f"input image is {image.shape[1]}x{image.shape[0]}, model "
                             f"expects {spec.shape[2]}x{spec.shape[1]}")
        if self._identity:
            return image[None]
        if self._lut is not None:
            return self._lut[image, self._channels[: image.shape[2]]][None]
        out = image.astype(np.float32) * self._mul[: image.shape[2]] + self._add[: image.shape[2]]
        return out.astype(spec.dtype, copy=False)[None]

    def invoke(self, image: np.ndarray) -> list[np.ndarray]:
        """Run the model on one (H, W, C) uint8 image; float32 outputs in model order."""
        self.set_input(image)
        self.interpreter.invoke()
        return self.get_outputs()

    def set_input(self, image: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input.index, self.prepare(image))

    def get_outputs(self) -> list[np.ndarray]:
        return [self.dequantize(s, self.interpreter.get_tensor(s.index)) for s in self.outputs]

    @staticmethod
    def dequantize(spec: TensorSpec, arr: np.ndarray) -> np.ndarray:
        if spec.quantized:
            return (arr.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)
        return arr.astype(np.float32, copy=False)

    def tensor(self, index: int) -> np.ndarray:
        """Any tensor by index, dequantized (needs preserve_all_tensors for intermediates)."""
        d = next(t for t in self.interpreter.get_tensor_details() if t["index"] == index)
        return self.dequantize(_spec(d), self.interpreter.get_tensor(index))
