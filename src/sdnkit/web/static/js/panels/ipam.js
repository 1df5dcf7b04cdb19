// IPAM: the IPAM definitions, and the IPAM status view (every address per subnet) where mappings
// are added, changed (a MAC's address) and deleted through /cluster/sdn/vnets/{vnet}/ips.
import { html, useState, Fragment } from '../html.js';
import { del, get, post, put } from '../api.js';
import { Alert, Badge, Confirm, Modal, useLoad } from '../ui.js';
import { ObjectTable } from '../objects.js';
import { Field, toParam } from '../fields.js';

function groups(rows) {
  const out = new Map();
  for (const row of rows) {
    const key = `${row.zone}/${row.vnet}/${row.subnet}`;
    if (!out.has(key)) out.set(key, { zone: row.zone, vnet: row.vnet, subnet: row.subnet, rows: [] });
    out.get(key).rows.push(row);
  }
  return [...out.values()];
}

/** Add a mapping (entry null) or give a MAC another address (entry: the status row). */
function MappingForm({ schema, vnets, entry, onClose }) {
  const editing = !!entry;
  const params = schema.ips.filter((p) => p.key !== 'zone');
  const [vnet, setVnet] = useState(entry ? entry.vnet : '');
  const [values, setValues] = useState(entry ? { ip: entry.ip, mac: entry.mac || '', vmid: entry.vmid ? String(entry.vmid) : '' } : {});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const zoneOf = (v) => (vnets.find((x) => x.vnet === v) || {}).zone;
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    const body = { zone: zoneOf(vnet) || '' };
    for (const p of params) {
      const v = toParam(p, values[p.key] ?? '');
      if (v !== undefined) body[p.key] = v;
    }
    try {
      const path = `/cluster/sdn/vnets/${encodeURIComponent(vnet)}/ips`;
      if (editing) await put(path, body);
      else await post(path, body);
      onClose(true);
    } catch (err) {
      setErrors(err.errors || {});
      setError(err);
      setBusy(false);
    }
  };
  const title = editing ? `Change the address of ${entry.mac || entry.ip}` : 'Add an IP mapping';
  return html`<${Modal} title=${title} onClose=${() => onClose(false)}>${(id) => html`
    <form onSubmit=${submit} novalidate>
      <header><h2 id=${id}>${title}</h2></header>
      <div class="content">
        <${Alert} error=${error} />
        <div class="fields">
          <div class="field">
            <span class="label-row"><label for="ips-vnet">VNet</label><span class="req" aria-hidden="true">*</span></span>
            <select id="ips-vnet" value=${vnet} disabled=${editing || busy} aria-required="true"
              aria-invalid=${errors.vnet || errors.zone ? 'true' : 'false'} onChange=${(ev) => setVnet(ev.currentTarget.value)}>
              <option value="">— choose —</option>
              ${vnets.map((v) => html`<option value=${v.vnet}>${v.vnet} (zone ${v.zone})</option>`)}
            </select>
            ${errors.zone || errors.vnet ? html`<span class="err">${errors.zone || errors.vnet}</span>` : null}
          </div>
          ${params.map((p) => html`<${Field} key=${p.key} opt=${p} idPrefix="ips" value=${values[p.key] ?? ''}
            onChange=${(v) => setValues({ ...values, [p.key]: v })} error=${errors[p.key]}
            disabled=${busy || (editing && p.key === 'mac')} />`)}
        </div>
      </div>
      <footer>
        <button type="button" onClick=${() => onClose(false)}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${editing ? 'Save' : 'Add'}</button>
      </footer>
    </form>`}<//>`;
}

