// The topology: nodes, zones, vnets and guest ports as a drawing, coloured by state (applied,
// pending, error), refreshed every few seconds. A dashed outline is a pending configuration
// change (new, changed or deleted) that Apply has not made yet. Each zone is a tile (the zone,
// its vnets below it, their guest ports below them); each zone and vnet carries one chip per
// node it is deployed on, in that node's state. Tiles wrap to the width of the panel.
import { html, useEffect, useRef, useState } from '../html.js';
import { get } from '../api.js';
import { Alert, usePoll, useLoad } from '../ui.js';
import { loadStatus, nodeState, reported } from '../status.js';
import { pendingValue } from '../pending.js';
import { typeName } from '../schema.js';

const BOX_W = 184;
const GAP = 14;
const TILE_GAP = 30;
const BOX_H = 60;
const NODE_H = 44;
const PORT_H = 38;
const ROW_GAP = 34;
const MARGIN = 20;
const LABEL_H = 22;

async function loadTopology() {
  const [nodes, zones, vnets, ports] = await Promise.all([
    loadStatus(),
    get('/cluster/sdn/zones', { pending: 1 }),
    get('/cluster/sdn/vnets', { pending: 1 }),
    get('/cluster/sdn/ports').catch(() => []),
  ]);
  return { nodes, zones, vnets, ports, at: new Date() };
}

const STATE = { available: 'applied', pending: 'pending', error: 'error' };
const CFG = { new: '+ new', changed: '~ changed', deleted: '− deleted' };
const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Overall state over the nodes whose agents report (none yet: pending). */
function combined(chips) {
  const states = chips.filter((c) => c.state !== 'unknown').map((c) => c.state);
  if (states.includes('error')) return 'error';
  if (!states.length || states.includes('pending')) return 'pending';
  return 'applied';
}

/** One chip per node that lists the object: its status there ("unknown": no agent report). */
function chipsOf(data, find) {
  return data.nodes
    .map((n) => {
      const entry = find(n);
      if (!entry) return null;
      return { node: n.node, state: reported(n) ? STATE[entry.status] || 'pending' : 'unknown', message: entry.statusmsg };
    })
    .filter(Boolean);
}

function zoneTile(data, zone) {
  const vnets = data.vnets.filter((v) => pendingValue(v, 'zone') === zone.zone).sort((a, b) => a.vnet.localeCompare(b.vnet));
  const chips = chipsOf(data, (n) => n.zones.find((z) => z.zone === zone.zone));
  const type = pendingValue(zone, 'type') || zone.type;
  const columns = vnets.map((vnet) => {
    const vchips = chipsOf(data, (n) => n.vnets.find((v) => v.vnet === vnet.vnet));
    const tag = pendingValue(vnet, 'tag');
    const ports = data.ports
      .filter((p) => p.vnet === vnet.vnet)
      .sort((a, b) => `${a.guest}${a.mac}`.localeCompare(`${b.guest}${b.mac}`))
      .map((port) => {
        const chip = vchips.find((c) => c.node === port.node);
        const state = chip && chip.state !== 'unknown' ? chip.state : 'pending';
        const ips = (port.ips || []).join(' ');
        return {
          kind: 'port', id: `${port.guest}/${port.mac}`, state,
          title: short(`guest ${port.guest}${port.hostname ? ` ${port.hostname}` : ''}`, 24),
          sub: short(`${port.node} · ${ips || port.mac}`, 28),
          label: `port of guest ${port.guest} on node ${port.node}, MAC ${port.mac}, ${ips || 'no address'}, ${state}`,
        };
      });
    const vstate = combined(vchips);
    return {
      box: { kind: 'vnet', id: vnet.vnet, state: vstate, cfg: vnet.state, chips: vchips, href: '#/vnets', title: `vnet ${vnet.vnet}`,
        sub: `${tag ? `tag ${tag}` : 'no tag'}${vnet.state ? ` · ${CFG[vnet.state]}` : ''}` },
      ports,
    };
  });
  const state = combined(chips);
  const box = { kind: 'zone', id: zone.zone, state, cfg: zone.state, chips, href: '#/zones', title: `zone ${zone.zone}`,
    sub: `${typeName(type)} · ${vnets.length} vnet${vnets.length === 1 ? '' : 's'}${zone.state ? ` · ${CFG[zone.state]}` : ''}` };
  const width = Math.max(1, columns.length) * (BOX_W + GAP) - GAP;
  const depth = Math.max(0, ...columns.map((c) => c.ports.length));
  const height = BOX_H + (columns.length ? ROW_GAP + BOX_H : 0) + (depth ? ROW_GAP / 2 + depth * (PORT_H + 8) : 0);
  return { box, columns, width, height };
}

