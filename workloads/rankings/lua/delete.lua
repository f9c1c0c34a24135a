-- Drop one ranking and its entries in its members' holders sets.
-- KEYS[1] the ranking's zset, KEYS[2] the names set
-- ARGV[1] holders key prefix, ARGV[2] the ranking's name
local rank, names, holders, name = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
for _, member in ipairs(redis.call('ZRANGE', rank, 0, -1)) do
  redis.call('SREM', holders .. member, name)
end
redis.call('DEL', rank)
redis.call('SREM', names, name)
return 1
