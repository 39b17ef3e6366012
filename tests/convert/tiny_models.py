"""Tiny detectors that follow the Keras contract in docs/contracts.md, trained for a few
seconds on synthetic squares (class = colour) so converted variants have real detections
to agree on.

Stand-in until train.models (ssd / tiny_yolo) and train.synth land; the geometry (anchors,
box coder, YOLO grid formula) is edge.core's, the same the device decodes with.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core.anchors import BoxCoder, SsdAnchorSpec, ssd_anchors
from edge.core.boxes import iou_matrix
from edge.core.metadata import InputSpec, ModelMetadata, SsdDecoderSpec, Thresholds, YoloDecoderSpec

SIZE = 96
LABELS = ["red", "green", "blue"]
COLORS_BGR = [(40, 40, 220), (40, 200, 40), (220, 60, 40)]
SSD_SPEC = SsdAnchorSpec(((12, 12), (6, 6)), min_scale=0.25, max_scale=0.55)
YOLO_STRIDES = [16, 32]
YOLO_ANCHORS = [[(24.0, 24.0), (36.0, 36.0)], [(48.0, 48.0), (64.0, 64.0)]]


def synth_image(rng: np.random.Generator, size_wh=(SIZE, SIZE)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BGR image with 1-2 coloured squares; (image, xyxy normalized, class ids)."""
    w, h = size_wh
    img = rng.integers(90, 150, (h, w, 3), dtype=np.uint8)
    boxes, ids = [], []
    for _ in range(int(rng.integers(1, 3))):
        for _try in range(20):
            s = int(rng.integers(int(0.25 * min(w, h)), int(0.5 * min(w, h))))
            x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
            b = np.array([x / w, y / h, (x + s) / w, (y + s) / h], np.float32)
            if not boxes or iou_matrix(b[None], np.array(boxes)).max() == 0:
                break
        c = int(rng.integers(0, 3))
        cv2.rectangle(img, (x, y), (x + s - 1, y + s - 1), COLORS_BGR[c], -1)
        boxes.append(b)
        ids.append(c)
    return img, np.array(boxes, np.float32), np.array(ids, np.int32)


