"""Thread counts chosen on purpose (core/threads.py)."""

import os
import subprocess
import sys
import threading

import torch

from core import threads


def test_prepare_lets_idle_threads_sleep_and_keeps_what_the_person_set(monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    threads.prepare(0)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OMP_NUM_THREADS"] == str(threads.cpu_count())
    assert os.environ["MKL_NUM_THREADS"] == "3"
    monkeypatch.delenv("OMP_NUM_THREADS")
    threads.prepare(1)
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_a_fit_takes_one_thread_when_every_core_is_busy():
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    before = torch.get_num_threads()
    try:
        assert threads.free_cpus(0.5) == 1
        assert threads.use(0) == 1 and torch.get_num_threads() == 1
    finally:
        for p in busy:
            p.kill()
            p.wait()
        torch.set_num_threads(before)


def test_a_fixed_count_is_used_as_given():
    before = torch.get_num_threads()
    try:
        assert threads.use(1) == 1 and torch.get_num_threads() == 1
        assert threads.use(-1) == -1 and torch.get_num_threads() == 1  # -1: left as it is
    finally:
        torch.set_num_threads(before)


def test_long_work_yields_the_cpu_to_the_threads_that_answer_people():
    def nice():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen = {}

    def long_work():
        threads.yield_cpu()
        seen["work"] = nice()
        child = threading.Thread(target=lambda: seen.update(child=nice()))
        child.start()
        child.join()

    before = nice()
    worker = threading.Thread(target=long_work)
    worker.start()
    worker.join()
    assert seen["work"] == min(before + threads.BACKGROUND_NICE, 19)
    assert seen["child"] == seen["work"]  # its pools' threads too
    assert nice() == before  # the caller's own threads keep their place
