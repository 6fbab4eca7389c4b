"""Transport faults in front of every simulator, switched on by name in `SandboxSettings.faults`.

The platforms' own faults (throttling codes, window errors, records modified while paging) live in
their simulators; these are what any HTTP API does now and then, whatever its protocol. Each named
fault strikes a request with probability `TRANSPORT_FAULT_RATE` (or its own rate), drawn from a
generator seeded by the world's seed, so a run's faults are repeatable in number (not in which
request: threads race):

- `http_429`: HTTP 429 from the platform's gateway, every other one with `Retry-After: 1`;
- `http_5xx`: HTTP 502 or 503 with an HTML body, as a load balancer answers;
- `connection_reset`: the connection closed without an answer (the request was not served);
- `truncated_json`: the simulator's answer cut in the middle (the request *was* served);
- `read_timeout`: the answer comes READ_TIMEOUT_STALL seconds late, after the client gave up (its
  read timeout must be shorter: OMNI_HTTP_READ_TIMEOUT; `omni demo` shortens it to 2 s); 0.3 %.

`SIMULATOR_FAULTS` are the platform behaviours the simulators switch on by the same names (see
simkit.OrderFeed and ga4_sim). `FAULT_PROFILES` names mixes for `omni demo --faults` and the fault
tests: `none`, and `mix` (the four transport faults; the marketplaces' order lists serving a page
empty once and records twice across pages; Youzan expiring access tokens after a few calls; the
signing gateways' clocks 15 minutes ahead).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

TRANSPORT_FAULTS = ("http_429", "http_5xx", "connection_reset", "truncated_json", "read_timeout")
# the platform faults the simulators themselves switch on (simkit.OrderFeed, ga4_sim)
SIMULATOR_FAULTS = (
    "modify_while_paging",
    "empty_pages",
    "empty_page_once",
    "duplicate_across_pages",
    "token_expiry",
    "clock_skew",
)
# the platform faults that change no data: a run under them must land exactly what a clean run does
# (`modify_while_paging` changes orders; under `empty_pages` pages never come, so the pull fails)
PAGING_FAULTS = ("empty_page_once", "duplicate_across_pages")
# platform faults a client must adapt to, changing no data: Youzan ending an access token mid-pull,
# gateways whose clocks are ahead of ours
SESSION_FAULTS = ("token_expiry", "clock_skew")
KNOWN_FAULTS = frozenset((*TRANSPORT_FAULTS, *SIMULATOR_FAULTS))
TRANSPORT_FAULT_RATE = 0.01  # per request and fault, unless listed below
# a stall costs the client its whole read timeout, so it strikes less often
TRANSPORT_FAULT_RATES = {"read_timeout": 0.003}
READ_TIMEOUT_STALL = 3.0  # seconds the server sits on a request before answering it
# With `clock_skew` the gateways' clocks run this far ahead of ours (beyond their ±10 min tolerance):
# every request signed with our clock is rejected until the client reads theirs (HTTP Date header).
CLOCK_SKEW = timedelta(minutes=15)
FAULT_PROFILES: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "mix": frozenset((*TRANSPORT_FAULTS, *PAGING_FAULTS, *SESSION_FAULTS)),
}


def clock_skew(faults: frozenset[str]) -> timedelta:
    """How far the gateways' clocks run ahead of ours under these faults."""
    return CLOCK_SKEW if "clock_skew" in faults else timedelta(0)


def fault_rate(kind: str) -> float:
    return TRANSPORT_FAULT_RATES.get(kind, TRANSPORT_FAULT_RATE)


class TransportFaults:
    """Draws the fault (or none) for each request; counts what it injected."""

    def __init__(self, faults: frozenset[str], seed: int) -> None:
        self.kinds = [kind for kind in TRANSPORT_FAULTS if kind in faults]
        self._rng = random.Random(f"transport-faults:{seed}")
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def draw(self) -> str | None:
        if not self.kinds:
            return None
        with self._lock:
            roll = self._rng.random()
            threshold = 0.0
            for kind in self.kinds:
                threshold += fault_rate(kind)
                if roll < threshold:
                    self.injected[kind] += 1
                    return kind
        return None

    def with_retry_after(self) -> bool:
        """Every other injected 429 says when to come back."""
        return self.injected["http_429"] % 2 == 1
