-- Remove members from every ranking that holds them.
-- KEYS[1] the names set
-- ARGV[1] ranking key prefix, ARGV[2] holders key prefix, ARGV[3..] members
-- Returns how many (ranking, member) entries went.
local names, rank_prefix, holders_prefix = KEYS[1], ARGV[1], ARGV[2]
local removed = 0
for i = 3, #ARGV do
  local member = ARGV[i]
  local holders = holders_prefix .. member
  for _, name in ipairs(redis.call('SMEMBERS', holders)) do
    local rank = rank_prefix .. name
    removed = removed + redis.call('ZREM', rank, member)
    if redis.call('EXISTS', rank) == 0 then
      redis.call('SREM', names, name) -- an emptied ranking is gone, as in SQLite
    end
  end
  redis.call('DEL', holders)
end
return removed
