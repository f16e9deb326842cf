/**
 * The Lua scripts that make every cluster step atomic in Redis, and the keys they use.
 *
 *   chat:epoch        hash {id, until}: a fresh id whenever Redis starts empty (its data was lost
 *                     or it never had any), and the end of the grace in Redis time (ms)
 *   chat:seq          the last sequence number handed out; also the log's stream ids
 *   chat:log          the stream of joins, messages and leaves: the one total order
 *   chat:names        hash folded name -> {t: "node/conn", u: name as shown, j: joined?, n: join seq}
 *   chat:nodes        set of node ids that may hold names
 *   chat:lease:NODE   NODE is alive while this key is (PX LEASE_MS, refreshed well inside it)
 *   chat:node:NODE    hash folded name -> conn: the names NODE holds, for reaping
 *   chat:gone:TOKEN   "this client's leave was announced": the exactly-once guard for leaves
 *   chat:ghosts       hash "node/conn" -> {f: folded, u: name, n: join seq}: after Redis lost
 *                     its data, names some node's roster shows that nobody has re-asserted
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
  ghosts: 'chat:ghosts',
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

-- Redis's clock in milliseconds.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
 * is gone: a node that may have been reaped must recover before it hands out names. Refused
 * (-3) while ghosts wait to be announced: their leaves must precede any new join, or a
 * roster that removes leaving names by the name as shown would drop the wrong one.
 * KEYS names, lease(node), owned(node), ghosts; ARGV folded, node, conn, name.
 * Returns 1, 0, -1 or -3.
 */
const claim: ScriptSource = {
  numberOfKeys: 4,
  lua: `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
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

/**
 * Keeps the node's lease alive. KEYS lease(node), epoch; ARGV epoch id, lease key ttl.
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
 * only if Redis lost its data (a new epoch) and the grace is still running: otherwise a
 * reaper freed it and announced its leave, or the node came back too late and has been
 * announced as a ghost; either way the client must go.
 *
 * An empty Redis always starts a grace of one lease. The node that finds it empty cannot
 * tell a first start from lost data; if it skipped the grace, its clients could take names
 * that older nodes are about to re-assert, and it would read a roster lacking them.
 * KEYS epoch, lease(node), nodes, names, owned(node), seq, log, ghosts;
 * ARGV node, known epoch ('' at start), new epoch id, leaseMs, lease key ttl, maxLen,
 * goneTtl, prefix, then per held name: folded, conn, name, join seq ('' if not joined).
 * Returns {epoch id, grace left ms, 1 if the node's lease was still there, {1 kept | 0 lost, ...}}.
 */
const recover: ScriptSource = {
  numberOfKeys: 8,
  lua: `${prelude}
local node, known = ARGV[1], ARGV[2]
local now = nowMs()
local epoch = redis.call('HGET', KEYS[1], 'id')
if not epoch then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'id', epoch, 'until', string.format('%d', now + tonumber(ARGV[4])))
end
local graceLeft = math.max(0, tonumber(redis.call('HGET', KEYS[1], 'until') or '0') - now)
local reborn = known ~= '' and epoch ~= known
local hadLease = 0
if redis.call('GET', KEYS[2]) == epoch then hadLease = 1 end
redis.call('SET', KEYS[2], epoch, 'PX', ARGV[5])
redis.call('SADD', KEYS[3], node)
local held = {}
for i = 9, #ARGV, 4 do held[ARGV[i]] = ARGV[i + 1] end
local owned = redis.call('HGETALL', KEYS[5])
for i = 1, #owned, 2 do
  if held[owned[i]] ~= owned[i + 1] then
    drop(KEYS[4], KEYS[6], KEYS[7], ARGV[6], ARGV[7], ARGV[8], owned[i], node, owned[i + 1])
  end
