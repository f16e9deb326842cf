/**
 * The Lua scripts that make every cluster step atomic in Redis: here a client's steps
 * (claim, release, join, say, leave), and all of them by name for the store. Keys and
 * shared helpers: lua.ts; a node's own scripts: node-scripts.ts.
 */
import { prelude, type ScriptSource } from './lua.js';
import {
  deadNodes,
  dropNode,
  hintGhosts,
  recover,
  refresh,
  snapshot,
  sweepGhosts,
  sweepWaiting,
} from './node-scripts.js';

export { keys } from './lua.js';

/**
 * Claims a name for node/conn unless anyone holds it. Refused (-1) when the node's own lease
 * is gone: a node that may have been reaped must recover before it hands out names; and when
 * the lease is not the one given: the claim was sent before the node's last recovery, which
 * did not know of it (node-scripts.ts, recover). Refused
 * (-3) while ghosts wait to be announced: their leaves must precede any new join, or a
 * roster that removes leaving names by the name as shown would drop the wrong one.
 * The name is held for session `session`, whose secret hashes to `hash`: a resume finds it so.
 * KEYS names, lease(node), owned(node), ghosts; ARGV folded, node, conn, name, lease value,
 * session, hash, prefix. Returns 1, 0, -1 or -3.
 */
const claim: ScriptSource = {
  numberOfKeys: 4,
  lua: `
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -3 end
local entry = cjson.encode({t = ARGV[2] .. '/' .. ARGV[3], u = ARGV[4], j = 0, s = ARGV[6], h = ARGV[7]})
if redis.call('HSETNX', KEYS[1], ARGV[1], entry) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('SET', ARGV[8] .. 'session:' .. ARGV[7], ARGV[1])
return 1`,
};

/**
 * Frees a claimed name that never joined (a joined one leaves through `leave`).
 * KEYS names, owned(node); ARGV folded, node, conn, prefix. Returns 1 if freed.
 */
const release: ScriptSource = {
  numberOfKeys: 2,
  lua: `${prelude}
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e or e.j == 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
forgetSession(ARGV[4], ARGV[1], e)
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1`,
};

/**
 * Appends the join of a claimed name. KEYS names, lease(node), seq, log;
 * ARGV folded, node, conn, logBounds. Returns its seq, 0 if the name is no longer this
 * client's, -1 if the node's lease is gone, -2 if it had joined already (a retry).
 */
const join: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e then return 0 end
if e.j == 1 then return -2 end
local n = append(KEYS[3], KEYS[4], ARGV[4], 'j', ARGV[2], ARGV[3], e.u, nil, nil, e.s)
e.j = 1
e.n = string.format('%d', n)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
return n`,
};

/**
 * Appends a chat message from a joined name. A `cid` the session already sent is not
 * appended again: the answer is where the first one landed, so that its author gets its
 * copy again. Checked and recorded here, in the one step, whichever node the session
 * sends from: exactly once across resumes and nodes. A session remembers its last
 * `maxCids`.
 * KEYS names, lease(node), seq, log; ARGV folded, node, conn, text, ts, logBounds, cid ('' for
 * none), prefix, maxCids. Returns its seq, "seq/ts" of the first send of a cid seen
 * before, 0 if the author no longer holds the name, -1 if the node's lease is gone.
 */
const say: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e or e.j ~= 1 then return 0 end
local cid = ARGV[7]
if cid == '' or not e.s then
  return append(KEYS[3], KEYS[4], ARGV[6], 'm', ARGV[2], ARGV[3], e.u, ARGV[4], ARGV[5], e.s)
end
local cids, order = ARGV[8] .. 'cids:' .. e.s, ARGV[8] .. 'cidseq:' .. e.s
local known = redis.call('HGET', cids, cid)
if known then return known end
local n = append(KEYS[3], KEYS[4], ARGV[6], 'm', ARGV[2], ARGV[3], e.u, ARGV[4], ARGV[5], e.s, cid)
redis.call('HSET', cids, cid, string.format('%d', n) .. '/' .. ARGV[5])
redis.call('ZADD', order, n, cid)
if redis.call('ZCARD', order) > tonumber(ARGV[9]) then
  local oldest = redis.call('ZRANGE', order, 0, 0)[1]
  redis.call('ZREMRANGEBYRANK', order, 0, 0)
  redis.call('HDEL', cids, oldest)
end
return n`,
};

/**
 * A resume: the session whose secret hashes to `hash` moves to node/conn, from whichever
 * connection held it (open, lost, or on a node that is gone), and stops waiting. The move
 * is logged (kind r) so that the node it left closes its connection there and lets it go.
 * Refused (-1) when the node's lease is gone, as claims are.
 * KEYS names, lease(node), owned(node), seq, log; ARGV prefix, hash, node, conn, logBounds, lease value.
 * Returns {1, session, name, old node, old conn, join seq or '', last seq}, {0} for no such
 * session, or {-1}.
 */
const transfer: ScriptSource = {
  numberOfKeys: 5,
  lua: `${prelude}
if redis.call('GET', KEYS[2]) ~= ARGV[6] then return {-1} end
local folded = redis.call('GET', ARGV[1] .. 'session:' .. ARGV[2])
if not folded then return {0} end
local entry = redis.call('HGET', KEYS[1], folded)
if not entry then return {0} end
local e = cjson.decode(entry)
if e.h ~= ARGV[2] then return {0} end
local previous = e.t
local oldNode, oldConn = string.match(previous, '^([^/]*)/(.*)$')
local oldOwned = ARGV[1] .. 'node:' .. oldNode
if redis.call('HGET', oldOwned, folded) == oldConn then redis.call('HDEL', oldOwned, folded) end
e.t = ARGV[3] .. '/' .. ARGV[4]
e.d = nil
redis.call('HSET', KEYS[1], folded, cjson.encode(e))
redis.call('HSET', KEYS[3], folded, ARGV[4])
redis.call('ZREM', ARGV[1] .. 'waiting', folded)
local joinSeq = ''
if e.j == 1 then
  joinSeq = e.n or ''
  append(KEYS[4], KEYS[5], ARGV[5], 'r', ARGV[3], ARGV[4], e.u, nil, nil, e.s, nil, previous)
end
return {1, e.s or '', e.u, oldNode, oldConn, joinSeq, redis.call('GET', KEYS[4]) or '0'}`,
};

/**
 * The session of node/conn lost its connection: it waits `windowMs` for a resume, and if
 * none comes, any node announces its leave (node-scripts.ts, sweepWaiting) — also when
 * this node is gone by then.
 * KEYS names, waiting; ARGV folded, node, conn, windowMs. Returns 1, or 0 if not held.
 */
const detach: ScriptSource = {
  numberOfKeys: 2,
  lua: `${prelude}
local e = heldBy(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not e then return 0 end
e.d = nowMs() + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('ZADD', KEYS[2], e.d, ARGV[1])
return 1`,
};

/**
 * A client left: frees its name and announces the leave, exactly once.
 * KEYS names, seq, log; ARGV prefix, folded, node, conn, logBounds, goneTtl. Returns the seq or 0.
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
  transfer,
  detach,
  leave,
  sweepWaiting,
  refresh,
  recover,
  hintGhosts,
  snapshot,
  deadNodes,
  dropNode,
  sweepGhosts,
} as const;

export type ScriptName = keyof typeof scripts;
