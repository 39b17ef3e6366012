"""Training targets from ground truth, using the one geometry in ``edge.core``.

SSD: anchors from ``ssd_anchors(spec)``, matched by IoU, encoded with ``BoxCoder`` — the
same coder ``TFLite_Detection_PostProcess`` and ``edge.decoders.ssd`` decode with.
YOLO: cells and anchors for the bounded grid formula of ``edge.core.yolo_grid`` (a centre
can be reached from its cell and the two nearest neighbours: offsets span -0.5..1.5).
All boxes are ``xyxy`` normalized to the (square) model input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.core.anchors import BoxCoder, SsdAnchorSpec, ssd_anchors
from edge.core.boxes import cxcywh_to_xyxy, iou_matrix

SSD_ASSIGNERS = ("iou", "atss")
ATSS_TOPK = 9


@dataclass
class SsdTargetEncoder:
    """Per image: box targets (A, 5) = [ty, tx, th, tw, positive] and class targets (A, C+2) =
    [background, C one-hot classes, weight] (weight 0 = ignored anchor).

    ``assigner``: ``iou`` (classic SSD: IoU >= pos_iou positive, < neg_iou negative, between
    ignored) or ``atss`` (Zhang et al. 2020: per box, the ``ATSS_TOPK`` anchors per layer
    nearest its centre are candidates, and those whose IoU reaches the candidates' mean + std
    and whose centre lies in the box are positive; no ignored band). ATSS adapts the threshold
    to each box, so small and odd-shaped boxes get several positives too.
    """

    spec: SsdAnchorSpec
    num_classes: int
    pos_iou: float = 0.5
    neg_iou: float = 0.4
    coder: BoxCoder = BoxCoder()
    assigner: str = "iou"

    def __post_init__(self) -> None:
        if self.assigner not in SSD_ASSIGNERS:
            raise ValueError(f"SSD assigner must be one of {SSD_ASSIGNERS}, got {self.assigner!r}")
        self.anchors_cxcywh = ssd_anchors(self.spec)
        self.anchors_xyxy = cxcywh_to_xyxy(self.anchors_cxcywh)
        per_loc = self.spec.boxes_per_location()
        counts = [h * w * b for (h, w), b in zip(self.spec.feature_map_sizes_hw, per_loc)]
        self.layer_bounds = np.cumsum([0, *counts])

    def _atss(self, iou: np.ndarray, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(best_gt (A,), positive (A,)) by adaptive training sample selection."""
        ctr = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        dist = np.linalg.norm(self.anchors_cxcywh[:, None, :2] - ctr[None], axis=2)  # (A, G)
        cand = np.zeros_like(iou, dtype=bool)
        for a0, a1 in zip(self.layer_bounds[:-1], self.layer_bounds[1:]):
            k = min(ATSS_TOPK, a1 - a0)
            near = np.argpartition(dist[a0:a1], k - 1, axis=0)[:k] + a0  # (k, G)
            cand[near, np.arange(len(xyxy))[None]] = True
        cand_iou = np.where(cand, iou, np.nan)
        thr = np.nanmean(cand_iou, 0) + np.nanstd(cand_iou, 0)  # (G,)
        ax, ay = self.anchors_cxcywh[:, 0:1], self.anchors_cxcywh[:, 1:2]
        inside = (ax > xyxy[:, 0]) & (ax < xyxy[:, 2]) & (ay > xyxy[:, 1]) & (ay < xyxy[:, 3])
        pos_pair = cand & (iou >= thr[None]) & inside
        # an anchor chosen by several boxes takes the one it overlaps most
        best_gt = np.where(pos_pair, iou, -1.0).argmax(1)
        return best_gt, pos_pair.any(1)

    def encode(self, xyxy: np.ndarray, class_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = len(self.anchors_xyxy)
        box_t = np.zeros((a, 5), np.float32)
        cls_t = np.zeros((a, self.num_classes + 2), np.float32)
        cls_t[:, 0] = 1.0
        cls_t[:, -1] = 1.0
        if len(xyxy) == 0:
            return box_t, cls_t
        iou = iou_matrix(self.anchors_xyxy, xyxy)  # (A, G)
        if self.assigner == "atss":
            best_gt, pos = self._atss(iou, xyxy)
            forced = iou.argmax(0)  # a box no candidate passed still gets its best anchor
            lonely = ~np.isin(np.arange(len(xyxy)), best_gt[pos])
            best_gt[forced[lonely]] = np.flatnonzero(lonely)
            pos[forced[lonely]] = True
            ignore = np.zeros(a, bool)
            return self._fill(box_t, cls_t, xyxy, class_ids, best_gt, pos, ignore)
        best_gt = iou.argmax(1)
        best_iou = iou[np.arange(a), best_gt]
        # every box gets at least its best anchor, even below pos_iou (small/odd shapes)
        forced = iou.argmax(0)
        best_gt[forced] = np.arange(len(xyxy))
        best_iou[forced] = 1.0
        pos = best_iou >= self.pos_iou
        ignore = (best_iou >= self.neg_iou) & ~pos
        return self._fill(box_t, cls_t, xyxy, class_ids, best_gt, pos, ignore)

    def _fill(self, box_t: np.ndarray, cls_t: np.ndarray, xyxy: np.ndarray, class_ids: np.ndarray,
              best_gt: np.ndarray, pos: np.ndarray, ignore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        box_t[pos, :4] = self.coder.encode(xyxy[best_gt[pos]], self.anchors_cxcywh[pos])
        box_t[pos, 4] = 1.0
        cls_t[pos, 0] = 0.0
        cls_t[pos, 1 + class_ids[best_gt[pos]]] = 1.0
        cls_t[ignore, -1] = 0.0
        return box_t, cls_t

    def encode_batch(self, boxes: list[np.ndarray], classes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        pairs = [self.encode(b, c) for b, c in zip(boxes, classes)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


# YOLOv5's rule: an anchor may predict a box if neither side differs by more than this factor
ANCHOR_RATIO = 4.0


@dataclass
class YoloTargetEncoder:
    """Per image and stride: (H, W, A*(5+C)) = per anchor [x0, y0, x1, y1 (normalized), obj, one-hot]."""

    input_size: int
    strides: list[int]
    anchors_wh: list[np.ndarray]  # per stride (A, 2) input pixels
    num_classes: int

    def encode(self, xyxy: np.ndarray, class_ids: np.ndarray) -> list[np.ndarray]:
        s_in, c = self.input_size, self.num_classes
        outs = []
        for stride, anchors in zip(self.strides, self.anchors_wh):
            g = s_in // stride
            outs.append(np.zeros((g, g, len(anchors), 5 + c), np.float32))
        if len(xyxy) == 0:
            return [o.reshape(o.shape[0], o.shape[1], -1) for o in outs]
        wh = (xyxy[:, 2:] - xyxy[:, :2]) * s_in
        ctr = (xyxy[:, :2] + xyxy[:, 2:]) / 2 * s_in
        all_anchors = np.concatenate(self.anchors_wh)
        ratio = wh[:, None, :] / all_anchors[None]  # (G, A_total, 2)
        worst = np.maximum(ratio, 1 / ratio).max(2)
        match = worst < ANCHOR_RATIO
        match[np.arange(len(xyxy)), worst.argmin(1)] = True  # never leave a box unassigned
        offsets = np.cumsum([0] + [len(a) for a in self.anchors_wh])
        for si, (stride, out) in enumerate(zip(self.strides, outs)):
            g = out.shape[0]
            for gi in range(len(xyxy)):
                for ai in np.flatnonzero(match[gi, offsets[si]:offsets[si + 1]]):
                    gx, gy = ctr[gi] / stride
                    col, row = min(int(gx), g - 1), min(int(gy), g - 1)
                    cells = [(row, col)]
                    fx, fy = gx - col, gy - row
                    cells.append((row, col - 1) if fx < 0.5 else (row, col + 1))
                    cells.append((row - 1, col) if fy < 0.5 else (row + 1, col))
                    for r, cc in cells:
                        if 0 <= r < g and 0 <= cc < g:
                            out[r, cc, ai, :4] = xyxy[gi]
                            out[r, cc, ai, 4] = 1.0
                            out[r, cc, ai, 5:] = 0.0
                            out[r, cc, ai, 5 + class_ids[gi]] = 1.0
        return [o.reshape(o.shape[0], o.shape[1], -1) for o in outs]

    def encode_batch(self, boxes: list[np.ndarray], classes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        per = [self.encode(b, c) for b, c in zip(boxes, classes)]
        return tuple(np.stack([p[i] for p in per]) for i in range(len(self.strides)))
