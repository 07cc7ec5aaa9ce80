"""Sign-in throttling: failed attempts counted per account and per client address, in memory (per process).

After `allowed` failures within `window` seconds for either key, every attempt on that key is refused
until the oldest failure leaves the window, whether or not the account exists and whether or not the
password would be right, so a refusal tells nothing. A success clears the account's failures only: an
attacker signing in to an account of their own must not reset their address's count.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable

MAX_KEYS = 100_000


class LoginThrottle:
    def __init__(self, allowed: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed = allowed
        self.window = window
        self.clock = clock
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def retry_after(self, keys: Iterable[Hashable]) -> float:
        """Seconds until an attempt on all of keys is allowed again; 0 when it is allowed now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                stamps = self._recent(key, now)
                if len(stamps) >= self.allowed:
                    wait = max(wait, stamps[-self.allowed] + self.window - now)
        return wait

    def failed(self, keys: Iterable[Hashable]) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
                if len(self._failures) >= MAX_KEYS:  # still full of live keys: forget the oldest half
                    for key in list(self._failures)[: MAX_KEYS // 2]:
                        del self._failures[key]
            for key in keys:
                # Only the last `allowed` failures decide anything; refused attempts are not counted.
                self._failures.setdefault(key, deque(maxlen=self.allowed)).append(now)

    def succeeded(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)
