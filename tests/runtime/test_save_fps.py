"""Issue 13: `edge run --save` writes a video at the source's own frame rate."""

from __future__ import annotations

import cv2
import numpy as np
from click.testing import CliRunner

from edge.cli import cli
from edge.defaults import SHAPES_MODEL


def test_saved_video_keeps_the_clip_frame_rate(tmp_path):
    clip = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (128, 96))
    for i in range(6):
        img = np.full((96, 128, 3), 255, np.uint8)
        cv2.circle(img, (30 + 10 * i, 48), 15, (255, 0, 0), -1)
        w.write(img)
    w.release()
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(cli, ["-q", "run", "--model", str(SHAPES_MODEL), "--source", str(clip),
                                   "--save", str(out), "--jsonl", str(tmp_path / "d.jsonl")])
    assert res.exit_code == 0, res.output
    cap = cv2.VideoCapture(str(out))
    fps, frames = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)
    cap.release()
    assert abs(fps - 10.0) < 0.01 and frames == 6
