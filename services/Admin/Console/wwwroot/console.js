// The operator console (docs/console.md): the channels and their depth, rate and connections; a channel's live tail,
// history and dead letters; a message's detail with its delivery record; resend, dead-letter replay and pause/resume.
// Everything goes through the admin JSON twin with the session cookie; write buttons exist only for tokens that may
// write (the server refuses anyway).
import { ApiError, bytesText, call, follow, get, post, seg } from './api.js';
import { duration, el, enumName, facts, fill, table, time } from './dom.js';

const REFRESH_MS = 2000;
const TAIL_ROWS = 200;

let me = null;
let stopView = () => {};
/** Previous acked_total sample per channel, for the rate (acked per second between two samples). */
const samples = new Map();

const $ = id => document.getElementById(id);

function say(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function problem(error) {
  if (error instanceof ApiError && error.status === 401) {
    showSignIn();
    return;
  }
  say(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error), true);
}

/** Runs a write behind a button: disabled while it runs, its outcome in the status line. */
async function act(button, work, done) {
  button.disabled = true;
  try {
    say(await work());
    await done?.();
  } catch (error) {
    problem(error);
  } finally {
    button.disabled = false;
  }
}

function rate(channel, acked) {
  const now = performance.now();
  const previous = samples.get(channel);
  samples.set(channel, { acked, at: now });
  if (!previous || now <= previous.at) {
    return '—';
  }
  return ((acked - previous.acked) / ((now - previous.at) / 1000)).toFixed(1);
}