def write_images(folder: Path, n: int, seed: int,
                 size_wh=(128, 96)) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """n synthetic lossless PNGs (non-square, so letterboxing is exercised)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img, xyxy, ids = synth_image(rng, size_wh)
        p = folder / f"img{i:03d}.png"
        cv2.imwrite(str(p), img)
        out.append((p, xyxy, ids))
    return out


def _batch(rng, n):
    imgs, boxes, ids = zip(*(synth_image(rng) for _ in range(n)))
    x = np.stack([cv2.cvtColor(i, cv2.COLOR_BGR2RGB) for i in imgs]).astype(np.float32) / 255.0
    return x, boxes, ids


def _backbone(keras, inp):
    L = keras.layers
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)    # 48
    x = L.Conv2D(24, 3, strides=2, padding="same", activation="relu")(x)      # 24
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)      # 12
    f1 = L.Conv2D(32, 3, padding="same", activation="relu")(x)
    f2 = L.Conv2D(48, 3, strides=2, padding="same", activation="relu")(f1)    # 6
    f3 = L.Conv2D(48, 3, strides=2, padding="same", activation="relu")(f2)    # 3
    return f1, f2, f3


def build_ssd(keras):
    L = keras.layers
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    f1, f2, _ = _backbone(keras, inp)
    boxes, scores = [], []
    for f, n in zip((f1, f2), SSD_SPEC.boxes_per_location()):
        boxes.append(L.Reshape((-1, 4))(L.Conv2D(n * 4, 3, padding="same")(f)))
        s = L.Conv2D(n * (len(LABELS) + 1), 3, padding="same", activation="sigmoid")(f)
        scores.append(L.Reshape((-1, len(LABELS) + 1))(s))
    out_b = L.Concatenate(axis=1, name="boxes")(boxes)
    out_s = L.Concatenate(axis=1, name="scores")(scores)
    return keras.Model(inp, {"boxes": out_b, "scores": out_s})


def build_yolo(keras):
    L = keras.layers
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    _, f2, f3 = _backbone(keras, inp)
    ch = 2 * (5 + len(LABELS))
    o1 = L.Conv2D(ch, 1, activation="sigmoid", name="grid_s16")(f2)
    o2 = L.Conv2D(ch, 1, activation="sigmoid", name="grid_s32")(f3)
    return keras.Model(inp, [o1, o2])


def ssd_targets(boxes, ids, anchors):
    coder = BoxCoder()
    n, a = len(boxes), len(anchors)
    enc = np.zeros((n, a, 4), np.float32)
    cls = np.zeros((n, a, len(LABELS) + 1), np.float32)
    pos = np.zeros((n, a), np.float32)
    from edge.core.boxes import cxcywh_to_xyxy

    axyxy = cxcywh_to_xyxy(anchors)
    for i, (b, c) in enumerate(zip(boxes, ids)):
        iou = iou_matrix(axyxy, b)  # (A, G)
        best = iou.argmax(1)
        match = iou.max(1) >= 0.45
        match[iou.argmax(0)] = True
        best[iou.argmax(0)] = np.arange(len(b))
        enc[i] = coder.encode(b[best], anchors)
        cls[i, :, 0] = ~match
        cls[i, match, 1 + c[best[match]]] = 1
        pos[i] = match
    return enc, cls, pos


def yolo_targets(boxes, ids):
    outs = []
    for stride, anchors in zip(YOLO_STRIDES, YOLO_ANCHORS):
        g = SIZE // stride
        outs.append(np.zeros((len(boxes), g, g, len(anchors), 5 + len(LABELS) + 1), np.float32))
    for i, (b, c) in enumerate(zip(boxes, ids)):
        for box, cid in zip(b * SIZE, c):
            bw, bh = box[2] - box[0], box[3] - box[1]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            cands = [(abs(np.log(bw / aw)), si, ai) for si, anc in enumerate(YOLO_ANCHORS)
                     for ai, (aw, ah) in enumerate(anc)]
            _, si, ai = min(cands)
            s = YOLO_STRIDES[si]
            col, row = int(cx // s), int(cy // s)
            aw, ah = YOLO_ANCHORS[si][ai]
            t = outs[si][i, row, col, ai]
            t[0] = (cx / s - col + 0.5) / 2
            t[1] = (cy / s - row + 0.5) / 2
            t[2] = np.sqrt(bw / aw) / 2
            t[3] = np.sqrt(bh / ah) / 2
            t[4] = 1
            t[5 + cid] = 1
            t[-1] = 1  # positive mask
    return outs


def train(model, kind: str, steps: int, seed: int = 0):
    """A few hundred Adam steps; enough for confident detections on the squares."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    opt = tf.keras.optimizers.Adam(3e-3)
    anchors = ssd_anchors(SSD_SPEC)
    bce = tf.keras.losses.binary_crossentropy
    for _ in range(steps):
        x, boxes, ids = _batch(rng, 16)
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            if kind == "ssd":
                enc, cls, pos = ssd_targets(boxes, ids, anchors)
                npos = max(pos.sum(), 1.0)
                d = tf.abs(out["boxes"] - enc)
                l1 = tf.where(d < 1, 0.5 * d * d, d - 0.5)
                loss = tf.reduce_sum(tf.reduce_sum(l1, -1) * pos) / npos
                cl = tf.reduce_sum(bce(cls[..., None], out["scores"][..., None]), -1)
                weight = pos * 3 + 0.2  # background anchors dominate; damp them
                loss += tf.reduce_sum(cl * weight) / npos
            else:
                loss = 0.0
                for o, t in zip(out, yolo_targets(boxes, ids)):
                    p = tf.reshape(o, (*t.shape[:-1], 5 + len(LABELS)))
                    m = t[..., -1]
                    loss += tf.reduce_sum(bce(t[..., 4:5], p[..., 4:5])) / 4
                    loss += tf.reduce_sum(tf.reduce_sum(tf.square(p[..., :4] - t[..., :4]), -1) * m) * 5
                    loss += tf.reduce_sum(tf.reduce_sum(bce(t[..., 5:-1, None], p[..., 5:, None]), -1) * m)
                loss /= len(boxes)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss)


def metadata(kind: str) -> ModelMetadata:
    inp = InputSpec(size_wh=(SIZE, SIZE))
    th = Thresholds(score=0.5, iou=0.5, max_detections=20)
    if kind == "ssd":
        dec = SsdDecoderSpec(anchor_generator=SSD_SPEC.to_dict(), score_activation="none",
                             background_class=True, boxes_output="boxes", scores_output="scores")
    else:
        dec = YoloDecoderSpec(layout="grid", strides=YOLO_STRIDES, anchors_wh=YOLO_ANCHORS,
                              apply_sigmoid=False)
    return ModelMetadata(name=f"tiny-{kind}", labels=LABELS, input=inp, decoder=dec,
                         thresholds=th, provenance={"dataset": "synthetic squares", "run": kind})


def make_run(run_dir: Path, kind: str, steps: int) -> Path:
    """Build, train and save a run directory (model.keras + model.edge.json)."""
    import keras

    keras.utils.set_random_seed(0)
    model = build_ssd(keras) if kind == "ssd" else build_yolo(keras)
    train(model, kind, steps)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model.keras")
    (run_dir / "model.edge.json").write_text(metadata(kind).to_json())
    return run_dir
