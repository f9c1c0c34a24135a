-- move: ARGV = now, to_level, reason, levels (count), then job ids. Moves pending jobs only, keeping their
-- enqueue time. Returns how many moved.
local now, to, reason, levels = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local moved = 0
for a = 5, #ARGV do
  local id = ARGV[a]
  local record = redis.call('HGET', P .. 'jobs', id)
  if record then
    local jtype, tenant, _, deadline = header(record)
    for level = 0, levels - 1 do
      local enq = dequeue(id, tenant, jtype, level)
      if enq then
        enqueue(id, tenant, jtype, to, enq, deadline)
        log_move(now, id, tenant, level, to, reason, 1)
        moved = moved + 1
        break
      end
    end
  end
end
return moved
