/**
 * The Lua scripts that make every cluster step atomic in Redis, and the keys they use.
 *
 *   chat:epoch        hash {id, at}: a fresh id whenever Redis starts empty (its data was lost)
 *   chat:seq          the last sequence number handed out; also the log's stream ids
 *   chat:log          the stream of joins, messages and leaves: the one total order
 *   chat:names        hash folded name -> {t: "node/conn", u: name as shown, j: joined?, n: join seq}
 *   chat:nodes        set of node ids that may hold names
 *   chat:lease:NODE   NODE is alive while this key is (PX LEASE_MS, refreshed well inside it)
 *   chat:node:NODE    hash folded name -> conn: the names NODE holds, for reaping
 *   chat:gone:TOKEN   "this client's leave was announced": the exactly-once guard for leaves
 *
 * Every announced leave goes through `drop`, which removes the name and appends the leave
 * in one step, and only when the name still belongs to that client: however many nodes
 * try (the owner, several reapers), one leave is written per name, and it always precedes
 * the next join of that name in the log.
 */

export const keys = {
  prefix: 'chat:',
  epoch: 'chat:epoch',
  seq: 'chat:seq',
  log: 'chat:log',
  names: 'chat:names',
  nodes: 'chat:nodes',
  lease: (node: string) => `chat:lease:${node}`,
  owned: (node: string) => `chat:node:${node}`,
} as const;

/** Helpers every script that writes to the log starts with. */
const prelude = `
-- Appends one event under the next sequence number, which is its stream id too, so ids
-- grow with the log. A counter that Redis lost restarts from the time in microseconds,
-- above every id handed out before (string.format keeps all digits; tostring would not).
local function append(seqKey, logKey, maxLen, kind, node, conn, name, text, ts)
  local n = redis.call('INCR', seqKey)
  if n == 1 then
    local t = redis.call('TIME')
    n = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', seqKey, string.format('%d', n))
  end
  local id = string.format('%d-0', n)
  if kind == 'm' then
    redis.call('XADD', logKey, 'MAXLEN', '~', maxLen, id, 'k', kind, 'o', node, 'c', conn, 'u', name, 'x', text, 't', ts)
  else
    redis.call('XADD', logKey, 'MAXLEN', '~', maxLen, id, 'k', kind, 'o', node, 'c', conn, 'u', name)
  end
  return n
end

-- The entry of a name if node/conn holds it, else nil.
local function heldBy(namesKey, folded, node, conn)
  local entry = redis.call('HGET', namesKey, folded)
  if not entry then return nil end
  local e = cjson.decode(entry)
  if e.t ~= node .. '/' .. conn then return nil end
  return e
end

-- Frees the name if node/conn still holds it; if it had joined, appends its leave (once).
local function drop(namesKey, seqKey, logKey, maxLen, goneTtl, prefix, folded, node, conn)
  local owned = prefix .. 'node:' .. node
  if redis.call('HGET', owned, folded) == conn then redis.call('HDEL', owned, folded) end
  local e = heldBy(namesKey, folded, node, conn)
  if not e then return 0 end
  redis.call('HDEL', namesKey, folded)
  if e.j ~= 1 then return 0 end
  redis.call('SET', prefix .. 'gone:' .. e.t, '1', 'PX', goneTtl)
  return append(seqKey, logKey, maxLen, 'l', node, conn, e.u)
end
`;

export interface ScriptSource {
  numberOfKeys: number;
  lua: string;
}

/**
 * Claims a name for node/conn unless anyone holds it. Refused (-1) when the node's own lease
 * is gone: a node that may have been reaped must recover before it hands out names.
 * KEYS names, lease(node), owned(node); ARGV folded, node, conn, name. Returns 1, 0 or -1.
 */
const claim: ScriptSource = {
  numberOfKeys: 3,
  lua: `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
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

/**
 * Keeps the node's lease alive. KEYS lease(node), epoch; ARGV epoch id, leaseMs.
 * Returns 0 when the lease expired or Redis lost its data: the node must recover.
 */
const refresh: ScriptSource = {
  numberOfKeys: 2,
  lua: `
if redis.call('HGET', KEYS[2], 'id') ~= ARGV[1] then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX') then return 0 end
return 1`,
};

/**
 * Brings a node (back) into the cluster: takes a new lease, drops the names Redis still
 * gives it but it no longer holds (announcing those that joined), and re-asserts the names
 * it holds. A name held by another client stays theirs. A name nobody holds is taken back
 * only if Redis lost its data (a new epoch): otherwise a reaper freed it and announced its
 * leave, and the client must go.
 * KEYS epoch, lease(node), nodes, names, owned(node), seq, log;
 * ARGV node, known epoch ('' at start), new epoch id, leaseMs, maxLen, goneTtl, prefix,
 * then per held name: folded, conn, name, join seq ('' if not joined).
 * Returns {epoch id, epoch start ms (0: no grace), Redis time ms, {1 kept | 0 lost, ...}}.
 */
const recover: ScriptSource = {
  numberOfKeys: 7,
  lua: `${prelude}
local node, known = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'id')
if not epoch then
  -- Only a node that knew an older epoch can tell data was lost; a first start needs no grace.
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'id', epoch, 'at', known == '' and '0' or string.format('%d', now))
elseif known ~= '' and epoch ~= known and redis.call('HGET', KEYS[1], 'at') == '0' then
  redis.call('HSET', KEYS[1], 'at', string.format('%d', now))
