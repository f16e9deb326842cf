/**
 * Lays out a state chart: a box per state, sized and placed, and the transitions between
 * boxes as edges; src/statechart.ts draws the result as SVG.
 *
 * Layout, kept simple because the machines are small:
 * - a state is a box, its children inside it, stacked top to bottom; children that are
 *   all simple states with no transition leaving their parent sit side by side instead;
 *   an initial state gets a dot;
 * - a transition that stays in its state, or goes to a state inside it, is a line of text
 *   in its box (`client.pong`, `hub.refused → choosing`; one that does nothing at all is
 *   marked `(ignored)`);
 * - a transition to the next box in that order is a short arrow across the gap; any other
 *   goes round by a lane (to the right of a stack, below a row) of the nearest box
 *   holding both ends, the shorter hops on the inner lanes. Stacking whatever has such
 *   transitions keeps a lane's way out from crossing any box but the ones it leaves.
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
export interface Label {
  text: string;
  tip: string;
  /** A heading among the lines, not a transition. */
  caption?: boolean;
}

export interface Box {
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

export interface Edge {
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
export const LINE = 16;
export const TITLE = 22;
export const PAD = 12;
const INDENT = 28; // room for an initial-state dot
const MIN_WIDTH = 150;
export const BADGE = 40;
const LANE_GAP = 20;

/** Every box of `machine`'s chart, sized and placed, with the edges between them. */
export function layOut(machine: AnyStateMachine): { root: Box; boxes: Box[]; edges: Edge[] } {
  const root = build(machine.root, '', null);
  const boxes = flatten(root);
  const edges = collectEdges(boxes);
  for (const box of boxes) box.row = sitsInRow(box, edges);
  if (root.lines.length > 0) {
    root.lines.unshift({ text: 'in every state:', tip: "the machine's own transitions", caption: true });
  }
  measure(root, edges);
  place(root, 0, 0);
  return { root, boxes, edges };
}

export function build(node: StateNode, path: string, parent: Box | null): Box {
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

export function flatten(box: Box): Box[] {
  return [box, ...box.children.flatMap(flatten)];
}

export function transitionsOf(node: StateNode): TransitionLike[] {
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
      if (targets.length === 0) box.lines.push(isIgnored(t) ? { ...label, text: `${label.text} (ignored)` } : label);
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

/** Named only to be ignored: no target, no guard, nothing done (`ended: { on: { 'session.end': {} } }`). */
function isIgnored(t: TransitionLike): boolean {
  return t.guard === undefined && t.actions.length === 0;
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
export function holderOf(edge: Edge): { holder: Box; fromChild: Box; toChild: Box } {
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

/** The room a box keeps for its lanes, past its children. */
export function laneSpace(box: Box): number {
  const last = box.lanes.at(-1);
  if (last === undefined || last.lane === null) return 0;
  return last.lane + (box.row ? last.labels.length * LINE + 8 : widthOf(last.labels) + 12);
}
