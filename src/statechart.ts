/**
 * Draws a state machine as an SVG state chart from its definition (`machine.root`), so
 * the /inspect page always shows the machine the server runs, never a drawing that has
 * drifted from it.
 *
 * Layout, kept simple because the machines are small:
 * - a state is a box, its children inside it, stacked top to bottom; children that are
 *   all simple states with no transition leaving their parent sit side by side instead;
 *   an initial state gets a dot;
 * - a transition that stays in its state, or goes to a state inside it, is a line of text
 *   in its box (`client.pong`, `hub.refused → choosing`);
 * - a transition to the next box in that order is a short arrow across the gap; any other
 *   goes round by a lane (to the right of a stack, below a row) of the nearest box
 *   holding both ends, the shorter hops on the inner lanes. Stacking whatever has such
 *   transitions keeps a lane's way out from crossing any box but the ones it leaves.
 *
 * A final state, or a state with no way out, gets a double border (class `terminal`).
 * Each box carries a count badge (`data-count="awaitingName.claiming"`) for the page to fill.
 */
import type { AnyStateMachine } from 'xstate';

type StateNode = AnyStateMachine['root'];

interface TransitionLike {
  eventType: string;
  target?: readonly StateNode[] | undefined;
  guard?: unknown;
  reenter?: boolean;
  actions: readonly unknown[];
}

/** A line of text with what a tooltip adds (the actions). */
interface Label {
  text: string;
  tip: string;
  /** A heading among the lines, not a transition. */
  caption?: boolean;
}

