-- Shared prelude of every ebbflow script (the store prepends it to each script's body).
-- KEYS[1] is the namespace prefix, e.g. "ebbflow:{default}:"; every key of a namespace shares its hash tag,
-- so one script may touch all of them on a Redis Cluster too. Key layout: scheduler/redis_keys.py.
local P = KEYS[1]
local HISTORY_TTL_S = 172800
local MOVES_KEPT = 10000

-- id, type, tenant, max_attempts, deadline ("null" or digits), level: the fixed head of every record.
local function header(record)
  local id, jtype, tenant, max_attempts, deadline, level = string.match(record,
    '^{"id":"([^"]*)","type":"([^"]*)","tenant":"([^"]*)","max_attempts":(%d+),"deadline":([%dnul]+),"level":(%d+)')
  if deadline == 'null' then deadline = nil end
  return jtype, tenant, tonumber(max_attempts), deadline, level
end

-- The same log-scale bucket as scheduler/history.py bucket_of.
local function bucket_of(ms)
  local v = (ms > 0 and ms or 0) + 1
  local _, e = math.frexp(v)
  local exponent = e - 1
  if exponent < 3 then return v - 1 end
  local mantissa = math.floor(v / 2 ^ (exponent - 3)) % 8
  return exponent * 8 + mantissa - 17
end

-- Calls a variadic command with many arguments in chunks (Lua's unpack has a limit).
local function call_chunked(cmd, key, args, step)
  step = step or 1000
  for i = 1, #args, step do
    redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

local function attempts_of(id)
  local v = redis.call('HGET', P .. 'cnt', id)
  if not v then return 0, 0 end
  local a, p = string.match(v, '^(%d+):(%d+)$')
  return tonumber(a), tonumber(p)
end

local function log_move(now, id, tenant, from, to, reason, count)
  local entry = cjson.encode({ at = tonumber(now), id = id or cjson.null, tenant = tenant,
    from = tonumber(from), to = tonumber(to), reason = reason, count = count or 1 })
  redis.call('LPUSH', P .. 'moves', entry)
  redis.call('LTRIM', P .. 'moves', 0, MOVES_KEPT - 1)
end

-- Puts one job into a level queue with enqueue time enq, keeping every index and counter in step.
local function enqueue(id, tenant, jtype, level, enq, deadline)
  local q = P .. 'q:' .. level .. ':' .. tenant
  redis.call('ZADD', q, enq, id)
  if redis.call('ZCARD', q) == 1 then redis.call('RPUSH', P .. 'rr:' .. level, tenant) end
  redis.call('ZADD', P .. 'age:' .. level, enq, id)
  if deadline then redis.call('ZADD', P .. 'dl:' .. level, deadline, id) end
  redis.call('HINCRBY', P .. 'depth', level .. '|' .. jtype, 1)
end

-- Takes one pending job out of its level queue (for a move); returns false when it is not there.
local function dequeue(id, tenant, jtype, level)
  local q = P .. 'q:' .. level .. ':' .. tenant
  local enq = redis.call('ZSCORE', q, id)
  if not enq then return false end
  redis.call('ZREM', q, id)
  if redis.call('ZCARD', q) == 0 then redis.call('LREM', P .. 'rr:' .. level, 0, tenant) end
  redis.call('ZREM', P .. 'age:' .. level, id)
  redis.call('ZREM', P .. 'dl:' .. level, id)
  redis.call('HINCRBY', P .. 'depth', level .. '|' .. jtype, -1)
  return enq
end

local function release_key(id)
  local key = redis.call('HGET', P .. 'idk', id)
  if key then
    if redis.call('HGET', P .. 'idem', key) == id then redis.call('HDEL', P .. 'idem', key) end
    redis.call('HDEL', P .. 'idk', id)
  end
end

local function bury(id, level, enq, now)
  redis.call('ZADD', P .. 'dlq', now, id)
  redis.call('HSET', P .. 'where', id, level .. '|' .. enq)
  release_key(id)
end

-- lease info: token|leased|level|enq|type|tenant|worker (worker last: it may hold any character)
local function parse_lease(info)
  return string.match(info, '^(%d+)|(%d+)|(%d+)|([%d.]+)|([^|]*)|([^|]*)|(.*)$')
end

local function end_lease(id, level, jtype)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'lease', id)
  redis.call('HINCRBY', P .. 'inflight', level .. '|' .. jtype, -1)
end

local function history_key(now)
  local minute = math.floor(now / 60000)
  local key = P .. 'h:' .. minute
  redis.call('ZADD', P .. 'hmins', minute, minute)
  redis.call('EXPIRE', key, HISTORY_TTL_S)
  return key
end

-- Adds run times of finished runs: runs is a list of {type, level, tenant, run_ms}.
local function record_runs(now, runs)
  if #runs == 0 then return end
  local sums = {}
  for _, r in ipairs(runs) do
    local tl = r[1] .. '|' .. r[2]
    for _, field in ipairs({ 'f|' .. tl, 'r|' .. tl .. '|' .. bucket_of(r[4]) }) do
      sums[field] = (sums[field] or 0) + 1
    end
    sums['rs|' .. tl] = (sums['rs|' .. tl] or 0) + r[4]
    sums['u|' .. r[2] .. '|' .. r[3]] = (sums['u|' .. r[2] .. '|' .. r[3]] or 0) + r[4]
  end
  local key = history_key(now)
  for field, n in pairs(sums) do redis.call('HINCRBY', key, field, n) end
end

-- Expired leases go back to their level at once, counting an attempt, or to the dead letters.
local function reap(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local _, _, level, enq, jtype, tenant, worker = parse_lease(redis.call('HGET', P .. 'lease', id))
    local _, _, max_attempts, deadline = header(redis.call('HGET', P .. 'jobs', id))
    end_lease(id, level, jtype)
    local a, p = attempts_of(id)
    a = a + 1
    redis.call('HSET', P .. 'cnt', id, a .. ':' .. p)
    redis.call('HSET', P .. 'err', id, 'lease expired (worker ' .. worker .. ' stopped heartbeating)')
    if a >= max_attempts then bury(id, level, enq, now) else enqueue(id, tenant, jtype, level, enq, deadline) end
  end
  return #ids
end

-- Delayed jobs whose retry time has come are pending again where they left, keeping their place.
local function promote_delayed(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local level, enq = string.match(redis.call('HGET', P .. 'where', id), '^(%d+)|(.*)$')
    local jtype, tenant, _, deadline = header(redis.call('HGET', P .. 'jobs', id))
    redis.call('ZREM', P .. 'delayed', id)
    redis.call('HDEL', P .. 'where', id)
    enqueue(id, tenant, jtype, level, enq, deadline)
  end
  return #ids
end
