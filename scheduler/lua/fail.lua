-- fail: ARGV = now, id, token, error, retry_at_ms|'' ('' = dead-letter). Returns 1, or 0 for a stale token.
local now, id, token, err, retry_at = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local info = redis.call('HGET', P .. 'lease', id)
if not info then return 0 end
local held, leased, level, enq, jtype, tenant = parse_lease(info)
if held ~= token then return 0 end
end_lease(id, level, jtype)
local a, p = attempts_of(id)
redis.call('HSET', P .. 'cnt', id, (a + 1) .. ':' .. p)
redis.call('HSET', P .. 'err', id, err)
record_runs(now, { { jtype, level, tenant, now - tonumber(leased) } })
if retry_at == '' then
  bury(id, level, enq, now)
else
  redis.call('ZADD', P .. 'delayed', retry_at, id)
  redis.call('HSET', P .. 'where', id, level .. '|' .. enq)
end
return 1
