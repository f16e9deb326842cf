/**
 * The keys every cluster script uses, and the Lua helpers they share (appending to the
 * log, Redis's clock, who holds a name, dropping a name with its leave). The scripts
 * themselves: scripts.ts (a client's steps) and node-scripts.ts (a node's life).
 *
 *   chat:epoch        hash {id, until}: a fresh id whenever Redis starts empty (its data was lost
 *                     or it never had any), and the end of the grace in Redis time (ms)
 *   chat:seq          the last sequence number handed out; also the log's stream ids
 *   chat:log          the stream of joins, messages and leaves: the one total order
 *   chat:log:bytes    the log's size as estimated by entryBytes below, kept as entries come and go
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

/**
 * A log entry is taken to cost Redis its fields and values, a quarter more, and this many
 * bytes: the estimate LOG_MAX_BYTES bounds. Calibrated with MEMORY USAGE on Redis 7.0
 * (jemalloc) for texts from 30 bytes to 16 KiB: a text over about 2 KB fills a stream
 * node of its own, whose allocation the allocator rounds up by as much as a quarter, plus
 * some 500 bytes of node; short ones share nodes and cost less than estimated. Real memory
 * came to 0.7–1.16× the estimate (docs/cluster.md, Sizing Redis).
 */
export const ENTRY_OVERHEAD = 64;

