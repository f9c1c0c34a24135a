-- retry_dead: ARGV = now, then job ids. Dead jobs go back to their submitted level with fresh counts.
local now = ARGV[1]
local n = 0
for a = 2, #ARGV do
  local id = ARGV[a]
  if redis.call('ZREM', P .. 'dlq', id) == 1 then
    local jtype, tenant, _, deadline, level = header(redis.call('HGET', JOBS, id))
    redis.call('HDEL', JOBS, id .. ':c')
    enqueue(id, tenant, jtype, level, now, deadline)
    n = n + 1
  end
end
return n
