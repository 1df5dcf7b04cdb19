// The pending diff (GET /cluster/sdn/dry-run) and Apply (PUT /cluster/sdn) with its task's progress.
//
// Apply answers with a PVE task ID (UPID). The dialog follows the task as PVE's UI does, through
// /nodes/{node}/tasks/{upid}/status and /log, until it has stopped; log lines "<node>: <event>"
// (one per node event) become that node's progress line. Then it follows the nodes' own status
// records until every node that runs an agent has realized the new version (or failed).
import { html, useEffect, useState, Fragment } from './html.js';
import { get, put } from './api.js';
import { Alert, Badge, Modal, StateBadge, usePoll } from './ui.js';
import { allOptions, label } from './schema.js';
import { show } from './pending.js';
import { loadStatus, NodeBadge, nodeState, StatusBadge } from './status.js';

const KIND_NAMES = { zones: 'zone', vnets: 'vnet', subnets: 'subnet', controllers: 'controller', fabrics: 'fabric' };

function Value({ value, format }) {
  const text = show(value, format);
  return text === '' ? html`<span class="muted">—</span>` : text;
}

/** The format of an option of a diff's kind (fabrics.cfg holds fabrics and their nodes). */
function formatOf(schema, kind, key) {
  const colls = Object.values(schema.collections).filter((c) => c.kind === kind);
  for (const coll of colls) {
    const opt = allOptions(coll).find((o) => o.key === key);
    if (opt) return opt.format;
  }
  return null;
}

/** Every object apply would change, option by option (old → new). */
export function DiffView({ changes, schema }) {
  if (!changes.length) return html`<p class="muted">No pending changes: the running configuration is the configuration.</p>`;
  return html`<table class="grid diff">
    <thead><tr><th scope="col">Object</th><th scope="col">Change</th><th scope="col">Option</th>
      <th scope="col">Running</th><th scope="col">Pending</th></tr></thead>
    <tbody>${changes.map((c) => {
      const entries = Object.entries(c.changes);
      return html`<${Fragment} key=${`${c.kind}/${c.id}`}>${entries.map(([key, v], i) => {
        const format = formatOf(schema, c.kind, key);
        return html`<tr key=${key}>
        ${i === 0 ? html`<td rowspan=${entries.length} class="id">${KIND_NAMES[c.kind] || c.kind} ${c.id}</td>
          <td rowspan=${entries.length}><${StateBadge} state=${c.state} /></td>` : null}
        <td>${label(key)}</td>
        <td class=${v.old !== null && v.old !== undefined ? 'change' : ''}>${v.old !== null && v.old !== undefined
          ? html`<span class=${c.state === 'new' ? '' : 'old'}><${Value} value=${v.old} format=${format} /></span>`
          : html`<span class="muted">—</span>`}</td>
        <td>${v.new !== null && v.new !== undefined
          ? html`<span class="change"><span class="new"><${Value} value=${v.new} format=${format} /></span></span>`
          : html`<span class="change"><span class="gone">deleted</span></span>`}</td>
      </tr>`;
      })}</${Fragment}>`;
    })}</tbody>
  </table>`;
}

const NODE_LINE = /^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$/;

/** Per-node progress from the task log: the last event of each node, and whether it failed. */
export function nodeEvents(lines) {
  const out = new Map();
  for (const { t } of lines) {
    const m = NODE_LINE.exec(t || '');
    if (!m || m[1] === 'TASK') continue;
    const text = m[2];
    const state = /error|fail|refus|rolled back|timeout|timed out|no answer/i.test(text) ? 'error'
      : /applied|available|done|ok\b|realized/i.test(text) ? 'available' : 'running';
    out.set(m[1], { text, state });
  }
  return out;
}