/** Calls refresh now and every REFRESH_MS until stopped; returns the stop function. */
function every(refresh) {
  let timer = 0;
  let stopped = false;
  const tick = async () => {
    try {
      await refresh();
    } catch (error) {
      problem(error);
    }
    if (!stopped) {
      timer = setTimeout(tick, REFRESH_MS);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

const channelLink = name => el('a', { href: `#/channels/${seg(name)}` }, name);
const messageLink = (channel, id) => el('a', { href: `#/channels/${seg(channel)}/messages/${seg(id)}`, class: 'mono' }, id);

// ------------------------------------------------------------------------------------------------
// Overview: channels with depth and rate, connections.

function overview(view) {
  const channels = el('div');
  const connections = el('div');
  fill(view,
    el('h1', {}, 'Channels'),
    el('section', { 'aria-labelledby': 'channels-title' }, el('h2', { id: 'channels-title', class: 'visually-hidden' }, 'Channels and their depth'), channels),
    el('section', { 'aria-labelledby': 'connections-title' }, el('h2', { id: 'connections-title' }, 'Connections'), connections));
  return every(async () => {
    const [summary, list, open] = await Promise.all([
      get('overview?include_channels=true'),
      get('channels?page_size=1000'),
      get('connections'),
    ]);
    const paused = new Map((list.channels || []).map(c => [c.name, Boolean(c.settings && c.settings.paused)]));
    const rows = (summary.channels || []).map(s => [
      channelLink(s.channel),
      paused.get(s.channel) ? el('span', { class: 'badge paused' }, 'paused') : el('span', { class: 'badge' }, 'active'),
      s.messages_queued, s.messages_in_flight, s.messages_delayed, s.dead_letters,
      rate(s.channel, Number(s.acked_total)), s.connections,
    ]);
    fill(channels, table('Channels: depth (messages queued, in flight, delayed, dead letters), acked per second, connections',
      ['Channel', 'State', 'Queued', 'In flight', 'Delayed', 'Dead letters', 'Acked/s', 'Connections'], rows, 'No channels yet.'));
    fill(connections, connectionTable(open.connections || [], true));
  });
}

function connectionTable(connections, withChannel) {
  const columns = [...(withChannel ? ['Channel'] : []), 'Connector', 'Protocol', 'Replica', 'Since', 'In flight', 'Delivered', 'Acked'];
  const rows = connections.map(c => [
    ...(withChannel ? [channelLink(c.channel)] : []),
    c.connector_id || '(unnamed)', c.protocol || 'grpc', c.replica_id, time(c.connected_at), c.in_flight, c.delivered, c.acked,
  ]);
  return table('Open connector connections', columns, rows, 'No connector is connected.');
}

// ------------------------------------------------------------------------------------------------
// One channel: stats, pause/resume, live tail, history with filters, dead letters.

function channelView(view, channel) {
  const heading = el('h1', {}, 'Channel ', el('span', { class: 'mono' }, channel));
  const controls = el('p', { class: 'controls' });
  const stats = el('div');
  const connections = el('div');
  const tail = tailSection(channel);
  const history = historySection(channel);
  const deadLetters = el('div');
  fill(view,
    el('p', {}, el('a', { href: '#/' }, '← All channels')),
    heading, controls, stats,
    el('div', { class: 'columns' }, tail.section, history.section),
    el('section', { id: 'dead-letters', 'aria-labelledby': 'dead-title' }, el('h2', { id: 'dead-title' }, 'Dead letters'), deadLetters),
    el('section', { 'aria-labelledby': 'channel-connections-title' }, el('h2', { id: 'channel-connections-title' }, 'Connections'), connections));

  let paused = null;
  const refresh = async () => {
    const [info, s, open, dead] = await Promise.all([
      get(`channels/${seg(channel)}`),
      get(`channels/${seg(channel)}/stats`),
      get(`channels/${seg(channel)}/connections`),
      get(`channels/${seg(channel)}/dead-letters?page_size=50${me.can_read_contents ? '&include_body=true' : ''}`),
    ]);
    const nowPaused = Boolean(info.settings && info.settings.paused);
    if (nowPaused !== paused) {
      paused = nowPaused;
      fill(controls, el('span', { class: paused ? 'badge paused' : 'badge' }, paused ? 'paused' : 'active'), ' ',
        me.can_write ? el('button', {
          type: 'button',
          id: 'pause-resume',
          onclick: e => act(e.currentTarget,
            async () => {
              await post(`channels/${seg(channel)}/${paused ? 'resume' : 'pause'}`);
              return paused ? `Channel ${channel} resumed.` : `Channel ${channel} paused: webhooks are kept, nothing is delivered.`;
            },
            refresh),
        }, paused ? 'Resume delivery' : 'Pause delivery') : null);
    }
    fill(stats, facts([
      ['Queued', s.messages_queued], ['In flight', s.messages_in_flight], ['Delayed', s.messages_delayed],
      ['Dead letters', s.dead_letters], ['Acked/s', rate(channel, Number(s.acked_total))], ['Connections', s.connections],
      ['Published', s.published_total], ['Acked', s.acked_total],
    ]));
    fill(connections, connectionTable(open.connections || [], false));
    fill(deadLetters, deadLetterTable(channel, dead.messages || [], refresh));
    await history.refresh();
  };
  const stopRefresh = every(refresh);
  return () => {
    stopRefresh();
    tail.stop();
  };
}

function deadLetterTable(channel, deadLetters, refresh) {
  const columns = ['Message', 'Endpoint', 'Dead-lettered', 'Reason', 'Last error', 'Attempts', ...(me.can_read_contents ? ['Body'] : []), ...(me.can_write ? ['Action'] : [])];
  const rows = deadLetters.map(d => {
    const m = d.message || {};
    return [
      messageLink(channel, m.message_id), m.endpoint_id, time(d.dead_lettered_at), enumName(d.reason, 'DEAD_LETTER_REASON_'), d.last_error, d.attempts,
      ...(me.can_read_contents ? [el('pre', { class: 'preview' }, bytesText(m.body).slice(0, 300))] : []),
      ...(me.can_write ? [replayButton(channel, m.message_id, refresh)] : []),
    ];
  });
  return table('Messages in the dead-letter queue', columns, rows, 'No dead letters.');
}

function replayButton(channel, id, refresh) {
  return el('button', {
    type: 'button',
    class: 'replay',
    'aria-label': `Replay dead letter ${id}`,
    onclick: e => act(e.currentTarget, async () => {
      const result = await post(`channels/${seg(channel)}/dead-letters/replay`, { message_ids: [id] });
      return result.replayed ? `Dead letter ${id} queued again.` : `Dead letter ${id} was not in the queue any more.`;
    }, refresh),
  }, 'Replay');
}

const TAIL_KINDS = {
  TAIL_EVENT_KIND_STARTED: 'live',
  TAIL_EVENT_KIND_ACCEPTED: 'accepted',
  TAIL_EVENT_KIND_RESENT: 'resent',
  TAIL_EVENT_KIND_DELIVERED: 'delivered',
  TAIL_EVENT_KIND_SETTLED: 'settled',
  TAIL_EVENT_KIND_DEAD_LETTERED: 'dead-lettered',
  TAIL_EVENT_KIND_EXPIRED: 'expired',
};

function tailSection(channel) {
  const body = el('tbody');
  const state = el('span', { class: 'muted' }, 'connecting…');
  let controller = null;
  const toggle = el('button', { type: 'button', id: 'tail-toggle', onclick: () => (controller ? stop() : start()) }, 'Stop');
  const section = el('section', { class: 'tail', 'aria-labelledby': 'tail-title' },
    el('h2', { id: 'tail-title' }, 'Live tail'),
    el('p', { class: 'controls' }, toggle, ' ', state),
    el('table', { id: 'tail' },
      el('caption', {}, 'Every message the channel accepts and every delivery outcome, newest first'),
      el('thead', {}, el('tr', {}, ['Time', 'Event', 'Message', 'Detail'].map(c => el('th', { scope: 'col' }, c)))),
      body));

  const add = event => {
    if (event.error) {
      state.textContent = `ended: ${event.error.code || ''} ${event.error.message || ''}`;
      return;
    }
    const kind = TAIL_KINDS[event.kind] || enumName(event.kind, 'TAIL_EVENT_KIND_');
    if (event.kind === 'TAIL_EVENT_KIND_STARTED') {
      state.textContent = 'live';
      return;
    }
    const a = event.attempt;
    const m = event.message;
    let detail = '';
    if (m) {
      detail = el('span', {}, `${m.endpoint_id || ''} · ${event.body_size ?? 0} bytes${m.resend ? ` · resend ${m.resend}` : ''}`,
        m.body ? el('pre', { class: 'preview' }, bytesText(m.body).slice(0, 200)) : null);
    } else if (a) {
      detail = `attempt ${a.attempt}${a.series ? ` (series ${a.series})` : ''} · ${a.connector_id || a.connection_id || ''} · ${enumName(a.outcome, 'ATTEMPT_OUTCOME_')}${a.target_status_code ? ` · HTTP ${a.target_status_code}` : ''}${a.target_duration ? ` · ${duration(a.target_duration)}` : ''}`;
    } else if (event.dead_letter_reason) {
      detail = enumName(event.dead_letter_reason, 'DEAD_LETTER_REASON_');
    }
    body.prepend(el('tr', { 'data-kind': kind, 'data-message-id': event.message_id || '' },
      el('td', {}, time(event.at)), el('td', {}, kind), el('td', {}, event.message_id ? messageLink(channel, event.message_id) : ''), el('td', {}, detail)));
    while (body.rows.length > TAIL_ROWS) {
      body.lastElementChild.remove();
    }
  };

  function start() {
    controller = new AbortController();
    toggle.textContent = 'Stop';
    state.textContent = 'connecting…';
    const mine = controller;
    follow(`channels/${seg(channel)}/tail?include_body=${me.can_read_contents}`, add, mine.signal)
      .then(() => {
        if (controller === mine) {
          state.textContent = 'ended by the server';
        }
      })
      .catch(error => {
        if (mine.signal.aborted) {
          return;
        }
        state.textContent = error instanceof ApiError ? `not available: ${error.code} ${error.message}` : `ended: ${error}`;
      })
      .finally(() => {
        if (controller === mine) {
          controller = null;
          toggle.textContent = 'Start';
        }
      });
  }

  function stop() {
    const current = controller;
    controller = null;
    current?.abort();
    toggle.textContent = 'Start';
    state.textContent = 'stopped';
  }

  start();
  return { section, stop };
}

const STATES = ['WAITING', 'IN_FLIGHT', 'ACKED', 'DEAD_LETTERED', 'EXPIRED', 'PURGED'];

function historySection(channel) {
  const results = el('div');
  const more = el('p');
  const field = (id, label, input) => el('div', { class: 'field' }, el('label', { for: id }, label), input);
  const form = el('form', { class: 'filters', id: 'history-filters' },
    field('filter-state', 'State', el('select', { id: 'filter-state', name: 'state' },
      el('option', { value: '' }, 'any'), STATES.map(s => el('option', { value: `MESSAGE_STATE_${s}` }, s.replace('_', ' ').toLowerCase())))),
    field('filter-endpoint', 'Endpoint', el('input', { id: 'filter-endpoint', name: 'endpoint', type: 'text', autocomplete: 'off' })),
    field('filter-after', 'Received after', el('input', { id: 'filter-after', name: 'received_after', type: 'datetime-local', step: 1 })),
    field('filter-before', 'Received before', el('input', { id: 'filter-before', name: 'received_before', type: 'datetime-local', step: 1 })),
    field('filter-key', 'Idempotency key', el('input', { id: 'filter-key', name: 'idempotency_key', type: 'text', autocomplete: 'off' })),
    el('div', { class: 'field buttons' }, el('button', { type: 'submit' }, 'Filter'), el('button', { type: 'reset' }, 'Clear')));
  const section = el('section', { class: 'history', 'aria-labelledby': 'history-title' },
    el('h2', { id: 'history-title' }, 'History'), form, results, more);

  // The filters in effect: those of the last Filter press (the refresh does not apply half-typed ones).
  let applied = new URLSearchParams();
  const filters = () => {
    const q = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value) {
        q.set(name, name.startsWith('received_') ? new Date(value).toISOString() : value);
      }
    }
    return q;
  };
  const query = pageToken => {
    const q = new URLSearchParams(applied);
    q.set('page_size', '50');
    if (pageToken) {
      q.set('page_token', pageToken);
    }
    return q;
  };

  let rows = [];
  let paged = false;
  const load = async pageToken => {
    paged = Boolean(pageToken);
    try {
      const page = await get(`channels/${seg(channel)}/history?${query(pageToken)}`);
      rows = pageToken ? rows.concat(page.messages || []) : (page.messages || []);
      fill(results, table('Messages received, newest first', ['Received', 'Message', 'Endpoint', 'State', 'Attempts', 'Size'],
        rows.map(r => {
          const m = r.message || {};
          return [time(m.received_at), messageLink(channel, m.message_id), m.endpoint_id, enumName(r.state, 'MESSAGE_STATE_'), (r.attempts || []).length, `${r.body_size ?? 0} B`];
        }), 'No message matches.'));
      fill(more, page.next_page_token ? el('button', { type: 'button', onclick: () => load(page.next_page_token) }, 'Load more') : null);
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        fill(results, el('p', { class: 'muted' }, `History is not available: ${error.code} ${error.message}`));
      } else {
        problem(error);
      }
    }
  };
  form.addEventListener('submit', event => {
    event.preventDefault();
    applied = filters();
    load();
  });
  form.addEventListener('reset', () => {
    applied = new URLSearchParams();
    load();
  });
  load();
  // The first page follows new messages with the channel's refresh; once "Load more" was used it stays put.
  return { section, refresh: () => (paged ? undefined : load()) };
}

