"""bench/load_stack.py's CPU accounting: the load benchmark's "CPU ms per answer" table rests on it."""
import os
import subprocess
import sys
import time

from bench.load_stack import cpu_seconds, parse_proc_stat

# A group leader that starts a child burning about 0.4 s of CPU, waits for it (so its time is "reaped" by the
# leader, as a PostgreSQL backend's is by the postmaster once its connection closes), then idles to be read.
BURN = "import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass"
LEADER = f"""
import subprocess, sys, time
subprocess.run([sys.executable, "-c", "{BURN}"])
print("reaped", flush=True)
time.sleep(30)
"""


def test_a_stat_line_whose_name_holds_spaces_and_parentheses():
    line = "4242 (odd (name) x) S 17 4242 4242 0 -1 4194560 90 0 0 0 250 30 7 5 20 0 1 0 100 0 0"
    times = parse_proc_stat(line)
    assert (times.name, times.parent, times.group) == ("odd (name) x", 17, 4242)
    assert (times.own, times.reaped) == (280, 12)


def test_this_process_reads_the_same_as_its_own_clock():
    started = time.process_time()
    while time.process_time() - started < 0.3:
        pass
    assert parse_proc_stat(open(f"/proc/{os.getpid()}/stat").read()).own / os.sysconf("SC_CLK_TCK") >= 0.25
    assert cpu_seconds(server_group=-1)["client"] >= 0.25


def test_a_process_group_counts_the_children_it_has_reaped():
    leader = subprocess.Popen([sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert leader.stdout.readline().strip() == "reaped"
        by_part = cpu_seconds(server_group=leader.pid)
        assert by_part["gunicorn"] >= 0.3  # the exited child's 0.4 s, through its leader
        assert cpu_seconds(server_group=-1)["gunicorn"] == 0  # no such group: nothing counted
    finally:
        leader.kill()
        leader.wait()
