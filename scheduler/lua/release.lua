-- release: ARGV = now, id, token, reason, dead (1|0), counted (1|0), retry_at_ms|'' ('' = pending at once).
-- Returns 1, or 0 for a stale token. A released job never counts an attempt; counted=1 counts a preemption.
-- It is pending again at once in its old place, or with retry_at it waits in the delayed state until then
-- (as a failed job's backoff does, keeping its enqueue time), or with dead=1 it is buried with the reason.
local now, id, token, reason, dead = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local counted, retry_at = ARGV[6], ARGV[7]
local leased, level, enq, jtype, tenant = held_lease(id, token)
if not leased then return 0 end
end_lease(id)
if counted == '1' then
  local a, p = counts_of(id)
  redis.call('HSET', JOBS, id .. ':c', a .. ':' .. (p + 1))
end
if dead == '1' then
  redis.call('HSET', JOBS, id .. ':e', reason)
  bury(id, level, enq, now)
elseif retry_at ~= '' then
  redis.call('ZADD', P .. 'delayed', retry_at, id)
  redis.call('HSET', JOBS, id .. ':s', 'W|' .. level .. '|' .. enq .. '|' .. retry_at)
else
  local _, _, _, deadline = header(redis.call('HGET', JOBS, id))
  enqueue(id, tenant, jtype, level, enq, deadline)
end
return 1
