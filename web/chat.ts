/**
 * The chat page: choose a name, then chat. It speaks the protocol in PROTOCOL.md over
 * ws(s)://<this host>/ws and nothing else.
 *
 * The socket opens when a name is submitted, not when the page loads: the server closes a
 * connection that has no name after REGISTER_TIMEOUT_MS, and people take their time to
 * choose. A refused name keeps the socket, so the next try is immediate.
 */
import { byId, clockTime, element } from './dom.js';
import { closeText, errorText } from './wording.js';

/** Server frames as PROTOCOL.md describes them (what this page reads of them). */
type ServerFrame =
  | { type: 'welcome'; name: string; users: string[]; text: string }
  | { type: 'join' | 'leave'; name: string; text: string }
  | { type: 'message'; sender?: string; text: string; id: string; ts: number }
  | { type: 'error'; code: string; text: string };

const MAX_SHOWN = 500;
const NOTICE_MS = 5_000;

const joinView = byId('join-view');
const roomView = byId('room-view');
const joinForm = byId<HTMLFormElement>('join-form');
const nameInput = byId<HTMLInputElement>('name');
const joinButton = byId<HTMLButtonElement>('join-button');
const joinError = byId('join-error');
const meLabel = byId('me');
const status = byId('status');
const onlineList = byId('online-list');
const onlineCount = byId('online-count');
const messages = byId('messages');
const composer = byId<HTMLFormElement>('composer');
const textInput = byId<HTMLTextAreaElement>('text');
const composerHint = byId('composer-hint');
const notice = byId('chat-error');
const noticeText = byId('chat-error-text');
const rejoinButton = byId<HTMLButtonElement>('rejoin');

let socket: WebSocket | null = null;
let me: string | null = null;
let asked = '';
let users: string[] = [];
let noticeTimer: number | undefined;

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (name === '') return showJoinError('Enter a name first.');
  asked = name;
  setJoining(true);
  joinError.hidden = true;
  open()
    .then((ws) => ws.send(JSON.stringify({ sender: name, text: '' })))
    .catch(() => showJoinError('Can’t reach the chat server. Is it running?'));
});

/** What the server counts as content (PROTOCOL.md §2): a text without it would only earn invalid_message. */
const HAS_CONTENT = /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/u;

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value;
  if (!HAS_CONTENT.test(text)) {
    // Saying so beats a button that seems not to work; the hint goes once they type.
    composerHint.hidden = false;
    return;
  }
  if (socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ text }));
  textInput.value = '';
  fitComposer();
});

textInput.addEventListener('keydown', (event) => {
  // Enter sends, Shift+Enter starts a new line; never in the middle of an IME composition.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});
textInput.addEventListener('input', () => {
  composerHint.hidden = true;
  fitComposer();
});
rejoinButton.addEventListener('click', () => showJoin(me ?? asked));

/** The open socket, opening one if needed. */
function open(): Promise<WebSocket> {
  if (socket?.readyState === WebSocket.OPEN) return Promise.resolve(socket);
  socket?.close();
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket = ws;
  ws.addEventListener('message', (event) => receive(ws, event));
  ws.addEventListener('close', (event) => closed(ws, event));
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('close', () => reject(new Error('closed')), { once: true });
  });
}

function receive(ws: WebSocket, event: MessageEvent): void {
  if (ws !== socket || typeof event.data !== 'string') return;
  const frame = JSON.parse(event.data) as ServerFrame;
  switch (frame.type) {
    case 'welcome':
      me = frame.name;
      users = [...frame.users];
      showRoom();
      addEvent('join', `You joined as ${frame.name}`);
      return;
    case 'join':
      if (!users.includes(frame.name)) users.push(frame.name);
      renderUsers();
      addEvent('join', `${frame.name} joined`);
      return;
    case 'leave':
      users = users.filter((name) => name !== frame.name);
      renderUsers();
      addEvent('leave', `${frame.name} left`);
      return;
    case 'message':
      addMessage(frame);
      return;
    case 'error': {
      const friendly = errorText(frame.code, frame.text, asked);
      if (me === null) showJoinError(friendly);
      else showNotice(friendly, false);
      return;
    }
  }
}

