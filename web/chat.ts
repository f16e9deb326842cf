/**
 * The chat page: choose a name, then chat. It is built on the client library
 * (client/index.ts, bundled in by tools/bundle.ts), which reconnects, resumes the session,
 * shows each event once and in order, and sends each message exactly once; this page only
 * draws what it reports.
 *
 * The client starts when a name is submitted, not when the page loads: the server closes a
 * connection that has no name after REGISTER_TIMEOUT_MS, and people take their time to
 * choose. A refused name ends that client; the next try starts another.
 *
 * A message sent shows at once as pending, below everything confirmed; when the server's
 * copy comes back (the library's `message` event, `own`), the copy takes its place in the
 * chat's order and the pending bubble goes, so nothing shows twice.
 */
import { connect, type ChatClient, type ChatError, type ChatMessage, type StateChange } from '../client/index.js';
import { byId, clockTime, element } from './dom.js';
import { closeText, errorText, reconnectingText, sendFailedText } from './wording.js';

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
const sendButton = byId<HTMLButtonElement>('send');
const composerHint = byId('composer-hint');
const notice = byId('chat-error');
const noticeText = byId('chat-error-text');
const rejoinButton = byId<HTMLButtonElement>('rejoin');

let chat: ChatClient | null = null;
/** The name the server welcomed; null until the first welcome, and again on the join screen. */
let me: string | null = null;
let asked = '';
let noticeTimer: number | undefined;
/** The server's last error code since the page was last online: it may say why the connection went. */
let lastError: string | null = null;
/** The cids of own messages drawn from the `message` event whose send promise has not settled yet. */
const drawnCids = new Set<string>();

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (name === '') return showJoinError('Enter a name first.');
  asked = name;
  setJoining(true);
  joinError.hidden = true;
  stopClient();
  chat = start(name);
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
  // Offline too: the library keeps the message and sends it once the session is back.
  if (chat === null || chat.state === 'closed') return;
  const pending = addPending(text);
  chat.send(text).then(
    (copy) => confirmed(pending, copy),
    (error: ChatError) => failed(pending, error),
  );
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

/** A client for `name`, its events drawn on the page while it is the page's client. */
function start(name: string): ChatClient {
  const client = connect(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, name);
  const mine =
    <E>(draw: (event: E) => void) =>
    (event: E) => {
      if (client === chat) draw(event);
    };
  client.on(
    'welcome',
    mine(({ name: welcomed, resumed }) => {
      if (me === null) {
        me = welcomed;
        showRoom();
        addEvent('join', `You joined as ${welcomed}`);
      } else if (!resumed) addEvent('join', `You joined again as ${welcomed}`);
    }),
  );
  client.on(
    'state',
    mine((change) => stateChanged(client, change)),
  );
  client.on(
    'error',
    mine((error) => {
      // Why an attempt failed, for the reconnecting notice; a refused send says nothing of the connection.
      if (client.state === 'registering') lastError = error.code;
      // A lost session is told by its gap, in the conversation where it happened.
      if (error.code === 'session_expired' || error.code === 'name_lost') return;
      const friendly = errorText(error.code, error.message, asked);
      if (me === null) showJoinError(friendly);
      else showNotice(friendly, false);
    }),
  );
  client.on('message', mine(addMessage));
  client.on(
    'join',
    mine(({ name: who }) => {
      addEvent('join', `${who} joined`);
      renderUsers();
    }),
  );
  client.on(
    'leave',
    mine(({ name: who }) => {
      addEvent('leave', `${who} left`);
      renderUsers();
    }),
  );
  client.on(
    'gap',
    mine(() => addEvent('gap', 'You may have missed messages while you were away.')),
  );
  return client;
}

function stateChanged(client: ChatClient, { state, previous, error, closeCode }: StateChange): void {
  if (me === null) {
    // Not welcomed yet. A refused name has shown its error already; a server out of reach has not.
    if (state === 'reconnecting') {
      stopClient();
      showJoinError('Can’t reach the chat server. Is it running?');
    }
    if (state === 'closed') {
      chat = null;
      setJoining(false);
    }
    return;
  }
  switch (state) {
    case 'online':
      lastError = null;
      setStatus('live', 'online');
      if (rejoinButton.hidden) notice.hidden = true;
      renderUsers();
      return;
    case 'reconnecting':
      setStatus('waiting', 'reconnecting…');
      // The first loss says why; a failed retry after it (1006, the server still away) does not.
      if (previous === 'online' || lastError !== null) showNotice(reconnectingText(closeCode, lastError), 'stays');
      // Offline, we no longer hear who comes and goes: a list kept on screen would go stale.
      renderUsers();
      return;
    case 'closed':
      setStatus('down', 'offline');
      showNotice(`${closedText(error)} You are no longer in the chat.`, 'rejoin');
      renderUsers();
      composerHint.hidden = true;
      textInput.disabled = true;
      sendButton.disabled = true;
      return;
    default:
      return; // connecting and registering: still on the way back, as the status says
  }
}

