// What every dashboard page shares: the token (from ?token=, kept for this tab only),
// the navigation bar and state-changing requests (token header; the browser sends Origin).
'use strict';
const clopyToken = (() => {
  const query = new URLSearchParams(location.search), given = query.get('token');
  if (given) {
    sessionStorage.setItem('clopy-token', given);
    query.delete('token');   // out of the address bar and its history
    history.replaceState(null, '', location.pathname + (query.toString() ? '?' + query : ''));
  }
  return sessionStorage.getItem('clopy-token') || '';
})();

function clopyHeaders() { return clopyToken ? {'X-Clopy-Token': clopyToken} : {}; }

// the URL of a GET with the token (an <img> cannot send a header)
function clopyUrl(path) {
  return clopyToken ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(clopyToken) : path;
}

async function clopyGet(path) {
  const r = await fetch(path, {headers: clopyHeaders()});
  const data = await r.json();
  if (!r.ok) throw new Error(typeof data.detail === 'string' ? data.detail : (r.status + ' ' + r.statusText));
  return data;
}

async function clopyPost(path, body) {
  const headers = Object.assign({'Content-Type': 'application/json'}, clopyHeaders());
  const r = await fetch(path, {method: 'POST', headers, body: JSON.stringify(body || {})});
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error(typeof data.detail === 'string' ? data.detail : (r.status + ' ' + r.statusText));
  return data;
}

async function clopyNav() {
  const nav = document.querySelector('header nav');
  try {
    const data = await (await fetch('/api/nav')).json();
    nav.innerHTML = '';
    for (const p of data.pages) {
      const a = document.createElement('a');
      // the token goes with the link (a page of the dashboard takes it out of the address bar again)
      a.href = p.path + (clopyToken ? '?token=' + encodeURIComponent(clopyToken) : ''); a.textContent = p.label;
      if (location.pathname.startsWith(p.path)) a.className = 'here';
      nav.appendChild(a);
    }
  } catch (e) { /* the page still works without it */ }
}

function say(text, kind) {
  const m = document.getElementById('message');
  m.textContent = text; m.className = kind || '';
}
clopyNav();
