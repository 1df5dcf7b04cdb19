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

// api/nodestatus.py's message for a node without any status record: its agent never reported
export const NOT_GENERATED = 'local sdn network configuration is not yet generated, please reload';

/** Whether the node's agent has reported at all (a node without zones cannot tell: true). */
export function reported(entry) {
  const all = [...entry.zones, ...entry.vnets];
  return !all.length || all.some((o) => o.statusmsg !== NOT_GENERATED);
}

/** A node's state: down (registered, no heartbeat), error, unreported (no agent report), pending,
 * available, or none (nothing deployed). */
export function nodeState(entry) {
  if (entry.status === 'offline') return 'down';
  const all = [...entry.zones, ...entry.vnets].map((o) => o.status);
  if (entry.error || all.includes('error')) return 'error';
  if (!reported(entry)) return 'unreported';
  if (all.includes('pending')) return 'pending';
  return all.length ? 'available' : 'none';
}

export function StatusBadge({ status }) {
  return html`<${Badge} kind=${status}>${status}<//>`;
}

const NODE_TEXT = { none: 'nothing deployed', unreported: 'no agent report', down: 'node down' };

export function NodeBadge({ state }) {
  return NODE_TEXT[state] ? html`<${Badge}>${NODE_TEXT[state]}<//>` : html`<${StatusBadge} status=${state} />`;
}

/** Node → zone → vnet status table. */
export function StatusTable({ nodes }) {
  if (!nodes.length) return html`<p class="muted">No node has reported yet.</p>`;
  return html`<table class="grid">
    <thead><tr><th scope="col">Node</th><th scope="col">Zone / VNet</th><th scope="col">Type</th>
      <th scope="col">Status</th><th scope="col">Message</th></tr></thead>
    ${nodes.map((n) => html`<tbody key=${n.node} aria-label=${`Node ${n.node}`}>
      <tr class="group">
        <td>${n.node}</td><td colspan="2"><span class="muted">${n.zones.length} zones, ${n.vnets.length} vnets</span></td>
        <td><${NodeBadge} state=${nodeState(n)} /></td>
        <td>${n.error ? n.error.message : ''}</td>
      </tr>
      ${n.zones.map((z) => html`<${Fragment} key=${z.zone}>
        <tr><td></td><td class="indent">${z.zone}</td><td>zone (${z.type})</td>
          <td><${StatusBadge} status=${z.status} /></td><td class="muted">${z.statusmsg || ''}</td></tr>
        ${n.vnets.filter((v) => v.zone === z.zone).map((v) => html`<tr key=${v.vnet}>
          <td></td><td class="indent"><span class="indent">${v.vnet}</span></td><td>vnet</td>
          <td><${StatusBadge} status=${v.status} /></td><td class="muted">${v.statusmsg || ''}</td></tr>`)}
      </${Fragment}>`)}
    </tbody>`)}
  </table>`;
}