/** Ends the page's client, if any; it is no longer the page's first, so its last events draw nothing. */
function stopClient(): void {
  const stopping = chat;
  chat = null;
  stopping?.close();
}

/** Why the client stopped, in words (a stop the page asked for draws nothing, see stopClient). */
function closedText(error: ChatError | undefined): string {
  if (error === undefined) return 'The chat was closed.';
  if (error.code === 'rejected') return closeText(error.closeCode ?? 0, error.closeReason ?? '');
  if (error.code === 'taken_over') return closeText(4002, '');
  return errorText(error.code, error.message, asked);
}

// ---------------------------------------------------------------- views

function showJoin(name: string): void {
  stopClient();
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
  sendButton.disabled = false;
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

/**
 * A notice above the composer: an error fades after a while; a lost connection stays until
 * it is back; a client that stopped stays, with a button to join again.
 */
function showNotice(text: string, kind: false | 'stays' | 'rejoin'): void {
  noticeText.textContent = text;
  rejoinButton.hidden = kind !== 'rejoin';
  notice.hidden = false;
  window.clearTimeout(noticeTimer);
  if (kind === false) noticeTimer = window.setTimeout(() => (notice.hidden = true), NOTICE_MS);
}

/** Who is online as the library knows it; nobody while not online, as that list would go stale. */
function renderUsers(): void {
  const users = chat?.state === 'online' ? chat.users : [];
  onlineCount.textContent = String(users.length);
  onlineList.replaceChildren(
    ...users.map((name) => {
      const item = element('li', name === me ? 'self' : '');
      item.append(avatar(name), fullNameOnHover(element('span', 'name', name === me ? `${name} (you)` : name), name));
      return item;
    }),
  );
}

/** A message the server has ordered, anybody's: in its place, above the messages still pending. */
function addMessage(message: ChatMessage): void {
  if (message.cid !== undefined) drawnCids.add(message.cid);
  append(bubble(message.sender, message.text, message.own, clockTime(message.ts)), message.own);
}

/** A message of ours on its way: at the bottom, marked pending until its copy comes. */
function addPending(text: string): HTMLElement {
  const item = bubble(me ?? '', text, true, 'sending…');
  item.classList.add('pending');
  messages.append(item);
  trim();
  messages.scrollTop = messages.scrollHeight;
  return item;
}

/** The server's copy has come: it was drawn in its place by the `message` event, so the pending one goes. */
function confirmed(pending: HTMLElement, copy: ChatMessage): void {
  if (copy.cid === undefined || !drawnCids.delete(copy.cid)) addMessage(copy); // not drawn: an old copy
  pending.remove();
}

/** Not sent (or not known to be): the bubble says so and stays, the notice says why. */
function failed(pending: HTMLElement, error: ChatError): void {
  pending.classList.replace('pending', 'failed');
  const label = pending.querySelector('time');
  if (label !== null) label.textContent = error.code === 'outcome_unknown' ? 'maybe not sent' : 'not sent';
  // `closed`: the client stopped, and its notice says so already.
  if (error.code !== 'closed') showNotice(sendFailedText(error.code, error.message), false);
}

function bubble(sender: string, text: string, own: boolean, when: string): HTMLElement {
  const item = element('li', own ? 'message own' : 'message');
  const body = element('div', 'bubble');
  const meta = element('div', 'meta');
  meta.append(fullNameOnHover(element('span', 'sender', sender), sender), element('time', '', when));
  body.append(meta, element('p', 'text', text));
  item.append(avatar(sender), body);
  return item;
}

function addEvent(kind: 'join' | 'leave' | 'gap', text: string): void {
  append(element('li', `event pill ${kind}`, text), false);
}

/** Adds what the server ordered after everything before it, and before what is still pending. */
function append(item: HTMLElement, own: boolean): void {
  const nearBottom = isNearBottom();
  messages.insertBefore(item, messages.querySelector(':scope > .pending'));
  trim();
  if (nearBottom || own) messages.scrollTop = messages.scrollHeight;
}

function isNearBottom(): boolean {
  return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
}

function trim(): void {
  while (messages.children.length > MAX_SHOWN) messages.firstElementChild?.remove();
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
