// Create and edit dialogs, generated from the schema: the type's options in PVE's order (required
// first), each field as its format asks. On a refusal the server's message is shown at its field
// (by parameter name, from the 400 answer's "errors") and at the top.
import { html, useEffect, useMemo, useRef, useState } from './html.js';
import { fill, get, post, put } from './api.js';
import { Alert, Modal } from './ui.js';
import { Field, LOADING, toForm, toParam } from './fields.js';
import { label, noun, typeName, typeOf } from './schema.js';
import { pendingChanges } from './pending.js';

const nodeNames = async () => (await get('/nodes')).map((n) => n.node);

/** The IDs of the objects a reference may name (null when the caller may not list them). */
async function loadChoices(schema, refs) {
  const out = {};
  await Promise.all(
    [...refs].map(async (ref) => {
      try {
        if (ref === 'nodes') {
          out[ref] = await nodeNames();
        } else {
          const coll = schema.collections[ref];
          out[ref] = (await get(coll.path)).map((o) => String(o[coll.id.key])).sort();
        }
      } catch (err) {
        out[ref] = null;
      }
    }),
  );
  return out;
}

function itemPath(coll, parent, id) {
  const base = coll.parent ? fill(coll.path, { [coll.parent.param]: parent }) : coll.path;
  return id === undefined ? base : `${base}/${encodeURIComponent(id)}`;
}

/** Split a 400's errors into those of known fields and the rest. */
function fieldErrors(err, known) {
  const fields = {};
  const rest = [];
  for (const [key, text] of Object.entries(err.errors || {})) {
    if (known.has(key)) fields[key] = text;
    else rest.push(`${key}: ${text}`);
  }
  return { fields, rest };
}

function useParents(schema, coll, fixed) {
  const [parents, setParents] = useState(null);
  useEffect(() => {
    if (!coll.parent || fixed) return;
    const pcoll = schema.collections[coll.parent.collection];
    get(pcoll.path).then(setParents, () => setParents([]));
  }, [coll, fixed]);
  return parents;
}

