-- Set members' scores in one ranking, then trim it to its best max_len members.
-- KEYS[1] the ranking's zset, KEYS[2] the names set
-- ARGV[1] holders key prefix, ARGV[2] the ranking's name, ARGV[3] max_len (>= 1),
-- ARGV[4..] pairs: negated score, member (the zset holds negated scores: see workloads/rankings/redis.py)
-- Returns how many members were new to the ranking, counted before trimming.
local rank, names = KEYS[1], KEYS[2]
local holders, name, max_len = ARGV[1], ARGV[2], tonumber(ARGV[3])
local added = 0
for i = 4, #ARGV, 2 do
  added = added + redis.call('ZADD', rank, ARGV[i], ARGV[i + 1])
  redis.call('SADD', holders .. ARGV[i + 1], name)
end
if #ARGV >= 4 then
  redis.call('SADD', names, name)
end
-- Ascending rank order is best first, so ranks max_len.. are the ones to drop.
local dropped = redis.call('ZRANGE', rank, max_len, -1)
for _, member in ipairs(dropped) do
  redis.call('SREM', holders .. member, name)
end
if #dropped > 0 then
  redis.call('ZREMRANGEBYRANK', rank, max_len, -1)
end
return added