end
local reborn = known ~= '' and epoch ~= known
redis.call('SET', KEYS[2], epoch, 'PX', ARGV[4])
redis.call('SADD', KEYS[3], node)
local held = {}
for i = 8, #ARGV, 4 do held[ARGV[i]] = ARGV[i + 1] end
local owned = redis.call('HGETALL', KEYS[5])
for i = 1, #owned, 2 do
  if held[owned[i]] ~= owned[i + 1] then
    drop(KEYS[4], KEYS[6], KEYS[7], ARGV[5], ARGV[6], ARGV[7], owned[i], node, owned[i + 1])
  end
end
local kept = {}
for i = 8, #ARGV, 4 do
  local folded, conn = ARGV[i], ARGV[i + 1]
  local mine = 0
  if heldBy(KEYS[4], folded, node, conn) then
    mine = 1
  elseif reborn and redis.call('HEXISTS', KEYS[4], folded) == 0 then
    local e = {t = node .. '/' .. conn, u = ARGV[i + 2], j = 0}
    if ARGV[i + 3] ~= '' then e.j = 1; e.n = ARGV[i + 3] end
    redis.call('HSET', KEYS[4], folded, cjson.encode(e))
    mine = 1
  end
  if mine == 1 then redis.call('HSET', KEYS[5], folded, conn) end
  kept[#kept + 1] = mine
end
return {epoch, redis.call('HGET', KEYS[1], 'at'), string.format('%d', now), kept}`,
};

/** The roster and the log position it is valid at. KEYS names, seq. Returns {seq, [folded, entry]...}. */
const snapshot: ScriptSource = {
  numberOfKeys: 2,
  lua: `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}`,
};

/** Nodes whose lease has expired. KEYS nodes; ARGV prefix, asking node. */
const deadNodes: ScriptSource = {
  numberOfKeys: 1,
  lua: `
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if node ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'lease:' .. node) == 0 then dead[#dead + 1] = node end
end
return dead`,
};

/**
 * Drops up to `batch` names of a node, announcing each joined one's leave; forgets the node
 * once it holds none. With mustBeDead '1' (reaping) it does nothing to a node whose lease is
 * back; with '0' (a node retiring itself) it ends the lease first.
 * KEYS nodes, names, seq, log; ARGV prefix, node, maxLen, goneTtl, batch, mustBeDead.
 * Returns {names dropped, leaves announced, 1 when the node is gone}, or -1 if it is alive.
 */
const dropNode: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
local prefix, node = ARGV[1], ARGV[2]
local lease = prefix .. 'lease:' .. node
if ARGV[6] == '1' then
  if redis.call('EXISTS', lease) == 1 then return -1 end
else
  redis.call('DEL', lease)
end
local owned = prefix .. 'node:' .. node
local batch = tonumber(ARGV[5])
local dropped, leaves, cursor = 0, 0, '0'
repeat
  local scan = redis.call('HSCAN', owned, cursor, 'COUNT', batch)
  cursor = scan[1]
  local fields = scan[2]
  for i = 1, #fields, 2 do
    if drop(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4], prefix, fields[i], node, fields[i + 1]) > 0 then leaves = leaves + 1 end
    redis.call('HDEL', owned, fields[i])
    dropped = dropped + 1
  end
until cursor == '0' or dropped >= batch
local gone = 0
if redis.call('HLEN', owned) == 0 then
  redis.call('SREM', KEYS[1], node)
  gone = 1
end
return {dropped, leaves, gone}`,
};

/**
 * After Redis lost its data and every live node had a lease time to re-assert its names:
 * a name the roster still shows but nobody re-asserted belonged to a node that died
 * meanwhile. Announces its leave once (the gone marker), unless someone holds the name.
 * KEYS names, seq, log; ARGV prefix, folded, node, conn, name, maxLen, goneTtl.
 */
const ghost: ScriptSource = {
  numberOfKeys: 3,
  lua: `${prelude}
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 0 end
if not redis.call('SET', ARGV[1] .. 'gone:' .. ARGV[3] .. '/' .. ARGV[4], '1', 'NX', 'PX', ARGV[7]) then return 0 end
return append(KEYS[2], KEYS[3], ARGV[6], 'l', ARGV[3], ARGV[4], ARGV[5])`,
};

export const scripts = { claim, release, join, say, leave, refresh, recover, snapshot, deadNodes, dropNode, ghost } as const;

export type ScriptName = keyof typeof scripts;
