// The topology: nodes, zones, vnets and guest ports as a drawing, coloured by state (applied,
// pending, error), refreshed every few seconds. A dashed outline is a pending configuration
// change (new, changed or deleted) that Apply has not made yet.
import { html, useState } from '../html.js';
import { get } from '../api.js';
import { Alert, usePoll, useLoad } from '../ui.js';
import { loadStatus, nodeState } from '../status.js';
import { pendingValue } from '../pending.js';
import { typeName } from '../schema.js';

const VNET_W = 176;
const GAP = 16;
const ZONE_GAP = 34;
const BOX_H = 46;
const PORT_H = 38;
const ROW = { node: 34, zone: 150, vnet: 250, port: 342 };
const MARGIN = 24;

async function loadTopology() {
  const [nodes, zones, vnets, ports] = await Promise.all([
    loadStatus(),
    get('/cluster/sdn/zones', { pending: 1 }),
    get('/cluster/sdn/vnets', { pending: 1 }),
    get('/cluster/sdn/ports').catch(() => []),
  ]);
  return { nodes, zones, vnets, ports, at: new Date() };
}

/** Overall state of an object from its status on every node that lists it. */
function combined(statuses) {
  if (!statuses.length) return 'pending';
  if (statuses.includes('error')) return 'error';
  if (statuses.includes('pending')) return 'pending';
  return 'applied';
}

const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const CFG = { new: '+ new', changed: '~ changed', deleted: '− deleted' };

/** Boxes and edges, positioned. */
export function layout(data) {
  const zones = [...data.zones].sort((a, b) => a.zone.localeCompare(b.zone));
  const boxes = [];
  const edges = [];
  let x = MARGIN;
  let bottom = ROW.vnet + BOX_H;
  const zoneBox = {};
  for (const zone of zones) {
    const vnets = data.vnets.filter((v) => pendingValue(v, 'zone') === zone.zone).sort((a, b) => a.vnet.localeCompare(b.vnet));
    const width = Math.max(1, vnets.length) * (VNET_W + GAP) - GAP;
    const onNodes = data.nodes.map((n) => [n.node, n.zones.find((z) => z.zone === zone.zone)]).filter(([, z]) => z);
    const state = combined(onNodes.map(([, z]) => z.status));
    const type = pendingValue(zone, 'type') || zone.type;
    const okCount = onNodes.filter(([, z]) => z.status === 'available').length;
    const box = { kind: 'zone', id: zone.zone, x, y: ROW.zone, w: width, h: BOX_H, state, cfg: zone.state, href: '#/zones',
      title: `zone ${zone.zone}`, sub: `${typeName(type)} · ${okCount}/${onNodes.length} nodes${zone.state ? ` · ${CFG[zone.state]}` : ''}` };
    boxes.push(box);
    zoneBox[zone.zone] = { box, onNodes };
    vnets.forEach((vnet, i) => {
      const vx = x + i * (VNET_W + GAP);
      const statuses = data.nodes.map((n) => n.vnets.find((v) => v.vnet === vnet.vnet)).filter(Boolean);
      const vstate = combined(statuses.map((s) => s.status));
      const tag = pendingValue(vnet, 'tag');
      const vbox = { kind: 'vnet', id: vnet.vnet, x: vx, y: ROW.vnet, w: VNET_W, h: BOX_H, state: vstate, cfg: vnet.state,
        href: '#/vnets', title: `vnet ${vnet.vnet}`, sub: `${tag ? `tag ${tag} · ` : ''}${vnet.state ? CFG[vnet.state] : vstate}` };
      boxes.push(vbox);
      edges.push({ from: box, to: vbox, state: vstate, x1: vx + VNET_W / 2 });
      const ports = data.ports.filter((p) => p.vnet === vnet.vnet).sort((a, b) => `${a.guest}${a.mac}`.localeCompare(`${b.guest}${b.mac}`));
      ports.forEach((port, j) => {
        const onNode = statuses.length ? (data.nodes.find((n) => n.node === port.node) || { vnets: [] }).vnets.find((v) => v.vnet === vnet.vnet) : null;
        const pstate = onNode ? combined([onNode.status]) : 'pending';
        const py = ROW.port + j * (PORT_H + 8);
        const ips = (port.ips || []).join(' ');
        const pbox = { kind: 'port', id: `${port.guest}/${port.mac}`, x: vx + 10, y: py, w: VNET_W - 20, h: PORT_H, state: pstate,
          title: short(`guest ${port.guest}${port.hostname ? ` ${port.hostname}` : ''}`, 22), sub: short(`${port.node} · ${ips || port.mac}`, 24),
          label: `port of guest ${port.guest} on node ${port.node}, MAC ${port.mac}, ${ips || 'no address'}, ${pstate}` };
        boxes.push(pbox);
        edges.push({ from: vbox, to: pbox, state: pstate, x1: vx + VNET_W / 2, port: true });
        bottom = Math.max(bottom, py + PORT_H);
      });
    });
    x += width + ZONE_GAP;
  }
  const zonesWidth = x - ZONE_GAP + MARGIN;
  const nodes = [...data.nodes].sort((a, b) => a.node.localeCompare(b.node));
  const nodeW = 176;
  const width = Math.max(zonesWidth, MARGIN * 2 + nodes.length * (nodeW + GAP) - GAP, 1000);
  const step = nodes.length ? (width - 2 * MARGIN - nodeW) / Math.max(1, nodes.length - 1) : 0;
  nodes.forEach((node, i) => {
    const nx = nodes.length === 1 ? (width - nodeW) / 2 : MARGIN + i * step;
    const st = nodeState(node);
    const nbox = { kind: 'node', id: node.node, x: nx, y: ROW.node, w: nodeW, h: BOX_H, state: st === 'none' ? 'unknown' : st === 'available' ? 'applied' : st,
      href: '#/overview', title: `node ${node.node}`, sub: `${node.zones.length} zones · ${st === 'none' ? 'nothing deployed' : st === 'available' ? 'up to date' : st}` };
    boxes.push(nbox);
    for (const z of node.zones) {
      const target = zoneBox[z.zone];
      if (target) edges.push({ from: nbox, to: target.box, state: z.status === 'available' ? 'applied' : z.status, node: true });
    }
  });
  return { boxes, edges, width, height: bottom + MARGIN };
}

