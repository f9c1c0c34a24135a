-- retry_dead: ARGV = now, then job ids. Dead jobs go back to their submitted level with fresh counts
-- (decoding the record here is fine: this path never writes it back).
local now = ARGV[1]
local n = 0
for a = 2, #ARGV do
  local id = ARGV[a]
  if redis.call('ZREM', P .. 'dlq', id) == 1 then
    local jtype, tenant, _, deadline, level = header(redis.call('HGET', JOBS, id))
    redis.call('HDEL', JOBS, id .. ':c')
    -- it is active again, so it holds its idempotency key again, unless another active job took it
    local key = cjson.decode(redis.call('HGET', JOBS, id)).key
    if key ~= cjson.null and redis.call('HSETNX', P .. 'idem', key, id) == 1 then
      redis.call('HSET', JOBS, id .. ':i', key)
    end
    enqueue(id, tenant, jtype, level, now, deadline)
    n = n + 1
  end
end
return n
