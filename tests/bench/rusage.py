#!/usr/bin/python3
"""rusage.py -- run one command and report what it cost (make bench).

  rusage.py OUT_JSON -- COMMAND [ARGS...]

Runs COMMAND (stdout/stderr inherited), waits with wait4() and writes
{"exit", "wall_s", "user_s", "sys_s", "cpu_s", "maxrss_kb"} to OUT_JSON: the
child's own rusage (ru_maxrss is its peak resident set in KiB), not this
wrapper's. Exits with the child's status.
"""
import json
import os
import sys
import time


def main():
    out, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != "--" or not cmd:
        sys.exit("usage: rusage.py OUT_JSON -- COMMAND [ARGS...]")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        json.dump({"exit": code, "wall_s": round(wall, 4), "user_s": ru.ru_utime,
                   "sys_s": ru.ru_stime, "cpu_s": round(ru.ru_utime + ru.ru_stime, 4),
                   "maxrss_kb": ru.ru_maxrss}, f)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
