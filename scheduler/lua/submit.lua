-- submit: ARGV = now, then 8 fields per job: id, record, tenant, type, level, deadline|'', key|'', key_ttl_ms|''
-- Returns id, created (1|0) per job. All writes are grouped into one variadic command per key.
local now = ARGV[1]
local out = {}
local seen = {}            -- key -> id, for duplicates inside this batch
local demoted = {}         -- "level|tenant" -> level it goes to now (cached per batch)
local records, age, dl, depth, queues, idem, idk = {}, {}, {}, {}, {}, {}, {}
local redirected = {}      -- "tenant|from|to" -> count, for the move log
local queue_order = {}     -- queue keys in order of first appearance: new tenants join turns in that order
for i = 2, #ARGV, 8 do
  local id, record, tenant, jtype, level = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local deadline, key, key_ttl = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local existing = false
  if key ~= '' then
    existing = seen[key] or redis.call('HGET', P .. 'idem', key) or redis.call('GET', P .. 'once:' .. key)
  end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    local dkey = level .. '|' .. tenant
    if demoted[dkey] == nil then
      local d = redis.call('HGET', P .. 'demoted', dkey)
      local to, untl = false, 0
      if d then to, untl = string.match(d, '^(%d+)|(%d+)$') end
      demoted[dkey] = (to and tonumber(untl) > tonumber(now)) and to or false
    end
    if demoted[dkey] then
      local rkey = tenant .. '|' .. level .. '|' .. demoted[dkey]
      redirected[rkey] = (redirected[rkey] or 0) + 1
      level = demoted[dkey]
    end
    records[#records + 1] = id
    records[#records + 1] = record
    local qkey = level .. ':' .. tenant
    if not queues[qkey] then
      queues[qkey] = { level = level, tenant = tenant, ids = {} }
      queue_order[#queue_order + 1] = qkey
    end
    local q = queues[qkey].ids
    q[#q + 1] = now
    q[#q + 1] = id
    age[level] = age[level] or {}
    age[level][#age[level] + 1] = now
    age[level][#age[level] + 1] = id
    if deadline ~= '' then
      dl[level] = dl[level] or {}
      dl[level][#dl[level] + 1] = deadline
      dl[level][#dl[level] + 1] = id
    end
    depth[level .. '|' .. jtype] = (depth[level .. '|' .. jtype] or 0) + 1
    if key ~= '' then
      seen[key] = id
      idem[#idem + 1] = key
      idem[#idem + 1] = id
      idk[#idk + 1] = id
      idk[#idk + 1] = key
      if key_ttl ~= '' then redis.call('SET', P .. 'once:' .. key, id, 'PX', key_ttl) end
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
if #records > 0 then call_chunked('HSET', P .. 'jobs', records) end
for _, qkey in ipairs(queue_order) do
  local q = queues[qkey]
  local qk = P .. 'q:' .. q.level .. ':' .. q.tenant
  local was_empty = redis.call('EXISTS', qk) == 0
  call_chunked('ZADD', qk, q.ids)
  if was_empty then redis.call('RPUSH', P .. 'rr:' .. q.level, q.tenant) end
end
for level, args in pairs(age) do call_chunked('ZADD', P .. 'age:' .. level, args) end
for level, args in pairs(dl) do call_chunked('ZADD', P .. 'dl:' .. level, args) end
for field, n in pairs(depth) do redis.call('HINCRBY', P .. 'depth', field, n) end
if #idem > 0 then
  call_chunked('HSET', P .. 'idem', idem)
  call_chunked('HSET', P .. 'idk', idk)
end
for rkey, n in pairs(redirected) do
  local tenant, from, to = string.match(rkey, '^(.*)|(%d+)|(%d+)$')
  log_move(now, nil, tenant, from, to, 'tenant demoted at level ' .. from, n)
end
return out
