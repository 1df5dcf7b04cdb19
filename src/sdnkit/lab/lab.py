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
from sdnkit.lab import agents, dhcpguest, etcdlab, guests, hostlink, topology
from sdnkit.lab import frr as lab_frr
from sdnkit.lab.batch import run_batch, run_batches
from sdnkit.lab.etcd import etcd_binary
from sdnkit.lab.etcdlab import EtcdOptions
from sdnkit.lab.state import MAX_NODES, Guest, Kernel, LabState, LabStore, replace
from sdnkit.store import is_etcd_url


class Lab:
    def __init__(self, name: str) -> None:
        self.store = LabStore(name)
        self.name = name

    def state(self) -> LabState:
        return self.store.load()

    def up(self, nodes: int, config_dir: str, etcd: EtcdOptions | None = None) -> LabState:
        """Create the lab; with ``etcd``, also its etcd cluster and the host link (the lab's
        store is then that cluster, whatever ``config_dir`` says)."""
        if not 1 <= nodes <= MAX_NODES:
            raise ConfigError(f'lab "{self.name}": --nodes must be 1-{MAX_NODES}', key="nodes", value=nodes)
        with self.store.locked():
            if self.store.exists():
                raise ConfigError(f'lab "{self.name}" already exists (sdn lab down --name {self.name})')
            store = config_dir if is_etcd_url(config_dir) else os.path.abspath(config_dir)
            state = LabState(name=self.name, kernel=Kernel.HOST, nodes=nodes, config_dir=store)
            state = replace(state, namespaces=topology.namespaces(state))
            if etcd is None:
                self._build(state, None)
                return state
            etcd_binary()  # NotSupportedError naming the package, before anything is made
            with hostlink.reserving():  # the subnet is taken once its link exists
                subnet = hostlink.choose_subnet(etcd.subnet)
                state = replace(state, etcd=etcdlab.plan(state, subnet, etcd.election_ms),
                                hostlink=hostlink.plan(state, subnet))  # fmt: skip
                state = replace(state, config_dir=etcdlab.host_url(state))
                self._build(state, etcd)
            with ExitStack() as undo:
                undo.callback(self._teardown, state)
                etcdlab.start(state)
                undo.pop_all()
            return state

    def _build(self, state: LabState, etcd: EtcdOptions | None) -> None:
        """Record the lab, then create its namespaces and links (all of it, or nothing)."""
        self.store.save(state)
        with ExitStack() as undo:
            undo.callback(self._teardown, state)
            topology.build(state)
            for node in state.node_names:
                self.store.node_dir(node).mkdir(exist_ok=True)
            if etcd is not None and state.hostlink is not None:
                if etcd.switch_port:  # inside UML: its network device to the real host
                    run_batch(None, [("link", "set", etcd.switch_port, "netns", state.ns("sw"))])
                    run_batch(state.ns("sw"), hostlink.switch_port_lines(etcd.switch_port))
                hostlink.create_veth(state, state.hostlink)
                run_batches(etcdlab.address_batches(state))
            undo.pop_all()

    def _teardown(self, state: LabState) -> None:
        agents.stop_all(state)
        lab_frr.stop_all(state)  # the daemons outlive a deleted namespace
        for guest in state.guests.values():
            if guest.dhcp and state.etcd is not None:  # its store goes with the lab
                dhcpguest.stop_client(guest.client_pid)
            elif guest.dhcp:  # give its address back to the IPAM of the store the lab shares
                with contextlib.suppress(SdnError):
                    dhcpguest.unplug(state, guest)
        for node in state.node_names:  # the agents' DHCP servers outlive a deleted namespace
            with contextlib.suppress(SdnError):
                dhcpguest.stop_servers(state, node)
        etcdlab.stop_all(state)  # a process outlives its deleted namespace
        hostlink.remove(state, state.hostlink)
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
        connected = topology.connected_nodes(state)
        for m in members:
            m["up"] = m["netns"] in present
            if m["role"] == "node":
                m["agent"] = agents.agent_pid(state, m["name"])
                m["isolated"] = m["up"] and m["name"] not in connected
                if state.etcd is not None and m["name"] in state.etcd.members:
                    m["etcd"] = etcdlab.member_pid(state, m["name"])
        info = {"name": state.name, "kernel": state.kernel.value, "config_dir": state.config_dir,
                "members": members}  # fmt: skip
        if state.hostlink is not None:
            info["hostlink"] = {"ifname": state.hostlink.ifname, "address": state.hostlink.address}
        return info

    def isolate(self, node: str, *, connect: bool) -> None:
        """Take the node's switch port down (cut off from the underlay, etcd and peers) or up."""
        with self.store.locked():
            state = self.store.load()
            state.node_index(node)  # names the node, or says which nodes there are
            topology.set_node_port(state, node, connect)

    def etcd(self, action: str, node: str | None) -> list[dict[str, Any]]:
        """``start``/``stop`` one member (or every member), then the members' status."""
        with self.store.locked():
            state = self.store.load()
            nodes = (node,) if node else (state.etcd.members if state.etcd else ())
            for name in nodes:
                etcdlab.member(state, name)  # refuses a node without a member
            if action == "stop":
                for name in nodes:
                    etcdlab.stop(state, name)
            elif action == "start":
                etcdlab.start(state, tuple(nodes))
            return etcdlab.status(state)
