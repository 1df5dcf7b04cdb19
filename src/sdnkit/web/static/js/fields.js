// Form fields generated from the schema's option descriptors ({key, required, format, description,
// default, ref}). The browser does not validate (forms are novalidate): the server checks every
// value and its message is shown at the field, so the UI and the API cannot disagree.
import { html } from './html.js';
import { label, typeName } from './schema.js';
import { propertyItems, show } from './pending.js';

/** ``choices`` while the objects a reference may name are being loaded. */
export const LOADING = 'loading';

/** The kind of widget a descriptor gets (a reference: a select of the objects, text when they cannot be listed). */
export function widgetOf(opt, choices) {
  const fmt = opt.format;
  if (fmt.type === 'boolean') return opt.default === '1' ? 'tristate' : 'checkbox';
  if (fmt.type === 'array' && fmt.items.type === 'property-string') return 'array';
  if (fmt.enum) return 'select';
  if (opt.ref && fmt.type !== 'list' && choices === LOADING) return 'loading';
  if (opt.ref && fmt.type !== 'list' && Array.isArray(choices)) return 'ref';
  return 'text';
}

/** An API value as the form holds it. */
export function toForm(opt, value) {
  const kind = widgetOf(opt, null);
  if (kind === 'checkbox') return value === 1 || value === '1' || value === true;
  if (kind === 'tristate') return value === undefined || value === null ? '' : String(Number(value === true || value === 1 || value === '1'));
  if (kind === 'array') return propertyItems(value).map((item) => ({ ...item }));
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** A form value as an API parameter; undefined when empty (not sent, or deleted on edit). */
export function toParam(opt, value) {
  const kind = widgetOf(opt, null);
  if (kind === 'checkbox') return value ? 1 : undefined;
  if (kind === 'array') {
    const keys = opt.format.items.properties.map((p) => p.key);
    const items = (value || [])
      .map((row) => keys.filter((k) => String(row[k] ?? '').trim() !== '').map((k) => `${k}=${String(row[k]).trim()}`).join(','))
      .filter((text) => text !== '');
    return items.length ? items : undefined;
  }
  const text = String(value ?? '').trim();
  return text === '' ? undefined : text;
}

function helpText(opt) {
  const parts = [opt.description];
  const fmt = opt.format;
  const chosen = fmt.enum || fmt.type === 'boolean' || fmt.type === 'array' || (opt.ref && fmt.type !== 'list');
  if (fmt.describe && !chosen) parts.push(fmt.describe); // a choice needs no format words
  if (opt.default !== undefined) parts.push(`default ${show(opt.default, fmt)}`);
  return parts.filter(Boolean).join(' · ');
}

function PendingNote({ info, opt }) {
  if (!info) return null;
  const [, old, now] = info;
  const oldText = show(old, opt.format);
  return html`<span class="pend change">pending:
    ${oldText ? html`<span class="old">${oldText}</span><span class="arrow">→</span>` : null}
    ${now === undefined ? html`<span class="gone">deleted</span>` : html`<span class="new">${show(now, opt.format)}</span>`}
  </span>`;
}

function ArrayField({ opt, id, value, onChange, error, disabled }) {
  const props = opt.format.items.properties;
  const rows = value || [];
  const set = (i, key, v) => onChange(rows.map((row, j) => (j === i ? { ...row, [key]: v } : row)));
  const add = () => onChange([...rows, {}]);
  const remove = (i) => onChange(rows.filter((_, j) => j !== i));
  const name = label(opt.key);
  return html`<fieldset class="array" id=${id} aria-invalid=${error ? 'true' : 'false'}
      aria-describedby=${`${id}-help${error ? ` ${id}-err` : ''}`}>
    <legend>${name}${opt.required ? html`<span class="req" aria-hidden="true">*</span>` : null}</legend>
    ${rows.length === 0 ? html`<div class="muted">none</div>` : null}
    ${rows.map((row, i) => html`<div class="array-row" key=${i}>
      ${props.map((p) => html`<div class="field" key=${p.key}>
        <label for=${`${id}-${i}-${p.key}`}>${label(p.key)} ${i + 1}</label>
        <input id=${`${id}-${i}-${p.key}`} value=${row[p.key] ?? ''} disabled=${disabled}
          onInput=${(ev) => set(i, p.key, ev.currentTarget.value)} autocomplete="off" spellcheck="false" />
      </div>`)}
      <button type="button" class="small" onClick=${() => remove(i)} disabled=${disabled}
        aria-label=${`Remove ${name} ${i + 1}`}>Remove</button>
    </div>`)}
    <div><button type="button" class="small" onClick=${add} disabled=${disabled}
      aria-label=${`Add ${name}`}>Add ${name}</button></div>
  </fieldset>`;
}

function Input({ opt, id, value, onChange, kind, choices, described, error, disabled }) {
  const fmt = opt.format;
  const common = {
    id,
    disabled,
    'aria-describedby': described,
    'aria-invalid': error ? 'true' : 'false',
    'aria-required': opt.required ? 'true' : undefined,
  };
  if (kind === 'checkbox') {
    return html`<input type="checkbox" ...${common} checked=${!!value} onChange=${(ev) => onChange(ev.currentTarget.checked)} />`;
  }
  if (kind === 'tristate') {
    return html`<select ...${common} value=${value} onChange=${(ev) => onChange(ev.currentTarget.value)}>
      <option value="">default (${show(opt.default, fmt)})</option><option value="1">yes</option><option value="0">no</option>
    </select>`;
  }
  if (kind === 'loading') {
    return html`<select ...${common} disabled><option>loading…</option></select>`;
  }
  if (kind === 'select' || kind === 'ref') {
    const values = kind === 'select' ? fmt.enum : choices;
    const known = value === '' || values.includes(value);
    const empty = opt.required ? '— choose —' : opt.default !== undefined ? `default (${opt.default})` : '— none —';
    return html`<select ...${common} value=${value} onChange=${(ev) => onChange(ev.currentTarget.value)}>
      <option value="">${empty}</option>
      ${known ? null : html`<option value=${value}>${value}</option>`}
      ${values.map((v) => html`<option value=${v}>${kind === 'select' ? typeName(v) : v}</option>`)}
    </select>`;
  }
  const numeric = fmt.type === 'integer';
  return html`<input type="text" ...${common} value=${value} inputmode=${numeric ? 'numeric' : undefined}
    autocomplete="off" spellcheck="false" onInput=${(ev) => onChange(ev.currentTarget.value)} />`;
}

function Suggestions({ opt, value, choices, onChange, disabled }) {
  if (!Array.isArray(choices) || !choices.length || opt.format.type !== 'list') return null;
  const have = String(value || '').split(/[,;\s]+/).filter(Boolean);
  const missing = choices.filter((c) => !have.includes(c));
  if (!missing.length) return null;
  return html`<span class="help">known:
    ${missing.map((c) => html`<button type="button" class="link small" disabled=${disabled}
      aria-label=${`Add ${c} to ${label(opt.key)}`} onClick=${() => onChange([...have, c].join(','))}>${c}</button>`)}
  </span>`;
}

/** One labelled field with its help, its pending change and the server's message for it. */
export function Field({ opt, idPrefix, value, onChange, error, pending, choices, disabled }) {
  const id = `${idPrefix}-${opt.key}`;
  const kind = widgetOf(opt, choices);
  const helpId = `${id}-help`;
  const errId = `${id}-err`;
  const described = error ? `${helpId} ${errId}` : helpId;
  const help = html`<span class="help" id=${helpId}>${helpText(opt)}</span>`;
  const err = error ? html`<span class="err" id=${errId}>${error}</span>` : null;
  const note = html`<${PendingNote} info=${pending} opt=${opt} />`;
  if (kind === 'array') {
    return html`<div class="field full">
      <${ArrayField} opt=${opt} id=${id} value=${value} onChange=${onChange} error=${error} disabled=${disabled} />
      ${help}${note}${err}</div>`;
  }
  const input = html`<${Input} opt=${opt} id=${id} value=${value} onChange=${onChange} kind=${kind}
    choices=${choices} described=${described} error=${error} disabled=${disabled} />`;
  const name = html`<span class="label-row"><label for=${id}>${label(opt.key)}</label>${opt.required ? html`<span class="req" aria-hidden="true">*</span>` : null}</span>`;
  if (kind === 'checkbox') {
    return html`<div class="field check">${input}${name}${help}${note}${err}</div>`;
  }
  return html`<div class="field">${name}${input}
    <${Suggestions} opt=${opt} value=${value} choices=${choices} onChange=${onChange} disabled=${disabled} />
    ${help}${note}${err}</div>`;
}

/** ``aria-describedby`` of a control with an optional help line and an optional error. */
export function describedBy(id, help, error) {
  return [help ? `${id}-help` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
}

/** A field that is not an option (a form's ID, type or parent): label, control, help, error. */
export function Labelled({ id, text, required, help, error, children }) {
  return html`<div class="field">
    <span class="label-row"><label for=${id}>${text}</label>${required ? html`<span class="req" aria-hidden="true">*</span>` : null}</span>
    ${children}
    ${help ? html`<span class="help" id=${`${id}-help`}>${help}</span>` : null}
    ${error ? html`<span class="err" id=${`${id}-err`}>${error}</span>` : null}
  </div>`;
}