// ------------------------------------------------------------------------------------------------
// One message: envelope, delivery record, headers, body; resend and dead-letter replay.

function messageView(view, channel, id) {
  const summary = el('div');
  const actions = el('p', { class: 'controls' });
  const attempts = el('div');
  const contents = el('div');
  fill(view,
    el('p', {}, el('a', { href: `#/channels/${seg(channel)}` }, `← Channel ${channel}`)),
    el('h1', {}, 'Message ', el('span', { class: 'mono' }, id)),
    actions, summary,
    el('section', { 'aria-labelledby': 'attempts-title' }, el('h2', { id: 'attempts-title' }, 'Delivery record'), attempts),
    contents);

  let shownState = null;
  const refresh = async () => {
    const answer = await get(`channels/${seg(channel)}/history/${seg(id)}`);
    const record = answer.record || answer;
    const m = record.message || {};
    fill(summary, facts([
      ['State', enumName(record.state, 'MESSAGE_STATE_')], ['Endpoint', m.endpoint_namespace ? `${m.endpoint_namespace}/${m.endpoint_id}` : m.endpoint_id],
      ['Received', time(m.received_at)], ['Settled', time(record.settled_at)], ['Content type', m.content_type || '—'],
      ['Body size', `${record.body_size ?? 0} bytes`], ['Idempotency key', m.idempotency_key || '—'], ['Resends', m.resend ?? 0],
      ...(record.dead_letter_reason && record.dead_letter_reason !== 'DEAD_LETTER_REASON_UNSPECIFIED' ? [['Dead-letter reason', enumName(record.dead_letter_reason, 'DEAD_LETTER_REASON_')]] : []),
    ]));
    fill(attempts, table('Every delivery attempt, oldest first (series 0 is the message as received, n its n-th resend)',
      ['Series', 'Attempt', 'Delivered', 'Connector', 'Protocol', 'Outcome', 'Target status', 'Duration', 'Error'],
      (record.attempts || []).map(a => [a.series ?? 0, a.attempt, time(a.delivered_at), a.connector_id || a.connection_id, a.protocol,
        enumName(a.outcome, 'ATTEMPT_OUTCOME_'), a.target_status_code || '—', duration(a.target_duration), a.error || '']),
      'Not delivered yet.'));
    if (record.state !== shownState) {
      shownState = record.state;
      fill(actions, me.can_write ? [
        el('button', {
          type: 'button',
          id: 'resend',
          onclick: e => act(e.currentTarget, async () => {
            const result = await post(`channels/${seg(channel)}/history/${seg(id)}/resend`);
            return `Queued again as resend ${result.resend}.`;
          }, refresh),
        }, 'Resend'),
        record.state === 'MESSAGE_STATE_DEAD_LETTERED' ? [' ', replayButton(channel, id, refresh)] : null,
      ] : null);
      fill(contents, me.can_read_contents ? [
        el('section', { 'aria-labelledby': 'headers-title' }, el('h2', { id: 'headers-title' }, 'Headers'),
          table('Request headers as received', ['Name', 'Value'], (m.headers || []).map(h => [h.name, bytesText(h.value)]), 'No headers.')),
        el('section', { 'aria-labelledby': 'body-title' }, el('h2', { id: 'body-title' }, 'Body'),
          record.envelope_trimmed ? el('p', { class: 'muted' }, 'The history no longer holds this body.') : el('pre', { id: 'body', class: 'body' }, bytesText(m.body))),
      ] : el('p', { class: 'muted' }, 'Headers and body need a token that may read message contents.'));
    }
  };
  return every(refresh);
}

