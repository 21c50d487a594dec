// The hermes demo page: a user joins a room, gets a token from the local stack, and shows every
// notification of the room as a toast. It uses the client library exactly as an app would.
import { connect } from '/hermes-client.mjs';

const TYPES = ['info', 'success', 'warning', 'alert', 'danger', 'chat'];
const TOAST_MS = 10_000;
/** Notifications shown at once; the oldest goes when another arrives. */
const TOAST_MAX = 5;
const LOG_MAX = 200;

/**
 * A frame sent again by a resume rather than live (`replay: true`, once the stage keeps history):
 * what arrived while the page was away. Its notification and log line are marked as such.
 */
const isReplayed = (frame) => frame?.replay === true;

const $ = (id) => document.getElementById(id);
const els = {
  state: $('state'), stateText: $('state-text'), join: $('join'), user: $('user'), room: $('room'),
  leave: $('leave'), tokenInfo: $('token-info'), send: $('send'), sendType: $('send-type'),
  sendText: $('send-text'), sendButton: $('send-button'), log: $('log'), toasts: $('toasts'),
  publishHint: $('publish-hint'), clearLog: $('clear-log'),
};

/** What the tests (and a curious developer in the console) can look at. */
const demo = { client: undefined, user: '', room: '', received: [], tokens: 0 };
window.hermesDemo = demo;

const clock = (d = new Date()) => d.toTimeString().slice(0, 8);

function log(kind, text, { replayed = false } = {}) {
  const li = document.createElement('li');
  li.className = kind;
  if (replayed) li.classList.add('replayed');
  const time = document.createElement('time');
  time.textContent = clock();
  const dir = document.createElement('span');
  dir.className = 'dir';
  dir.textContent = { in: '←', out: '→', event: '•', error: '!' }[kind];
  const code = document.createElement('code');
  code.textContent = text;
  li.append(time, dir, code);
  els.log.prepend(li);
  while (els.log.children.length > LOG_MAX) els.log.lastElementChild.remove();
}

function toast(type, text, frame) {
  const el = document.createElement('div');
  el.className = 'toast';
  el.dataset.type = type;
  el.dataset.id = frame.id;
  if (isReplayed(frame)) {
    el.classList.add('replayed');
    el.dataset.replayed = 'true';
  }
  const head = document.createElement('div');
  head.className = 'toast-head';
  const label = document.createElement('span');
  label.className = 'toast-type';
  label.textContent = type;
  const from = document.createElement('span');
  from.textContent = `${frame.user_id ?? 'system'} · ${clock(new Date(frame.sent_at))}${frame.seq !== undefined ? ` · #${frame.seq}` : ''}`;
  head.append(label, from);
  const body = document.createElement('div');
  body.className = 'toast-body';
  body.textContent = typeof text === 'string' ? text : JSON.stringify(text);
  el.append(head, body);
  const dismiss = () => {
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 300);
  };
  el.addEventListener('click', dismiss);
  setTimeout(dismiss, TOAST_MS);
  els.toasts.prepend(el);
  while (els.toasts.children.length > TOAST_MAX) els.toasts.lastElementChild.remove();
}

function showState(state, info = {}) {
  els.state.dataset.state = state;
  const who = demo.client ? ` as ${demo.user} in ${demo.room}` : '';
  els.stateText.textContent = {
    idle: 'not connected',
    connecting: `connecting${info.attempt > 1 ? ` (attempt ${info.attempt})` : ''}…`,
    open: `connected${who}`,
    reconnecting: `reconnecting in ${((info.delayMs ?? 0) / 1000).toFixed(1)} s`,
    closed: 'not connected',
  }[state];
  els.sendButton.disabled = state !== 'open';
}

