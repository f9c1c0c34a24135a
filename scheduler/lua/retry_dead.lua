-- retry_dead: ARGV = now, then job ids. Dead jobs go back to their submitted level with fresh counts
-- (decoding the record here is fine: this path never writes it back).
local now = ARGV[1]
local n = 0
for a = 2, #ARGV do
  local id = ARGV[a]
  local record = redis.call('HGET', JOBS, id)
  local jtype, tenant, _, deadline, level = header(record)
  local decoded, fields = false, nil
  if jtype and string.sub(record, 1, #id + 9) == '{"id":"' .. id .. '",' then
    decoded, fields = pcall(cjson.decode, record)
  end
  -- the fields scheduler.job.Job.from_record needs beyond the head: a record that lacks one, or does not
  -- decode, stays dead: queued again, it would only be dead-lettered again
  local readable = decoded and type(fields) == 'table' and fields.class ~= nil and fields.key ~= nil
    and fields.created ~= nil and fields.payload ~= nil
  -- only a dead job is queued again: a dead-letter entry naming any other (damage) is dropped
  local state = redis.call('HGET', JOBS, id .. ':s')
  local dead = string.sub(state or '', 1, 2) == 'X|'
  if not dead and redis.call('ZREM', P .. 'dlq', id) == 1 then bury_stateless(id, state, now) end
  if readable and dead and redis.call('ZREM', P .. 'dlq', id) == 1 then
    redis.call('HDEL', JOBS, id .. ':c')
    -- it is active again, so it holds its idempotency key again, unless another active job took it
    -- (keys are stored per tenant, as submit.lua stores them)
    local key = type(fields.key) == 'string' and tenant .. '|' .. fields.key
    if key and redis.call('HSETNX', P .. 'idem', key, id) == 1 then
      redis.call('HSET', JOBS, id .. ':i', key)
    end
    enqueue(id, tenant, jtype, level, now, deadline)
    n = n + 1
  end
end
return n
