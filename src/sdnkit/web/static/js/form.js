// Create and edit dialogs, generated from the schema: the type's options in PVE's order (required
// first), each field as its format asks. On a refusal the server's message is shown at its field
// (by parameter name, from the 400 answer's "errors") and at the top.
import { html, useEffect, useMemo, useRef, useState } from './html.js';
import { fill, get, post, put } from './api.js';
import { Alert, Modal } from './ui.js';
import { describedBy, Field, Labelled, LOADING, toForm, toParam } from './fields.js';
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

/** POST parameters: the ID, the type (unless it follows the parent) and every option given. */
function createParams(coll, { type, ident, options, valueOf }) {
  const out = {};
  if (coll.type_param && !coll.type_from_parent) out[coll.type_param] = type;
  out[coll.id.key] = ident.trim();
  for (const opt of options) {
    const v = toParam(opt, valueOf(opt));
    if (v !== undefined) out[opt.key] = v;
  }
  return out;
}

/** PUT parameters: only what changed; a cleared option is deleted; the digest of what was read. */
function updateParams(options, original, valueOf) {
  const out = {};
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
}

/** The objects a new object may be created below (also when it is fixed: a fabric node takes its fabric's protocol). */
function useParents(schema, coll, fixed) {
  const [parents, setParents] = useState(null);
  useEffect(() => {
    if (!coll.parent || (fixed && !coll.type_from_parent)) return;
    const pcoll = schema.collections[coll.parent.collection];
    get(pcoll.path).then(setParents, () => setParents([]));
  }, [coll, fixed]);
  return parents;
}

/** A new object's parent (subnet: vnet; fabric node: fabric), type and ID. */
function IdentityFields({ coll, prefix, errors, spec, parent, type, ident }) {
  const at = (name) => `${prefix}-${name}`;
  const parentErr = coll.parent && errors[coll.parent.param];
  const typeErr = coll.type_param && errors[coll.type_param];
  const idErr = errors[coll.id.key];
  const idHelp = `${coll.id.description} · ${coll.id.format.describe}`;
  const change = (set) => (ev) => set(ev.currentTarget.value);
  return html`
    ${coll.parent && parent ? html`<${Labelled} id=${at('parent')} text=${label(coll.parent.param.replace(/_id$/, ''))} required
        error=${parentErr}>
      <select id=${at('parent')} value=${parent.value} aria-required="true" aria-invalid=${parentErr ? 'true' : 'false'}
        aria-describedby=${describedBy(at('parent'), false, parentErr)} onChange=${change(parent.set)}>
        <option value="">— choose —</option>
        ${(parent.choices || []).map((p) => html`<option value=${p[parent.pcoll.id.key]}>${p[parent.pcoll.id.key]}</option>`)}
      </select><//>` : null}
    ${coll.type_param && !coll.type_from_parent ? html`<${Labelled} id=${at('type')} text=${label(coll.type_param)} required
        help=${spec.description} error=${typeErr}>
      <select id=${at('type')} value=${type.value} aria-invalid=${typeErr ? 'true' : 'false'}
        aria-describedby=${describedBy(at('type'), true, typeErr)} onChange=${change(type.set)}>
        ${type.names.map((t) => html`<option value=${t}>${typeName(t)}</option>`)}
      </select><//>` : null}
    <${Labelled} id=${at('id')} text=${coll.id.key === 'subnet' ? 'Subnet (CIDR)' : 'ID'} required help=${idHelp} error=${idErr}>
      <input id=${at('id')} value=${ident.value} autocomplete="off" spellcheck="false" aria-required="true"
        aria-invalid=${idErr ? 'true' : 'false'} aria-describedby=${describedBy(at('id'), true, idErr)}
        onInput=${change(ident.set)} />
    <//>`;
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
  const unknownType = coll.type_from_parent && !editing && !parentObj; // its options follow the parent's type
  const options = unknownType ? [] : spec.options;
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

  const submit = async (ev) => {
    ev.preventDefault();
    if (editing && !original) return;
    setBusy(true);
    setError(null);
    setErrors({});
    try {
      if (editing) await put(itemPath(coll, objParent, id), updateParams(options, original, valueOf));
      else await post(itemPath(coll, parent), createParams(coll, { type, ident, options, valueOf }));
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

  return html`<${Modal} title=${title} size="wide" onClose=${() => onClose(false)}>${(hid) => html`
    <form ref=${formRef} onSubmit=${submit} novalidate>
      <header><h2 id=${hid}>${title}</h2>${editing ? html`<span class="muted">${typeName(effectiveType)}</span>` : null}</header>
      <div class="content">
        <${Alert} error=${error} />
        <div class="fields">
          ${editing ? null : html`<${IdentityFields} coll=${coll} prefix=${prefix} errors=${errors} spec=${spec}
            parent=${fixedParent ? null : { value: parent, set: setParent, choices: parents, pcoll }}
            type=${{ value: type, set: setType, names: typeNames }} ident=${{ value: ident, set: setIdent }} />`}
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
