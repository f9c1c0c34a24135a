-- reap: ARGV = now, limit, levels. Re-queues (or dead-letters) expired leases, forgets held idempotency keys whose hold
-- has ended, and audits the next `limit` fields of the jobs hash (below). Returns how many leases it reaped and
-- how many damaged entries the audit repaired. (Due retries become pending on the next lease, as the contract
-- says.)
local now, limit, levels = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3] or 64)
local n = reap(now, limit)
local ended = redis.call('ZRANGEBYSCORE', P .. 'oncez', '-inf', now, 'LIMIT', 0, limit)
if #ended > 0 then
  redis.call('HDEL', P .. 'once', unpack(ended))
  redis.call('ZREM', P .. 'oncez', unpack(ended))
end

-- The audit: every job's state is checked against the indexes that should hold it, a slice per call (one
-- HSCAN step from the cursor kept in `audit`), so a deleted index key or a lost entry is found and written
-- again within one sweep of the hash. Each check returns 1 when it repaired something. docs/store-damage.md.

-- A pending job goes back into whichever of its queue, turn, age and deadline entries it lost. (Its count in
-- `depth` is left: telling it apart would mean counting every pending job.)
local function check_pending(id, state)
  local level, enq = string.match(state, '^P|(%d+)|([%d.]+)|')
  local jtype, tenant, _, deadline, submitted = header(redis.call('HGET', JOBS, id))
  if not jtype then -- unreadable: dead-lettered here as a lease would, or it might never be reached
    bury_unreadable(id, nil, level, enq, now)
    return 1
  end
  if tonumber(level) >= levels then -- a level the store does not have (damage): back to its submitted one
    if tonumber(submitted) >= levels then
      bury_stateless(id, 'a level it does not have: ' .. state, now)
      return 1
    end
    dequeue(id, tenant, jtype, level)
    enqueue(id, tenant, jtype, submitted, enq, deadline)
    damaged('job ' .. id .. ' was pending at level ' .. level .. ', which the store does not have: moved to '
      .. submitted)
    return 1
  end
  local fixed, q = 0, P .. 'q:' .. level .. ':' .. tenant
  if not redis.call('ZSCORE', q, id) then
    redis.call('ZADD', q, enq, id)
    fixed = 1
  end
  if not redis.call('ZSCORE', P .. 'turns', level .. '|' .. tenant) then
    take_turns(tonumber(level), { tenant })
    fixed = 1
  end
  if not redis.call('ZSCORE', P .. 'age:' .. level, id) then
    redis.call('ZADD', P .. 'age:' .. level, enq, id)
    fixed = 1
  end
  if deadline and not redis.call('ZSCORE', P .. 'dl:' .. level, id) then
    redis.call('ZADD', P .. 'dl:' .. level, deadline, id)
    fixed = 1
  end
  return fixed
end

-- A job in its state belongs in `index`, scored `score`: written there again if its entry was lost, or if
-- its score is not `score` (exact: the state holds the time) or beyond `most` (the lease's expiry, which only
-- the holder's heartbeats know, is taken as damaged past a day from now: LEASE_EXPIRY_CAP_MS).
local function check_indexed(id, index, score, most)
  local held = tonumber(redis.call('ZSCORE', P .. index, id))
  if held and (held == tonumber(score) or (most and held <= most)) then return 0 end
  redis.call('ZADD', P .. index, score, id)
  damaged('job ' .. id .. ': its entry in ' .. index .. ' was ' .. (held and 'wrong' or 'lost') .. '; written again')
  return 1
end

local function check_state(id, state)
  if not readable_state(state) then
    bury_stateless(id, state, now)
    return 1
  end
  local kind = string.sub(state, 1, 1)
  if kind == 'P' then return check_pending(id, state) end
  -- a running job whose lease entry was lost is reaped after a grace, unless its holder heartbeats first
  if kind == 'R' then return check_indexed(id, 'leases', now + ORPHAN_LEASE_GRACE_MS, now + LEASE_EXPIRY_CAP_MS) end
  if kind == 'W' then return check_indexed(id, 'delayed', string.match(state, '(%d+)$')) end
  if kind == 'X' then return check_indexed(id, 'dlq', string.match(state, '([%d.]+)$')) end
  return 0
end

-- A record without a state: a finished job still in the done log is done again; any other is dead-lettered.
local function check_record(id)
  if redis.call('HEXISTS', JOBS, id .. ':s') == 1 then return 0 end
  local level = select(5, header(redis.call('HGET', JOBS, id)))
  if level and redis.call('LPOS', P .. 'donelog', id) then
    redis.call('HSET', JOBS, id .. ':s', 'D|' .. level .. '|' .. now .. '|' .. now .. '|' .. now)
    damaged('job ' .. id .. ' lost its state; it is in the done log, so it is done again')
  else
    bury_stateless(id, false, now)
  end
  return 1
end

local function audit(count)
  local reply = redis.pcall('HSCAN', JOBS, redis.call('GET', P .. 'audit') or '0', 'COUNT', count)
  if reply.err then -- a garbled cursor: start the sweep again
    reply = redis.call('HSCAN', JOBS, '0', 'COUNT', count)
  end
  if reply[1] == '0' then redis.call('DEL', P .. 'audit') else redis.call('SET', P .. 'audit', reply[1]) end
  local found, repaired = reply[2], 0
  for i = 1, #found, 2 do
    local id, suffix = string.match(found[i], '^([^:]*)(.*)$')
    if suffix == ':s' then
      repaired = repaired + check_state(id, found[i + 1])
    elseif suffix == '' then
      repaired = repaired + check_record(id)
    end
  end
  return repaired
end

return { n, audit(limit) }