// ------------------------------------------------------------------------------------------------
// Sign-in state and routing.

function showSignIn() {
  stopView();
  stopView = () => {};
  me = null;
  $('signin').hidden = false;
  $('view').replaceChildren();
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('signin-failed').hidden = new URLSearchParams(location.search).get('signin') !== 'failed';
  $('token').focus();
}

function route() {
  stopView();
  say('');
  const view = $('view');
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'channels' && parts[1] && parts[2] === 'messages' && parts[3]) {
    stopView = messageView(view, parts[1], parts[3]);
  } else if (parts[0] === 'channels' && parts[1]) {
    stopView = channelView(view, parts[1]);
  } else {
    stopView = overview(view);
  }
}

async function start() {
  try {
    me = await call('GET', '/console/session');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn();
      return;
    }
    say(String(error), true);
    return;
  }
  if (location.search) {
    history.replaceState(null, '', location.pathname + location.hash);
  }
  $('signin').hidden = true;
  const who = $('who');
  who.textContent = `Signed in with ${me.kind === 'admin' ? 'an' : 'a'} ${me.kind} token (${me.caller})${me.can_write ? '' : ' · read-only'}`;
  who.hidden = false;
  const signOut = $('sign-out');
  signOut.hidden = false;
  signOut.onclick = async () => {
    try {
      await call('DELETE', '/console/session');
    } catch (error) {
      problem(error);
      return;
    }
    showSignIn();
  };
  window.addEventListener('hashchange', route);
  route();
}

start();
