"""A lab on this machine's kernel: create, inspect and remove it; add guests; run commands.

Every operation takes the lab's lock, records what it is about to create, creates it with
``ip -batch`` (lab/topology.py, lab/guests.py), and undoes its own work when a step fails.
Labs inside User-Mode-Linux are driven through lab/umllab.py, which runs these same operations
inside the UML kernel.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from sdnkit.config.running import RunningConfig
from sdnkit.errors import ConfigError, NotFoundError, SdnError
from sdnkit.lab import agents, dhcpguest, guests, topology
from sdnkit.lab import frr as lab_frr
from sdnkit.lab.state import MAX_NODES, Guest, Kernel, LabState, LabStore, replace
from sdnkit.store import is_etcd_url


class Lab:
    def __init__(self, name: str) -> None:
        self.store = LabStore(name)
        self.name = name

    def state(self) -> LabState:
        return self.store.load()

    def up(self, nodes: int, config_dir: str) -> LabState:
        if not 1 <= nodes <= MAX_NODES:
            raise ConfigError(f'lab "{self.name}": --nodes must be 1-{MAX_NODES}', key="nodes", value=nodes)
        with self.store.locked():
            if self.store.exists():
                raise ConfigError(f'lab "{self.name}" already exists (sdn lab down --name {self.name})')
            store = config_dir if is_etcd_url(config_dir) else os.path.abspath(config_dir)
            state = LabState(name=self.name, kernel=Kernel.HOST, nodes=nodes, config_dir=store)
            state = replace(state, namespaces=topology.namespaces(state))
            self.store.save(state)
            with ExitStack() as undo:
                undo.callback(self._teardown, state)
                topology.build(state)
                for node in state.node_names:
                    self.store.node_dir(node).mkdir(exist_ok=True)
                undo.pop_all()
            return state

    def _teardown(self, state: LabState) -> None:
        agents.stop_all(state)
        lab_frr.stop_all(state)  # the daemons outlive a deleted namespace
        for guest in state.guests.values():
            if guest.dhcp:  # give its address back to the IPAM of the store the lab shares
                with contextlib.suppress(SdnError):
                    dhcpguest.unplug(state, guest)
        for node in state.node_names:  # the agents' DHCP servers outlive a deleted namespace
            with contextlib.suppress(SdnError):
                dhcpguest.stop_servers(state, node)
        topology.delete_namespaces([*state.namespaces, *(g.netns for g in state.guests.values())])
        self.store.remove()

    def down(self) -> None:
        with self.store.locked():
            self._teardown(self.store.load())

    def add_guest(self, spec: guests.GuestSpec, running: RunningConfig) -> Guest:
        with self.store.locked():
            state = self.store.load()
            guest = guests.make_guest(state, spec)
            policy = None if spec.dhcp else guests.port_policy(state, running, spec)
            # recorded first, so that `down` removes it even if this process dies half way
            self.store.save(replace(state, guests={**state.guests, guest.name: guest}, last_vmid=guest.vmid))
            try:
                if policy is None:
                    guest = dhcpguest.plug(state, guest)
                else:
                    guests.plug(state, guest, policy)
            except BaseException:
                self.store.save(replace(state, last_vmid=guest.vmid))
                raise
            self.store.save(replace(state, guests={**state.guests, guest.name: guest}, last_vmid=guest.vmid))
            return guest

    def del_guest(self, name: str) -> None:
        with self.store.locked():
            state = self.store.load()
            guest = state.guests.get(name)
            if guest is None:
                raise NotFoundError(f'lab "{self.name}": no guest "{name}"', obj=name)
            if guest.dhcp:
                dhcpguest.unplug(state, guest)
            else:
                topology.delete_namespaces([guest.netns])
            self.store.save(replace(state, guests={k: v for k, v in state.guests.items() if k != name}))

    def exec(self, member: str, argv: Sequence[str]) -> int:
        """Run ``argv`` in a node, guest or ``outside``; stdio stays attached; its exit code."""
        state = self.state()
        argv = lab_frr.vtysh_argv(state, member, argv)
        return subprocess.run(["ip", "netns", "exec", state.ns(member), *argv], check=False).returncode

    def start_router(self, conf: str | None) -> tuple[str, ...]:
        """The outside host's FRR router, with ``conf`` (lab/frr.py); the daemons it runs."""
        with self.store.locked():
            return lab_frr.start_router(self.store.load(), conf)

    def stop_router(self) -> None:
        with self.store.locked():
            lab_frr.stop_router(self.store.load())

    def describe(self) -> dict[str, Any]:
        state = self.state()
        present = topology.existing_namespaces()
        members = [
            {"name": n, "role": "node", "netns": state.ns(n), "address": topology.node_address(i)}
            for i, n in enumerate(state.node_names, start=1)
        ]
        members.append(
            {
                "name": "outside",
                "role": "host",
                "netns": state.ns("outside"),
                "address": topology.outside_address(),
            }
        )
        for g in sorted(state.guests.values(), key=lambda g: g.name):
            members.append(
                {
                    "name": g.name,
                    "role": "guest",
                    "netns": g.netns,
                    "node": g.node,
                    "vnet": g.vnet,
                    "address": g.ip,
                    "port": g.ifname,
                    "vlan": g.vlan,
                }
            )
        for m in members:
            m["up"] = m["netns"] in present
            if m["role"] == "node":
                m["agent"] = agents.agent_pid(state, m["name"])
        return {
            "name": state.name,
            "kernel": state.kernel.value,
            "config_dir": state.config_dir,
            "members": members,
        }