/** Boxes and edges, positioned within ``maxWidth``. */
export function layout(data, maxWidth) {
  const boxes = [];
  const edges = [];
  const labels = [];
  const width = Math.max(maxWidth, BOX_W + 2 * MARGIN);
  // nodes, wrapped
  let x = MARGIN;
  let y = MARGIN + LABEL_H;
  labels.push({ text: 'Nodes', y: y - 8 });
  const nodes = [...data.nodes].sort((a, b) => a.node.localeCompare(b.node));
  nodes.forEach((node) => {
    if (x + BOX_W > width - MARGIN && x > MARGIN) {
      x = MARGIN;
      y += NODE_H + GAP;
    }
    const st = nodeState(node);
    const state = st === 'none' || st === 'unreported' ? 'unknown' : STATE[st] || st;
    const text = st === 'unreported' ? 'no agent report' : st === 'none' ? 'nothing deployed' : st === 'available' ? 'up to date' : st;
    boxes.push({ kind: 'node', id: node.node, x, y, w: BOX_W, h: NODE_H, state, href: '#/overview', title: `node ${node.node}`,
      sub: `${node.zones.length} zone${node.zones.length === 1 ? '' : 's'} · ${text}` });
    x += BOX_W + GAP;
  });
  // zone tiles, wrapped
  y += NODE_H + ROW_GAP + LABEL_H;
  labels.push({ text: 'Zones, their vnets and guest ports', y: y - 8 });
  x = MARGIN;
  let rowHeight = 0;
  const tiles = [...data.zones].sort((a, b) => a.zone.localeCompare(b.zone)).map((z) => zoneTile(data, z));
  for (const tile of tiles) {
    if (x + tile.width > width - MARGIN && x > MARGIN) {
      x = MARGIN;
      y += rowHeight + ROW_GAP;
      rowHeight = 0;
    }
    const zbox = { ...tile.box, x, y, w: tile.width, h: BOX_H };
    boxes.push(zbox);
    tile.columns.forEach((col, i) => {
      const vbox = { ...col.box, x: x + i * (BOX_W + GAP), y: y + BOX_H + ROW_GAP, w: BOX_W, h: BOX_H };
      boxes.push(vbox);
      edges.push({ x1: vbox.x + BOX_W / 2, y1: zbox.y + BOX_H, x2: vbox.x + BOX_W / 2, y2: vbox.y, state: vbox.state });
      col.ports.forEach((port, j) => {
        const pbox = { ...port, x: vbox.x + 12, y: vbox.y + BOX_H + ROW_GAP / 2 + j * (PORT_H + 8), w: BOX_W - 24, h: PORT_H };
        boxes.push(pbox);
        edges.push({ x1: vbox.x + 6, y1: j === 0 ? vbox.y + BOX_H : pbox.y - 8 - PORT_H / 2, x2: pbox.x, y2: pbox.y + PORT_H / 2,
          state: port.state, elbow: true });
      });
    });
    rowHeight = Math.max(rowHeight, tile.height);
    x += tile.width + TILE_GAP;
  }
  return { boxes, edges, labels, width, height: y + rowHeight + MARGIN };
}

function edgePath(e) {
  return e.elbow ? `M${e.x1},${e.y1} V${e.y2} H${e.x2}` : `M${e.x1},${e.y1} V${e.y2}`;
}

function Chips({ box }) {
  if (!box.chips || !box.chips.length) return null;
  const out = [];
  let cx = box.x + 10;
  for (const [i, c] of box.chips.entries()) {
    const w = Math.min(90, 16 + c.node.length * 6.6);
    if (cx + w > box.x + box.w - 30) {
      out.push(html`<text key="more" class="sub" x=${cx + 2} y=${box.y + 51}>+${box.chips.length - i}</text>`);
      break;
    }
    out.push(html`<g key=${c.node}><rect class=${`chip ${c.state}`} x=${cx} y=${box.y + 40} width=${w} height="14" rx="7" />
      <text class="chip-text" x=${cx + w / 2} y=${box.y + 50.5} text-anchor="middle">${short(c.node, 12)}</text></g>`);
    cx += w + 4;
  }
  return out;
}

function Box({ box }) {
  const cls = `box ${box.state}${box.cfg ? ` cfg-${box.cfg}` : ''}`;
  const where = box.chips && box.chips.length ? `; ${box.chips.map((c) => `${c.node} ${c.state}`).join(', ')}` : '';
  const name = box.label || `${box.title}: ${box.sub}${where}`;
  const body = html`<g>
    <title>${name}</title>
    <rect class=${cls} x=${box.x} y=${box.y} width=${box.w} height=${box.h} rx="6" />
    <text class="title" x=${box.x + 10} y=${box.y + 18}>${box.title}</text>
    <text class="sub" x=${box.x + 10} y=${box.y + 33}>${box.sub}</text>
    <${Chips} box=${box} />
  </g>`;
  return box.href ? html`<a href=${box.href} aria-label=${name}>${body}</a>` : html`<g role="img" aria-label=${name}>${body}</g>`;
}

function useWidth(ref) {
  const [width, setWidth] = useState(1000);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const update = () => setWidth(Math.max(400, el.clientWidth - 2));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return width;
}

export function Topology() {
  const topo = useLoad(loadTopology, []);
  const [live, setLive] = useState(true);
  const wrap = useRef(null);
  const width = useWidth(wrap);
  usePoll(() => live && topo.reload(), 5000);
  const drawn = topo.data ? layout(topo.data, width) : null;
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
        <span><span class="swatch" data-state="unknown"></span>no agent report</span>
        <span><span class="swatch" data-state="cfg"></span>dashed: changed, not applied yet</span>
      </div>
      <span class="grow"></span>
      <label><input type="checkbox" checked=${live} onChange=${(ev) => setLive(ev.currentTarget.checked)} /> Refresh every 5 s</label>
      <span class="muted" aria-live="polite">${topo.data ? `updated ${topo.data.at.toLocaleTimeString()}` : ''}</span>
      <button type="button" onClick=${topo.reload}>Reload</button>
    </div>
    <${Alert} error=${topo.error} />
    <div class="topology-wrap" ref=${wrap}>
      ${drawn ? html`<svg class="topology" role="group" aria-label=${`Topology: ${summary}`} width=${drawn.width} height=${drawn.height}
        viewBox=${`0 0 ${drawn.width} ${drawn.height}`}>
        ${drawn.labels.map((l) => html`<text class="row-label" x=${MARGIN} y=${l.y}>${l.text}</text>`)}
        ${drawn.edges.map((e) => html`<path class=${`edge ${e.state}`} d=${edgePath(e)} />`)}
        ${drawn.boxes.map((b) => html`<${Box} key=${`${b.kind}/${b.id}`} box=${b} />`)}
      </svg>` : null}
    </div>
  </div>`;
}
