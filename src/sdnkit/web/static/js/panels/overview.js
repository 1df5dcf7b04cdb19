// The SDN overview: running version, pending changes (with their diff), Apply and rollback,
// and the status of every zone and vnet on every node, refreshed every few seconds.
import { html, useState } from '../html.js';
import { post } from '../api.js';
import { Alert, Confirm, usePoll, useLoad } from '../ui.js';
import { ApplyDialog, DiffView } from '../apply.js';
import { loadStatus, nodeState, StatusTable } from '../status.js';

function nodeSummary(nodes, bad, waiting, silent) {
  if (!nodes) return '';
  const parts = [];
  if (bad) parts.push(`${bad} with errors`);
  if (waiting) parts.push(`${waiting} not up to date`);
  if (silent) parts.push(`${silent} without agent report`);
  if (parts.length) return parts.join(', ');
  return nodes.every((n) => nodeState(n) === 'none') ? 'nothing deployed yet' : 'all up to date';
}

export function Overview({ schema, pending, onChanged }) {
  const status = useLoad(loadStatus, []);
  usePoll(status.reload, 5000);
  const [dialog, setDialog] = useState(null);
  const diff = pending.diff;
  const count = diff ? diff.changes.length : null;
  const nodes = status.data || [];
  const bad = nodes.filter((n) => nodeState(n) === 'error').length;
  const waiting = nodes.filter((n) => nodeState(n) === 'pending').length;
  const silent = nodes.filter((n) => nodeState(n) === 'unreported').length;
  const closed = (changed) => {
    setDialog(null);
    if (changed) {
      onChanged();
      status.reload();
    }
  };
  return html`<div>
    <div class="panel-head"><h1>SDN</h1><span class="hint">Zones, vnets and subnets change in the pending configuration; Apply makes it the running one on every node.</span></div>
    <div class="summary">
      <div class="tile"><div class="label">Running version</div><div class="value">${diff ? diff.version : '–'}</div></div>
      <div class="tile"><div class="label">Pending changes</div>
        <div class="value" aria-live="polite">${count === null ? '–' : count}</div>
        <div class="actions">
          <button type="button" class="primary" onClick=${() => setDialog('apply')} disabled=${count === 0}>Apply…</button>
          <button type="button" onClick=${() => setDialog('rollback')} disabled=${count === 0}>Rollback…</button>
        </div></div>
      <div class="tile"><div class="label">Nodes</div><div class="value">${status.data ? nodes.length : '–'}</div>
        <div class="muted">${nodeSummary(status.data, bad, waiting, silent)}</div></div>
      <div class="tile"><div class="label">Next version</div><div class="value">${diff ? diff['next-version'] : '–'}</div>
        <div class="muted">after Apply</div></div>
    </div>
    <section class="card" aria-label="Pending changes">
      <header><h2>Pending changes</h2><button type="button" onClick=${onChanged}>Reload</button></header>
      <div class="body ${diff && diff.changes.length ? 'flush' : ''}">
        <${Alert} error=${pending.error} />
        ${diff ? html`<${DiffView} changes=${diff.changes} schema=${schema} />` : null}
      </div>
    </section>
    <section class="card" aria-label="Status per node">
      <header><h2>Status per node, zone and vnet</h2>
        ${status.loading ? html`<span class="spinner" aria-hidden="true"></span>` : null}
        <button type="button" onClick=${status.reload}>Reload status</button></header>
      <div class="body flush">
        ${status.error ? html`<div class="body"><${Alert} error=${status.error} /></div>` : null}
        ${status.data ? html`<${StatusTable} nodes=${nodes} />` : null}
      </div>
    </section>
    ${dialog === 'apply' ? html`<${ApplyDialog} schema=${schema} onClose=${closed} />` : null}
    ${dialog === 'rollback' ? html`<${Confirm} title="Roll back pending changes"
      text="Every pending change is discarded: the configuration becomes the running configuration again."
      action="Roll back" danger=${true} onConfirm=${() => post('/cluster/sdn/rollback')} onClose=${closed} />` : null}
  </div>`;
}
