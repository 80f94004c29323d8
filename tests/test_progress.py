"""Progress: bars only on a terminal; a sweep's cells counted from its command line."""

import subprocess
import sys

import pytest

from harness.progress import sweep_position


def test_sweep_position_counts_the_command_lines_cells():
    argv = ["-m", "model=keyword-baseline,tfidf-logreg,smollm2-135m", "route=native,reference", "dataset.limit=4"]
    assert sweep_position(0, argv) == "cell 1 of 6"
    assert sweep_position(5, argv) == "cell 6 of 6"
    assert sweep_position(0, ["dataset.limit=4"]) is None  # one cell: nothing to count


@pytest.mark.cli
def test_no_bar_off_a_terminal():
    code = "from harness.progress import bar\nwith bar(3, 'documents') as b:\n    b.update(3)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.cli
def test_a_bar_with_rate_and_eta_on_a_terminal():
    import fcntl
    import os
    import pty
    import struct
    import termios

    code = (
        "import time\nfrom harness.progress import bar\nwith bar(3, 'documents') as b:\n    for _ in range(3):\n"
        "        time.sleep(0.2); b.update(1)\n"
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new terminal is 0 x 0
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:  # read while it writes: the terminal ends (EIO) when the process does
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"documents" in shown and b"3/3" in shown and b"doc/s" in shown
