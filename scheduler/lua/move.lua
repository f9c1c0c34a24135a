-- move: ARGV = now, to_level, reason, then job ids. Moves pending jobs only, keeping their enqueue time.
-- Returns how many moved.
local now, to, reason = ARGV[1], ARGV[2], ARGV[3]
local moved = 0
for a = 4, #ARGV do
  local id = ARGV[a]
  local state = redis.call('HGET', JOBS, id .. ':s')
  local level, held_since = string.match(state or '', '^P|(%d+)|([%d.]+)|')
  local jtype, tenant, _, deadline
  if level and level ~= to then jtype, tenant, _, deadline = header(redis.call('HGET', JOBS, id)) end
  if jtype then -- an unreadable record is not moved: the lease that reaches it dead-letters it
    -- a job whose queue entry was lost (damage) is queued again, at its state's enqueue time
    local enq = dequeue(id, tenant, jtype, level) or held_since
    enqueue(id, tenant, jtype, to, enq, deadline)
    log_move(now, id, tenant, level, to, reason, 1)
    moved = moved + 1
  end
end
return moved
