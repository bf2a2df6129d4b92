// The console's entry: the views, chosen by location.hash (#live, #decision/<id>, #explain,
// #routes, #health), and the sign-in form for the admin token.
import { $ } from './dom.js';
import { NeedsToken, setToken } from './api.js';
import { showLive } from './live.js';
import { showDecision } from './decision.js';
import { showExplain } from './explain.js';
import { showRoutes } from './routes.js';
import { showHealth, stopHealth } from './health.js';

const views = { live: showLive, decision: showDecision, explain: showExplain, routes: showRoutes, health: showHealth };

function route() {
  const [name, arg] = (location.hash.slice(1) || 'live').split('/');
  const view = views[name] ? name : 'live';
  for (const s of document.querySelectorAll('section[data-section]')) s.hidden = s.dataset.section !== view;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (view !== 'health') stopHealth();
  views[view](arg ? decodeURIComponent(arg) : undefined).catch((e) => {
    if (!(e instanceof NeedsToken)) console.warn(e);
  });
}

$('sign-in-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken($('token').value.trim());
  $('token').value = '';
  $('sign-in-form').hidden = true;
  route();
});

window.addEventListener('hashchange', route);
route();
