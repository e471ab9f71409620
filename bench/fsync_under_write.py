#!/usr/bin/env python3
"""How a large file write delays a small log's fdatasync on the same disk.

A thread appends 300 bytes to a pre-sized file and fdatasyncs it every millisecond (what the
Raft log does per write) while the main thread writes a SIZE MiB file, as a Raft snapshot is
written, either all at once and then fsynced (`burst`) or fdatasynced after every MiB
(`chunked`); `none` writes nothing. Prints the log fsyncs' p50/p99/max. Files go in DIR.

    python3 bench/fsync_under_write.py burst|chunked|none [SIZE_MIB] [DIR]
"""
import os
import sys
import threading
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "burst"
size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
where = sys.argv[3] if len(sys.argv) > 3 else "/var/tmp"
log_path = os.path.join(where, f"fsync-exp-log-{os.getpid()}")
big_path = os.path.join(where, f"fsync-exp-big-{os.getpid()}")
latencies = []
stop = threading.Event()


def log_writer():
    fd = os.open(log_path, os.O_RDWR | os.O_CREAT)
    os.ftruncate(fd, 64 << 20)
    offset = 0
    while not stop.is_set():
        started = time.perf_counter()
        os.pwrite(fd, b"x" * 300, offset)
        offset += 300
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - started)
        time.sleep(0.001)
    os.close(fd)


thread = threading.Thread(target=log_writer)
thread.start()
time.sleep(0.5)
started = time.perf_counter()
if mode != "none":
    chunk = os.urandom(1 << 20)
    with open(big_path, "wb") as big:
        for _ in range(size_mib):
            big.write(chunk)
            if mode == "chunked":
                big.flush()
                os.fdatasync(big.fileno())
        big.flush()
        os.fsync(big.fileno())
took = time.perf_counter() - started
time.sleep(0.5)
stop.set()
thread.join()
for path in (log_path, big_path):
    if os.path.exists(path):
        os.remove(path)
latencies.sort()
n = len(latencies)
print(
    f"{mode}: {size_mib} MiB written in {took * 1000:.0f} ms; {n} log fsyncs: "
    f"p50 {latencies[n // 2] * 1e3:.2f} p99 {latencies[int(n * 0.99)] * 1e3:.2f} "
    f"max {latencies[-1] * 1e3:.2f} ms"
)
