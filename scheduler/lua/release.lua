-- release: ARGV = now, id, token, reason, dead (1|0). Returns 1, or 0 for a stale token.
-- A released job counts a preemption, not an attempt, and is pending again at once in its old place.
local now, id, token, reason, dead = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local leased, level, enq, jtype, tenant = held_lease(id, token)
if not leased then return 0 end
end_lease(id)
local a, p = counts_of(id)
redis.call('HSET', JOBS, id .. ':c', a .. ':' .. (p + 1))
if dead == '1' then
  redis.call('HSET', JOBS, id .. ':e', reason)
  bury(id, level, enq, now)
else
  local _, _, _, deadline = header(redis.call('HGET', JOBS, id))
  enqueue(id, tenant, jtype, level, enq, deadline)
end
return 1