export function ObjectForm({ schema, collName, mode, obj, shownId, parent: fixedParent, onClose }) {
  const coll = schema.collections[collName];
  const editing = mode === 'edit';
  const typeNames = Object.keys(coll.types);
  const parents = useParents(schema, coll, fixedParent);
  const pcoll = coll.parent ? schema.collections[coll.parent.collection] : null;
  const [parent, setParent] = useState(fixedParent || '');
  const [type, setType] = useState(editing ? typeOf(coll, obj) : typeNames[0]);
  const [ident, setIdent] = useState('');
  const [values, setValues] = useState({});
  const [original, setOriginal] = useState(null);
  const [choices, setChoices] = useState(null); // null: still loading
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef(null);

  // a fabric node's protocol is its fabric's
  const parentObj = parents && parents.find((p) => String(p[pcoll.id.key]) === parent);
  const effectiveType = coll.type_from_parent && !editing && parentObj ? parentObj[coll.type_param] : type;
  const spec = coll.types[effectiveType] || coll.types[typeNames[0]];
  const options = spec.options;
  const id = editing ? obj[coll.id.key] : ident;
  const objParent = editing && coll.parent ? obj[coll.parent.param] : parent;
  const pending = useMemo(() => Object.fromEntries(editing ? pendingChanges(obj).map((c) => [c[0], c]) : []), [obj]);

  useEffect(() => {
    const refs = new Set(options.filter((o) => o.ref).map((o) => o.ref));
    setChoices(null);
    loadChoices(schema, refs).then(setChoices);
  }, [spec]);

  useEffect(() => {
    if (!editing) return;
    get(itemPath(coll, objParent, id)).then(
      (current) => {
        setOriginal(current);
        setValues(Object.fromEntries(options.map((o) => [o.key, toForm(o, current[o.key])])));
      },
      (err) => setError(err),
    );
  }, []);

  const valueOf = (opt) => (opt.key in values ? values[opt.key] : toForm(opt, undefined));
  const setValue = (key, v) => setValues((vs) => ({ ...vs, [key]: v }));

  const params = () => {
    const out = {};
    if (!editing) {
      if (coll.type_param && !coll.type_from_parent) out[coll.type_param] = type;
      out[coll.id.key] = ident.trim();
      for (const opt of options) {
        const v = toParam(opt, valueOf(opt));
        if (v !== undefined) out[opt.key] = v;
      }
      return out;
    }
    const deleted = [];
    for (const opt of options) {
      const before = toParam(opt, toForm(opt, original[opt.key]));
      const after = toParam(opt, valueOf(opt));
      if (JSON.stringify(before) === JSON.stringify(after)) continue;
      if (after === undefined) deleted.push(opt.key);
      else out[opt.key] = after;
    }
    if (deleted.length) out.delete = deleted.join(',');
    if (original.digest) out.digest = original.digest;
    return out;
  };

  const submit = async (ev) => {
    ev.preventDefault();
    if (editing && !original) return;
    setBusy(true);
    setError(null);
    setErrors({});
    try {
      if (editing) await put(itemPath(coll, objParent, id), params());
      else await post(itemPath(coll, parent), params());
      onClose(true);
    } catch (err) {
      const known = new Set([...options.map((o) => o.key), coll.id.key, coll.type_param, coll.parent && coll.parent.param]);
      const { fields, rest } = fieldErrors(err, known);
      setErrors(fields);
      setError({ status: err.status, message: rest.length ? `${err.message}\n${rest.join('\n')}` : err.message });
      setBusy(false);
      requestAnimationFrame(() => {
        const bad = formRef.current && formRef.current.querySelector('[aria-invalid="true"]');
        if (bad) bad.focus();
      });
    }
  };

  const prefix = `${collName}-form`;
  const what = noun(collName, coll);
  const title = editing ? `Edit ${what} ${shownId || id}` : `Create ${what}`;
  const required = options.filter((o) => o.required);
  const optional = options.filter((o) => !o.required);
  const field = (opt) => html`<${Field} key=${opt.key} opt=${opt} idPrefix=${prefix} value=${valueOf(opt)}
    onChange=${(v) => setValue(opt.key, v)} error=${errors[opt.key]} pending=${pending[opt.key]}
    choices=${!opt.ref ? null : choices ? choices[opt.ref] : LOADING} disabled=${busy || (editing && !original)} />`;
  const idErr = errors[coll.id.key];
  const typeErr = coll.type_param ? errors[coll.type_param] : null;
  const parentErr = coll.parent ? errors[coll.parent.param] : null;

  return html`<${Modal} title=${title} size="wide" onClose=${() => onClose(false)}>${(hid) => html`
    <form ref=${formRef} onSubmit=${submit} novalidate>
      <header><h2 id=${hid}>${title}</h2>${editing ? html`<span class="muted">${typeName(effectiveType)}</span>` : null}</header>
      <div class="content">
        <${Alert} error=${error} />
        <div class="fields">
          ${!editing && coll.parent && !fixedParent ? html`<div class="field">
            <span class="label-row"><label for=${`${prefix}-parent`}>${label(coll.parent.param.replace(/_id$/, ''))}</label><span class="req" aria-hidden="true">*</span></span>
            <select id=${`${prefix}-parent`} value=${parent} aria-required="true" aria-invalid=${parentErr ? 'true' : 'false'}
              aria-describedby=${parentErr ? `${prefix}-parent-err` : undefined} onChange=${(ev) => setParent(ev.currentTarget.value)}>
              <option value="">— choose —</option>
              ${(parents || []).map((p) => html`<option value=${p[pcoll.id.key]}>${p[pcoll.id.key]}</option>`)}
            </select>
            ${parentErr ? html`<span class="err" id=${`${prefix}-parent-err`}>${parentErr}</span>` : null}
          </div>` : null}
          ${!editing && coll.type_param && !coll.type_from_parent ? html`<div class="field">
            <span class="label-row"><label for=${`${prefix}-type`}>${label(coll.type_param)}</label><span class="req" aria-hidden="true">*</span></span>
            <select id=${`${prefix}-type`} value=${type} aria-describedby=${`${prefix}-type-help`}
              aria-invalid=${typeErr ? 'true' : 'false'} onChange=${(ev) => setType(ev.currentTarget.value)}>
              ${typeNames.map((t) => html`<option value=${t}>${typeName(t)}</option>`)}
            </select>
            <span class="help" id=${`${prefix}-type-help`}>${spec.description}</span>
            ${typeErr ? html`<span class="err">${typeErr}</span>` : null}
          </div>` : null}
          ${!editing ? html`<div class="field">
            <span class="label-row"><label for=${`${prefix}-id`}>${coll.id.key === 'subnet' ? 'Subnet (CIDR)' : 'ID'}</label><span class="req" aria-hidden="true">*</span></span>
            <input id=${`${prefix}-id`} value=${ident} autocomplete="off" spellcheck="false" aria-required="true"
              aria-invalid=${idErr ? 'true' : 'false'} aria-describedby=${`${prefix}-id-help${idErr ? ` ${prefix}-id-err` : ''}`}
              onInput=${(ev) => setIdent(ev.currentTarget.value)} />
            <span class="help" id=${`${prefix}-id-help`}>${coll.id.description} · ${coll.id.format.describe}</span>
            ${idErr ? html`<span class="err" id=${`${prefix}-id-err`}>${idErr}</span>` : null}
          </div>` : null}
          ${required.map(field)}
          ${optional.length ? html`<div class="section-title">Options</div>` : null}
          ${optional.map(field)}
        </div>
      </div>
      <footer>
        <button type="button" onClick=${() => onClose(false)}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy || (editing && !original)}>${editing ? 'Save' : 'Create'}</button>
      </footer>
    </form>`}<//>`;
}
