/**
 * The scripts of a node's life in the cluster: keeping its lease, (re)joining after a
 * start or an outage, the ghosts after Redis lost its data, the roster snapshot, and
 * reaping dead nodes. Keys and shared helpers: lua.ts.
 */
import { prelude, type ScriptSource } from './lua.js';

/**
 * Keeps the node's lease alive, if it is still the one the node's last recovery took (see
 * recover). KEYS lease(node); ARGV lease value, lease key ttl.
 * Returns 0 when the lease expired or Redis lost its data (with the key): the node must recover.
 * PEXPIRE, unlike SET, is let through when Redis has reached maxmemory: a full Redis must
 * not cost a node its lease, and its users their names.
 */
export const refresh: ScriptSource = {
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
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
 *
 * Each recovery's lease has a value of its own ("epoch/new id"), which claims must show. A
 * command sent before the outage on a connection the node has given up on can still reach
 * Redis after this script (a slow network delivers it late); a claim arriving so would hold
 * a name for a client that was told server_unavailable, and no recovery would be due to free it.
 * KEYS epoch, lease(node), nodes, names, owned(node), seq, log, ghosts;
 * ARGV node, known epoch ('' at start), new id (of the epoch, if Redis is empty; of the lease), leaseMs, lease key ttl, logBounds,
 * goneTtl, prefix, then per held name: folded, conn, name, join seq ('' if not joined), session, secret hash,
 * '1' if a connection here holds it now ('0' while its session waits for a resume).
 * Returns {epoch id, grace left ms, 1 if the node's lease was still there, {1 kept | 0 lost, ...}, lease value}.
 */
export const recover: ScriptSource = {
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
local old = redis.call('GET', KEYS[2])
if old and string.sub(old, 1, #epoch + 1) == epoch .. '/' then hadLease = 1 end
local lease = epoch .. '/' .. ARGV[3]
redis.call('SET', KEYS[2], lease, 'PX', ARGV[5])
redis.call('SADD', KEYS[3], node)
local held = {}
for i = 9, #ARGV, 7 do held[ARGV[i]] = ARGV[i + 1] end
local owned = redis.call('HGETALL', KEYS[5])
for i = 1, #owned, 2 do
  if held[owned[i]] ~= owned[i + 1] then
    drop(KEYS[4], KEYS[6], KEYS[7], ARGV[6], ARGV[7], ARGV[8], owned[i], node, owned[i + 1])
  end
end
local kept = {}
for i = 9, #ARGV, 7 do
  local folded, conn = ARGV[i], ARGV[i + 1]
  local mine = 0
  if heldBy(KEYS[4], folded, node, conn) then
    mine = 1
  elseif reborn and graceLeft > 0 and redis.call('HEXISTS', KEYS[4], folded) == 0 then
    local e = {t = node .. '/' .. conn, u = ARGV[i + 2], j = 0, s = ARGV[i + 4], h = ARGV[i + 5]}
    if ARGV[i + 3] ~= '' then e.j = 1; e.n = ARGV[i + 3] end
    redis.call('HSET', KEYS[4], folded, cjson.encode(e))
    redis.call('SET', ARGV[8] .. 'session:' .. ARGV[i + 5], folded)
    mine = 1
  end
  if mine == 1 then
    redis.call('HSET', KEYS[5], folded, conn)
    redis.call('HDEL', KEYS[8], node .. '/' .. conn)
    -- Connected here: a window a reaper started while this node was cut off is void.
    if ARGV[i + 6] == '1' then
      local e = cjson.decode(redis.call('HGET', KEYS[4], folded))
      if e.d then
        e.d = nil
        redis.call('HSET', KEYS[4], folded, cjson.encode(e))
        redis.call('ZREM', ARGV[8] .. 'waiting', folded)
      end
    end
  end
  kept[#kept + 1] = mine
end
return {epoch, string.format('%d', graceLeft), hadLease, kept, lease}`,
};

/**
 * During the grace after Redis lost its data: records the names of this node's roster that
 * nobody has re-asserted as ghosts, to be announced as gone when the grace ends unless
 * their owner re-asserts them meanwhile (recover removes its own). Refused (-1) once the
 * grace is over: the caller re-reads the roster instead.
 * KEYS epoch, names, ghosts; ARGV prefix, then per name: folded, "node/conn", name, join seq.
 * Returns the number of ghosts recorded, or -1.
 */
export const hintGhosts: ScriptSource = {
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
export const snapshot: ScriptSource = {
  numberOfKeys: 3,
  lua: `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3])}`,
};

/** Nodes whose lease has expired, and whether ghosts wait. KEYS nodes, ghosts; ARGV prefix, asking node. */
export const deadNodes: ScriptSource = {
  numberOfKeys: 2,
  lua: `
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if node ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'lease:' .. node) == 0 then dead[#dead + 1] = node end
end
return {redis.call('EXISTS', KEYS[2]), dead}`,
};

/**
 * Lets go of up to `batch` names of a node; forgets the node once it holds none. With
 * mustBeDead '1' (reaping) it does nothing to a node whose lease is back; with '0' (a node
 * retiring itself) it ends the lease first.
 * With a resume window (windowMs > 0), a joined name's session waits for a resume from now
 * on (or since its connection was lost, if earlier), to be announced by sweepWaiting if
 * none comes; without one, or for a name that never joined, the name is dropped at once,
 * announcing the leave of a joined one.
 * KEYS nodes, names, seq, log; ARGV prefix, node, logBounds, goneTtl, batch, mustBeDead, windowMs.
 * Returns {names let go, leaves announced, 1 when the node is gone}, or -1 if it is alive.
 */
export const dropNode: ScriptSource = {
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
local window = tonumber(ARGV[7])
local now = nowMs()
local dropped, leaves, cursor = 0, 0, '0'
repeat
  local scan = redis.call('HSCAN', owned, cursor, 'COUNT', batch)
  cursor = scan[1]
  local fields = scan[2]
  for i = 1, #fields, 2 do
    local folded, conn = fields[i], fields[i + 1]
    local e = heldBy(KEYS[2], folded, node, conn)
    if e and e.j == 1 and window > 0 then
      if not e.d then
        e.d = now + window
        redis.call('HSET', KEYS[2], folded, cjson.encode(e))
      end
      redis.call('ZADD', prefix .. 'waiting', e.d, folded)
    elseif drop(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4], prefix, folded, node, conn) > 0 then
      leaves = leaves + 1
    end
    redis.call('HDEL', owned, folded)
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
 * Claims stay refused until none is left (see claim in scripts.ts).
 * KEYS epoch, ghosts, names, seq, log; ARGV prefix, logBounds, goneTtl, batch.
 * Returns {leaves announced, ghosts left}, or -1 while the grace runs.
 */
export const sweepGhosts: ScriptSource = {
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

/**
 * Announces the leave of up to `batch` sessions whose resume window is over, once each
 * (drop removes the name in the same step), whichever node or nodes run it.
 * KEYS names, seq, log, waiting; ARGV prefix, logBounds, goneTtl, batch.
 * Returns {leaves announced, sessions looked at}.
 */
export const sweepWaiting: ScriptSource = {
  numberOfKeys: 4,
  lua: `${prelude}
local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local leaves = 0
for _, folded in ipairs(due) do
  redis.call('ZREM', KEYS[4], folded)
  local entry = redis.call('HGET', KEYS[1], folded)
  if entry then
    local e = cjson.decode(entry)
    if e.d and tonumber(e.d) <= now then
      local node, conn = string.match(e.t, '^([^/]*)/(.*)$')
      if drop(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[1], folded, node, conn) > 0 then leaves = leaves + 1 end
    end
  end
end
return {leaves, #due}`,
};
