// One collection as a table (zones, vnets, subnets, controllers, IPAMs, DNS, fabrics and their
// nodes): pending state per object and per option, details, create / edit / delete.
import { html, useState, Fragment } from './html.js';
import { del, fill, get } from './api.js';
import { Alert, Confirm, StateBadge, useLoad } from './ui.js';
import { ObjectForm } from './form.js';
import { allOptions, idOf, label, noun, typeName, typeOf } from './schema.js';
import { OptionValue, optionView, pendingChanges, show } from './pending.js';

/** Every object of a collection (below each parent, for subnets and fabric nodes). */
export async function loadObjects(coll, parents) {
  const view = coll.versioned ? { pending: 1 } : {};
  if (!coll.parent) return get(coll.path, view);
  const lists = await Promise.all(
    parents.map(async (p) => (await get(fill(coll.path, { [coll.parent.param]: p }), view)).map((o) => ({ [coll.parent.param]: p, ...o }))),
  );
  return lists.flat();
}

function Details({ coll, obj, span }) {
  const type = coll.types[typeOf(coll, obj)] || Object.values(coll.types)[0];
  const changes = pendingChanges(obj);
  const shown = type.options.filter((o) => {
    const v = optionView(obj, o.key);
    return show(v.value ?? v.old ?? v.now, o.format) !== '' || v.gone;
  });
  return html`<tr class="detail"><td colspan=${span}>
    ${shown.length ? html`<dl class="options">${shown.map((o) => html`<${Fragment} key=${o.key}>
      <dt>${label(o.key)}</dt><dd><${OptionValue} obj=${obj} opt=${o} /></dd></${Fragment}>`)}</dl>` : html`<span class="muted">no options set</span>`}
    ${changes.length ? html`<p class="muted">${changes.length} pending option change${changes.length > 1 ? 's' : ''} (applied with the next Apply).</p>` : null}
  </td></tr>`;
}

/**
 * props: schema, collName, parents (IDs, for collections below a parent), columns (option keys),
 * idText(obj) (the ID shown), selected / onSelect (rows that select), onChanged (after a write),
 * refresh (a number that reloads when it changes), title.
 */