end
local kept = {}
for i = 9, #ARGV, 4 do
  local folded, conn = ARGV[i], ARGV[i + 1]
  local mine = 0
  if heldBy(KEYS[4], folded, node, conn) then
    mine = 1
  elseif reborn and graceLeft > 0 and redis.call('HEXISTS', KEYS[4], folded) == 0 then
    local e = {t = node .. '/' .. conn, u = ARGV[i + 2], j = 0}
    if ARGV[i + 3] ~= '' then e.j = 1; e.n = ARGV[i + 3] end
    redis.call('HSET', KEYS[4], folded, cjson.encode(e))
    mine = 1
  end
  if mine == 1 then
    redis.call('HSET', KEYS[5], folded, conn)
    redis.call('HDEL', KEYS[8], node .. '/' .. conn)
  end
  kept[#kept + 1] = mine
end
return {epoch, string.format('%d', graceLeft), hadLease, kept}`,
};

/**
 * During the grace after Redis lost its data: records the names of this node's roster that
 * nobody has re-asserted as ghosts, to be announced as gone when the grace ends unless
 * their owner re-asserts them meanwhile (recover removes its own). Refused (-1) once the
 * grace is over: the caller re-reads the roster instead.
 * KEYS epoch, names, ghosts; ARGV prefix, then per name: folded, "node/conn", name, join seq.
 * Returns the number of ghosts recorded, or -1.
 */
const hintGhosts: ScriptSource = {
  numberOfKeys: 3,
  lua: `${prelude}
if nowMs() >= tonumber(redis.call('HGET', KEYS[1], 'until') or '0') then return -1 end
local added = 0
for i = 2, #ARGV, 4 do
  local folded, holder = ARGV[i], ARGV[i + 1]
  local entry = redis.call('HGET', KEYS[2], folded)
  local held = entry and cjson.decode(entry).t == holder
  if not held and redis.call('EXISTS', ARGV[1] .. 'gone:' .. holder) == 0 then
    redis.call('HSET', KEYS[3], holder, cjson.encode({f = folded, u = ARGV[i + 2], n = ARGV[i + 3]}))
    added = added + 1
  end
end
return added`,
};

/**
 * The roster and the log position it is valid at: the names, and the ghosts, which every
 * node that knew them still lists until their leave comes.
 * KEYS names, seq, ghosts. Returns {seq, [folded, entry]..., [node/conn, ghost]...}.
 */
const snapshot: ScriptSource = {
  numberOfKeys: 3,
  lua: `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3])}`,
};

/** Nodes whose lease has expired, and whether ghosts wait. KEYS nodes, ghosts; ARGV prefix, asking node. */
const deadNodes: ScriptSource = {
  numberOfKeys: 2,
  lua: `
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if node ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'lease:' .. node) == 0 then dead[#dead + 1] = node end
end
return {redis.call('EXISTS', KEYS[2]), dead}`,
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
 * Once the grace after Redis lost its data is over: announces the leave of up to `batch`
 * ghosts, once each (the gone marker), unless their owner re-asserted them after all.
 * Claims stay refused until none is left (see claim).
 * KEYS epoch, ghosts, names, seq, log; ARGV prefix, maxLen, goneTtl, batch.
 * Returns {leaves announced, ghosts left}, or -1 while the grace runs.
 */
const sweepGhosts: ScriptSource = {
  numberOfKeys: 5,
  lua: `${prelude}
if redis.call('EXISTS', KEYS[2]) == 0 then return {0, 0} end
if nowMs() < tonumber(redis.call('HGET', KEYS[1], 'until') or '0') then return -1 end
local leaves = 0
local fields = redis.call('HSCAN', KEYS[2], '0', 'COUNT', ARGV[4])[2]
for i = 1, #fields, 2 do
  local holder, g = fields[i], cjson.decode(fields[i + 1])
  local node, conn = string.match(holder, '^([^/]*)/(.*)$')
  redis.call('HDEL', KEYS[2], holder)
  if not heldBy(KEYS[3], g.f, node, conn)
    and redis.call('SET', ARGV[1] .. 'gone:' .. holder, '1', 'NX', 'PX', ARGV[3]) then
    append(KEYS[4], KEYS[5], ARGV[2], 'l', node, conn, g.u)
    leaves = leaves + 1
  end
end
return {leaves, redis.call('HLEN', KEYS[2])}`,
};

export const scripts = { claim, release, join, say, leave, refresh, recover, hintGhosts, snapshot, deadNodes, dropNode, sweepGhosts } as const;

export type ScriptName = keyof typeof scripts;
