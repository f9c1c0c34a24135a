-- ack: ARGV = now, finished_retention, then id, token pairs. Returns 1|0 per pair (0: stale token).
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
local ask, ids = {}, {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  ids[#ids + 1] = id
  ask[#ask + 1] = id .. ':s'
  ask[#ask + 1] = id .. ':i'
end
local got = redis.call('HMGET', JOBS, unpack(ask))
local out, done_ids, states, runs, keys = {}, {}, {}, new_runs(), {}
local n = 0
for i, id in ipairs(ids) do
  local state = got[2 * i - 1]
  local token, leased, level, enq, jtype, tenant
  if state then token, leased, level, enq, jtype, tenant = parse_lease(state) end
  if token and token == ARGV[2 * i + 2] then
    out[i] = 1
    n = n + 1
    done_ids[n] = id
    states[2 * n - 1] = id .. ':s'
    states[2 * n] = 'D|' .. level .. '|' .. enq .. '|' .. ARGV[1] .. '|' .. leased
    tally_run(runs, jtype, level, tenant, now - tonumber(leased))
    if got[2 * i] then keys[#keys + 1] = { got[2 * i], id } end
  else
    out[i] = 0
  end
end
if n == 0 then return out end
call_chunked('ZREM', P .. 'leases', done_ids)
call_chunked('HSET', JOBS, states)
record_runs(now, runs)
for _, pair in ipairs(keys) do
  if redis.call('HGET', P .. 'idem', pair[1]) == pair[2] then redis.call('HDEL', P .. 'idem', pair[1]) end
  redis.call('HDEL', JOBS, pair[2] .. ':i')
end
-- keep the newest `retention` finished jobs readable; forget older ones
local length = 0
for i = 1, n, 1000 do length = redis.call('RPUSH', P .. 'donelog', unpack(done_ids, i, math.min(i + 999, n))) end
-- in chunks of up to 1% (at most 100): one LPOP + HDEL per chunk rather than per ack
if length > retention + math.min(100, math.floor(retention / 100)) then
  -- at most 1,000 more than this ack added: a lowered retention is worked off over the next acks
  local old = redis.call('LPOP', P .. 'donelog', math.min(length - retention, n + 1000))
  local forget = {}
  -- only finished jobs are forgotten: an id pushed into the log by damage may name a job still active
  local fields = {}
  for i, id in ipairs(old) do fields[i] = id .. ':s' end
  local states = redis.call('HMGET', JOBS, unpack(fields))
  for i, id in ipairs(old) do
    if not states[i] or string.sub(states[i], 1, 2) == 'D|' then
      for _, suffix in ipairs({ '', ':s', ':c', ':k', ':e', ':g' }) do forget[#forget + 1] = id .. suffix end
    end
  end
  call_chunked('HDEL', JOBS, forget)
end
return out
