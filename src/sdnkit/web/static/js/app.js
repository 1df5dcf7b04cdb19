// The application: log in, the shell (top bar, navigation, panels by URL hash), the pending
// count, and the session's renewal before its ticket expires.
import { html, render, useCallback, useEffect, useRef, useState } from './html.js';
import * as api from './api.js';
import { loadSchema } from './schema.js';
import { Alert, usePoll } from './ui.js';
import { Overview } from './panels/overview.js';
import { Controllers, Dns, Fabrics, Subnets, Vnets, Zones } from './panels/collections.js';
import { Ipam } from './panels/ipam.js';
import { Topology } from './panels/topology.js';

const PANELS = [
  { group: 'SDN', items: [['overview', 'Overview', Overview], ['topology', 'Topology', Topology]] },
  { group: 'Networks', items: [['zones', 'Zones', Zones], ['vnets', 'VNets', Vnets], ['subnets', 'Subnets', Subnets]] },
  {
    group: 'Options',
    items: [['controllers', 'Controllers', Controllers], ['ipam', 'IPAM', Ipam], ['dns', 'DNS', Dns], ['fabrics', 'Fabrics', Fabrics]],
  },
];
const BY_ID = Object.fromEntries(PANELS.flatMap((g) => g.items.map(([id, title, component]) => [id, { id, title, component }])));

function currentPanel() {
  const id = window.location.hash.replace(/^#\/?/, '').split('/')[0];
  return BY_ID[id] ? id : 'overview';
}

function Login({ notice, onLogin }) {
  const [username, setUsername] = useState('root');
  const [realm, setRealm] = useState('pam');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const passwordRef = useRef(null);
  useEffect(() => {
    if (passwordRef.current) passwordRef.current.focus();
  }, []);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await api.login(username.trim(), password, realm));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <div class="brand"><img src="favicon.svg" alt="" /><h1 id="login-title">sdnkit SDN — log in</h1></div>
      ${notice ? html`<${Alert} kind="info">${notice}<//>` : null}
      <${Alert} error=${error} />
      <div class="field"><label for="login-user">User name</label><input id="login-user" name="username" autocomplete="username"
        value=${username} onInput=${(ev) => setUsername(ev.currentTarget.value)} /></div>
      <div class="field"><label for="login-realm">Realm</label><select id="login-realm" name="realm" value=${realm}
        aria-describedby="login-realm-help" onChange=${(ev) => setRealm(ev.currentTarget.value)}>
        <option value="pam">pam</option><option value="pve">pve</option></select>
        <span class="help" id="login-realm-help">Used when the user name has no @realm; both check sdnkit's own password store.</span></div>
      <div class="field"><label for="login-password">Password</label><input ref=${passwordRef} id="login-password" name="password"
        type="password" autocomplete="current-password" value=${password} onInput=${(ev) => setPassword(ev.currentTarget.value)} /></div>
      <button type="submit" class="primary" disabled=${busy}>Log in</button>
    </form>
  </main>`;
}

/** The pending diff (for the count in the top bar and the overview), reloaded on demand and every 10 s. */
function usePending() {
  const [state, setState] = useState({ diff: null, error: null });
  const reload = useCallback(async () => {
    try {
      setState({ diff: await api.get('/cluster/sdn/dry-run'), error: null });
    } catch (error) {
      setState({ diff: null, error });
    }
  }, []);
  useEffect(() => {
    reload();
  }, []);
  usePoll(reload, 10000);
  return { ...state, reload };
}

/** Renew the ticket every 15 minutes (it is valid two hours); a failure is shown, not hidden. */
function useRenewal(setNotice) {
  usePoll(async () => {
    try {
      await api.renew();
      setNotice(null);
    } catch (err) {
      if (err.status === 401) {
        api.expire(err);
      } else {
        const ends = new Date(api.ticketTime(api.getSession().ticket) + api.TICKET_LIFETIME).toLocaleTimeString();
        setNotice(`The session could not be renewed (${err.message}); it ends at ${ends}.`);
      }
    }
  }, api.RENEW_EVERY);
}

function Shell({ session, onLogout }) {
  const [panel, setPanel] = useState(currentPanel());
  const [schema, setSchema] = useState(null);
  const [schemaError, setSchemaError] = useState(null);
  const [refresh, setRefresh] = useState(0);
  const [notice, setNotice] = useState(null);
  const pending = usePending();
  useRenewal(setNotice);
  useEffect(() => {
    const onHash = () => setPanel(currentPanel());
    window.addEventListener('hashchange', onHash);
    loadSchema().then(setSchema, setSchemaError);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${BY_ID[panel].title} — sdnkit SDN`;
  }, [panel]);
  const changed = () => {
    pending.reload();
    setRefresh((n) => n + 1);
  };
  const count = pending.diff ? pending.diff.changes.length : null;
  const Panel = BY_ID[panel].component;
  return html`<div class="shell">
    <header class="topbar">
      <div class="brand"><img src="favicon.svg" alt="" /><span>sdnkit SDN</span></div>
      <a class=${`pending-pill ${count === 0 ? 'none' : ''}`} href="#/overview" aria-live="polite"
        title=${pending.error ? pending.error.message : undefined}>
        ${count === null ? 'pending: unknown' : count === 0 ? 'no pending changes' : `${count} pending change${count > 1 ? 's' : ''}`}
      </a>
      <span class="spacer"></span>
      <span class="user">${session.username}</span>
      <button type="button" onClick=${onLogout}>Log out</button>
    </header>
    <nav class="sidebar" aria-label="Panels">
      ${PANELS.map((g) => html`<h2>${g.group}</h2><ul>${g.items.map(([id, title]) => html`<li key=${id}>
        <a href=${`#/${id}`} aria-current=${panel === id ? 'page' : undefined}>${title}
          ${id === 'overview' && count ? html`<span class="badge changed">${count}</span>` : null}</a></li>`)}</ul>`)}
    </nav>
    <main id="main">
      ${notice ? html`<${Alert} kind="info" onClose=${() => setNotice(null)}>${notice}<//>` : null}
      <${Alert} error=${schemaError} />
      ${schema ? html`<${Panel} key=${panel} schema=${schema} pending=${pending} onChanged=${changed} refresh=${refresh} />` : null}
    </main>
  </div>`;
}

function App() {
  const [session, setSession] = useState(null);
  const [checked, setChecked] = useState(false);
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    api.setUnauthorizedHandler((err) => {
      api.forget();
      setSession(null);
      setNotice(`Your session ended: ${err.message}. Log in again.`);
    });
    // a session kept from before a reload is renewed at once: that also checks it is still valid
    if (api.getSession()) {
      api.renew().then(setSession, () => api.forget()).finally(() => setChecked(true));
    } else {
      setChecked(true);
    }
  }, []);
  const logout = async () => {
    await api.logout().catch(() => {});
    setSession(null);
    setNotice('You are logged out.');
  };
  if (!checked) return null;
  if (!session) {
    return html`<${Login} notice=${notice} onLogin=${(s) => { setNotice(null); setSession(s); }} />`;
  }
  return html`<${Shell} session=${session} onLogout=${logout} />`;
}

render(html`<${App} />`, document.getElementById('app'));