export function ObjectTable(props) {
  const { schema, collName, parents, columns, onChanged, refresh, title, selected, onSelect, idText } = props;
  const coll = schema.collections[collName];
  const parentKey = parents ? parents.join(',') : '';
  const { data, error, loading, reload } = useLoad(() => loadObjects(coll, parents || []), [collName, parentKey, refresh]);
  const [dialog, setDialog] = useState(null);
  const [open, setOpen] = useState({});
  const options = allOptions(coll);
  const cols = columns.map((key) => options.find((o) => o.key === key) || { key, format: { type: 'string' } });
  const what = noun(collName, coll);
  const showParent = coll.parent && (!parents || parents.length !== 1);
  const fixedParent = coll.parent && parents && parents.length === 1 ? parents[0] : null;
  const span = 3 + cols.length + (coll.type_param ? 1 : 0) + (showParent ? 1 : 0);

  const done = (changed) => {
    setDialog(null);
    if (changed) {
      reload();
      if (onChanged) onChanged();
    }
  };
  const remove = (obj) =>
    setDialog({
      kind: 'delete',
      obj,
      run: () => {
        const base = coll.parent ? fill(coll.path, { [coll.parent.param]: obj[coll.parent.param] }) : coll.path;
        return del(`${base}/${encodeURIComponent(idOf(coll, obj))}`);
      },
    });
  const rows = (data || []).slice().sort((a, b) => String(idOf(coll, a)).localeCompare(String(idOf(coll, b))));
  const canCreate = !coll.parent || (parents && parents.length);

  return html`<section class="card" aria-label=${title}>
    <header>
      <h2>${title}</h2>
      ${loading ? html`<span class="spinner" aria-hidden="true"></span>` : null}
      <button type="button" onClick=${reload} aria-label=${`Reload ${title}`}>Reload</button>
      <button type="button" class="primary" disabled=${!canCreate} onClick=${() => setDialog({ kind: 'create' })}>Create ${what}</button>
    </header>
    <div class="body flush">
      ${error ? html`<div class="body"><${Alert} error=${error} /></div>` : null}
      <table class="grid">
        <thead><tr>
          <th scope="col">${coll.id.key === 'subnet' ? 'Subnet' : 'ID'}</th>
          ${coll.type_param ? html`<th scope="col">${label(coll.type_param)}</th>` : null}
          ${showParent ? html`<th scope="col">${label(coll.parent.param.replace(/_id$/, ''))}</th>` : null}
          ${cols.map((c) => html`<th scope="col">${label(c.key)}</th>`)}
          <th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th>
        </tr></thead>
        <tbody>
          ${!loading && !error && rows.length === 0 ? html`<tr><td class="empty" colspan=${span}>No ${coll.kind === 'dns' ? 'DNS servers' : label(coll.kind).toLowerCase()} yet.</td></tr>` : null}
          ${rows.map((obj) => {
            const id = String(idOf(coll, obj));
            const rowKey = `${obj[coll.parent && coll.parent.param] || ''}/${id}`;
            const isSel = selected !== undefined && selected === id;
            const deleted = obj.state === 'deleted';
            const shownId = idText ? idText(obj) : id;
            return html`<${Fragment} key=${rowKey}>
              <tr class=${`${isSel ? 'selected' : ''} ${deleted ? 'deleted' : ''}`} aria-selected=${onSelect ? String(isSel) : undefined}>
                <td class="id">${onSelect
                  ? html`<button type="button" class="link" aria-pressed=${String(isSel)} onClick=${() => onSelect(id, obj)}
                      aria-label=${`Select ${what} ${shownId}`}>${shownId}</button>`
                  : shownId}</td>
                ${coll.type_param ? html`<td class="val">${typeName(typeOf(coll, obj))}</td>` : null}
                ${showParent ? html`<td class="val">${obj[coll.parent.param]}</td>` : null}
                ${cols.map((c) => html`<td class="val"><${OptionValue} obj=${obj} opt=${c} /></td>`)}
                <td><${StateBadge} state=${obj.state} /></td>
                <td class="actions">
                  <button type="button" class="small" aria-expanded=${String(!!open[rowKey])}
                    aria-label=${`Details of ${what} ${shownId}`}
                    onClick=${() => setOpen({ ...open, [rowKey]: !open[rowKey] })}>${open[rowKey] ? 'Hide' : 'Details'}</button>
                  <button type="button" class="small" disabled=${deleted} aria-label=${`Edit ${what} ${shownId}`}
                    onClick=${() => setDialog({ kind: 'edit', obj })}>Edit</button>
                  <button type="button" class="small danger" disabled=${deleted} aria-label=${`Delete ${what} ${shownId}`}
                    onClick=${() => remove(obj)}>Delete</button>
                </td>
              </tr>
              ${open[rowKey] ? html`<${Details} coll=${coll} obj=${obj} span=${span} />` : null}
            </${Fragment}>`;
          })}
        </tbody>
      </table>
    </div>
    ${dialog && dialog.kind === 'create' ? html`<${ObjectForm} schema=${schema} collName=${collName} mode="create"
      parent=${fixedParent} onClose=${done} />` : null}
    ${dialog && dialog.kind === 'edit' ? html`<${ObjectForm} schema=${schema} collName=${collName} mode="edit"
      obj=${dialog.obj} shownId=${idText ? idText(dialog.obj) : idOf(coll, dialog.obj)} onClose=${done} />` : null}
    ${dialog && dialog.kind === 'delete' ? html`<${Confirm} title=${`Delete ${what} ${idText ? idText(dialog.obj) : idOf(coll, dialog.obj)}`}
      text=${coll.versioned ? 'The deletion stays pending until the next Apply.' : 'This takes effect at once.'}
      action="Delete" danger=${true} onConfirm=${dialog.run} onClose=${done} />` : null}
  </section>`;
}
