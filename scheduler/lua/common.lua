-- Shared prelude of every ebbflow script (the store prepends it to each script's body).
-- KEYS[1] is the namespace prefix, e.g. "ebbflow:{default}:"; every key of a namespace shares its hash tag,
-- so one script may touch all of them on a Redis Cluster too. Key layout: scheduler/redis_keys.py.
local P = KEYS[1]
local JOBS = P .. 'jobs'
local HISTORY_TTL_S = 172800
local MOVES_KEPT = 10000
local LEVEL_SPAN = 281474976710656 -- 2^48: a level's band of turn scores (exact in a double up to 16 levels)

-- The error of a job dead-lettered because its stored record is missing or does not start as every record
-- does; the Python side words the same case as scheduler.job.UnreadableRecordError.
local UNREADABLE = 'the stored record is unreadable (missing, or not the JSON ebbflow writes):'
  .. ' dead-lettered so it cannot block the queue'
-- The error of a job dead-lettered because its state field is missing or garbled, so where it was (pending,
-- running, waiting) cannot be known; the garbled text follows in parentheses. docs/store-damage.md.
local STATE_LOST = 'the stored state is missing or unreadable: dead-lettered so it cannot block the queue'
-- A running job whose lease index entry was lost gets this long before the reap takes it back: its holder's
-- next heartbeat writes the entry again, so only a job whose worker is gone is re-queued.
local ORPHAN_LEASE_GRACE_MS = 300000
-- A lease entry expiring further ahead than this is damage: heartbeats extend a lease by its TTL from now, and
-- a TTL is far shorter (docs/store-damage.md). The audit gives such a job the grace above instead.
local LEASE_EXPIRY_CAP_MS = 86400000

-- Damage found and repaired is logged to the Redis server's log (LOG_WARNING), one line per repair.
local function damaged(what)
  redis.log(redis.LOG_WARNING, 'ebbflow ' .. P .. ': ' .. what)
end

-- The forms of a job's state field (scheduler/redis_keys.py); anything else is a garbled state.
local STATE_FORMS = {
  P = '^P|%d+|[%d.]+|.', R = '^R|%d+|%d+|%d+|[%d.]+|[^|]*|[^|]*|', W = '^W|%d+|[%d.]+|%d+$',
  X = '^X|%d+|[%d.]+|[%d.]+$', D = '^D|%d+|[%d.]+|[%d.]+|[%d.]+$',
}
local function readable_state(state)
  if not state then return false end
  local form = STATE_FORMS[string.sub(state, 1, 1)]
  return form ~= nil and string.match(state, form) ~= nil
end

-- type, tenant, max_attempts, deadline ("null" -> nil), level: the fixed head of every record; all nil
-- when the record is missing or its head is not the one ebbflow writes.
local function header(record)
  if type(record) ~= 'string' then return nil end
  local jtype, tenant, max_attempts, deadline, level = string.match(record,
    '^{"id":"[^"]*","type":"([^"]*)","tenant":"([^"]*)","max_attempts":(%d+),"deadline":([%dnul]+),"level":(%d+)')
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

local function int(x) return string.format('%.0f', x) end

-- INCRBY on a counter (fence, turn) that may have been deleted or overwritten with garbage: such a counter is
-- set again from floor(garbled) (a value above every one it gave out that may still matter) and raised from
-- there. A counter that was absent may also be new: floor(false) is 0 when nothing says otherwise.
local function incr_counter(key, n, floor)
  local value = redis.pcall('INCRBY', key, n)
  if type(value) == 'number' and value > n then return value end
  local garbled = type(value) ~= 'number'
  local base = floor(garbled)
  if not garbled and base <= 0 then return value end
  damaged('counter ' .. key .. (garbled and ' was not an integer' or ' was missing') .. '; set again from the data')
  redis.call('SET', key, int(base + n))
  return base + n
end

-- HINCRBY on a count field that may hold garbage or have drifted below zero: garbage starts again from 0,
-- and a count never stays negative (it counts jobs). Returns the new value.
local function add_count(key, field, n)
  local value = redis.pcall('HINCRBY', key, field, n)
  if type(value) ~= 'number' then
    damaged('field ' .. field .. ' of ' .. key .. ' was not an integer; started again from 0')
    value = n > 0 and n or 0
    redis.call('HSET', key, field, value)
  elseif value < 0 then
    value = 0
    redis.call('HSET', key, field, 0)
  end
  return value
end

local function add_depth(field, n) add_count(P .. 'depth', field, n) end

-- The fencing counter's floor after damage: Redis's clock in milliseconds, above every token it gave out
-- (tokens count leases: fewer than milliseconds since 1970 unless a namespace leased ~100,000 jobs a second
-- for years), so no stale lease can match a new token. An absent counter is new unless a job was ever leased
-- (one is running, waiting for a retry, dead or in the done log).
local function fence_floor(garbled)
  if not garbled and redis.call('EXISTS', P .. 'leases', P .. 'delayed', P .. 'dlq', P .. 'donelog') == 0 then
    return 0
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Calls a variadic command with many arguments in chunks (Lua's unpack has a limit).
local function call_chunked(cmd, key, args, step)
  step = step or 1000
  for i = 1, #args, step do
    redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

local function counts_of(id)
  local v = redis.call('HGET', JOBS, id .. ':c')
  local a, p = string.match(v or '0:0', '^(%d+):(%d+)$')
  if not a then return 0, 0 end -- garbled counts: counted again from zero (the lease path dead-letters them)
  return tonumber(a), tonumber(p)
end

local function log_move(now, id, tenant, from, to, reason, count)
  local entry = cjson.encode({ at = tonumber(now), id = id or cjson.null, tenant = tenant,
    from = tonumber(from), to = tonumber(to), reason = reason, count = count or 1 })
  redis.call('LPUSH', P .. 'moves', entry)
  redis.call('LTRIM', P .. 'moves', 0, MOVES_KEPT - 1)
end

-- The turn counter's floor after damage: the largest turn number still in the turn order.
local function turn_floor()
  local all, top = redis.call('ZRANGE', P .. 'turns', 0, -1, 'WITHSCORES'), 0
  for i = 2, #all, 2 do top = math.max(top, tonumber(all[i]) % LEVEL_SPAN) end
  return top
end

-- Turn order: one sorted set for all levels, member "L|tenant", score L * LEVEL_SPAN + turn number, so the
-- first member is the next tenant of the highest non-empty level. Gives `tenants` the next turns, in order.
local function take_turns(level, tenants)
  if #tenants == 0 then return end
  local last = incr_counter(P .. 'turn', #tenants, turn_floor)
  local args = {}
  for i, tenant in ipairs(tenants) do
    args[2 * i - 1] = int(level * LEVEL_SPAN + last - #tenants + i)
    args[2 * i] = level .. '|' .. tenant
  end
  redis.call('ZADD', P .. 'turns', unpack(args))
end

-- Puts one job into a level queue with enqueue time enq, keeping every index and counter in step.
local function enqueue(id, tenant, jtype, level, enq, deadline)
  local q = P .. 'q:' .. level .. ':' .. tenant
  redis.call('ZADD', q, enq, id)
  if redis.call('ZCARD', q) == 1 then take_turns(tonumber(level), { tenant }) end
  redis.call('ZADD', P .. 'age:' .. level, enq, id)
  if deadline then redis.call('ZADD', P .. 'dl:' .. level, deadline, id) end
  add_depth(level .. '|' .. jtype, 1)
  redis.call('HSET', JOBS, id .. ':s', 'P|' .. level .. '|' .. enq .. '|' .. jtype)
end

-- Takes one pending job out of its level queue and indexes (for a move); returns its enqueue time there, or
-- false when its queue entry was lost (its other index entries and its count are taken out all the same).
local function dequeue(id, tenant, jtype, level)
  local q = P .. 'q:' .. level .. ':' .. tenant
  local enq = redis.call('ZSCORE', q, id)
  if enq then
    redis.call('ZREM', q, id)
    if redis.call('ZCARD', q) == 0 then redis.call('ZREM', P .. 'turns', level .. '|' .. tenant) end
  end
  redis.call('ZREM', P .. 'age:' .. level, id)
  redis.call('ZREM', P .. 'dl:' .. level, id)
  add_depth(level .. '|' .. jtype, -1)
  return enq
end

local function release_key(id)
  local key = redis.call('HGET', JOBS, id .. ':i')
  if key then
    if redis.call('HGET', P .. 'idem', key) == id then redis.call('HDEL', P .. 'idem', key) end
    redis.call('HDEL', JOBS, id .. ':i')
  end
end

local function bury(id, level, enq, now)
  redis.call('ZADD', P .. 'dlq', now, id)
  redis.call('HSET', JOBS, id .. ':s', 'X|' .. level .. '|' .. enq .. '|' .. now)
  release_key(id)
end

-- Dead-letters a pending job whose record is unreadable: out of its queue, its turn, its indexes and its
-- depth count (per type: the type comes from the pending state, as the record cannot be read).
local function bury_unreadable(id, tenant, level, enq, now)
  local jtype = string.match(redis.call('HGET', JOBS, id .. ':s') or '', '^P|%d+|[%d.]+|(.+)$')
  if jtype then add_depth(level .. '|' .. jtype, -1) end
  if tenant then -- unknown when the audit meets it: a queue entry left behind is dropped by the lease reaching it
    local q = P .. 'q:' .. level .. ':' .. tenant
    redis.call('ZREM', q, id)
    if redis.call('EXISTS', q) == 0 then redis.call('ZREM', P .. 'turns', level .. '|' .. tenant) end
  end
  redis.call('ZREM', P .. 'age:' .. level, id)
  redis.call('ZREM', P .. 'dl:' .. level, id)
  redis.call('HSET', JOBS, id .. ':e', UNREADABLE)
  bury(id, level, enq, now)
end

local JOB_FIELDS = { '', ':s', ':c', ':k', ':e', ':g', ':i' }

-- A job met through an index (a queue, the leases, the retries) whose state is missing or garbled: where it
-- was cannot be known, so it leaves every index it may be in at the level its record names and is
-- dead-lettered with the reason; a job without record or state (its fields were deleted) is forgotten.
-- Does nothing to a job whose state is readable: the index entry that led here was merely stale.
local function bury_stateless(id, state, now)
  if readable_state(state) then return end
  local record = redis.call('HGET', JOBS, id)
  local jtype, _, _, _, level = header(record)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'delayed', id)
  if not record and not state then
    release_key(id)
    redis.call('ZREM', P .. 'dlq', id)
    local fields = {}
    for i, suffix in ipairs(JOB_FIELDS) do fields[i] = id .. suffix end
    redis.call('HDEL', JOBS, unpack(fields))
    damaged('job ' .. id .. ' has neither record nor state: its index entries and fields were dropped')
    return
  end
  level = level or '0'
  if redis.call('ZREM', P .. 'age:' .. level, id) == 1 and jtype then add_depth(level .. '|' .. jtype, -1) end
  redis.call('ZREM', P .. 'dl:' .. level, id)
  local shown = state and ' (it read ' .. string.format('%q', string.sub(state, 1, 80)) .. ')' or ' (it was missing)'
  redis.call('HSET', JOBS, id .. ':e', STATE_LOST .. shown)
  bury(id, level, now, now)
  damaged('job ' .. id .. ' dead-lettered: ' .. STATE_LOST .. shown)
end

-- running state: R|token|leased|L|enq|type|tenant|worker (worker last: it may hold any character)
local function parse_lease(state)
  return string.match(state, '^R|(%d+)|(%d+)|(%d+)|([%d.]+)|([^|]*)|([^|]*)|(.*)$')
end

-- The lease of a job held under exactly `token`: leased, level, enqueued, type, tenant, worker; nil if stale.
local function held_lease(id, token)
  local state = redis.call('HGET', JOBS, id .. ':s')
  if not state then return nil end
  local held, leased, level, enq, jtype, tenant, worker = parse_lease(state)
  if held ~= token then return nil end
  return leased, level, enq, jtype, tenant, worker
end

local function end_lease(id)
  redis.call('ZREM', P .. 'leases', id)
end

-- Adds n to a field of this minute's history hash; the minute's first write also indexes the hash and
-- sets its expiry (a field written for the first time returns exactly n).
local function add_history(now, field, n)
  local minute = math.floor(now / 60000)
  local key = P .. 'h:' .. minute
  if add_count(key, field, n) == n then
    redis.call('ZADD', P .. 'hmins', minute, minute)
    redis.call('EXPIRE', key, HISTORY_TTL_S)
  end
end

-- Run times of finished runs are tallied per batch, then written with one HINCRBY per distinct field.
local function new_runs()
  return { by_type = {}, by_tenant = {}, buckets = {} }
end

local function tally_run(acc, jtype, level, tenant, run_ms)
  local tl = jtype .. '|' .. level
  local t = acc.by_type[tl]
  if not t then t = { sum = 0, runs = {} }; acc.by_type[tl] = t end
  t.sum = t.sum + run_ms
  local b = acc.buckets[run_ms]
  if not b then b = bucket_of(run_ms); acc.buckets[run_ms] = b end
  t.runs[b] = (t.runs[b] or 0) + 1
  local ut = level .. '|' .. tenant
  acc.by_tenant[ut] = (acc.by_tenant[ut] or 0) + run_ms
end

local function record_runs(now, acc)
  for tl, t in pairs(acc.by_type) do
    for b, n in pairs(t.runs) do add_history(now, 'r|' .. tl .. '|' .. b, n) end
    add_history(now, 'rs|' .. tl, t.sum)
  end
  for ut, ms in pairs(acc.by_tenant) do add_history(now, 'u|' .. ut, ms) end
end

-- Expired leases go back to their level at once, counting an attempt, or to the dead letters.
local function reap(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local state = redis.call('HGET', JOBS, id .. ':s')
    end_lease(id)
    local token, _, level, enq, jtype, tenant, worker
    if state then token, _, level, enq, jtype, tenant, worker = parse_lease(state) end
    if not token then -- not running: a stale entry (nothing to do), or a lost state (dead-lettered)
      bury_stateless(id, state, now)
    else
      local _, _, max_attempts, deadline = header(redis.call('HGET', JOBS, id))
      local a, p = counts_of(id)
      a = a + 1
      redis.call('HSET', JOBS, id .. ':c', a .. ':' .. p, id .. ':e',
        max_attempts and 'lease expired (worker ' .. worker .. ' stopped heartbeating)' or UNREADABLE)
      if not max_attempts or a >= max_attempts then
        bury(id, level, enq, now)
      else
        enqueue(id, tenant, jtype, level, enq, deadline)
      end
    end
  end
  return #ids
end

-- Delayed jobs whose retry time has come are pending again where they left, keeping their place.
local function promote_delayed(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local state = redis.call('HGET', JOBS, id .. ':s')
    local level, enq = string.match(state or '', '^W|(%d+)|([%d.]+)|%d+$')
    local jtype, tenant, _, deadline = header(redis.call('HGET', JOBS, id))
    redis.call('ZREM', P .. 'delayed', id)
    if not level then -- not waiting: a stale entry (nothing to do), or a lost state (dead-lettered)
      bury_stateless(id, state, now)
    elseif jtype then
      enqueue(id, tenant, jtype, level, enq, deadline)
    else
      redis.call('HSET', JOBS, id .. ':e', UNREADABLE)
      bury(id, level, enq, now)
    end
  end
  return #ids
end