/** Helpers every script that writes to the log starts with. */
export const prelude = `
-- Redis's clock in milliseconds.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- What one log entry is taken to cost Redis (ENTRY_OVERHEAD above says how it was measured).
local function entryBytes(fields)
  local size = 0
  for i = 1, #fields do size = size + #fields[i] end
  return size + math.floor(size / 4) + ${ENTRY_OVERHEAD}
end

-- Most entries one append may look at and drop: trimming after the bounds were lowered
-- takes several appends, but no script holds Redis up for long. Each append drops at
-- least the one it adds while the log is over a bound, so the excess only shrinks.
local TRIM_BATCH = 64

-- Drops the log's oldest entries while over(entries left, estimated bytes left, the
-- entry's t) holds, at most TRIM_BATCH, and keeps the estimate (KEY.bytes) with them.
-- The ids are seqs ("n-0"), so the entry after id n starts at "n+1-0"; XTRIM MAXLEN
-- exact then drops exactly the entries looked at. Returns how many it dropped.
local function dropOldest(logKey, length, bytes, over)
  local dropped, freed, from, more = 0, 0, '-', true
  while more and dropped < TRIM_BATCH do
    local entries = redis.call('XRANGE', logKey, from, '+', 'COUNT', math.min(8, TRIM_BATCH - dropped))
    more = #entries > 0
    for _, entry in ipairs(entries) do
      local fields = entry[2]
      local t = 0
      for i = 1, #fields, 2 do
        if fields[i] == 't' then t = tonumber(fields[i + 1]) or 0 end
      end
      if not over(length - dropped, bytes - freed, t) then
        more = false
        break
      end
      dropped = dropped + 1
      freed = freed + entryBytes(fields)
      from = string.format('%d-0', tonumber(string.match(entry[1], '^(%d+)')) + 1)
    end
  end
  if dropped == 0 then return 0 end
  redis.call('XTRIM', logKey, 'MAXLEN', length - dropped)
  local left = math.max(0, bytes - freed)
  if length - dropped <= 1 then
    -- Down to the newest entry: count it afresh. Entries the estimate counted but something
    -- else dropped (an older node's MAXLEN trim, an eviction) would otherwise keep it over
    -- the bound for good, and every append would trim the log to one entry.
    left = 0
    for _, entry in ipairs(redis.call('XRANGE', logKey, '-', '+')) do left = left + entryBytes(entry[2]) end
  end
  -- Never below 0: entries a node of an older version appended were never counted.
  redis.call('SET', logKey .. ':bytes', string.format('%d', left))
  return dropped
end

local function logSize(logKey)
  return redis.call('XLEN', logKey), tonumber(redis.call('GET', logKey .. ':bytes') or '0')
end

-- Trims the log to its bounds, "count,bytes,ageMs" (ClusterStore.logBounds; 0 bytes or
-- age: that bound is off), by the estimate and each entry's t; never the newest entry.
local function trim(logKey, bounds)
  local maxCount, maxBytes, maxAge = string.match(bounds, '^(%d+),(%d+),(%d+)$')
  maxCount, maxBytes, maxAge = tonumber(maxCount), tonumber(maxBytes), tonumber(maxAge)
  local length, bytes = logSize(logKey)
  local oldestKept = nil
  if maxAge > 0 then oldestKept = nowMs() - maxAge end
  if length <= maxCount and (maxBytes == 0 or bytes <= maxBytes) and not oldestKept then return end
  dropOldest(logKey, length, bytes, function(left, bytesLeft, t)
    return left > 1
      and (left > maxCount or (maxBytes > 0 and bytesLeft > maxBytes) or (oldestKept ~= nil and t < oldestKept))
  end)
end

-- Takes the next sequence number. When Redis refuses it for want of memory (maxmemory
-- reached, which refuses a script's first write that may grow it), the log's oldest
-- entries make room first, twice the new entry's estimate: once a script has written
-- (here, trimmed), Redis lets it finish, and each append in that state frees more than it
-- adds, so the chat goes on and Redis falls back under maxmemory. With no log to give up
-- (something else filled Redis), the refusal stands.
local function nextSeq(seqKey, logKey, need)
  local n = redis.pcall('INCR', seqKey)
  if type(n) == 'table' and n.err then
    -- Redis 7 gives the error as Redis wrote it; 5 and 6 prefix the script's name and line.
    if not string.find(n.err, 'OOM command not allowed', 1, true) then error(n) end
    local length, bytes = logSize(logKey)
    local floor = bytes - 2 * need
    dropOldest(logKey, length, bytes, function(left, bytesLeft) return bytesLeft > floor end)
    n = redis.call('INCR', seqKey)
  end
  return n
end

-- Appends one event under the next sequence number, which is its stream id too, so ids
-- grow with the log. A counter that Redis lost restarts from the time in microseconds,
-- above every id handed out before (string.format keeps all digits; tostring would not).
-- Kinds: j(oin), m(essage), l(eave), and r(esumed): session s moved to node/conn from p,
-- which clients never see. A message keeps the time it was received; the rest get Redis's.
-- Then the log is trimmed to its bounds (see trim).
local function append(seqKey, logKey, bounds, kind, node, conn, name, text, ts, session, cid, previous)
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
  local size = entryBytes(fields)
  local n = nextSeq(seqKey, logKey, size)
  if n == 1 then
    local t = redis.call('TIME')
    n = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', seqKey, string.format('%d', n))
  end
  redis.call('XADD', logKey, string.format('%d-0', n), unpack(fields))
  redis.call('INCRBY', logKey .. ':bytes', size)
  trim(logKey, bounds)
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
local function drop(namesKey, seqKey, logKey, bounds, goneTtl, prefix, folded, node, conn)
  local owned = prefix .. 'node:' .. node
  if redis.call('HGET', owned, folded) == conn then redis.call('HDEL', owned, folded) end
  local e = heldBy(namesKey, folded, node, conn)
  if not e then return 0 end
  redis.call('HDEL', namesKey, folded)
  forgetSession(prefix, folded, e)
  if e.j ~= 1 then return 0 end
  redis.call('SET', prefix .. 'gone:' .. e.t, '1', 'PX', goneTtl)
  return append(seqKey, logKey, bounds, 'l', node, conn, e.u, nil, nil, e.s)
end
`;

export interface ScriptSource {
  numberOfKeys: number;
  lua: string;
}
