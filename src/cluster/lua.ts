/**
 * The keys every cluster script uses, and the Lua helpers they share (appending to the
 * log, Redis's clock, who holds a name, dropping a name with its leave). The scripts
 * themselves: scripts.ts (a client's steps) and node-scripts.ts (a node's life).
 *
 *   chat:epoch        hash {id, until}: a fresh id whenever Redis starts empty (its data was lost
 *                     or it never had any), and the end of the grace in Redis time (ms)
 *   chat:seq          the last sequence number handed out; also the log's stream ids
 *   chat:log          the stream of joins, messages and leaves: the one total order
 *   chat:names        hash folded name -> {t: "node/conn", u: name as shown, j: joined?, n: join seq,
 *                     s: session id, h: hash of the session's secret, d: end of its resume window
 *                     (Redis time, ms) while no connection holds it}
 *   chat:session:HASH the folded name the session with that secret hash holds: how a resume finds it
 *   chat:waiting      sorted set of folded names whose session waits for a resume, by window end
 *   chat:cids:SID     hash cid -> "seq/ts": the session's latest sent cids (chat:cidseq:SID orders them)
 *   chat:nodes        set of node ids that may hold names
 *   chat:lease:NODE   NODE is alive while this key is (PX LEASE_MS, refreshed well inside it);
 *                     "epoch/id", new at each of the node's recoveries
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
  waiting: 'chat:waiting',
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
export const prelude = `
-- Redis's clock in milliseconds.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Appends one event under the next sequence number, which is its stream id too, so ids
-- grow with the log. A counter that Redis lost restarts from the time in microseconds,
-- above every id handed out before (string.format keeps all digits; tostring would not).
-- Kinds: j(oin), m(essage), l(eave), and r(esumed): session s moved to node/conn from p,
-- which clients never see. A message keeps the time it was received; the rest get Redis's.
local function append(seqKey, logKey, maxLen, kind, node, conn, name, text, ts, session, cid, previous)
  local n = redis.call('INCR', seqKey)
  if n == 1 then
    local t = redis.call('TIME')
    n = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', seqKey, string.format('%d', n))
  end
  local fields = {'k', kind, 'o', node, 'c', conn, 'u', name}
  if kind == 'm' then
    fields[#fields + 1] = 'x'; fields[#fields + 1] = text
    fields[#fields + 1] = 't'; fields[#fields + 1] = ts
  else
    fields[#fields + 1] = 't'; fields[#fields + 1] = string.format('%d', nowMs())
  end
  if session then fields[#fields + 1] = 's'; fields[#fields + 1] = session end
  if cid and cid ~= '' then fields[#fields + 1] = 'i'; fields[#fields + 1] = cid end
  if previous then fields[#fields + 1] = 'p'; fields[#fields + 1] = previous end
  redis.call('XADD', logKey, 'MAXLEN', '~', maxLen, string.format('%d-0', n), unpack(fields))
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

-- Forgets what a name's session kept beside the name: its secret's hash, its cids, its wait.
local function forgetSession(prefix, folded, e)
  if e.h then redis.call('DEL', prefix .. 'session:' .. e.h) end
  if e.s then redis.call('DEL', prefix .. 'cids:' .. e.s, prefix .. 'cidseq:' .. e.s) end
  redis.call('ZREM', prefix .. 'waiting', folded)
end

-- Frees the name if node/conn still holds it; if it had joined, appends its leave (once).
local function drop(namesKey, seqKey, logKey, maxLen, goneTtl, prefix, folded, node, conn)
  local owned = prefix .. 'node:' .. node
  if redis.call('HGET', owned, folded) == conn then redis.call('HDEL', owned, folded) end
  local e = heldBy(namesKey, folded, node, conn)
  if not e then return 0 end
  redis.call('HDEL', namesKey, folded)
  forgetSession(prefix, folded, e)
  if e.j ~= 1 then return 0 end
  redis.call('SET', prefix .. 'gone:' .. e.t, '1', 'PX', goneTtl)
  return append(seqKey, logKey, maxLen, 'l', node, conn, e.u, nil, nil, e.s)
end
`;

export interface ScriptSource {
  numberOfKeys: number;
  lua: string;
}
