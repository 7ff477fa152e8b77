// Building the page from data without ever parsing data as HTML: every string goes in as a text node
// (textContent), so a webhook body like <script>…</script> or <img onerror=…> is shown, never run
// (docs/console.md, "Security").

/** An element with attributes (`on*` functions become listeners) and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'text') {
      node.textContent = String(value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table with a caption, column headers and rows of cells (strings or nodes). */
export function table(caption, columns, rows, empty) {
  return el('table', {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, columns.map(c => el('th', { scope: 'col' }, c)))),
    el('tbody', {}, rows.length
      ? rows.map(cells => el('tr', {}, cells.map(cell => el('td', {}, cell))))
      : el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, empty))));
}

/** A definition list from [term, value] pairs. */
export function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.map(([term, value]) => el('div', {}, el('dt', {}, term), el('dd', {}, value ?? '—'))));
}

/** The short name of a protobuf enum value: MESSAGE_STATE_DEAD_LETTERED → "dead lettered". */
export function enumName(value, prefix) {
  if (!value) {
    return '—';
  }
  return String(value).replace(prefix, '').replaceAll('_', ' ').toLowerCase();
}

/** A protobuf JSON timestamp as local date and time, to the second. */
export function time(value) {
  if (!value) {
    return '—';
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, { hour12: false });
}

/** A protobuf JSON duration ("0.012s") in milliseconds. */
export function duration(value) {
  if (!value) {
    return '—';
  }
  const seconds = Number.parseFloat(String(value));
  return Number.isNaN(seconds) ? String(value) : `${Math.round(seconds * 1000)} ms`;
}
