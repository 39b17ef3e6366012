"""Export Ultralytics YOLOv8n (architecture only, untrained) to int8 TFLite, with no downloads,
so ``bench/invoke_peer.py`` can time the peer's ``invoke()`` next to ours. The weights are random:
the files are good for timing, never for accuracy.

Runs in its own venv (Ultralytics' TensorFlow export pins TF 2.19 and numpy < 2)::

    python3.11 -m venv /tmp/yolov8n/venv && P=/tmp/yolov8n/venv/bin/pip
    $P install torch==2.14.1 torchvision==0.29.1 ultralytics
    $P install "tensorflow-cpu==2.19.0" "tf_keras==2.19.0" "numpy<2" "onnx>=1.12,<2" \\
        "onnxslim>=0.1.82" onnxruntime sng4onnx onnx_graphsurgeon "ai-edge-litert>=1.2.0" "protobuf>=5" \\
        "opencv-python==4.11.0.86"
    $P install --no-deps "onnx2tf>=1.26.3,<1.29.0"
    /tmp/yolov8n/venv/bin/python bench/peer/export_yolov8n.py --images ../shared/data/chess/valid \\
        --out /tmp/yolov8n

Writes ``yolov8n_<size>_int8.tflite`` (onnx2tf's full-integer file: int8 weights, activations and
I/O), ``yolov8n_<size>_int8_floatio.tflite`` (same graph, float I/O) and ``yolov8n_<size>_fp32.tflite``.

What it works around (Ultralytics 8.4.190, onnx2tf 1.28.8):
- ``format="tflite"`` is now the litert-torch route; the onnx2tf route that writes
  ``*_full_integer_quant.tflite`` is ``format="saved_model"``. (Its ``yolov8n_int8.tflite`` is the
  dynamic-range file renamed: int8 weights, float activations.)
- onnx2tf fetches ``calibration_image_sample_data_20x128x128x3_float32.npy`` from GitHub unless the
  working directory has one: we write our own from the calibration images.
- Asset and font downloads are replaced by functions that fail, and a socket guard refuses any
  non-loopback host, so a download attempt cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
from pathlib import Path

SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def _guard_network() -> None:
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "", "localhost", "::1") and not str(host).startswith("127."):
            raise OSError(f"network access refused: {host} (this export must not download)")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _calibration(images_split: Path, work: Path, nc: int) -> Path:
    """Copy of the split (Ultralytics writes labels.cache beside the labels) and its dataset YAML."""
    import cv2
    import numpy as np

    data = work / "calib"
    for sub in ("images", "labels"):
        shutil.copytree(images_split / sub, data / "valid" / sub, dirs_exist_ok=True)
    # the chess labels use ids 0..nc (Roboflow's superclass at 0): name them all so no image is dropped
    names = "\n".join(f"  {i}: c{i}" for i in range(nc + 1))
    yaml = work / "calib.yaml"
    yaml.write_text(f"path: {data}\ntrain: valid/images\nval: valid/images\nnames:\n{names}\n")
    files = sorted((data / "valid" / "images").glob("*.jpg"))[:20]
    arr = np.stack([cv2.resize(cv2.imread(str(f))[:, :, ::-1], (128, 128), interpolation=cv2.INTER_AREA)
                    for f in files]).astype(np.float32) / 255.0
    np.save(work / SAMPLE, arr)
    return yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True, help="a YOLO split folder (images/, labels/)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--nc", type=int, default=12, help="classes of the exported head")
    a = ap.parse_args()
    work = (a.out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(YOLO_CONFIG_DIR=str(work / "ultralytics_cfg"), YOLO_OFFLINE="1",
                      YOLO_AUTOINSTALL="false")
    _guard_network()
    yaml = _calibration(a.images.resolve(), work, a.nc)

    import ultralytics
    import ultralytics.data.utils as data_utils
    import ultralytics.utils.checks as checks
    import ultralytics.utils.export.tensorflow as tf_export
    from ultralytics import YOLO

    def refuse(*args, **kwargs):
        raise RuntimeError(f"download attempted: {args}")

    checks.check_font = data_utils.check_font = lambda *args, **kwargs: None
    tf_export.attempt_download_asset = tf_export.safe_download = refuse
    cfg = Path(ultralytics.__file__).parent / "cfg" / "models" / "v8" / "yolov8.yaml"
    model_yaml = work / "yolov8n.yaml"  # the file name picks scale n
    model_yaml.write_text(cfg.read_text().replace("nc: 80", f"nc: {a.nc}", 1))
    os.chdir(work)  # onnx2tf looks for its sample file here
    YOLO(str(model_yaml)).export(format="saved_model", imgsz=a.imgsz, quantize=8, data=str(yaml), batch=1,
                                 device="cpu")
    out = work / "yolov8n_saved_model"
    for src, dst in (("full_integer_quant", "int8"), ("integer_quant", "int8_floatio"), ("float32", "fp32")):
        shutil.copy(out / f"yolov8n_{src}.tflite", a.out / f"yolov8n_{a.imgsz}_{dst}.tflite")
        print(a.out / f"yolov8n_{a.imgsz}_{dst}.tflite")


if __name__ == "__main__":
    main()
