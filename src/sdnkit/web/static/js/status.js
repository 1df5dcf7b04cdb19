// Per-node status: GET /nodes, then each node's zones and vnets (the agents' status records).
import { html, Fragment } from './html.js';
import { get } from './api.js';
import { Badge } from './ui.js';

/** [{node, status, zones: [...], vnets: [...], error}] for every node the API lists. */
export async function loadStatus() {
  const nodes = await get('/nodes');
  return Promise.all(
    nodes.map(async (n) => {
      const at = `/nodes/${encodeURIComponent(n.node)}/sdn`;
      try {
        const [zones, vnets] = await Promise.all([get(`${at}/zones`), get(`${at}/vnets`)]);
        return { node: n.node, status: n.status, zones, vnets, error: null };
      } catch (error) {
        return { node: n.node, status: n.status, zones: [], vnets: [], error };
      }
    }),
  );
}

/** A node's state over its zones and vnets: error, pending, available, or none (nothing deployed). */
export function nodeState(entry) {
  const all = [...entry.zones, ...entry.vnets].map((o) => o.status);
  if (entry.error || all.includes('error')) return 'error';
  if (all.includes('pending')) return 'pending';
  return all.length ? 'available' : 'none';
}

export function StatusBadge({ status }) {
  return html`<${Badge} kind=${status}>${status}<//>`;
}

/** Node → zone → vnet status table. */
export function StatusTable({ nodes }) {
  if (!nodes.length) return html`<p class="muted">No node has reported yet.</p>`;
  return html`<table class="grid">
    <thead><tr><th scope="col">Node</th><th scope="col">Zone / VNet</th><th scope="col">Type</th>
      <th scope="col">Status</th><th scope="col">Message</th></tr></thead>
    <tbody>${nodes.map((n) => html`<${Fragment} key=${n.node}>
      <tr class="group">
        <td>${n.node}</td><td colspan="2"><span class="muted">${n.zones.length} zones, ${n.vnets.length} vnets</span></td>
        <td>${nodeState(n) === 'none' ? html`<${Badge}>nothing deployed<//>` : html`<${StatusBadge} status=${nodeState(n)} />`}</td>
        <td>${n.error ? n.error.message : ''}</td>
      </tr>
      ${n.zones.map((z) => html`<${Fragment} key=${z.zone}>
        <tr><td></td><td class="indent">${z.zone}</td><td>zone (${z.type})</td>
          <td><${StatusBadge} status=${z.status} /></td><td class="muted">${z.statusmsg || ''}</td></tr>
        ${n.vnets.filter((v) => v.zone === z.zone).map((v) => html`<tr key=${v.vnet}>
          <td></td><td class="indent"><span class="indent">${v.vnet}</span></td><td>vnet</td>
          <td><${StatusBadge} status=${v.status} /></td><td class="muted">${v.statusmsg || ''}</td></tr>`)}
      </${Fragment}>`)}
    </${Fragment}>`)}</tbody>
  </table>`;
}
