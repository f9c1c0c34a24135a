-- demote: ARGV = now, level, tenant, limit, then to_level, until_ms, reason to start a demotion (without them:
-- go on with the one under way). Starting marks the tenant demoted at the level (submit sends its new jobs to
-- to_level) and records the move as under way in `demoting` ("to|until|moved so far|reason"); every call then
-- moves up to `limit` of the tenant's pending jobs there, so no call's work grows with the queue. The call
-- that finds none left (or finds the demotion over) forgets the record and logs the one move entry with the
-- total. Returns moved (or buried: an unreadable record is dead-lettered, as it could never be moved), and
-- 1 when the move is finished, 0 while jobs are left.
local now, level, tenant, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local field = level .. '|' .. tenant
if ARGV[5] then
  redis.call('HSET', P .. 'demoted', field, ARGV[5] .. '|' .. ARGV[6])
  redis.call('HSET', P .. 'demoting', field, ARGV[5] .. '|' .. ARGV[6] .. '|0|' .. ARGV[7])
end
local marker = redis.call('HGET', P .. 'demoting', field)
local to, untl, total, reason
if marker then to, untl, total, reason = string.match(marker, '^(%d+)|(%d+)|(%d+)|(.*)$') end
if not to then -- nothing under way (or a garbled record, which cannot say where to): nothing to do
  redis.call('HDEL', P .. 'demoting', field)
  return { 0, 1 }
end

local function finish(moved)
  redis.call('HDEL', P .. 'demoting', field)
  log_move(now, nil, tenant, level, to, reason, tonumber(total) + moved)
  return { moved, 1 }
end

-- a demotion that ended while its move was under way stops: its tenant's new jobs stay here again
if not ARGV[5] and tonumber(untl) <= tonumber(now) then return finish(0) end
local q = P .. 'q:' .. level .. ':' .. tenant
local batch = redis.call('ZRANGE', q, 0, limit - 1, 'WITHSCORES')
local ids = {}
for i = 1, #batch, 2 do ids[#ids + 1] = batch[i] end
if #ids > 0 then
  local records = redis.call('HMGET', JOBS, unpack(ids))
  for i, id in ipairs(ids) do
    local jtype, _, _, deadline = header(records[i])
    local state = redis.call('HGET', JOBS, id .. ':s')
    if string.match(state or '', '^P|(%d+)|') ~= level then -- a stale entry (damage): the job is not pending here
      redis.call('ZREM', q, id)
      bury_stateless(id, state, now)
    elseif jtype then
      dequeue(id, tenant, jtype, level)
      enqueue(id, tenant, jtype, to, batch[2 * i], deadline)
    else -- left here it would be read again by every later call
      bury_unreadable(id, tenant, level, batch[2 * i], now)
    end
  end
end
if redis.call('EXISTS', q) == 0 then return finish(#ids) end
redis.call('HSET', P .. 'demoting', field, to .. '|' .. untl .. '|' .. (tonumber(total) + #ids) .. '|' .. reason)
return { #ids, 0 }