function closed(ws: WebSocket, event: CloseEvent): void {
  if (ws !== socket) return;
  socket = null;
  const detail = closeText(event);
  if (me === null) {
    // Unnamed sockets are closed after a while; that only matters if we were waiting on one.
    if (joinButton.disabled) showJoinError(detail);
    return;
  }
  setStatus('down', 'offline');
  showNotice(`${detail} You are no longer in the chat.`, true);
  // Offline, we no longer hear who comes and goes: a list kept on screen would go stale.
  users = [];
  renderUsers();
  composerHint.hidden = true;
  textInput.disabled = true;
  byId<HTMLButtonElement>('send').disabled = true;
}

// ---------------------------------------------------------------- views

function showJoin(name: string): void {
  me = null;
  roomView.hidden = true;
  joinView.hidden = false;
  meLabel.hidden = true;
  status.hidden = true;
  notice.hidden = true;
  setJoining(false);
  nameInput.value = name;
  nameInput.focus();
}

/** While a name is being asked for, the button says so and cannot be pressed again. */
function setJoining(joining: boolean): void {
  joinButton.disabled = joining;
  joinButton.textContent = joining ? 'Joining…' : 'Join';
}

function showJoinError(text: string): void {
  joinError.textContent = text;
  joinError.hidden = false;
  setJoining(false);
  nameInput.focus();
  nameInput.select();
}

function showRoom(): void {
  joinView.hidden = true;
  roomView.hidden = false;
  meLabel.textContent = me;
  meLabel.title = me ?? '';
  meLabel.hidden = false;
  notice.hidden = true;
  composerHint.hidden = true;
  textInput.disabled = false;
  byId<HTMLButtonElement>('send').disabled = false;
  messages.replaceChildren();
  setStatus('live', 'online');
  renderUsers();
  textInput.focus();
}

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
  status.hidden = false;
}

/** A notice above the composer; an error fades after a while, a disconnection stays. */
function showNotice(text: string, sticky: boolean): void {
  noticeText.textContent = text;
  rejoinButton.hidden = !sticky;
  notice.hidden = false;
  window.clearTimeout(noticeTimer);
  if (!sticky) noticeTimer = window.setTimeout(() => (notice.hidden = true), NOTICE_MS);
}

function renderUsers(): void {
  onlineCount.textContent = String(users.length);
  onlineList.replaceChildren(
    ...users.map((name) => {
      const item = element('li', name === me ? 'self' : '');
      item.append(avatar(name), fullNameOnHover(element('span', 'name', name === me ? `${name} (you)` : name), name));
      return item;
    }),
  );
}

function addMessage(frame: Extract<ServerFrame, { type: 'message' }>): void {
  // Our own copy comes back without `sender` (or with our name under ECHO=named).
  const own = frame.sender === undefined || frame.sender === me;
  const sender = frame.sender ?? me ?? '';
  const item = element('li', own ? 'message own' : 'message');
  const bubble = element('div', 'bubble');
  const meta = element('div', 'meta');
  meta.append(fullNameOnHover(element('span', 'sender', sender), sender), element('time', '', clockTime(frame.ts)));
  bubble.append(meta, element('p', 'text', frame.text));
  item.append(avatar(sender), bubble);
  append(item, own);
}

function addEvent(kind: 'join' | 'leave', text: string): void {
  append(element('li', `event pill ${kind}`, text), false);
}

function append(item: HTMLElement, own: boolean): void {
  const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  messages.append(item);
  while (messages.children.length > MAX_SHOWN) messages.firstElementChild?.remove();
  if (nearBottom || own) messages.scrollTop = messages.scrollHeight;
}

/** A name the layout may cut short with an ellipsis (chat.css) shows whole when hovered. */
function fullNameOnHover(label: HTMLElement, name: string): HTMLElement {
  label.title = name;
  return label;
}

function avatar(name: string): HTMLElement {
  const badge = element('span', 'avatar', [...name][0] ?? '?');
  badge.setAttribute('aria-hidden', 'true');
  badge.style.background = `hsl(${hueOf(name)} 52% 50%)`;
  return badge;
}

/** A stable colour per name. */
function hueOf(name: string): number {
  let hash = 0;
  for (const char of name.toLowerCase()) hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  return hash % 360;
}

function fitComposer(): void {
  textInput.style.height = 'auto';
  textInput.style.height = `${textInput.scrollHeight + 2}px`;
}
