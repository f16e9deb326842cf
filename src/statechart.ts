/**
 * Draws a state machine as an SVG state chart from its definition (`machine.root`), so
 * the /inspect page always shows the machine the server runs, never a drawing that has
 * drifted from it.
 *
 * The boxes and edges come from src/statechart-layout.ts; this file turns them into SVG.
 *
 * A final state, or a state with no way out, gets a double border (class `terminal`).
 * Each box carries a count badge (`data-count="awaitingName.claiming"`) for the page to fill,
 * and the chart names its machine (`data-machine="connection"`), so that one page can show
 * several charts and fill each from its own counts. Its ids are prefixed with that name too.
 */
import type { AnyStateMachine } from 'xstate';
import {
  BADGE,
  build,
  flatten,
  holderOf,
  laneSpace,
  layOut,
  LINE,
  PAD,
  TITLE,
  transitionsOf,
  type Box,
  type Edge,
} from './statechart-layout.js';

/** The SVG markup of `machine`'s state chart. */
export function renderStateChart(machine: AnyStateMachine): string {
  const { root, boxes, edges } = layOut(machine);
  const width = Math.ceil(root.w + 2);
  const height = Math.ceil(root.h + 2);
  const name = machine.root.key;
  const prefix = idPrefixOf(machine);
  const arrow = `url(#${prefix}-arrow)`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="statechart" data-machine="${escape(name)}" viewBox="-1 -1 ${width} ${height}" role="img" aria-labelledby="${prefix}-title">`,
    `<title id="${prefix}-title">${escape(name)} machine: states and transitions</title>`,
    `<defs><marker id="${prefix}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>`,
    ...boxes.map(drawBox),
    ...boxes.flatMap((box) => drawInitial(box, arrow)),
    ...edges.map((edge) => drawEdge(edge, arrow)),
    '</svg>',
  ].join('\n');
}

/** The prefix of a chart's ids: ids are page-wide, and a page may hold one chart per machine. */
function idPrefixOf(machine: AnyStateMachine): string {
  return `statechart-${machine.root.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Every state path of `machine` below its root, in document order. */
export function statePathsOf(machine: AnyStateMachine): string[] {
  return flatten(build(machine.root, '', null))
    .slice(1)
    .map((box) => box.path);
}

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

/**
 * A final state, or a simple one with no way out: drawn with a double border. A way out is
 * a transition of the state or of any state around it that leads elsewhere; one that stays
 * (the session's `ended` names events only to ignore them) is none.
 */
function isTerminal(box: Box): boolean {
  if (box.node.type === 'final') return true;
  if (box.children.length > 0) return false;
  for (let around: Box | null = box; around !== null; around = around.parent) {
    for (const t of transitionsOf(around.node)) {
      if ((t.target ?? []).some((target) => target !== box.node)) return false;
    }
  }
  return true;
}

function drawInitial(box: Box, arrow: string): string[] {
  const initial = box.node.initial?.target?.[0];
  const child = box.children.find((c) => c.node === initial);
  if (child === undefined) return [];
  const cy = child.y + 18;
  return [
    `<g class="initial"><circle cx="${child.x - 20}" cy="${cy}" r="5"/><path d="M${child.x - 15},${cy} H${child.x - 1}" marker-end="${arrow}"/></g>`,
  ];
}

function drawEdge(edge: Edge, arrow: string): string {
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
    `<path d="${path}" marker-end="${arrow}"/>`,
    ...labels,
    '</g>',
  ].join('');
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
