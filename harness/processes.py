"""Child processes and loopback ports: what the managed servers (local model, tests, benchmarks) share."""

from __future__ import annotations

import socket
import subprocess


def stop_process(process: "subprocess.Popen[bytes] | subprocess.Popen[str]", timeout_s: float = 10.0) -> None:
    """Terminate a child process, killing it if it does not exit within `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
