-- lease: ARGV = now, n, ttl_ms, worker, reap_limit, level...
-- Serves levels in the order given; inside a level, tenants in round robin, each tenant FIFO.
-- Returns 8 fields per job: id, record, counts, checkpoint|false, error|false, token, level, enqueued.
local now, need, ttl, worker, reap_limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
reap(now, reap_limit)
promote_delayed(now, reap_limit)

-- Round robin for one pass over the front of a level's turn list, as `need` single leases would do it:
-- each tenant takes one job per turn; a tenant that still has jobs goes to the back, in turn order.
local function serve_level(level, need, picked)
  local rr = P .. 'rr:' .. level
  local tenants = redis.call('LRANGE', rr, 0, need - 1)
  if #tenants == 0 then return 0 end
  local left, take = {}, {}
  for i, tenant in ipairs(tenants) do
    left[i] = redis.call('ZCARD', P .. 'q:' .. level .. ':' .. tenant)
    take[i] = 0
  end
  local remaining, last, progress = need, 0, true
  while remaining > 0 and progress do
    progress = false
    for i = 1, #tenants do
      if remaining > 0 and left[i] > take[i] then
        take[i] = take[i] + 1
        remaining = remaining - 1
        last = i
        progress = true
      end
    end
  end
  redis.call('LTRIM', rr, #tenants, -1)
  local back = {}
  for step = 1, #tenants do
    local i = (last + step - 1) % #tenants + 1
    if left[i] > take[i] then back[#back + 1] = tenants[i] end
  end
  if #back > 0 then redis.call('RPUSH', rr, unpack(back)) end
  -- hand the jobs out turn by turn (A1 B1 C1 A2 B2 A3), so tokens rise in serve order
  local popped, rounds = {}, 0
  for i, tenant in ipairs(tenants) do
    if take[i] > 0 then
      popped[i] = redis.call('ZPOPMIN', P .. 'q:' .. level .. ':' .. tenant, take[i])
      if take[i] > rounds then rounds = take[i] end
    end
  end
  for round = 1, rounds do
    for i = 1, #tenants do
      if take[i] >= round then
        picked[#picked + 1] = { popped[i][2 * round - 1], popped[i][2 * round], level }
      end
    end
  end
  return need - remaining
end

local picked = {}
for a = 6, #ARGV do
  local level = ARGV[a]
  while need > 0 do
    local got = serve_level(level, need, picked)
    if got == 0 then break end
    need = need - got
  end
  if need == 0 then break end
end
if #picked == 0 then return {} end

local ids = {}
for i, p in ipairs(picked) do ids[i] = p[1] end
local records = redis.call('HMGET', P .. 'jobs', unpack(ids))
local counts = redis.call('HMGET', P .. 'cnt', unpack(ids))
local checkpoints = redis.call('HMGET', P .. 'ckpt', unpack(ids))
local errors = redis.call('HMGET', P .. 'err', unpack(ids))
local last_token = redis.call('INCRBY', P .. 'fence', #ids)
local expires = now + tonumber(ttl)
local infos, leases, out = {}, {}, {}
local per_level, depth, hist = {}, {}, {}
for i, p in ipairs(picked) do
  local id, enq, level = p[1], p[2], p[3]
  local jtype, tenant = header(records[i])
  local token = last_token - #ids + i
  infos[#infos + 1] = id
  infos[#infos + 1] = token .. '|' .. now .. '|' .. level .. '|' .. enq .. '|' .. jtype .. '|' .. tenant .. '|' .. worker
  leases[#leases + 1] = expires
  leases[#leases + 1] = id
  per_level[level] = per_level[level] or {}
  per_level[level][#per_level[level] + 1] = id
  local tl = jtype .. '|' .. level
  depth[tl] = (depth[tl] or 0) + 1
  local wait_field = 'w|' .. tl .. '|' .. bucket_of(now - tonumber(enq))
  hist[wait_field] = (hist[wait_field] or 0) + 1
  local j = #out
  out[j + 1], out[j + 2], out[j + 3], out[j + 4] = id, records[i], counts[i] or '0:0', checkpoints[i]
  out[j + 5], out[j + 6], out[j + 7], out[j + 8] = errors[i], token, level, enq
end
call_chunked('HSET', P .. 'lease', infos)
call_chunked('ZADD', P .. 'leases', leases)
for level, level_ids in pairs(per_level) do
  call_chunked('ZREM', P .. 'age:' .. level, level_ids)
  call_chunked('ZREM', P .. 'dl:' .. level, level_ids)
end
local hkey = history_key(now)
for tl, n in pairs(depth) do
  local jtype, level = string.match(tl, '^(.*)|(%d+)$')
  redis.call('HINCRBY', P .. 'depth', level .. '|' .. jtype, -n)
  redis.call('HINCRBY', P .. 'inflight', level .. '|' .. jtype, n)
  redis.call('HINCRBY', hkey, 'l|' .. tl, n)
end
for field, n in pairs(hist) do redis.call('HINCRBY', hkey, field, n) end
return out
