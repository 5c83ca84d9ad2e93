# Copyright 2026 mtl_perception maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.


"""
The node's inference thread and its one-slot mailbox.

Subscription callbacks only park the newest message here; the worker thread takes it and runs
the frame. The executor is never blocked by inference, and a slow model drops old frames
(``put`` says when one was overwritten) instead of building a backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import threading
from typing import Any


@dataclass
class Mailbox:
    """One-slot, thread-safe hand-over of the newest message to the worker."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    item: Any = None
    closed: bool = False

    def put(self, item: Any) -> bool:
        """Store ``item``; return True when an unprocessed older item was overwritten."""
        with self.condition:
            replaced = self.item is not None
            self.item = item
            self.condition.notify()
            return replaced

    def take(self, timeout_s: float) -> Any:
        """Return the newest item, waiting up to ``timeout_s``; None when there is none."""
        with self.condition:
            if self.item is None and not self.closed:
                self.condition.wait(timeout_s)
            item, self.item = self.item, None
            return item

    def close(self) -> None:
        """Wake the worker and make it stop."""
        with self.condition:
            self.closed = True
            self.condition.notify_all()


class FrameWorker:
    """
    A daemon thread that hands each newest item to ``process(*item)``.

    ``reject(reason, message)`` hears of a frame that failed: ``bad_image`` for a ValueError
    or TypeError (a malformed message), ``processing_error`` for anything else, so one bad
    frame never ends the node.
    """

    def __init__(self, process: Callable[..., None], reject: Callable[[str, str], None],
                 name: str = 'mtl_inference') -> None:
        self._process = process
        self._reject = reject
        self._name = name
        self._mailbox = Mailbox()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start a new thread with an empty mailbox."""
        self._mailbox = Mailbox()
        self._thread = threading.Thread(target=self._run, args=(self._mailbox,),
                                        name=self._name, daemon=True)
        self._thread.start()

    def put(self, item: tuple) -> bool:
        """Hand ``item`` over; return True when it replaced one not yet processed."""
        return self._mailbox.put(item)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the mailbox and wait for the thread to finish its frame."""
        self._mailbox.close()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def _run(self, mailbox: Mailbox) -> None:
        while not mailbox.closed:
            item = mailbox.take(timeout_s=0.5)
            if item is None:
                continue
            try:
                self._process(*item)
            except (ValueError, TypeError) as error:
                self._reject('bad_image', f'image rejected: {error}')
            except Exception as error:  # noqa: BLE001 - keep the node alive, report it
                self._reject('processing_error',
                             f'processing failed ({type(error).__name__}): {error}')