interface Box {
  node: StateNode;
  /** Dotted path below the root ('' for the root itself). */
  path: string;
  lines: Label[];
  children: Box[];
  parent: Box | null;
  /** Children side by side (true) or stacked (false). */
  row: boolean;
  /** Gaps between consecutive children, and lanes for the longer transitions. */
  gaps: number[];
  lanes: Edge[];
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Edge {
  from: Box;
  to: Box;
  labels: Label[];
  /** Set for an edge that goes round by a lane: its offset from the holder's content edge. */
  lane: number | null;
  /** Where lanes leave and enter their boxes, spread so that two never share a segment. */
  startShift: number;
  endShift: number;
}

const CHAR = 7.2; // 12px monospace
const TITLE_CHAR = 8; // 13px bold sans, roughly
const LINE = 16;
const TITLE = 22;
const PAD = 12;
const INDENT = 28; // room for an initial-state dot
const MIN_WIDTH = 150;
const BADGE = 40;
const LANE_GAP = 20;

/** The SVG markup of `machine`'s state chart. */
export function renderStateChart(machine: AnyStateMachine): string {
  const root = build(machine.root, '', null);
  const boxes = flatten(root);
  const edges = collectEdges(boxes);
  for (const box of boxes) box.row = sitsInRow(box, edges);
  if (root.lines.length > 0) {
    root.lines.unshift({ text: 'in every state:', tip: "the machine's own transitions", caption: true });
  }
  measure(root, edges);
  place(root, 0, 0);
  const width = Math.ceil(root.w + 2);
  const height = Math.ceil(root.h + 2);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="statechart" viewBox="-1 -1 ${width} ${height}" role="img" aria-labelledby="statechart-title">`,
    `<title id="statechart-title">${escape(machine.root.key)} machine: states and transitions</title>`,
    '<defs><marker id="statechart-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ...boxes.map(drawBox),
    ...boxes.flatMap(drawInitial),
    ...edges.map(drawEdge),
    '</svg>',
  ].join('\n');
}

/** Every state path of `machine` below its root, in document order. */
export function statePathsOf(machine: AnyStateMachine): string[] {
  return flatten(build(machine.root, '', null))
    .slice(1)
    .map((box) => box.path);
}

function build(node: StateNode, path: string, parent: Box | null): Box {
  const box: Box = {
    node,
    path,
    lines: [],
    children: [],
    parent,
    row: false,
    gaps: [],
    lanes: [],
    x: 0,
    y: 0,
    w: 0,
    h: 0,
  };
  box.children = Object.values(node.states).map((child) =>
    build(child, path === '' ? child.key : `${path}.${child.key}`, box),
  );
  return box;
}

function flatten(box: Box): Box[] {
  return [box, ...box.children.flatMap(flatten)];
}

function transitionsOf(node: StateNode): TransitionLike[] {
  const on = [...node.transitions.values()].flat() as unknown as TransitionLike[];
  return [...on, ...((node.always ?? []) as unknown as TransitionLike[])];
}

/** Lists in-box transitions on their boxes; returns the others as edges, one per pair of boxes. */
function collectEdges(boxes: Box[]): Edge[] {
  const byNode = new Map(boxes.map((box) => [box.node, box]));
  const edges = new Map<string, Edge>();
  for (const box of boxes) {
    for (const t of transitionsOf(box.node)) {
      const label = labelOf(t, box.node);
      const targets = t.target ?? [];
      if (targets.length === 0) box.lines.push(label);
      for (const target of targets) {
        const to = byNode.get(target)!;
        if (to === box) box.lines.push({ ...label, text: `${label.text} ↺` });
        else if (isInside(to, box)) box.lines.push({ ...label, text: `${label.text} → ${to.node.key}` });
        else {
          const key = `${box.path}>${to.path}`;
          const edge = edges.get(key) ?? { from: box, to, labels: [], lane: null, startShift: 0, endShift: 0 };
          edge.labels.push(label);
          edges.set(key, edge);
        }
      }
    }
  }
  return [...edges.values()];
}

/** Side by side only for simple children whose transitions all stay within this box. */
function sitsInRow(box: Box, edges: Edge[]): boolean {
  const kids = new Set(box.children);
  if (kids.size < 2 || box.children.some((c) => c.children.length > 0)) return false;
  return edges.every((e) => kids.has(e.from) === kids.has(e.to));
}

function labelOf(t: TransitionLike, node: StateNode): Label {
  const prefix = 'xstate.after.';
  let event = t.eventType === '' ? 'always' : t.eventType;
  if (event.startsWith(prefix)) event = `after ${delayName(event.slice(prefix.length, -(node.id.length + 1)))}`;
  const guard = guardName(t.guard);
  const actions = t.actions.map(actionName).filter((name) => name !== '');
  return {
    text: guard === null ? event : `${event} [${guard}]`,
    tip: actions.length === 0 ? 'no actions' : `does: ${actions.join(', ')}`,
  };
}

function delayName(delay: string): string {
  return /^\d+$/.test(delay) ? `${delay} ms` : delay;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String(guard.type);
  return typeof guard === 'function' && guard.name !== '' ? guard.name : 'guard';
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'object' && action !== null && 'type' in action) return String(action.type);
  return typeof action === 'function' && action.name !== '' ? action.name : '';
}

function isInside(box: Box, ancestor: Box): boolean {
  for (let b = box.parent; b !== null; b = b.parent) if (b === ancestor) return true;
  return false;
}

/** The nearest box holding both ends, and the children of it on the way to each. */
function holderOf(edge: Edge): { holder: Box; fromChild: Box; toChild: Box } {
  const chain = (box: Box) => {
    const boxes: Box[] = [];
    for (let b: Box | null = box; b !== null; b = b.parent) boxes.unshift(b);
    return boxes;
  };
  const a = chain(edge.from);
  const b = chain(edge.to);
  let i = 0;
  while (a[i + 1] !== undefined && a[i + 1] === b[i + 1]) i++;
  return { holder: a[i]!, fromChild: a[i + 1] ?? a[i]!, toChild: b[i + 1] ?? b[i]! };
}

function widthOf(labels: Label[]): number {
  return Math.max(0, ...labels.map((label) => label.text.length * CHAR));
}

/** Sizes every box bottom-up, making room for the arrows between and around its children. */
function measure(box: Box, edges: Edge[]): void {
  for (const child of box.children) measure(child, edges);
  const direct = (i: number) =>
    edges.filter((e) => e.from === box.children[i] && e.to === box.children[i + 1]).flatMap((e) => e.labels);
  box.gaps = box.children
    .slice(1)
    .map((_, i) => (box.row ? Math.max(48, widthOf(direct(i)) + 24) : Math.max(36, direct(i).length * LINE + 20)));
  const order = flatten(box);
  const hop = (e: Edge) => Math.abs(order.indexOf(e.to) - order.indexOf(e.from));
  box.lanes = edges
    .filter((e) => {
      const { holder, fromChild, toChild } = holderOf(e);
      const adjacent =
        e.from === fromChild &&
        e.to === toChild &&
        box.children.indexOf(toChild) === box.children.indexOf(fromChild) + 1;
      return holder === box && !adjacent;
    })
    .sort((a, b) => hop(a) - hop(b));
  spreadEnds(box.lanes);
  let laneExtent = 0;
  for (const edge of box.lanes) {
    edge.lane = laneExtent + LANE_GAP;
    laneExtent = edge.lane + (box.row ? edge.labels.length * LINE + 8 : widthOf(edge.labels) + 12);
  }
  const header = headerHeight(box);
  const titleWidth = box.node.key.length * TITLE_CHAR + BADGE + 16;
  const ownWidth = Math.max(MIN_WIDTH, titleWidth, widthOf(box.lines));
  if (box.children.length === 0) {
    box.w = ownWidth + 2 * PAD;
    box.h = header + 2 * PAD;
    return;
  }
  const sizes = box.children.map((c) => (box.row ? c.w : c.h));
  const across = box.children.map((c) => (box.row ? c.h : c.w));
  const along = sizes.reduce((sum, s) => sum + s, 0) + box.gaps.reduce((sum, g) => sum + g, 0);
  const thick = Math.max(...across);
  if (box.row) for (const child of box.children) child.h = thick; // one height per row reads as a row
  const innerW = box.row ? along : thick + laneExtent;
  const innerH = box.row ? thick + laneExtent : along;
  box.w = Math.max(ownWidth, innerW) + INDENT + PAD;
  box.h = PAD + header + 8 + innerH + PAD;
}

/** Lanes that leave (or enter) the same box do so a few pixels apart. */
function spreadEnds(lanes: Edge[]): void {
  const spread = (end: 'from' | 'to', shift: 'startShift' | 'endShift') => {
    const groups = new Map<Box, Edge[]>();
    for (const e of lanes) groups.set(e[end], [...(groups.get(e[end]) ?? []), e]);
    for (const group of groups.values()) group.forEach((e, i) => (e[shift] = (i - (group.length - 1) / 2) * 10));
  };
  spread('from', 'startShift');
  spread('to', 'endShift');
}

function headerHeight(box: Box): number {
  return TITLE + box.lines.length * LINE;
}

function place(box: Box, x: number, y: number): void {
  box.x = x;
  box.y = y;
  let cursor = box.row ? x + INDENT : y + PAD + headerHeight(box) + 8;
  const thick = Math.max(0, ...box.children.map((c) => (box.row ? c.h : c.w)));
  box.children.forEach((child, i) => {
    if (box.row) place(child, cursor, y + PAD + headerHeight(box) + 8);
    else place(child, x + INDENT + (thick - child.w) / 2, cursor);
    cursor += (box.row ? child.w : child.h) + (box.gaps[i] ?? 0);
  });
}

// ---------------------------------------------------------------- drawing

function drawBox(box: Box): string {
  const kind = isTerminal(box) ? 'terminal' : box.children.length > 0 ? 'compound' : 'atomic';
  const cls = box.parent === null ? 'state machine' : `state ${kind}`;
  const inner =
    kind === 'terminal'
      ? `<rect class="inner" x="${box.x + 4}" y="${box.y + 4}" width="${box.w - 8}" height="${box.h - 8}" rx="7"/>`
      : '';
  const lines = box.lines.map(
    (line, i) =>
      `<text class="${line.caption === true ? 'line caption' : 'line'}" x="${box.x + PAD}" y="${box.y + PAD + TITLE + i * LINE + 10}"><title>${escape(line.tip)}</title>${escape(line.text)}</text>`,
  );
  const bx = box.x + box.w - PAD - BADGE;
  return [
    `<g class="${cls}" data-state="${escape(box.path)}">`,
    `<rect class="outline" x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="10"/>`,
    inner,
    `<text class="state-name" x="${box.x + PAD}" y="${box.y + PAD + 13}">${escape(box.parent === null ? `${box.node.key} machine` : box.node.key)}</text>`,
    `<rect class="badge" x="${bx}" y="${box.y + 8}" width="${BADGE}" height="20" rx="10"/>`,
    `<text class="count" x="${bx + BADGE / 2}" y="${box.y + 22}" text-anchor="middle" data-count="${escape(box.path)}">0</text>`,
    ...lines,
    '</g>',
  ].join('');
}

/** A final state, or one with no way out: drawn with a double border. */
function isTerminal(box: Box): boolean {
  return box.node.type === 'final' || (box.children.length === 0 && transitionsOf(box.node).length === 0);
}

function drawInitial(box: Box): string[] {
  const initial = box.node.initial?.target?.[0];
  const child = box.children.find((c) => c.node === initial);
  if (child === undefined) return [];
  const cy = child.y + 18;
  return [
    `<g class="initial"><circle cx="${child.x - 20}" cy="${cy}" r="5"/><path d="M${child.x - 15},${cy} H${child.x - 1}" marker-end="url(#statechart-arrow)"/></g>`,
  ];
}

function drawEdge(edge: Edge): string {
  const { from, to } = edge;
  const { holder } = holderOf(edge);
  let path: string;
  let labelX: number;
  let labelY: number;
  let anchor = 'start';
  if (edge.lane === null && holder.row) {
    const y = from.y + from.h / 2;
    path = `M${from.x + from.w},${y} H${to.x - 1}`;
    labelX = (from.x + from.w + to.x) / 2;
    labelY = y - 6 - (edge.labels.length - 1) * LINE;
    anchor = 'middle';
  } else if (edge.lane === null) {
    const x = from.x + from.w / 2;
    path = `M${x},${from.y + from.h} V${to.y - 1}`;
    labelX = x + 8;
    labelY = from.y + from.h + 16;
  } else if (holder.row) {
    const laneY = holder.y + holder.h - PAD - (laneSpace(holder) - edge.lane);
    const fx = from.x + from.w / 2 + edge.startShift;
    const tx = to.x + to.w / 2 + edge.endShift;
    path = `M${fx},${from.y + from.h} V${laneY} H${tx} V${to.y + to.h + 1}`;
    labelX = (fx + tx) / 2;
    labelY = laneY + 14;
    anchor = 'middle';
  } else {
    const laneX = holder.x + holder.w - PAD - (laneSpace(holder) - edge.lane);
    const fy = from.y + Math.min(from.h / 2, 40) + edge.startShift;
    const ty = to.y + to.h / 2 + edge.endShift;
    path = `M${from.x + from.w},${fy} H${laneX} V${ty} H${to.x + to.w + 1}`;
    labelX = laneX + 6;
    labelY = (fy + ty) / 2 - ((edge.labels.length - 1) * LINE) / 2;
  }
  const labels = edge.labels.map(
    (label, i) =>
      `<text class="label" x="${labelX}" y="${labelY + i * LINE}" text-anchor="${anchor}"><title>${escape(label.tip)}</title>${escape(label.text)}</text>`,
  );
  return [
    `<g class="edge" data-from="${escape(from.path)}" data-to="${escape(to.path)}">`,
    `<path d="${path}" marker-end="url(#statechart-arrow)"/>`,
    ...labels,
    '</g>',
  ].join('');
}

/** The room a box keeps for its lanes, past its children. */
function laneSpace(box: Box): number {
  const last = box.lanes.at(-1);
  if (last === undefined || last.lane === null) return 0;
  return last.lane + (box.row ? last.labels.length * LINE + 8 : widthOf(last.labels) + 12);
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