function path(edge) {
  const { from, to } = edge;
  const x1 = from.x + from.w / 2;
  const y1 = from.y + from.h;
  const x2 = edge.x1 !== undefined ? edge.x1 : to.x + to.w / 2;
  const y2 = to.y;
  const mid = (y1 + y2) / 2;
  return `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`;
}

function Box({ box }) {
  const cls = `box ${box.state}${box.cfg ? ` cfg-${box.cfg}` : ''}`;
  const name = box.label || `${box.title}: ${box.sub}`;
  const body = html`<g>
    <title>${name}</title>
    <rect class=${cls} x=${box.x} y=${box.y} width=${box.w} height=${box.h} rx="6" />
    <text class="title" x=${box.x + 10} y=${box.y + 18}>${box.title}</text>
    <text class="sub" x=${box.x + 10} y=${box.y + 34}>${box.sub}</text>
  </g>`;
  return box.href ? html`<a href=${box.href} aria-label=${name}>${body}</a>` : html`<g role="img" aria-label=${name}>${body}</g>`;
}

export function Topology() {
  const topo = useLoad(loadTopology, []);
  const [live, setLive] = useState(true);
  usePoll(() => live && topo.reload(), 5000);
  const drawn = topo.data ? layout(topo.data) : null;
  const summary = topo.data
    ? `${topo.data.nodes.length} nodes, ${topo.data.zones.length} zones, ${topo.data.vnets.length} vnets, ${topo.data.ports.length} guest ports`
    : '';
  return html`<div>
    <div class="panel-head"><h1>Topology</h1><span class="hint">${summary}</span></div>
    <div class="toolbar">
      <div class="legend" aria-label="Legend">
        <span><span class="swatch" data-state="applied"></span>applied</span>
        <span><span class="swatch" data-state="pending"></span>pending</span>
        <span><span class="swatch" data-state="error"></span>error</span>
        <span><span class="swatch" data-state="cfg"></span>dashed: pending change, not applied yet</span>
      </div>
      <span class="grow"></span>
      <label><input type="checkbox" checked=${live} onChange=${(ev) => setLive(ev.currentTarget.checked)} /> Refresh every 5 s</label>
      <span class="muted" aria-live="polite">${topo.data ? `updated ${topo.data.at.toLocaleTimeString()}` : ''}</span>
      <button type="button" onClick=${topo.reload}>Reload</button>
    </div>
    <${Alert} error=${topo.error} />
    ${drawn ? html`<div class="topology-wrap">
      <svg class="topology" role="group" aria-label=${`Topology: ${summary}`} width=${drawn.width} height=${drawn.height}
        viewBox=${`0 0 ${drawn.width} ${drawn.height}`}>
        <text class="row-label" x="8" y=${ROW.node - 10}>Nodes</text>
        <text class="row-label" x="8" y=${ROW.zone - 10}>Zones</text>
        <text class="row-label" x="8" y=${ROW.vnet - 10}>VNets</text>
        ${drawn.boxes.some((b) => b.kind === 'port') ? html`<text class="row-label" x="8" y=${ROW.port - 10}>Guest ports</text>` : null}
        ${drawn.edges.map((e) => html`<path class=${`edge ${e.state}`} d=${path(e)} />`)}
        ${drawn.boxes.map((b) => html`<${Box} key=${`${b.kind}/${b.id}`} box=${b} />`)}
      </svg></div>` : null}
  </div>`;
}
