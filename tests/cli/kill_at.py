#!/usr/bin/python3
"""Test helper: SIGKILL a prenas-train process at a chosen moment of its checkpoint writes, and
say where it landed. usage: kill_at.py PID RUNDIR MODE ARG

  delay SECONDS   after SECONDS
  write STEP      while checkpoint-<s>.h5.tmp is being written, for the first s >= STEP seen
  renamed STEP    once checkpoint-<s>.h5 (s >= STEP) exists but supernet.h5 is not yet it: after
                  the checkpoint's rename, before supernet.h5 is pointed at it

The process is stopped (SIGSTOP) the moment the directory shows the event, the directory is
read while it cannot change, and only then is it killed: the landing printed is where the kill
really struck, not where a slower look would have found it. Printed: one of

  before-first    no checkpoint yet
  write           a checkpoint's .tmp exists (the kill interrupted its writing)
  renamed         the newest checkpoint is not supernet.h5 yet (between rename and link)
  between         between checkpoint writes
  exited          the process had ended before the moment came
"""
import os
import re
import signal
import sys
import time

pid, rundir, mode, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
CHECKPOINT = re.compile(r"checkpoint-(\d+)\.h5(\.tmp)?$")


def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"  # a zombie has ended
    except FileNotFoundError:
        return False


def stopped():
    try:
        states = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                states.append(f.read().split(") ")[1][0])
        return all(state in "Tt" for state in states)
    except FileNotFoundError:  # a thread or the process ended meanwhile
        return False


def listing():
    try:
        return os.listdir(rundir)
    except FileNotFoundError:
        return []


def inode(name):
    try:
        return os.stat(os.path.join(rundir, name)).st_ino
    except FileNotFoundError:
        return None


def newest_unlinked(names):
    """The step of the newest checkpoint when supernet.h5 is not that file, else None."""
    steps = [int(m.group(1)) for m in map(CHECKPOINT.match, names) if m and not m.group(2)]
    if not steps:
        return None
    newest = max(steps)
    return newest if inode(f"checkpoint-{newest:08d}.h5") != inode("supernet.h5") else None


def event(names):
    if mode == "write":
        return any(m and m.group(2) and int(m.group(1)) >= arg for m in map(CHECKPOINT.match, names))
    step = newest_unlinked(names)
    return step is not None and step >= arg


def landing(names):
    if any(n.endswith(".h5.tmp") and n.startswith("checkpoint-") for n in names):
        return "write"
    if newest_unlinked(names) is not None:
        return "renamed"
    return "between" if "supernet.h5" in names else "before-first"


if mode == "delay":
    time.sleep(arg)
else:
    while alive() and not event(listing()):
        pass
if not alive():
    print("exited")
    sys.exit(0)
os.kill(pid, signal.SIGSTOP)
while alive() and not stopped():  # a thread in a system call stops when the call ends
    time.sleep(0.0005)
if not alive():
    print("exited")
    sys.exit(0)
print(landing(listing()))
os.kill(pid, signal.SIGKILL)
