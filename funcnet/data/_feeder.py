"""A background thread that pulls host batches and copies them to the device ahead.

The thread runs grain's iterator and the host-to-device copy for the next ``depth``
batches while the caller computes on the current one, so the copy overlaps the step. An
exception in the thread (or in grain's workers behind it) is handed to the caller at the
position of the batch it replaced, as the same exception object with its traceback.
"""

import queue
import threading

__all__ = ["Feeder"]

_POLL_S = 0.05  # how often blocked puts and gets look at the stop flag / a dead thread


class _Failure:
    """Marks an exception raised while producing a batch."""

    def __init__(self, error: BaseException):
        self.error = error


class Feeder:
    """Yields ``convert(batch)`` for the batches of ``make_iterator()``, in order.

    Args:
      make_iterator: builds the (endless) host-batch iterator; called on the thread.
      convert: applied to each host batch on the thread (checks, device copy).
      start: the global index of the first batch, kept in ``next_index``.
      depth: batches prepared ahead; 0 runs everything on the caller's thread.
    """

    def __init__(self, make_iterator, convert, start: int, depth: int):
        self.next_index = start
        self.failed = False
        self._convert = convert
        self._depth = depth
        self._iterator = None
        self._stop = threading.Event()
        if depth == 0:
            self._iterator = make_iterator()
            self._thread = None
            return
        self._queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(
            target=self._run, args=(make_iterator,), name="funcnet-data-prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make_iterator):
        iterator = None
        try:
            iterator = make_iterator()
            while not self._stop.is_set():
                if not self._put(self._convert(_next(iterator))):
                    break
        except BaseException as error:  # handed to the caller, raised there
            self._put(_Failure(error))
        finally:
            _close(iterator)

    def get(self):
        """The next batch; raises what producing it raised."""
        if self.failed:
            raise RuntimeError("this feeder failed before; start a new one")
        if self._thread is None:
            try:
                item = self._convert(_next(self._iterator))
            except BaseException:
                self.failed = True
                raise
        else:
            while True:
                try:
                    item = self._queue.get(timeout=_POLL_S)
                    break
                except queue.Empty:
                    if not self._thread.is_alive() and self._queue.empty():
                        self.failed = True
                        raise RuntimeError(
                            "the data prefetch thread ended without a batch"
                        ) from None
        if isinstance(item, _Failure):
            self.failed = True
            raise item.error
        self.next_index += 1
        return item

    def close(self):
        """Stops the thread and grain's workers; waits briefly, never hangs."""
        self._stop.set()
        if self._thread is None:
            _close(self._iterator)
            self._iterator = None
            return
        while True:  # unblock a put waiting for room
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)


def _next(iterator):
    try:
        return next(iterator)
    except StopIteration:
        # The pipeline repeats forever; an end here is a bug, and a StopIteration
        # escaping into the caller's __next__ would silently end the epoch.
        raise RuntimeError("the grain pipeline ended unexpectedly") from None


def _close(iterator):
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
