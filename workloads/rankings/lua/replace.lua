-- Make one ranking hold exactly the given members (trimmed to its best max_len), in one step: readers see the
-- old list or the new one. An empty list of pairs deletes the ranking.
-- KEYS[1] the ranking's zset, KEYS[2] the names set
-- ARGV[1] holders key prefix, ARGV[2] the ranking's name, ARGV[3] max_len (>= 1),
-- ARGV[4..] pairs: negated score, member (the zset holds negated scores: see workloads/rankings/redis.py)
local rank, names = KEYS[1], KEYS[2]
local holders, name, max_len = ARGV[1], ARGV[2], tonumber(ARGV[3])
local old = redis.call('ZRANGE', rank, 0, -1)
redis.call('DEL', rank)
for i = 4, #ARGV, 2 do
  redis.call('ZADD', rank, ARGV[i], ARGV[i + 1])
end
-- Ascending rank order is best first, so ranks max_len.. are the ones to drop (as add.lua trims).
redis.call('ZREMRANGEBYRANK', rank, max_len, -1)
local kept = {}
for _, member in ipairs(redis.call('ZRANGE', rank, 0, -1)) do
  kept[member] = true
  redis.call('SADD', holders .. member, name)
end
-- Only the members that left lose this ranking from their holders: the rest keep it.
for _, member in ipairs(old) do
  if not kept[member] then
    redis.call('SREM', holders .. member, name)
  end
end
if next(kept) then
  redis.call('SADD', names, name)
else
  redis.call('SREM', names, name)
end
return 1
