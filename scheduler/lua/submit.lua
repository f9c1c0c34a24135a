-- submit: ARGV = now, then for the arrivals: now's epoch hour, the oldest hour kept, how many expired hours to
-- forget at most; then 9 fields per job: id, record, tenant, type, level, deadline|'', key|'', key_ttl_ms|'',
-- estimate_ms. Returns id, created (1|0) per job. Writes are grouped into one variadic command per key.
--
-- Idempotency keys are per tenant: a key is stored as "<tenant>|<key>" (a tenant never contains '|'), in
-- `idem` while its job is active and in `once` ("id|until_ms|tenant") while held after it ended; a job's :i
-- field names its stored key, so ack and release free it as before. An entry counts only for the tenant
-- whose job it names, so no string a tenant chose (before or after the upgrade) can answer for another.
-- Upgrade: entries written before keys were per tenant are stored as the bare key. They are still honoured
-- for the tenant of the job they name (one more HGET of each hash on a miss), so an upgrade does not run an
-- active keyed job or a held cron tick twice; a held entry whose job was already forgotten is not honoured
-- (its tenant is unknown). They leave as before: `idem` ones when their job ends, `once` ones when reap
-- forgets them at the end of their hold. (Drop the bare-key lookups once no store has such entries left.)
local now = tonumber(ARGV[1])
local out = {}
local seen = {}            -- "tenant|key" -> id, for duplicates inside this batch
local demoted = {}         -- "level|tenant" -> level it goes to now (cached per batch)
local fields, age, dl, depth, queues, queue_order, idem = {}, {}, {}, {}, {}, {}, {}
local redirected = {}      -- "tenant|from|to" -> count, for the move log
local arrived = {}         -- "type|level" -> { jobs created, their estimated work in ms }, for this hour
local nf = 0

-- An entry naming a job that is no longer active holds nothing (damage: the job's :i field, which frees the
-- entry when the job ends, was lost), so the new job is created rather than answered by a finished one.
local function active(id)
  return string.match(redis.call('HGET', JOBS, id .. ':s') or '', '^[PRW]|') ~= nil
end

local function owned_by(id, tenant)
  local _, owner = header(redis.call('HGET', JOBS, id))
  return owner == tenant
end

-- The job an `idem` or `once` entry named `entry` holds for `tenant`, or false.
local function held_as(entry, tenant)
  local id = redis.call('HGET', P .. 'idem', entry)
  if id and owned_by(id, tenant) and active(id) then return id end
  local once = redis.call('HGET', P .. 'once', entry)
  if not once then return false end
  local once_id, untl, owner = string.match(once, '^([^|]*)|(%d+)|(.*)$')
  if not once_id then  -- written before keys were per tenant: "id|until_ms"; its job tells the tenant
    once_id, untl = string.match(once, '^(.*)|(%d+)$')
    owner = once_id and owned_by(once_id, tenant) and tenant
  end
  if once_id and owner == tenant and tonumber(untl) > now then return once_id end
  return false
end

local function held(skey, key, tenant)
  return seen[skey] or held_as(skey, tenant) or held_as(key, tenant)
end

local function level_for(level, tenant)
  local dkey = level .. '|' .. tenant
  if demoted[dkey] == nil then
    local d = redis.call('HGET', P .. 'demoted', dkey)
    local to, untl
    if d then to, untl = string.match(d, '^(%d+)|(%d+)$') end
    demoted[dkey] = (to and tonumber(untl) > now) and to or false
  end
  if not demoted[dkey] then return level end
  local rkey = tenant .. '|' .. level .. '|' .. demoted[dkey]
  redirected[rkey] = (redirected[rkey] or 0) + 1
  return demoted[dkey]
end

for i = 5, #ARGV, 9 do
  local id, record, tenant, jtype = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local deadline, key, key_ttl = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local skey = tenant .. '|' .. key
  local existing = key ~= '' and held(skey, key, tenant)
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    local level = level_for(ARGV[i + 4], tenant)
    local state = 'P|' .. level .. '|' .. ARGV[1] .. '|' .. jtype
    fields[nf + 1], fields[nf + 2], fields[nf + 3], fields[nf + 4] = id, record, id .. ':s', state
    nf = nf + 4
    local qkey = level .. ':' .. tenant
    local q = queues[qkey]
    if not q then
      q = { level = level, tenant = tenant, ids = {} }
      queues[qkey] = q
      queue_order[#queue_order + 1] = qkey
    end
    q.ids[#q.ids + 1] = ARGV[1]
    q.ids[#q.ids + 1] = id
    local a = age[level]
    if not a then a = {}; age[level] = a end
    a[#a + 1] = ARGV[1]
    a[#a + 1] = id
    if deadline ~= '' then
      dl[level] = dl[level] or {}
      dl[level][#dl[level] + 1] = deadline
      dl[level][#dl[level] + 1] = id
    end
    local lt = level .. '|' .. jtype
    depth[lt] = (depth[lt] or 0) + 1
    local tl = jtype .. '|' .. level
    local arrival = arrived[tl]
    if not arrival then arrival = { 0, 0 }; arrived[tl] = arrival end
    arrival[1] = arrival[1] + 1
    arrival[2] = arrival[2] + tonumber(ARGV[i + 8])
    if key ~= '' then
      seen[skey] = id
      idem[#idem + 1] = skey
      idem[#idem + 1] = id
      fields[nf + 1], fields[nf + 2] = id .. ':i', skey
      nf = nf + 2
      if key_ttl ~= '' then
        local untl = now + tonumber(key_ttl)
        redis.call('HSET', P .. 'once', skey, id .. '|' .. int(untl) .. '|' .. tenant)
        redis.call('ZADD', P .. 'oncez', int(untl), skey)
      end
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
if nf > 0 then call_chunked('HSET', JOBS, fields) end
for _, qkey in ipairs(queue_order) do
  local q = queues[qkey]
  local qk = P .. 'q:' .. q.level .. ':' .. q.tenant
  local was_empty = redis.call('EXISTS', qk) == 0
  call_chunked('ZADD', qk, q.ids)
  if was_empty then take_turns(tonumber(q.level), { q.tenant }) end
end
for level, args in pairs(age) do call_chunked('ZADD', P .. 'age:' .. level, args) end
for level, args in pairs(dl) do call_chunked('ZADD', P .. 'dl:' .. level, args) end
for field, n in pairs(depth) do add_depth(field, n) end
if #idem > 0 then call_chunked('HSET', P .. 'idem', idem) end
for rkey, n in pairs(redirected) do
  local tenant, from, to = string.match(rkey, '^(.*)|(%d+)|(%d+)$')
  log_move(now, nil, tenant, from, to, 'tenant demoted at level ' .. from, n)
end
if next(arrived) then
  local hour_key = P .. 'a:' .. ARGV[2]
  for tl, arrival in pairs(arrived) do
    add_count(hour_key, 's|' .. tl, arrival[1])
    add_count(hour_key, 'w|' .. tl, tonumber(int(arrival[2])))
  end
  redis.call('ZADD', P .. 'ahours', ARGV[2], ARGV[2])
  -- a few expired hours per submit, oldest first: bounded work, and hours are added one at a time
  local expired = redis.call('ZRANGEBYSCORE', P .. 'ahours', '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
  if #expired > 0 then
    local hour_keys = {}
    for n, hour in ipairs(expired) do hour_keys[n] = P .. 'a:' .. hour end
    redis.call('DEL', unpack(hour_keys))
    redis.call('ZREM', P .. 'ahours', unpack(expired))
  end
end
return out
