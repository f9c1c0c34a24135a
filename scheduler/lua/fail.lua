-- fail: ARGV = now, id, token, error, retry_at_ms|'' ('' = dead-letter). Returns 1, or 0 for a stale token.
local now, id, token, err, retry_at = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local leased, level, enq, jtype, tenant = held_lease(id, token)
if not leased then return 0 end
end_lease(id)
local a, p = counts_of(id)
redis.call('HSET', JOBS, id .. ':c', (a + 1) .. ':' .. p, id .. ':e', err)
local runs = new_runs()
tally_run(runs, jtype, level, tenant, now - tonumber(leased))
record_runs(now, runs)
if retry_at == '' then
  bury(id, level, enq, now)
else
  redis.call('ZADD', P .. 'delayed', retry_at, id)
  redis.call('HSET', JOBS, id .. ':s', 'W|' .. level .. '|' .. enq .. '|' .. retry_at)
end
return 1
