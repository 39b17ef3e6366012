"""Which TFLite interpreter is installed: LiteRT, else tflite-runtime, else TensorFlow."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = (
    "no TFLite interpreter found: install one with `pip install ai-edge-litert` "
    "(64-bit Pi OS, x86_64) or `pip install tflite-runtime` (older 32-bit images)"
)


def interpreter_module() -> tuple[str, Any]:
    """(name, module) of the first importable interpreter; the module has Interpreter
    and load_delegate."""
    try:
        from ai_edge_litert import interpreter as mod

        return "ai-edge-litert", mod
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod  # type: ignore[import-not-found]

        return "tflite-runtime", mod
    except ImportError:
        pass
    try:
        import tensorflow as tf  # type: ignore[import-not-found]

        class _TfShim:
            Interpreter = tf.lite.Interpreter
            load_delegate = staticmethod(tf.lite.experimental.load_delegate)

        return "tensorflow", _TfShim
    except ImportError as e:
        raise RuntimeError(INSTALL_HINT) from e
