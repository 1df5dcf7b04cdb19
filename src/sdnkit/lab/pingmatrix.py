"""Many pings at once between lab members: who reaches whom.

Each probe is one ``ping`` from a member's namespace (``-c 1 -w DEADLINE``: it returns on the
first reply, or after the deadline), run up to ``PARALLEL`` at a time, so a matrix of a hundred
probes takes about one deadline, not a hundred. For a lab inside UML the demo runs this module
there (``python -m sdnkit.lab.pingmatrix --name LAB PROBES_JSON`` prints the results as JSON).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sdnkit.lab.state import LabStore

PARALLEL = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    src: str  # lab member: node, guest or "outside"
    dst: str  # IP address
    size: int | None = None
    df: bool = False  # don't fragment

    def argv(self, netns: str, deadline: int) -> list[str]:
        # -w takes whole seconds (iputils refuses "1.5")
        argv = ["ip", "netns", "exec", netns, "ping", "-n", "-q", "-c", "1", "-i", "0.2", "-w", str(deadline)]
        argv += ["-s", str(self.size)] if self.size is not None else []
        argv += ["-M", "do"] if self.df else []
        return [*argv, self.dst]


def run_probes(lab: str, probes: Sequence[Probe], deadline: int = 2) -> list[bool]:
    """Whether each probe got a reply, in order."""
    state = LabStore(lab).load()
    results: list[bool | None] = [None] * len(probes)
    running: dict[int, subprocess.Popen[bytes]] = {}
    queue = list(enumerate(probes))
    while queue or running:
        while queue and len(running) < PARALLEL:
            i, probe = queue.pop(0)
            argv = probe.argv(state.ns(probe.src), deadline)
            running[i] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i, proc in list(running.items()):
            if proc.poll() is not None:
                results[i] = proc.returncode == 0
                del running[i]
        time.sleep(0.01)
    return [bool(r) for r in results]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdnkit.lab.pingmatrix")
    parser.add_argument("--name", required=True)
    parser.add_argument("--deadline", type=int, default=2)
    parser.add_argument("probes", help="JSON list of {src, dst, size?, df?}")
    args = parser.parse_args(argv)
    probes = [Probe(**p) for p in json.loads(args.probes)]
    json.dump(run_probes(args.name, probes, args.deadline), sys.stdout)
    return 0


def to_json(probes: Sequence[Probe]) -> str:
    return json.dumps([asdict(p) for p in probes])


if __name__ == "__main__":
    sys.exit(main())
