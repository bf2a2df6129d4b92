// Small DOM helpers: every value reaches the page as text (textContent), never as HTML.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export const $ = (id) => document.getElementById(id);

/** A definition list of [name, value] pairs (values as text; a Node is kept as it is). */
export function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), v instanceof Node ? el('dd', {}, v) : el('dd', { text: v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v) }));
  return dl;
}

/** Any JSON value as a nested definition list, generically (fields the page does not know are shown too). */
export function tree(value) {
  if (value === null || typeof value !== 'object') return document.createTextNode(value === null ? '—' : String(value));
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return document.createTextNode(value.join(', '));
  return kv(Object.entries(value).map(([k, v]) => [k, v !== null && typeof v === 'object' ? tree(v) : v]));
}

export function decisionCell(decision) {
  return el('span', { class: decision, text: decision });
}

/** An MCP/JSON-RPC call as the console shows it: `tools/call create_issue`, or the method alone. */
export function callText(call) {
  return call.tool ? `${call.method} ${call.tool}` : call.method;
}
