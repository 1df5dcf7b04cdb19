// The object schema (GET /cluster/sdn/schema): every form and column label comes from it.
import { get } from './api.js';

let cached = null;

export async function loadSchema() {
  if (!cached) {
    cached = get('/cluster/sdn/schema').catch((err) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}

// Words that are written in capitals (or their usual spelling) in labels.
const WORDS = {
  mtu: 'MTU', ipam: 'IPAM', dns: 'DNS', dhcp: 'DHCP', vxlan: 'VXLAN', vrf: 'VRF', asn: 'ASN', mac: 'MAC',
  ip: 'IP', ip6: 'IPv6', bgp: 'BGP', isis: 'IS-IS', nd: 'ND', arp: 'ARP', rt: 'RT', url: 'URL', ttl: 'TTL',
  snat: 'SNAT', csnp: 'CSNP', net: 'NET', ebgp: 'eBGP', id: 'ID', vnet: 'VNet', vnets: 'VNets', vlan: 'VLAN',
  vlanaware: 'VLAN aware', dnszone: 'DNS zone', reversedns: 'Reverse DNS', exitnodes: 'Exit nodes',
  dnszoneprefix: 'DNS zone prefix', reversemaskv6: 'Reverse mask (IPv6)', vmid: 'VMID', cidr: 'CIDR',
  ifaces: 'interfaces', multihop: 'multihop', vni: 'VNI', as: 'AS', ospf: 'OSPF', udp: 'UDP',
};

/** A readable label for an option key: "vrf-vxlan" -> "VRF VXLAN", "exitnodes-primary" -> "Exit nodes primary". */
export function label(key) {
  const words = String(key).split(/[-_]/).map((w) => WORDS[w] || w);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const NOUNS = { vnet: 'vnet', ipam: 'IPAM', dns: 'DNS server', 'fabric-nodes': 'fabric node' };

/** What one object of a collection is called in running text ("Create zone", "Edit IPAM pve"). */
export function noun(collName, coll) {
  return NOUNS[collName] || NOUNS[coll.singular] || coll.singular;
}

const TYPE_NAMES = {
  simple: 'Simple', vlan: 'VLAN', qinq: 'QinQ', vxlan: 'VXLAN', evpn: 'EVPN', bgp: 'BGP', isis: 'IS-IS',
  pve: 'PVE', netbox: 'NetBox', phpipam: 'phpIPAM', powerdns: 'PowerDNS', openfabric: 'OpenFabric', ospf: 'OSPF',
};

export function typeName(type) {
  return TYPE_NAMES[type] || type;
}

/** The type of an object as the schema keys it (fabrics and their nodes by protocol). */
export function typeOf(coll, obj) {
  if (!coll.type_param) return Object.keys(coll.types)[0];
  const pend = obj.pending || {};
  return obj[coll.type_param] || pend[coll.type_param] || pend.type || obj.type;
}

/** The ID of a listed object (subnets by their ID, fabric nodes by node_id, ...). */
export function idOf(coll, obj) {
  return obj[coll.id.key];
}

/** All option descriptors of a collection, merged over its types (for columns and details). */
export function allOptions(coll) {
  const seen = new Map();
  for (const type of Object.values(coll.types)) {
    for (const opt of type.options) if (!seen.has(opt.key)) seen.set(opt.key, opt);
  }
  return [...seen.values()];
}
