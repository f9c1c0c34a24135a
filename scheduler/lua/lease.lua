-- lease: ARGV = now, n, ttl_ms, worker, reap_limit, then the levels to serve ('all' = every level).
-- Strict priority across levels; inside a level tenants take turns (round robin), each tenant FIFO.
-- Returns the first token (the jobs' tokens follow it one by one), how many picked queue entries were not
-- handed out: dead-lettered here because their record was missing or did not start as every record does, or
-- their state was lost, or dropped as stale entries of a job that is not pending there (so no damaged record
-- or index entry can stop the queue, or hand a job out twice), then 5 fields per job: id, record, enqueued,
-- level, and extras: false, or "counts<US>checkpoint<US>progress<US>error" (unit separator) when any of them
-- is set (error last: it is free text; JSON never holds a raw unit separator).
local now, need, ttl, worker, reap_limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
reap(now, reap_limit)
promote_delayed(now, reap_limit)
local picked = { n = 0, ids = {}, enqs = {}, levels = {}, tenants = {} }

-- One pass over the front of the turn order, limited to one level: the same jobs, in the same order, that
-- `need` single leases would take. Each tenant takes one job per turn; one that still has jobs takes a
-- new turn at the back, in the order it was served.
-- Returns how many jobs it took, and whether it made progress (took jobs, or dropped turns that lead nowhere).
local function serve(need, low, high)
  local front = redis.call('ZRANGEBYSCORE', P .. 'turns', low, high, 'LIMIT', 0, need)
  if #front == 0 then return 0, false end
  local level = string.match(front[1], '^(%d+)|')
  if not level then -- a damaged turn that names no level: drop it and look again
    redis.call('ZREM', P .. 'turns', front[1])
    damaged('turn ' .. front[1] .. ' names no level; dropped')
    return 0, true
  end
  local tenants, left, take = {}, {}, {}
  for i, member in ipairs(front) do
    local l, tenant = string.match(member, '^(%d+)|(.*)$')
    if l ~= level then break end
    tenants[i], take[i] = tenant, 0
  end
  if #tenants == 1 and need == 1 then
    left[1] = 1 -- the one job this lease takes is all we need to know about
  else
    for i, tenant in ipairs(tenants) do left[i] = redis.call('ZCARD', P .. 'q:' .. level .. ':' .. tenant) end
  end
  local remaining, last, progress = need, 0, true
  while remaining > 0 and progress do
    progress = false
    for i = 1, #tenants do
      if remaining > 0 and left[i] > take[i] then
        take[i], remaining, last, progress = take[i] + 1, remaining - 1, i, true
      end
    end
  end
  -- pop, then hand the jobs out turn by turn (A1 B1 C1 A2 B2 A3) so tokens rise in serve order
  local popped, rounds, still, emptied, again = {}, 0, {}, {}, {}
  for i, tenant in ipairs(tenants) do
    if take[i] > 0 then
      local q = P .. 'q:' .. level .. ':' .. tenant
      popped[i] = redis.call('ZPOPMIN', q, take[i])
      -- fewer than counted only when the turn outlived its queue (damage): that turn is dropped below
      if #popped[i] < 2 * take[i] then remaining, take[i] = remaining + take[i] - #popped[i] / 2, #popped[i] / 2 end
      if take[i] > rounds then rounds = take[i] end
      still[i] = redis.call('EXISTS', q) == 1
      if not still[i] then emptied[#emptied + 1] = level .. '|' .. tenant end
    elseif left[i] == 0 then -- a turn whose queue is gone (damage): it could never be served
      emptied[#emptied + 1] = level .. '|' .. tenant
    end
  end
  for step = 1, #tenants do
    local i = (last + step - 1) % #tenants + 1
    if still[i] then again[#again + 1] = tenants[i] end
  end
  if #emptied > 0 then redis.call('ZREM', P .. 'turns', unpack(emptied)) end
  take_turns(tonumber(level), again)
  local n = picked.n
  for round = 1, rounds do
    for i = 1, #tenants do
      if take[i] >= round then
        n = n + 1
        picked.ids[n], picked.enqs[n] = popped[i][2 * round - 1], popped[i][2 * round]
        picked.levels[n], picked.tenants[n] = level, tenants[i]
      end
    end
  end
  picked.n = n
  return need - remaining, need > remaining or #emptied > 0
end

local function serve_band(low, high)
  while need > 0 do
    local got, progress = serve(need, low, high)
    if not progress then return end
    need = need - got
  end
end

if ARGV[6] == 'all' then
  serve_band('-inf', '+inf')
else
  for a = 6, #ARGV do
    local level = tonumber(ARGV[a])
    serve_band(int(level * LEVEL_SPAN), '(' .. int((level + 1) * LEVEL_SPAN))
  end
end
if picked.n == 0 then return {} end

local ids, ask = picked.ids, {}
for i = 1, picked.n do
  local id = ids[i]
  local f = 6 * (i - 1)
  ask[f + 1], ask[f + 2], ask[f + 3], ask[f + 4], ask[f + 5] = id, id .. ':c', id .. ':k', id .. ':g', id .. ':e'
  ask[f + 6] = id .. ':s'
end
local got = redis.call('HMGET', JOBS, unpack(ask))
-- the type sits right after the id in every record: '{"id":"<id>","type":"<type>",...'
local readable, types, buried, taken, pending_at = {}, {}, 0, {}, {}
for i = 1, picked.n do
  local id, record, state, level = ids[i], got[6 * (i - 1) + 1], got[6 * i], picked.levels[i]
  -- a queue entry holds only a job pending at that level, once: any other is stale (a damaged index) and is
  -- dropped, so a job running, waiting or finished elsewhere is never handed out again
  local prefix = pending_at[level]
  if not prefix then prefix = 'P|' .. level .. '|'; pending_at[level] = prefix end
  local type_start = #id + 18
  local close = record and string.sub(record, 1, type_start - 1) == '{"id":"' .. id .. '","type":"'
    and string.find(record, '"', type_start, true)
  if taken[id] or not state or string.sub(state, 1, #prefix) ~= prefix then
    if not taken[id] then bury_stateless(id, state, now) end
    buried = buried + 1
  elseif close then
    readable[#readable + 1] = i
    types[i] = string.sub(record, type_start, close - 1)
  else
    bury_unreadable(id, picked.tenants[i], level, picked.enqs[i], now)
    buried = buried + 1
  end
  taken[id] = true
end
local count = #readable
if count == 0 then return { 0, buried } end
local first_token = incr_counter(P .. 'fence', count, fence_floor) - count
local big_tokens = first_token + count >= 1e14 -- then written with int(): Lua would write them as 1.2e+14
local expires = now + tonumber(ttl)
local states, leases, out = {}, {}, { first_token + 1, buried }
local per_level, dl_level, tally, buckets = {}, {}, {}, {}
for r, i in ipairs(readable) do
  local f = 6 * (i - 1)
  local id, enq, level, record, jtype = ids[i], picked.enqs[i], picked.levels[i], got[f + 1], types[i]
  local token = first_token + r
  if big_tokens then token = int(token) end
  states[2 * r - 1] = id .. ':s'
  states[2 * r] = 'R|' .. token .. '|' .. now .. '|' .. level .. '|' .. enq .. '|' .. jtype .. '|'
    .. picked.tenants[i] .. '|' .. worker
  leases[2 * r - 1] = expires
  leases[2 * r] = id
  local lids = per_level[level]
  if not lids then lids = {}; per_level[level] = lids end
  lids[#lids + 1] = id
  if not string.find(record, '"deadline":null', #id + 18, true) then
    dl_level[level] = dl_level[level] or {}
    dl_level[level][#dl_level[level] + 1] = id
  end
  local tl = jtype .. '|' .. level
  local t = tally[tl]
  if not t then t = { n = 0, waits = {} }; tally[tl] = t end
  t.n = t.n + 1
  local wait = now - tonumber(enq)
  local b = buckets[wait]
  if not b then b = bucket_of(wait); buckets[wait] = b end
  t.waits[b] = (t.waits[b] or 0) + 1
  local counts, checkpoint, progress, err = got[f + 2], got[f + 3], got[f + 4], got[f + 5]
  local extras = false
  if counts or checkpoint or progress or err then
    extras = (counts or '0:0') .. '\31' .. (checkpoint or '') .. '\31' .. (progress or '') .. '\31' .. (err or '')
  end
  local j = 5 * (r - 1) + 2
  out[j + 1], out[j + 2], out[j + 3], out[j + 4], out[j + 5] = id, record, enq, level, extras
end
call_chunked('HSET', JOBS, states)
call_chunked('ZADD', P .. 'leases', leases)
for level, level_ids in pairs(per_level) do call_chunked('ZREM', P .. 'age:' .. level, level_ids) end
for level, level_ids in pairs(dl_level) do call_chunked('ZREM', P .. 'dl:' .. level, level_ids) end
for tl, t in pairs(tally) do
  local jtype, level = string.match(tl, '^(.*)|(%d+)$')
  add_depth(level .. '|' .. jtype, -t.n)
  for b, n in pairs(t.waits) do add_history(now, 'w|' .. tl .. '|' .. b, n) end
end
return out
