import threading
import time

from convstudies.engine.gpu_slots import gpu_slot


def test_slots_spread_jobs_over_devices_then_share(tmp_path):
    with gpu_slot(tmp_path, ["gpuA", "gpuB"], per_device=2) as a:
        with gpu_slot(tmp_path, ["gpuA", "gpuB"], per_device=2) as b:
            with gpu_slot(tmp_path, ["gpuA", "gpuB"], per_device=2) as c:
                assert (a, b, c) == (0, 1, 0)


def test_a_job_waits_for_a_free_slot(tmp_path):
    order = []

    def second():
        with gpu_slot(tmp_path, ["gpuA"], per_device=1, poll_s=0.05) as dev:
            order.append(("second", dev))

    with gpu_slot(tmp_path, ["gpuA"], per_device=1):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append(("first done", 0))
    t.join(5)
    assert order == [("first done", 0), ("second", 0)]
