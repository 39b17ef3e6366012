"""--strategy mirrored through tf.distribute, on two logical CPU devices (fresh process:
logical devices must be configured before TensorFlow initialises)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(synth_data: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        from train.fit import TrainConfig, make_strategy, train
        replicas = make_strategy("mirrored").num_replicas_in_sync
        r = train(TrainConfig(data={str(synth_data)!r}, out={str(tmp_path / 'run')!r}, model="tiny-yolo",
                              input_size=96, epochs=1, batch_size=8, width=0.25, verbose=0,
                              strategy="mirrored", augment=False))
        print("RESULT", json.dumps({{"replicas": replicas, "loss": r.history["loss"]}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT"))
    res = json.loads(line.split(" ", 1)[1])
    assert res["replicas"] == 2
    assert res["loss"][0] == res["loss"][0]  # finite, not NaN
    assert (tmp_path / "run" / "model.keras").is_file()
