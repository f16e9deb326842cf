/**
 * The Lua scripts that make every cluster step atomic in Redis: here a client's steps
 * (claim, release, join, say, leave), and all of them by name for the store. Keys and
 * shared helpers: lua.ts; a node's own scripts: node-scripts.ts.
 */
import { prelude, type ScriptSource } from './lua.js';
import { deadNodes, dropNode, hintGhosts, recover, refresh, snapshot, sweepGhosts } from './node-scripts.js';

export { keys } from './lua.js';

/**
 * Claims a name for node/conn unless anyone holds it. Refused (-1) when the node's own lease
 * is gone: a node that may have been reaped must recover before it hands out names; and when
 * the lease is not the one given: the claim was sent before the node's last recovery, which
 * did not know of it (node-scripts.ts, recover). Refused
 * (-3) while ghosts wait to be announced: their leaves must precede any new join, or a
 * roster that removes leaving names by the name as shown would drop the wrong one.
 * KEYS names, lease(node), owned(node), ghosts; ARGV folded, node, conn, name, lease value.
 * Returns 1, 0, -1 or -3.
 */
const claim: ScriptSource = {
  numberOfKeys: 4,
  lua: `
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -3 end
local entry = cjson.encode({t = ARGV[2] .. '/' .. ARGV[3], u = ARGV[4], j = 0})
if redis.call('HSETNX', KEYS[1], ARGV[1], entry) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1`,
};

/**
 * Frees a claimed name that never joined (a joined one leaves through `leave`).
 * KEYS names, owned(node); ARGV folded, node, conn. Returns 1 if freed.
 */
const release: ScriptSource = {
  numberOfKeys: 2,
  lua: `${prelude}
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e or e.j == 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1`,
};

/**
 * Appends the join of a claimed name. KEYS names, lease(node), seq, log;
 * ARGV folded, node, conn, maxLen. Returns its seq, 0 if the name is no longer this
 * client's, -1 if the node's lease is gone, -2 if it had joined already (a retry).
 */
const join: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e then return 0 end
if e.j == 1 then return -2 end
local n = append(KEYS[3], KEYS[4], ARGV[4], 'j', ARGV[2], ARGV[3], e.u)
e.j = 1
e.n = string.format('%d', n)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
return n`,
};

/**
 * Appends a chat message from a joined name. KEYS names, lease(node), seq, log;
 * ARGV folded, node, conn, text, ts, maxLen. Returns its seq, 0 if the author no longer
 * holds the name, -1 if the node's lease is gone.
 */
const say: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e or e.j ~= 1 then return 0 end
return append(KEYS[3], KEYS[4], ARGV[6], 'm', ARGV[2], ARGV[3], e.u, ARGV[4], ARGV[5])`,
};

/**
 * A client left: frees its name and announces the leave, exactly once.
 * KEYS names, seq, log; ARGV prefix, folded, node, conn, maxLen, goneTtl. Returns the seq or 0.
 */
const leave: ScriptSource = {
  numberOfKeys: 3,
  lua: `${prelude}
return drop(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[6], ARGV[1], ARGV[2], ARGV[3], ARGV[4])`,
};

export const scripts = {
  claim,
  release,
  join,
  say,
  leave,
  refresh,
  recover,
  hintGhosts,
  snapshot,
  deadNodes,
  dropNode,
  sweepGhosts,
} as const;

export type ScriptName = keyof typeof scripts;
