"""Write-behind: an import's inserts run in order in one thread, while the import reads and checks on.

On PostgreSQL the server does the work of a COPY (constraints, foreign keys, indexes) in its own process,
and the importing process only waits for it, without Python's global lock: with the COPY in a thread of its
own, the server takes one batch while the import reads, geocodes and validates the next. Whoever reads from
the connection first waits (`wait`) for every write queued before.

Not on SQLite: its driver takes the global lock back after each row it steps, and a thread that needs it
once a row gets it once per switch interval (5 ms) while another thread computes; SQLite's writes are done
inline instead (`threaded=False`), at the same place in the same order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Job = Callable[[], None]


class WriteBehind:
    """Runs jobs in the order given, in one worker thread; the first job's error is raised by `wait`."""

    def __init__(self, *, threaded: bool, limit: int = 32) -> None:
        self._threaded = threaded
        self._limit = limit  # jobs queued at most: beyond, submit waits (the rows queued are held in memory)
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None  # to raise, at the next wait
        self._failed = False  # once a job fails, the rest are dropped: they would write half a batch
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> None:
        if not self._threaded:
            job()
            return
        if self._failed:
            self.wait()  # raises the error, if not raised yet
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="import-writer", daemon=True)
            self._thread.start()
        with self._idle:
            while self._pending >= self._limit:
                self._idle.wait()
            self._pending += 1
        self._jobs.put(job)

    def wait(self) -> None:
        """Return once every job submitted so far has run; raise the error of one that failed."""
        with self._idle:
            while self._pending:
                self._idle.wait()
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop the thread once the jobs queued have run (or been dropped after an error); raise the error
        of one that failed, if not raised yet."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        self.wait()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if not self._failed:
                    job()
            except BaseException as error:  # noqa: BLE001 - handed to the importing thread, which raises it
                self._failed = True
                self._error = error
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
