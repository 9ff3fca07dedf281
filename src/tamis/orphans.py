"""No orphans: a child process of a run ends when its parent does, however the parent ends.

A parent killed by SIGKILL runs no cleanup, so a child cannot count on being told. On Linux the
kernel does it: `PR_SET_PDEATHSIG` sends the child SIGKILL when its parent dies. Elsewhere a
watchdog thread notices that the parent changed (the child was re-parented) and exits. Both are
checked once right away: a parent that died before the child got here is caught too.

Pool workers call this as they start, and so does the extraction helper each worker starts, so
killing the main process ends the workers, whose death ends their helpers; the resource
tracker of `multiprocessing` ends on its own once every process holding its pipe is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """End this process (SIGKILL, no cleanup) when process `parent`, its parent, ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # died before the request was made
                os._exit(1)
            return
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="tamis-orphan").start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
