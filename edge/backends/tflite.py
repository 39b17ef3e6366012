"""A loaded ``.tflite`` model behind the ``Backend`` interface (``edge.backends.base``).

``invoke`` takes the model input already made by ``edge.core.model_input`` (in the
input's dtype and quantization) and returns dequantized float32 outputs, batch axis kept.
Callers never see output quantization.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import numpy as np

from edge.backends.base import Signature, TensorSpec, dequantize
from edge.backends.native_log import native_info_to_debug
from edge.backends.runtime import interpreter_module
from edge.core.tflite_file import ModelFileError, TfliteFile, read_tflite

__all__ = ["DELEGATES", "EDGETPU_HINT", "TensorSpec", "TfliteBackend"]

log = logging.getLogger(__name__)

DELEGATES = ("cpu", "edgetpu")
_EDGETPU_LIB = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
EDGETPU_HINT = (
    "install the Edge TPU runtime: `sudo apt-get install libedgetpu1-std` from Coral's apt "
    "repository (https://coral.ai/software/#debian-packages), plug the accelerator in, and "
    "add your user to the plugdev group"
)


def _spec(d: dict) -> TensorSpec:
    scale, zp = d.get("quantization", (0.0, 0))
    return TensorSpec(int(d["index"]), str(d["name"]), tuple(int(v) for v in d["shape"]),
                      np.dtype(d["dtype"]), float(scale), int(zp))


class TfliteBackend:
    """One interpreter. Not thread-safe: one pipeline thread invokes it.

    extra_outputs: indices of intermediate tensors to return after the model's own outputs
    (e.g. the raw SSD head under a fused post-process op); the interpreter then keeps all
    tensors readable, which disables XNNPACK and costs speed.
    """

    def __init__(
        self,
        model_path: str | Path,
        threads: int | None = None,
        delegate: str = "cpu",
        extra_outputs: tuple[int, ...] = (),
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
        if extra_outputs:
            kwargs["experimental_preserve_all_tensors"] = True
            # XNNPACK fuses away intermediates; the reference kernels keep them readable
            resolver = getattr(mod, "OpResolverType", None)
            if resolver is not None:
                kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            with native_info_to_debug():
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
        details = {int(d["index"]): d for d in self.interpreter.get_tensor_details()}
        missing = [i for i in extra_outputs if i not in details]
        if missing:
            raise ValueError(f"{self.path}: no tensors with index {missing}")
        self.extra = [_spec(details[i]) for i in extra_outputs]
        self.signature = Signature((self.input,), tuple(self.outputs + self.extra),
                                   self._aliases(), self.file, str(self.path))

    def _aliases(self) -> dict[str, int]:
        """Signature-def output keys (how converters name outputs) -> output position."""
        by_index = {s.index: i for i, s in enumerate(self.outputs)}
        try:
            sigs = self.interpreter._get_full_signature_list()  # noqa: SLF001 - only source
        except AttributeError:
            sigs = {}
        out: dict[str, int] = {}
        for sig in sigs.values():
            for key, tensor_index in sig.get("outputs", {}).items():
                if tensor_index in by_index:
                    out.setdefault(key, by_index[tensor_index])
        return out

    @staticmethod
    def _edgetpu(mod):
        lib = _EDGETPU_LIB.get(platform.system(), "libedgetpu.so.1")
        try:
            return mod.load_delegate(lib)
        except (ValueError, OSError, RuntimeError) as e:
            raise RuntimeError(f"Edge TPU delegate {lib} failed to load ({e}); {EDGETPU_HINT}") from e

    @property
    def input_wh(self) -> tuple[int, int]:
        return self.signature.input_wh

    def prepare(self, tensor: np.ndarray) -> np.ndarray:
        """Check a model input ((H, W, C) or (1, H, W, C) in the input's dtype) and give it
        its batch axis."""
        spec = self.input
        batch = tensor[None] if tensor.ndim == 3 else tensor
        if batch.ndim != 4 or batch.shape[1:3] != (spec.shape[1], spec.shape[2]):
            raise ValueError(f"input image is {tensor.shape[-2]}x{tensor.shape[-3]}, model "
                             f"expects {spec.shape[2]}x{spec.shape[1]}")
        if batch.shape[0] != 1:
            raise ValueError(f"{self.path.name} takes a batch of 1, got {batch.shape[0]}")
        if batch.dtype != spec.dtype:
            raise ValueError(f"input tensor is {batch.dtype}, model expects {spec.dtype} "
                             "(make it with edge.core.model_input)")
        return batch

    def invoke(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input; float32 outputs in ``signature.outputs`` order."""
        self.interpreter.set_tensor(self.input.index, self.prepare(batch))
        self.interpreter.invoke()
        return [dequantize(s, self.interpreter.get_tensor(s.index)) for s in self.signature.outputs]
