"""The evaluation worker: a bounded queue, one daemon thread, restarted after fork."""

from __future__ import annotations

import os
import threading
import warnings

from otel_ml.genai.evaluation.worker import Worker


def test_a_full_queue_refuses_jobs_without_blocking() -> None:
    release, started, done = threading.Event(), threading.Event(), []

    def handle(job: int) -> None:
        started.set()
        release.wait(5.0)
        done.append(job)

    worker = Worker(handle, 2, "test-evaluation")
    assert worker.offer(0) and started.wait(5.0)  # the thread holds job 0
    assert [worker.offer(n) for n in (1, 2, 3)] == [True, True, False]
    release.set()
    assert worker.wait_idle(5.0) and done == [0, 1, 2]
    worker.close()


def test_the_worker_starts_again_in_a_forked_child() -> None:
    done: list[int] = []
    worker = Worker(done.append, 4, "test-evaluation")
    assert worker.offer(1) and worker.wait_idle(5.0)
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns about fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: its parent's thread is gone; a new one must run the job
        try:
            ok = worker.offer(2) and worker.wait_idle(5.0) and done == [1, 2]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert worker.offer(3) and worker.wait_idle(5.0) and done == [1, 3]  # the parent's own
    worker.close()
