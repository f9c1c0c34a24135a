-- ack: ARGV = now, finished_retention, then id, token pairs. Returns 1|0 per pair (0: stale token).
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local infos = redis.call('HMGET', P .. 'lease', unpack(ids))
local out, done_ids, done, runs, inflight = {}, {}, {}, {}, {}
for i, id in ipairs(ids) do
  local info = infos[i]
  local token, leased, level, enq, jtype, tenant
  if info then token, leased, level, enq, jtype, tenant = parse_lease(info) end
  if info and token == ARGV[2 * i + 2] then
    out[i] = 1
    done_ids[#done_ids + 1] = id
    done[#done + 1] = id
    done[#done + 1] = now .. '|' .. level .. '|' .. enq .. '|' .. leased
    runs[#runs + 1] = { jtype, level, tenant, now - tonumber(leased) }
    inflight[level .. '|' .. jtype] = (inflight[level .. '|' .. jtype] or 0) + 1
  else
    out[i] = 0
  end
end
if #done_ids == 0 then return out end
call_chunked('ZREM', P .. 'leases', done_ids)
call_chunked('HDEL', P .. 'lease', done_ids)
for field, n in pairs(inflight) do redis.call('HINCRBY', P .. 'inflight', field, -n) end
call_chunked('HSET', P .. 'done', done)
record_runs(now, runs)
-- idempotency keys of the finished jobs are free again
local keys = redis.call('HMGET', P .. 'idk', unpack(done_ids))
local held, holders = {}, {}
for i, key in ipairs(keys) do
  if key then held[#held + 1] = key; holders[#holders + 1] = done_ids[i] end
end
if #held > 0 then
  local current = redis.call('HMGET', P .. 'idem', unpack(held))
  local free = {}
  for i, key in ipairs(held) do
    if current[i] == holders[i] then free[#free + 1] = key end
  end
  if #free > 0 then call_chunked('HDEL', P .. 'idem', free) end
  call_chunked('HDEL', P .. 'idk', holders)
end
-- keep the newest `retention` finished jobs readable; forget older ones
call_chunked('RPUSH', P .. 'donelog', done_ids)
local over = redis.call('LLEN', P .. 'donelog') - retention
if over > 0 then
  local old = redis.call('LPOP', P .. 'donelog', over)
  for _, key in ipairs({ 'jobs', 'done', 'cnt', 'err', 'ckpt' }) do call_chunked('HDEL', P .. key, old) end
end
return out