function IpamStatus({ schema, refresh }) {
  const ipams = useLoad(() => get('/cluster/sdn/ipams'), [refresh]);
  const vnets = useLoad(() => get('/cluster/sdn/vnets'), [refresh]);
  const [ipam, setIpam] = useState('pve');
  const status = useLoad(() => get(`/cluster/sdn/ipams/${encodeURIComponent(ipam)}/status`), [ipam, refresh]);
  const [dialog, setDialog] = useState(null);
  const closed = (changed) => {
    setDialog(null);
    if (changed) status.reload();
  };
  const remove = (row) => () =>
    del(`/cluster/sdn/vnets/${encodeURIComponent(row.vnet)}/ips`, { zone: row.zone, ip: row.ip, ...(row.mac ? { mac: row.mac } : {}) });
  const list = groups(status.data || []);
  return html`<section class="card" aria-label="IPAM status">
    <header><h2>IPAM status</h2>
      <label class="toolbar">IPAM <select aria-label="IPAM to show" value=${ipam} onChange=${(ev) => setIpam(ev.currentTarget.value)}>
        ${(ipams.data || [{ ipam: 'pve' }]).map((i) => html`<option value=${i.ipam}>${i.ipam}</option>`)}
      </select></label>
      <button type="button" onClick=${status.reload}>Reload</button>
      <button type="button" class="primary" onClick=${() => setDialog({ kind: 'add' })} disabled=${!vnets.data}>Add mapping</button>
    </header>
    <div class="body flush">
      ${status.error ? html`<div class="body"><${Alert} error=${status.error} /></div>` : null}
      <table class="grid">
        <thead><tr><th scope="col">IP</th><th scope="col">MAC</th><th scope="col">VMID</th><th scope="col">Hostname</th>
          <th scope="col">Kind</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${!status.loading && !status.error && !list.length ? html`<tr><td class="empty" colspan="6">No addresses in this IPAM.</td></tr>` : null}
          ${list.map((g) => html`<${Fragment} key=${`${g.zone}/${g.vnet}/${g.subnet}`}>
            <tr class="group"><td colspan="6">${g.subnet} <span class="muted">vnet ${g.vnet}, zone ${g.zone}, ${g.rows.length} address${g.rows.length > 1 ? 'es' : ''}</span></td></tr>
            ${g.rows.map((r) => html`<tr key=${r.ip}>
              <td class="mono">${r.ip}</td><td class="mono">${r.mac || ''}</td><td>${r.vmid || ''}</td><td>${r.hostname || ''}</td>
              <td>${r.gateway ? html`<${Badge}>gateway<//>` : html`<${Badge} kind="ok">guest<//>`}</td>
              <td class="actions">${r.gateway ? null : html`
                <button type="button" class="small" aria-label=${`Edit mapping ${r.ip}`} disabled=${!r.mac}
                  onClick=${() => setDialog({ kind: 'edit', row: r })}>Edit</button>
                <button type="button" class="small danger" aria-label=${`Delete mapping ${r.ip}`}
                  onClick=${() => setDialog({ kind: 'delete', row: r })}>Delete</button>`}</td>
            </tr>`)}
          </${Fragment}>`)}
        </tbody>
      </table>
    </div>
    ${dialog && dialog.kind !== 'delete' ? html`<${MappingForm} schema=${schema} vnets=${vnets.data || []}
      entry=${dialog.row} onClose=${closed} />` : null}
    ${dialog && dialog.kind === 'delete' ? html`<${Confirm} title=${`Delete mapping ${dialog.row.ip}`}
      text=${`The address ${dialog.row.ip} is released in vnet ${dialog.row.vnet}; this takes effect at once.`}
      action="Delete" danger=${true} onConfirm=${remove(dialog.row)} onClose=${closed} />` : null}
  </section>`;
}

export function Ipam(props) {
  return html`<div><div class="panel-head"><h1>IPAM</h1><span class="hint">IPAMs allocate guest addresses; changes take effect at once.</span></div>
    <${ObjectTable} ...${props} collName="ipams" title="IPAMs" columns=${['url', 'section']} />
    <${IpamStatus} schema=${props.schema} refresh=${props.refresh} />
  </div>`;
}
