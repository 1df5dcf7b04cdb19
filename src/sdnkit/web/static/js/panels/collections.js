// The object panels, as PVE's SDN panels: each a table of one collection (ObjectTable does the
// work; a panel only says which options are columns), the vnets and fabrics with their children.
import { html, useState } from '../html.js';
import { get } from '../api.js';
import { Alert, useLoad } from '../ui.js';
import { ObjectTable } from '../objects.js';

function Head({ title, hint }) {
  return html`<div class="panel-head"><h1>${title}</h1>${hint ? html`<span class="hint">${hint}</span>` : null}</div>`;
}

const subnetId = (obj) => obj.cidr || obj.subnet;

export function Zones(props) {
  return html`<div><${Head} title="Zones" hint="A zone is a separated network area; its vnets are deployed on its nodes." />
    <${ObjectTable} ...${props} collName="zones" title="Zones" columns=${['nodes', 'mtu', 'ipam', 'dhcp', 'dns', 'dnszone', 'bridge', 'peers']} /></div>`;
}

export function Vnets(props) {
  const [vnet, setVnet] = useState(null);
  return html`<div><${Head} title="VNets" hint="Select a vnet to see and change its subnets." />
    <${ObjectTable} ...${props} collName="vnets" title="VNets" columns=${['zone', 'tag', 'alias', 'vlanaware', 'isolate-ports']}
      selected=${vnet} onSelect=${setVnet} />
    ${vnet ? html`<${ObjectTable} ...${props} collName="subnets" parents=${[vnet]} title=${`Subnets of vnet ${vnet}`}
      idText=${subnetId} columns=${['gateway', 'snat', 'dhcp-range', 'dnszoneprefix']} />`
      : html`<p class="muted">No vnet selected.</p>`}
  </div>`;
}

export function Subnets(props) {
  const vnets = useLoad(() => get('/cluster/sdn/vnets'), [props.refresh]);
  const ids = vnets.data ? vnets.data.map((v) => v.vnet).sort() : null;
  return html`<div><${Head} title="Subnets" hint="Every subnet of every vnet: gateway, SNAT, DHCP ranges, DNS prefix." />
    <${Alert} error=${vnets.error} />
    ${ids ? html`<${ObjectTable} ...${props} collName="subnets" parents=${ids} title="Subnets" idText=${subnetId}
      columns=${['gateway', 'snat', 'dhcp-range', 'dnszoneprefix']} />` : null}
  </div>`;
}

export function Controllers(props) {
  return html`<div><${Head} title="Controllers" hint="EVPN, BGP and IS-IS controllers configure FRR on the nodes." />
    <${ObjectTable} ...${props} collName="controllers" title="Controllers" columns=${['asn', 'peers', 'node', 'fabric']} /></div>`;
}

export function Dns(props) {
  return html`<div><${Head} title="DNS" hint="DNS servers guests are registered in (changes take effect at once)." />
    <${ObjectTable} ...${props} collName="dns" title="DNS servers" columns=${['url', 'ttl']} /></div>`;
}

export function Fabrics(props) {
  const [fabric, setFabric] = useState(null);
  return html`<div><${Head} title="Fabrics" hint="Routed underlays (OpenFabric, OSPF); select one to see its nodes." />
    <${ObjectTable} ...${props} collName="fabrics" title="Fabrics" columns=${['ip_prefix', 'ip6_prefix', 'area']}
      selected=${fabric} onSelect=${setFabric} />
    ${fabric ? html`<${ObjectTable} ...${props} collName="fabric-nodes" parents=${[fabric]} title=${`Nodes of fabric ${fabric}`}
      columns=${['ip', 'ip6', 'interfaces']} />` : html`<p class="muted">No fabric selected.</p>`}
  </div>`;
}
