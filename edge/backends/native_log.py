"""Keep the TFLite runtime's C++ INFO chatter out of the user's output.

The interpreter prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` straight
to file descriptor 2 when it is built; Python logging cannot filter it, and in a piped run
or a journal it reads like a message from edge. While the interpreter is built, fd 2 goes to
a temporary file; afterwards ``INFO:`` lines become debug log records (``edge -v`` shows
them) and every other line (warnings, errors) is written back to stderr unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)


@contextlib.contextmanager
def native_info_to_debug() -> Iterator[None]:
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (tests, embedding)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
        for line in text.splitlines():
            if line.startswith("INFO:"):
                log.debug("tflite runtime: %s", line[5:].strip())
            elif line.strip():
                print(line, file=sys.stderr)
