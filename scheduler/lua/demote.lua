-- demote: ARGV = now, tenant, level, to_level, until_ms, reason. Marks the tenant demoted at the level
-- (submit sends its new jobs to to_level) and moves its pending jobs there. Returns how many moved.
local now, tenant, level, to, untl, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', P .. 'demoted', level .. '|' .. tenant, to .. '|' .. untl)
local q = P .. 'q:' .. level .. ':' .. tenant
local moved = 0
while true do
  local batch = redis.call('ZRANGE', q, 0, 999, 'WITHSCORES')
  if #batch == 0 then break end
  local ids = {}
  for i = 1, #batch, 2 do ids[#ids + 1] = batch[i] end
  local records = redis.call('HMGET', JOBS, unpack(ids))
  for i, id in ipairs(ids) do
    local jtype, _, _, deadline = header(records[i])
    if jtype then
      dequeue(id, tenant, jtype, level)
      enqueue(id, tenant, jtype, to, batch[2 * i], deadline)
    else -- left here it would be read again and again: this loop runs until the queue is empty
      bury_unreadable(id, tenant, level, batch[2 * i], now)
    end
  end
  moved = moved + #ids
end
log_move(now, nil, tenant, level, to, reason, moved)
return moved
