-- release: ARGV = now, id, token, reason, dead (1|0). Returns 1, or 0 for a stale token.
-- A released job counts a preemption, not an attempt, and is pending again at once in its old place.
local now, id, token, reason, dead = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local info = redis.call('HGET', P .. 'lease', id)
if not info then return 0 end
local held, _, level, enq, jtype, tenant = parse_lease(info)
if held ~= token then return 0 end
end_lease(id, level, jtype)
local a, p = attempts_of(id)
redis.call('HSET', P .. 'cnt', id, a .. ':' .. (p + 1))
if dead == '1' then
  redis.call('HSET', P .. 'err', id, reason)
  bury(id, level, enq, now)
else
  local _, _, _, deadline = header(redis.call('HGET', P .. 'jobs', id))
  enqueue(id, tenant, jtype, level, enq, deadline)
end
return 1
