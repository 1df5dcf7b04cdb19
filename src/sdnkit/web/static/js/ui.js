// Small shared pieces: badges, alerts, modal dialogs, confirmation, data loading and polling.
import { html, useEffect, useRef, useState, useCallback } from './html.js';

export function Badge({ kind, children }) {
  return html`<span class=${`badge ${kind || 'neutral'}`}>${children}</span>`;
}

const STATE_TEXT = { new: 'new', changed: 'changed', deleted: 'deleted' };

export function StateBadge({ state }) {
  if (!state) return null;
  return html`<${Badge} kind=${state}>${STATE_TEXT[state] || state}<//>`;
}

/** A server's refusal or failure, as it said it. */
export function Alert({ error, kind, onClose, children }) {
  if (!error && !children) return null;
  const status = error && error.status ? html`<span class="muted"> (HTTP ${error.status})</span>` : null;
  return html`<div class=${`alert ${kind || ''}`} role=${kind === 'info' || kind === 'ok' ? 'status' : 'alert'}>
    <span class="grow">${error ? error.message : children}${status}</span>
    ${onClose ? html`<button type="button" class="close" aria-label="Dismiss message" onClick=${onClose}>×</button>` : null}
  </div>`;
}

/** A modal <dialog>: focus stays inside, Escape closes it, the page behind is inert. */
export function Modal({ title, onClose, size, children, labelledBy }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    const cancel = (ev) => {
      ev.preventDefault();
      onClose();
    };
    dialog.addEventListener('cancel', cancel);
    return () => dialog.removeEventListener('cancel', cancel);
  }, [onClose]);
  const id = labelledBy || `dlg-${title.replace(/[^a-z0-9]+/gi, '-')}`;
  return html`<dialog ref=${ref} class=${size || ''} aria-labelledby=${id}>
    ${children(id)}
  </dialog>`;
}

/** "Are you sure?" with the server's answer shown when it refuses. */
export function Confirm({ title, text, action, danger, onConfirm, onClose }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const go = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose(true);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<${Modal} title=${title} size="narrow" onClose=${() => onClose(false)}>${(id) => html`
    <form onSubmit=${go}>
      <header><h2 id=${id}>${title}</h2></header>
      <div class="content"><${Alert} error=${error} /><p>${text}</p></div>
      <footer>
        <button type="button" onClick=${() => onClose(false)}>Cancel</button>
        <button type="submit" class=${danger ? 'primary danger' : 'primary'} disabled=${busy}>${action}</button>
      </footer>
    </form>`}<//>`;
}

/** Load data with ``loader`` whenever ``deps`` change; {data, error, loading, reload}. */
export function useLoad(loader, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loader();
      if (mine === seq.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === seq.current) setState({ data: null, error, loading: false });
    }
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  return { ...state, reload };
}

/** Call ``fn`` every ``ms`` while mounted (not while the tab is hidden). */
export function usePoll(fn, ms) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const timer = setInterval(() => {
      if (!document.hidden) saved.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}

export function Spinner({ label }) {
  return html`<span class="spinner" role="status" aria-label=${label || 'Loading'}></span>`;
}