async function fetchToken(user, room) {
  const res = await fetch('/_hermes/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, room }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message ?? `The token endpoint answered ${res.status}.`);
  demo.tokens++;
  els.tokenInfo.dataset.count = String(demo.tokens);
  els.tokenInfo.dataset.tokenId = body.tokenId;
  els.tokenInfo.textContent = `Token #${demo.tokens} for ${body.user} in ${body.room} (id ${body.tokenId.slice(0, 8)}…), expires ${clock(new Date(body.expiresAt))}.`;
  log('event', `token #${demo.tokens} issued (id ${body.tokenId})`);
  // The command as the user can run it (`hermes` on their PATH, else `npx hermes`).
  els.publishHint.textContent = `${body.cli ?? 'hermes'} publish --room ${body.room} --type alert "Disk almost full"`;
  return body;
}

async function join(user, room) {
  leave();
  history.replaceState(null, '', `?${new URLSearchParams({ user, room })}`);
  let first;
  try {
    showState('connecting');
    first = await fetchToken(user, room);
  } catch (err) {
    showState('idle');
    els.tokenInfo.textContent = err.message;
    log('error', err.message);
    return;
  }
  const client = connect({
    url: first.url,
    token: first.token,
    // Called again when a connection attempt fails before opening: the token may be revoked.
    getToken: async () => (await fetchToken(user, room)).token,
  });
  Object.assign(demo, { client, user, room });
  els.leave.disabled = false;

  client.on('state', (state, info) => {
    showState(state, info);
    if (state !== 'closed') log('event', `${state}${state === 'reconnecting' ? ` in ${info.delayMs} ms` : ''}`);
  });
  client.on('raw', (text) => {
    let replayed = false;
    try {
      replayed = isReplayed(JSON.parse(text));
    } catch {}
    log('in', text, { replayed });
  });
  client.on('close', (info) => info.retryInMs !== undefined && log('event', `closed ${info.code}${info.reason ? ` ${info.reason}` : ''}${info.wasOpen ? '' : ' before opening'}`));
  client.on('duplicate', (frame) => log('event', `duplicate frame ${frame.id} dropped`));
  client.on('gap', (g) => log('error', `messages ${g.from}-${g.to} of the ${g.stream} stream are no longer kept: missed`));
  client.on('error', (err) => log('error', `${err.source}: ${err.error}: ${err.message}`));
  client.on('frame', (frame) => demo.received.push(frame));

  // The original design's subscriber convention: data.type picks the subscriber, which gets data.data.
  for (const type of TYPES) client.subscribe(type, (text, frame) => toast(type, text, frame));
  client.subscribe('*', (data, frame) => {
    if (data && typeof data === 'object' && TYPES.includes(data.type)) return;
    toast(data && typeof data === 'object' && typeof data.type === 'string' ? data.type : 'message', data?.data ?? data, frame);
  });
}

function leave() {
  if (!demo.client) return;
  demo.client.close();
  demo.client = undefined;
  els.leave.disabled = true;
  showState('idle');
  log('event', 'left the room');
}

els.join.addEventListener('submit', (event) => {
  event.preventDefault();
  void join(els.user.value.trim(), els.room.value.trim());
});
els.leave.addEventListener('click', leave);
els.clearLog.addEventListener('click', () => els.log.replaceChildren());
els.send.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = els.sendText.value.trim();
  if (!text || !demo.client) return;
  const data = { type: els.sendType.value, data: text };
  try {
    if (demo.client.send(data)) {
      log('out', JSON.stringify({ action: 'sendMessage', data }));
      els.sendText.value = '';
    } else {
      log('error', 'not connected: the message was not sent');
    }
  } catch (err) {
    log('error', err.message);
  }
});

// Join as soon as the page opens: as the user and room of the address (kept there on every
// join, so a reload rejoins), else a new user in room "demo".
const params = new URLSearchParams(location.search);
els.user.value = params.get('user') || `user-${Math.random().toString(36).slice(2, 6)}`;
els.room.value = params.get('room') || 'demo';
showState('idle');
void join(els.user.value, els.room.value);
