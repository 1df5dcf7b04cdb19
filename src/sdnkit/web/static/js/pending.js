// Pending state as the API's pending=1 listings give it (PVE's shape): per object "state"
// (new / changed / deleted) and per option "pending.<key>" (the new value, or "deleted").
import { html } from './html.js';

/** What one option of a listed object shows: {value} or, when pending, {old, now, gone}. */
export function optionView(obj, key) {
  const pend = obj.pending || {};
  if (obj.state === 'new') return { value: key in pend ? pend[key] : obj[key], fresh: true };
  if (obj.state === 'changed' && key in pend) {
    if (pend[key] === 'deleted') return { old: obj[key], gone: true };
    return { old: obj[key], now: pend[key] };
  }
  return { value: obj[key] };
}

/** The value an object will have after apply (pending if any, else current). */
export function pendingValue(obj, key) {
  const view = optionView(obj, key);
  if (view.gone) return undefined;
  return 'now' in view ? view.now : view.value;
}

/** Items of a property-string array: a list of objects, or PVE's joined "k=v,k=v,k=v,k=v" text. */
export function propertyItems(value) {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' ? propertyItems(v) : [v]));
  if (typeof value === 'object') return [value];
  const items = [];
  let current = {};
  for (const part of String(value).split(',')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    if (key in current) {
      items.push(current);
      current = {};
    }
    current[key] = part.slice(at + 1).trim();
  }
  if (Object.keys(current).length) items.push(current);
  return items;
}

/** A value as text, by its format (booleans yes/no, arrays item by item). */
export function show(value, format) {
  if (value === undefined || value === null || value === '') return '';
  const type = format && format.type;
  if (type === 'boolean' || typeof value === 'boolean') {
    return value === true || value === 1 || value === '1' ? 'yes' : 'no';
  }
  if (type === 'array' || Array.isArray(value) || (typeof value === 'object')) {
    const keys = format && format.items && format.items.properties;
    return propertyItems(value)
      .map((item) => {
        const entries = Object.entries(item);
        if (keys && keys.length === 2 && entries.length === 2) return entries.map(([, v]) => v).join(' – ');
        return entries.map(([k, v]) => `${k}=${v}`).join(', ');
      })
      .join('; ');
  }
  return String(value);
}

/** One option's cell: the value, or old → new while pending. */
export function OptionValue({ obj, opt }) {
  const view = optionView(obj, opt.key);
  const fmt = opt.format;
  if (view.gone) {
    return html`<span class="change"><span class="old">${show(view.old, fmt)}</span><span class="arrow">→</span>
      <span class="gone">deleted</span></span>`;
  }
  if ('now' in view) {
    const old = show(view.old, fmt);
    return html`<span class="change">${old ? html`<span class="old">${old}</span><span class="arrow">→</span>` : null}
      <span class="new">${show(view.now, fmt)}</span></span>`;
  }
  return show(view.value, fmt);
}

/** The pending options of an object, as [key, old, new] (new undefined: deleted). */
export function pendingChanges(obj) {
  if (!obj.state || obj.state === 'deleted') return [];
  const pend = obj.pending || {};
  return Object.keys(pend).map((key) =>
    pend[key] === 'deleted' ? [key, obj[key], undefined] : [key, obj.state === 'new' ? undefined : obj[key], pend[key]],
  );
}