function TaskProgress({ upid, onFinished }) {
  const node = upid.split(':')[1];
  const base = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`;
  const [task, setTask] = useState(null);
  const [lines, setLines] = useState([]);
  const [error, setError] = useState(null);
  const poll = async () => {
    if (task && task.status === 'stopped') return;
    try {
      const [status, log] = await Promise.all([get(`${base}/status`), get(`${base}/log`)]);
      setTask(status);
      setLines(log);
      if (status.status === 'stopped') onFinished(status);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    poll();
  }, [upid]);
  usePoll(poll, 1000);
  const events = nodeEvents(lines);
  const running = !task || task.status !== 'stopped';
  const ok = task && task.exitstatus === 'OK';
  return html`<div>
    <h3>Task ${running ? html`<span class="spinner" aria-hidden="true"></span>` : null}
      ${task ? html`<${Badge} kind=${running ? 'running' : ok ? 'ok' : 'error'}>${running ? 'running' : task.exitstatus}<//>` : null}</h3>
    <${Alert} error=${error} />
    ${events.size ? html`<ul class="progress-list" aria-label="Progress per node">${[...events].map(([n, e]) => html`<li key=${n}>
      <span class="node">${n}</span><${StatusBadge} status=${e.state} /><span>${e.text}</span></li>`)}</ul>` : null}
    <pre class="log" aria-label="Task log">${lines.map((l) => l.t).join('\n')}</pre>
  </div>`;
}

/** After the task: each node's own status until it is no longer pending. */
function NodeProgress() {
  const [nodes, setNodes] = useState(null);
  const [error, setError] = useState(null);
  const poll = () => loadStatus().then((n) => { setNodes(n); setError(null); }, setError);
  useEffect(() => { poll(); }, []);
  usePoll(poll, 2000);
  return html`<div>
    <h3>Nodes</h3>
    <${Alert} error=${error} />
    ${nodes ? html`<ul class="progress-list" aria-label="Status per node">${nodes.map((n) => {
      const state = nodeState(n);
      const text = {
        pending: (n.zones.find((z) => z.statusmsg) || {}).statusmsg || 'waiting for the node',
        none: 'nothing is deployed on this node',
        unreported: 'no agent has reported from this node',
        down: 'node down: its agent has no heartbeat',
        error: 'failed: see the status in the SDN overview',
        available: 'running configuration realized',
      }[state];
      return html`<li key=${n.node}><span class="node">${n.node}</span><${NodeBadge} state=${state} /><span>${text}</span></li>`;
    })}</ul>` : html`<span class="spinner" aria-hidden="true"></span>`}
  </div>`;
}

/** Review the pending diff, apply it, follow the task and the nodes. */
export function ApplyDialog({ schema, onClose }) {
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  const [upid, setUpid] = useState(null);
  const [finished, setFinished] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get('/cluster/sdn/dry-run').then(setDiff, setError);
  }, []);
  const apply = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setUpid(await put('/cluster/sdn'));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const title = upid ? `Applying version ${diff ? diff['next-version'] : ''}` : 'Apply pending changes';
  return html`<${Modal} title="apply" size="wide" onClose=${() => onClose(!!upid)}>${(id) => html`
    <form onSubmit=${apply}>
      <header><h2 id=${id}>${title}</h2>
        ${diff && !upid ? html`<span class="muted">running version ${diff.version} → ${diff['next-version']}</span>` : null}</header>
      <div class="content">
        <${Alert} error=${error} />
        ${!upid && diff ? html`<${DiffView} changes=${diff.changes} schema=${schema} />` : null}
        ${!upid && !diff && !error ? html`<span class="spinner" aria-label="Loading the pending changes"></span>` : null}
        ${upid ? html`<${TaskProgress} upid=${upid} onFinished=${setFinished} />` : null}
        ${finished ? html`<${NodeProgress} />` : null}
      </div>
      <footer>
        ${upid ? html`<button type="button" class="primary" onClick=${() => onClose(true)}>Close</button>`
          : html`<button type="button" onClick=${() => onClose(false)}>Cancel</button>
            <button type="submit" class="primary" disabled=${busy || (diff ? !diff.changes.length : !error)}>Apply</button>`}
      </footer>
    </form>`}<//>`;
}
